//! One seed of a sweep of framesim's own world, as the sweep engine ([`crate::sweep`](mod@crate::sweep)) runs
//! it: the scenario run (twice when rechecked), and its failure on one line with the command
//! that replays it.

use crate::report::{command_for, Report};
use crate::scenario::{work_dir, Scenario};
use crate::sweep::{stable_hash, SeedResult};
use crate::world::{check_determinism, run, Divergence, RunOptions};

pub use crate::report::CLI;

/// Runs `scenario` (twice if `recheck`): what its seed showed (what its first run
/// exercised included, for the sweep's coverage), `replay` the command that
/// runs it again if it passes (a failure names its own: [`Report::replay_command`], or a
/// `check` for a divergence).
pub fn seed_result(scenario: &Scenario, recheck: bool, replay: String) -> SeedResult {
    let report = run(scenario, RunOptions::default());
    let again = recheck.then(|| run(scenario, RunOptions::default()).transcript.hash());
    let mut result = SeedResult::pass(
        scenario.seed,
        stable_hash(&scenario.to_toml()),
        report.transcript.hash(),
        replay,
    )
    .seeing(super::coverage::seen(&report));
    if let Some(again) = again {
        result = result.rechecked(again);
    }
    match failure(&report, again, || check_determinism(scenario)) {
        Some((line, replay)) => SeedResult { replay, ..result }.failing(line),
        None => result,
    }
}

/// A failing seed's `[oracle] detail` and the command that replays it. A second run with
/// another hash (`again`) is the failure that matters most, since no replay can be trusted
/// then: `diverge` reruns the seed keeping both transcripts, to name the first event where
/// they part.
pub fn failure(
    report: &Report,
    again: Option<u64>,
    diverge: impl FnOnce() -> Result<u64, Divergence>,
) -> Option<(String, String)> {
    let hash = report.transcript.hash();
    if let Some(again) = again.filter(|&h| h != hash) {
        let found = match diverge() {
            Err(d) => format!(
                "first diverging event #{}: first run {:?}, second run {:?}",
                d.index,
                d.first.as_deref().unwrap_or("(end)"),
                d.second.as_deref().unwrap_or("(end)")
            ),
            Ok(h) => format!("two more runs keeping their transcripts agreed (hash {h:016x})"),
        };
        let also = if report.passed() {
            String::new()
        } else {
            format!("; the first run also failed {}", report.first_failure())
        };
        return Some((
            format!(
                "[determinism] hash {hash:016x}, then {again:016x} on a second run; {found}{also}"
            ),
            command_for("check", &report.scenario),
        ));
    }
    (!report.passed()).then(|| (report.first_failure(), report.replay_command()))
}

/// `framesim check`: runs `scenario` twice ([`check_determinism`]) and prints whether both
/// runs agreed (with the hash) or the first event where they part. Returns whether they
/// agreed.
pub fn check(scenario: &Scenario) -> bool {
    match check_determinism(scenario) {
        Ok(hash) => {
            println!("deterministic: seed {} hash {hash:016x}", scenario.seed);
            true
        }
        Err(d) => {
            println!(
                "NOT deterministic: seed {} first diverging event #{}\n  first:  {}\n  second: {}",
                scenario.seed,
                d.index,
                d.first.as_deref().unwrap_or("(end)"),
                d.second.as_deref().unwrap_or("(end)")
            );
            false
        }
    }
}

/// What `sweep --shrink` prints for a failing seed: the shrink's summary and the command
/// replaying the shrunk scenario (written under `target/framesim/`).
pub fn shrink_line(scenario: &Scenario) -> String {
    match crate::kv::shrink::shrink(scenario, |_| {}) {
        Ok(shrunk) => match shrunk.save(&work_dir()) {
            Ok((file, _)) => format!(
                "  {} | replay: {CLI} replay --scenario-file {}",
                shrunk.summary(),
                file.display()
            ),
            Err(e) => format!("  {} (could not write it: {e})", shrunk.summary()),
        },
        Err(e) => format!("  could not shrink seed {}: {e}", scenario.seed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Preset, Target};

    fn kept(s: &Scenario) -> Report {
        run(
            s,
            RunOptions {
                keep_transcript: true,
                ..RunOptions::default()
            },
        )
    }

    #[test]
    fn a_second_run_with_another_hash_fails_the_seed_and_names_the_first_diverging_event() {
        let s = Scenario::preset(Preset::Small, 1);
        let report = kept(&s);
        let hash = report.transcript.hash();
        assert_eq!(failure(&report, Some(hash), || unreachable!()), None);
        assert_eq!(failure(&report, None, || unreachable!()), None);

        // Two transcripts that differ, as two runs of a nondeterministic seed would.
        let other = kept(&Scenario::preset(Preset::Small, 2));
        let (a, b) = (report.transcript.lines(), other.transcript.lines());
        let d = Divergence::between(&a, &b).expect("different seeds differ");
        let (line, replay) =
            failure(&report, Some(other.transcript.hash()), || Err(d.clone())).expect("a failure");
        assert!(
            line.starts_with(&format!(
                "[determinism] hash {hash:016x}, then {:016x} on a second run; first diverging event #{}: first run {:?}, second run {:?}",
                other.transcript.hash(),
                d.index,
                a[d.index],
                b[d.index]
            )),
            "{line}"
        );
        assert_eq!(
            replay,
            "cargo run --release -p framesim -- check --scenario small --seed 1"
        );
        assert!(!line.contains('\n'));

        let (line, _) = failure(&report, Some(hash ^ 1), || Ok(hash)).expect("a failure");
        assert!(
            line.contains("two more runs keeping their transcripts agreed"),
            "{line}"
        );
    }

    #[test]
    fn a_failing_seed_is_one_line_with_its_replay_command() {
        let mut s = Scenario::preset(Preset::Small, 3);
        s.target = Target::OneReadOneRequest;
        let result = seed_result(&s, false, String::new());
        let line = result.line();
        assert!(line.starts_with("seed 3 FAILED [executed] "), "{line}");
        assert!(
            line.ends_with(" | replay: cargo run --release -p framesim -- replay --scenario small --seed 3 --target naive-one-read"),
            "{line}"
        );
        assert_eq!(result.oracle.as_deref(), Some("executed"));
    }

    #[test]
    fn a_rechecked_seed_gives_the_same_hash_twice() {
        let result = seed_result(&Scenario::preset(Preset::Small, 4), true, String::new());
        assert!(result.passed(), "{result:?}");
        assert!(result.rechecked && !result.diverged());
    }
}
