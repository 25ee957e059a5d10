//! Every printed replay command reproduces its failure exactly: a preset left as it is replays
//! by name and seed, anything else through a scenario file the command names.

mod common;

use framesim::kv::{command_for, run, Preset, Report, Roles, RunOptions, Scenario, Target};
use framesim::Oracle;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::Command;

/// The hostile preset cut down, with only slowloris clients, against a server with no frame
/// deadline: a scenario no preset and no command-line option can name.
fn modified() -> Scenario {
    let mut s = Scenario::preset(Preset::Hostile, 4);
    s.clients = 40;
    s.client_hosts = 2;
    s.roles = Roles {
        slowloris: 0.1,
        ..Roles::default()
    };
    s.target = Target::NoFrameDeadline;
    s
}

fn kept() -> RunOptions {
    RunOptions {
        keep_transcript: true,
        ..RunOptions::default()
    }
}

/// The scenario file a printed command names.
fn file_of(command: &str) -> PathBuf {
    let (_, rest) = command
        .split_once("--scenario-file ")
        .unwrap_or_else(|| panic!("no --scenario-file in `{command}`"));
    // Printed commands run at the workspace root: a relative path is relative to it.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.join(rest.split_whitespace().next().unwrap())
}

#[test]
fn a_modified_scenario_replays_from_the_file_its_command_names() {
    let s = modified();
    let first = run(&s, kept());
    assert!(!first.passed(), "the naive server is caught");
    let violation = first.violations.first().expect("a violation").clone();
    assert_eq!(violation.oracle, Oracle::Slowloris);

    let command = first.replay_command();
    assert!(
        command.starts_with("cargo run --release -p framesim -- replay --scenario-file "),
        "{command}"
    );
    assert!(first.failure().contains(&format!("replay: {command}")));
    let path = file_of(&command);
    assert!(
        command.contains(" target/framesim/"),
        "relative to the root: {command}"
    );
    assert!(path.is_file(), "{path:?}");

    // What `framesim replay --scenario-file PATH` does: read the file, run it.
    let read = Scenario::load(&path).unwrap();
    assert_eq!(read, s);
    let again = run(&read, kept());
    assert_eq!(again.violations.first(), Some(&violation));
    assert_eq!(again.transcript.hash(), first.transcript.hash());
    assert_eq!(again.transcript.lines(), first.transcript.lines());

    // And the command itself, in another process.
    let transcript =
        std::env::temp_dir().join(format!("framesim-replay-{}.txt", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_framesim"))
        .args(["replay", "--scenario-file"])
        .arg(&path)
        .arg("--transcript")
        .arg(&transcript)
        .env("FRAMESIM_SEED", "99")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the replay fails as the run did"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("first violation: {violation}")),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&transcript).unwrap();
    assert!(
        text.contains(&format!("hash {:016x}", first.transcript.hash())),
        "the replay's transcript hash differs"
    );
    let _ = std::fs::remove_file(&transcript);
}

#[test]
fn a_preset_left_as_it_is_replays_by_name() {
    let mut s = Scenario::preset(Preset::Small, 3);
    s.target = Target::OneReadOneRequest;
    let report = run(&s, RunOptions::default());
    assert!(!report.passed());
    assert_eq!(
        report.replay_command(),
        "cargo run --release -p framesim -- replay --scenario small --seed 3 --target naive-one-read"
    );
    assert_eq!(
        command_for("check", &Scenario::preset(Preset::Hostile, 8)),
        "cargo run --release -p framesim -- check --scenario hostile --seed 8"
    );
}

#[test]
fn size_overrides_and_catalogue_scenarios_replay_from_files() {
    let mut bigger = Scenario::preset(Preset::Small, 1);
    bigger.clients = 17;
    let mut named = Scenario::preset(Preset::Small, 1);
    named.name = "half-close".into();
    let fuzzed = framesim::kv::fuzz::scenario_from_bytes(b"any input is a scenario");
    let mut paths = Vec::new();
    for s in [bigger, named, fuzzed] {
        let path = file_of(&command_for("replay", &s));
        assert_eq!(Scenario::load(&path).unwrap(), s);
        paths.push(path);
    }
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 3, "one file per scenario");
}

#[test]
fn a_failing_suite_prints_a_command_that_replays_it() {
    let s = modified();
    let panic = catch_unwind(AssertUnwindSafe(|| common::fail(&s))).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    let line = message
        .lines()
        .find(|l| l.starts_with("replay: "))
        .unwrap_or_else(|| panic!("no replay line in {message}"));
    let read = Scenario::load(&file_of(line)).unwrap();
    assert_eq!(read, s);
    let report: Report = run(&read, RunOptions::default());
    assert_eq!(
        report.violations.first().map(|v| v.oracle),
        Some(Oracle::Slowloris)
    );
}
