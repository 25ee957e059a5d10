//! Chunking invariance: the logical view of a workload is the same under adversarial
//! delivery (chunks, gaps, pipelining, partial reads, short writes, spurious Pending) as
//! under ideal delivery (one write per request, no faults).

mod common;

use common::seeds;
use framesim::kv::{run, Preset, Role, RunOptions, Scenario};
use framesim::transcript::logical_view;

fn logical(s: &Scenario) -> Vec<String> {
    let report = run(
        s,
        RunOptions {
            keep_transcript: true,
            ..RunOptions::default()
        },
    );
    if !report.passed() {
        common::fail(s);
    }
    logical_view(&report.transcript.records())
}

#[test]
fn logical_view_is_the_same_under_any_delivery() {
    let mut compared = 0;
    for preset in [
        Preset::Small,
        Preset::Adversarial,
        Preset::Bytewise,
        Preset::Hostile,
        Preset::Limits,
    ] {
        for seed in seeds(0..25) {
            let mut s = Scenario::preset(preset, seed);
            s.clients = s.clients.min(40);
            // Which requests a crash cuts off depends on how far delivery got: only runs
            // without a restart promise the same logical view.
            s.restart_at = None;
            let silent =
                (0..s.clients).all(|id| matches!(s.role_of(id), Role::Slowloris | Role::Idle));
            if silent {
                // A drawn scenario may hold only clients that ask nothing: no view to compare.
                continue;
            }
            let hostile = logical(&s);
            let ideal = logical(&s.ideal());
            assert!(!hostile.is_empty());
            if let Some(i) =
                (0..hostile.len().max(ideal.len())).find(|&i| hostile.get(i) != ideal.get(i))
            {
                panic!(
                    "{preset} seed {seed}: logical views differ at line {i}:\n  adversarial: {:?}\n  ideal:       {:?}",
                    hostile.get(i),
                    ideal.get(i)
                );
            }
            compared += 1;
        }
    }
    assert!(compared >= 3, "only {compared} scenarios compared");
}
