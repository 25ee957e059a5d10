//! `sweep!` at scale, from the environment: a failure database (`FRAMESIM_FAILURES`) whose
//! seeds run first, a results file (`FRAMESIM_RESULTS`) and a time budget (`FRAMESIM_FOR`).
//! The tests run this test binary again with the variables set, on one of its own tests.

mod lines;
mod process;

use lines::echo;
use process::{again, text};
use std::time::Duration;

/// Sweeps a server without a line deadline: the slowloris keeps it, every seed fails.
#[test]
fn a_broken_server_fails() {
    let swept = std::panic::catch_unwind(|| framesim::sweep!(echo(None), 0..4));
    let message = *swept.expect_err("caught").downcast::<String>().unwrap();
    assert!(message.contains("[slowloris]"), "{message}");
}

/// Sweeps a server with one: it passes.
#[test]
fn a_sound_server_passes() {
    let tally = framesim::sweep!(echo(Some(Duration::from_millis(300))), 0..4);
    assert!(
        tally.requests > 0 && tally.requests == tally.replies,
        "{tally:?}"
    );
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("framesim-env-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_test_sweep_keeps_its_failing_seed_and_runs_it_first_next_time() {
    let dir = temp("failures");
    let results = dir.join("results.jsonl");
    let env = [
        ("FRAMESIM_FAILURES", dir.to_str().unwrap()),
        ("FRAMESIM_RESULTS", results.to_str().unwrap()),
    ];
    let first = again("a_broken_server_fails", &env);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let kept: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(kept.len(), 1, "one folder for the test: {kept:?}");
    let seeds: Vec<String> = std::fs::read_dir(&kept[0])
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(seeds, ["seed-0.json"], "the lowest failing seed is kept");
    let lines = std::fs::read_to_string(&results).unwrap();
    assert!(lines.starts_with("{\"seed\":0,"), "{lines}");
    assert!(lines.contains("\"verdict\":\"fail\""), "{lines}");

    // Next time it runs first, and is said to still fail.
    let next = again("a_broken_server_fails", &env);
    let stderr = text(&next.stderr);
    assert!(next.status.success(), "{stderr}");
    assert!(
        stderr.contains("framesim: seed 0 of ") && stderr.contains(" still fails"),
        "{stderr}"
    );

    // A kept seed of a test that passes now is forgotten.
    let sound = echo(Some(Duration::from_millis(300)));
    let healed = dir.join(format!(
        "a_sound_server_passes-{:016x}",
        sound.options().fingerprint()
    ));
    std::fs::create_dir_all(&healed).unwrap();
    std::fs::write(healed.join("seed-2.json"), "{}").unwrap();
    let out = again("a_sound_server_passes", &env[..1]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("framesim: seed 2 of ") && stderr.contains("passes now: forgotten"),
        "{stderr}"
    );
    assert!(!healed.join("seed-2.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_test_sweep_for_a_time_runs_from_its_root_and_names_the_seeds() {
    let out = again(
        "a_sound_server_passes",
        &[("FRAMESIM_FOR", "1s"), ("FRAMESIM_ROOT", "500")],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("from root seed 500"), "{stderr}");
    let ran = stderr
        .lines()
        .find_map(|l| l.strip_prefix("framesim: ran seeds 500.."))
        .unwrap_or_else(|| panic!("{stderr}"));
    let end: u64 = ran.split(' ').next().unwrap().parse().unwrap();
    assert!(end > 500, "{stderr}");
}
