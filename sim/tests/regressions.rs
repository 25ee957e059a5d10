//! Replays every pinned seed of `sim/regressions.txt` and snapshots what it showed.
//!
//! Pinning a seed is one step: add its line to `sim/regressions.txt`, run this test once
//! with `INSTA_UPDATE=always` (or `cargo insta review`), commit the new snapshot.

mod common;

use common::{pinned, snapshot_name};
use framesim::{run, Preset, RunOptions, Scenario, Target};

#[test]
fn pinned_regression_seeds_replay() {
    let lines = pinned();
    assert!(lines.len() >= 4, "regressions.txt lost its seeds");
    for line in lines {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let seed: u64 = parts
            .get(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad line in regressions.txt: '{line}'"));
        let preset: Preset = parts[0].parse().unwrap();
        let mut s = Scenario::preset(preset, seed);
        if let Some(target) = parts.get(2) {
            s.target = target.parse::<Target>().unwrap();
        }
        let report = run(
            &s,
            RunOptions {
                keep_transcript: true,
            },
        );
        let shown = if s.target == Target::Framesim {
            if !report.passed() {
                common::fail(&s);
            }
            report.summary_stable()
        } else {
            assert!(
                !report.passed(),
                "'{line}': the naive server is no longer caught"
            );
            report.failure()
        };
        insta::with_settings!({
            snapshot_path => "../../snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(snapshot_name(&line), shown);
        });
    }
}
