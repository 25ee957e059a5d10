//! `framesim sweep` as CI sees it: stdout is no terminal, so no progress bar and one line per
//! failing seed whose replay command reproduces it; determinism rechecked on the way; and
//! `--hashes` lines that compare with diff.

mod process;

use framesim::kv::{run, Preset, RunOptions, Scenario};
use process::{framesim, text};

const CLI: &str = "cargo run --release -p framesim -- ";

#[test]
fn a_failing_sweep_prints_one_line_per_failing_seed() {
    let out = framesim(
        &[
            "sweep",
            "--scenario",
            "small",
            "--target",
            "naive-one-read",
            "--seeds",
            "0..6",
            "--check-determinism",
            "all",
        ],
        &[],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains('\r') && !stdout.contains('\u{1b}'),
        "no bar: {stdout:?}"
    );
    let failures: Vec<&str> = stdout.lines().filter(|l| l.contains(" FAILED ")).collect();
    assert!(!failures.is_empty(), "{stdout}");
    for line in &failures {
        let seed = line
            .strip_prefix("seed ")
            .and_then(|l| l.split_once(' '))
            .map(|(n, _)| n)
            .unwrap_or_else(|| panic!("{line}"));
        assert!(
            line.starts_with(&format!("seed {seed} FAILED [executed] ")),
            "{line}"
        );
        assert!(
            line.ends_with(&format!(
                " | replay: {CLI}replay --scenario small --seed {seed} --target naive-one-read"
            )),
            "{line}"
        );
    }
    assert!(
        stdout.contains("rechecked 6 seeds, 0 diverged"),
        "every seed ran twice and agreed: {stdout}"
    );
    assert!(stdout.contains("failing seeds: ["), "{stdout}");

    // The printed command reproduces the failure.
    let line = failures[0];
    let (_, command) = line.split_once(" | replay: ").unwrap();
    let args: Vec<&str> = command.strip_prefix(CLI).unwrap().split(' ').collect();
    let replay = framesim(
        &[args.as_slice(), &["--transcript", "/dev/null"]].concat(),
        &[],
    );
    assert_eq!(replay.status.code(), Some(1));
    let (detail, _) = line
        .split_once(" FAILED [executed] ")
        .map(|(_, rest)| rest.split_once(" | ").unwrap())
        .unwrap();
    assert!(
        text(&replay.stderr).contains(detail),
        "{}",
        text(&replay.stderr)
    );
}

#[test]
fn sweeps_print_hashes_that_compare_with_diff() {
    let args = [
        "sweep",
        "--scenario",
        "adversarial",
        "--seeds",
        "0..24",
        "--jobs",
        "2",
        "--hashes",
    ];
    let first = framesim(&args, &[]);
    let second = framesim(&[&args[..], &["--check-determinism", "off"]].concat(), &[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(
        text(&first.stdout),
        text(&second.stdout),
        "two sweeps differ"
    );
    let lines: Vec<String> = text(&first.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 24, "one line per seed and nothing else");
    for (seed, line) in lines.iter().enumerate() {
        let hash = run(
            &Scenario::preset(Preset::Adversarial, seed as u64),
            RunOptions::default(),
        )
        .transcript
        .hash();
        assert_eq!(
            line,
            &format!("{{\"seed\":{seed},\"hash\":\"{hash:016x}\",\"passed\":true}}")
        );
    }
    let summary = text(&first.stderr);
    assert!(
        summary.contains("determinism (every 16th seed) rechecked 2 seeds, 0 diverged"),
        "{summary}"
    );
}

#[test]
fn a_sweep_of_a_scenario_file_replaces_its_seed() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/hostile.toml");
    let out = framesim(
        &[
            "sweep",
            "--scenario-file",
            file,
            "--clients",
            "30",
            "--target",
            "naive-no-deadline",
            "--seeds",
            "5..7",
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for seed in 5..7u64 {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("seed {seed} FAILED [slowloris] ")))
            .unwrap_or_else(|| panic!("seed {seed}: {stdout}"));
        let path = line
            .split_once(" | replay: ")
            .and_then(|(_, c)| c.strip_prefix(&format!("{CLI}replay --scenario-file ")))
            .unwrap_or_else(|| panic!("{line}"));
        // Printed commands run at the workspace root.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let s = Scenario::load(&root.join(path)).unwrap();
        assert_eq!((s.seed, s.clients), (seed, 30));
        assert_eq!(s.target, framesim::kv::Target::NoFrameDeadline);
    }
}

#[test]
fn bad_sweep_options_are_refused() {
    for bad in [
        &["sweep", "--check-determinism", "0"][..],
        &["sweep", "--check-determinism", "sometimes"],
        &[
            "sweep",
            "--scenario",
            "small",
            "--scenario-file",
            "scenarios/small.toml",
        ],
        &["sweep", "--scenario-file", "/nonexistent.toml"],
    ] {
        let out = framesim(bad, &[]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.lines().count() <= 6, "{bad:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{bad:?}: {stderr}");
    }
}
