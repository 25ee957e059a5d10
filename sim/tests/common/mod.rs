//! Shared helpers for the simulation suites.
#![allow(dead_code)]

use framesim::{run, write_transcript, Report, RunOptions, Scenario, Target};

/// The seeds a suite runs: `FRAMESIM_SEED` alone when set, else `default`.
pub fn seeds(default: std::ops::Range<u64>) -> Vec<u64> {
    match std::env::var("FRAMESIM_SEED") {
        Ok(s) => vec![s.trim().parse().expect("FRAMESIM_SEED is a number")],
        Err(_) => default.collect(),
    }
}

/// Runs a preset and fails the test with the full failure report (and the transcript written
/// under target/) if any oracle objects.
pub fn assert_passes(preset: &str, seed: u64) -> Report {
    assert_passes_scenario(Scenario::preset(preset, seed).unwrap())
}

/// Like [`assert_passes`] for any scenario.
pub fn assert_passes_scenario(s: Scenario) -> Report {
    let report = run(&s, RunOptions::default());
    if !report.passed() {
        fail(&s);
    }
    report
}

/// Replays a failing scenario with its transcript kept, writes it, and panics with the report.
pub fn fail(s: &Scenario) -> ! {
    let report = run(
        s,
        RunOptions {
            keep_transcript: true,
        },
    );
    let path = framesim::default_transcript_path(s);
    let written = write_transcript(&report, &path);
    panic!(
        "{}\ntranscript: {} ({written:?})",
        report.failure(),
        path.display()
    );
}

/// The first seed in `seeds` at which `target` fails on `preset`, if any.
pub fn first_caught(
    preset: &str,
    target: Target,
    seeds: std::ops::Range<u64>,
) -> Option<(u64, Report)> {
    seeds.into_iter().find_map(|seed| {
        let mut s = Scenario::preset(preset, seed).unwrap();
        s.target = target;
        let report = run(
            &s,
            RunOptions {
                keep_transcript: true,
            },
        );
        (!report.passed()).then_some((seed, report))
    })
}
