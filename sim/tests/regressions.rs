//! Replays every pinned seed of `sim/regressions.txt` and every shrunk scenario of
//! `sim/regressions/*.toml`, and snapshots what each showed.
//!
//! Pinning a seed is one step: add its line to `sim/regressions.txt` (or let `framesim
//! shrink` write the file), run this test once with `INSTA_UPDATE=always` (or `cargo insta
//! review`), commit the new snapshot.

mod common;

use common::{pinned, snapshot_name};
use framesim::kv::{run, Preset, Report, RunOptions, Scenario, Target};

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
        check(&s, &line, &snapshot_name(&line));
    }
}

#[test]
fn shrunk_scenario_files_replay() {
    let dir = framesim::kv::shrink::regressions_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.map(|e| e.expect("readable sim/regressions").path())
                .collect()
        })
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    files.sort();
    assert!(
        !files.is_empty(),
        "no shrunk scenarios in {}",
        dir.display()
    );
    for path in files {
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        check(
            &s,
            &framesim::kv::shown(&path),
            &format!("regression-{stem}"),
        );
        // The same file is a test the real server passes: a script's expectations are
        // right, only the fixture misses them.
        let fixed = Scenario {
            target: Target::Framesim,
            ..s
        };
        let report = run(&fixed, RunOptions::default());
        if !report.passed() {
            common::fail(&fixed);
        }
    }
}

/// A naive target must still be caught; the real server must pass. Snapshots what it showed.
fn check(s: &Scenario, what: &str, snapshot: &str) -> Report {
    let report = run(
        s,
        RunOptions {
            keep_transcript: true,
            ..RunOptions::default()
        },
    );
    let shown = if s.target == Target::Framesim {
        if !report.passed() {
            common::fail(s);
        }
        report.summary_stable()
    } else {
        assert!(
            !report.passed(),
            "'{what}': the naive server is no longer caught"
        );
        // A scenario file replays as itself, whatever name a rewrite of it would get.
        let replay = |l: &str| match what.ends_with(".toml") {
            true if l.starts_with("replay:") => {
                format!("replay: cargo run --release -p framesim -- replay --scenario-file {what}")
            }
            _ => l.to_string(),
        };
        let is_file = what.ends_with(".toml");
        report
            .failure()
            .lines()
            .filter(|l| !(is_file && l.starts_with("replay in tests:")))
            .map(replay)
            .collect::<Vec<_>>()
            .join("\n")
    };
    insta::with_settings!({
        snapshot_path => "../../snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(snapshot.to_string(), shown);
    });
    report
}
