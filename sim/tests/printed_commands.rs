//! Every command a failing sweep prints runs that very run again: the test runs them, as a
//! person would paste them into a terminal, and compares transcript hashes.

mod lines;

use std::path::Path;
use std::process::Command;

/// The transcript hash a written transcript's summary line gives.
fn hash_in(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let at = text.rfind(", hash ").expect("a summary line with the hash") + ", hash ".len();
    text[at..at + 16].to_string()
}

/// Runs `command` (`VAR=value ... cargo test ...`) in this package's folder, as a shell would.
fn run(command: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("FRAMESIM_SEED")
        .env_remove("FRAMESIM_SEEDS")
        .env_remove("FRAMESIM_OPTIONS")
        .status()
        .expect("sh runs");
    assert!(status.success(), "{command}: {status}");
}

#[test]
fn every_printed_command_runs_its_run_again() {
    let sweep = std::panic::AssertUnwindSafe(|| framesim::sweep!(lines::echo(None), 0..4));
    let panic = std::panic::catch_unwind(sweep).expect_err("a server without a deadline passed");
    let message = panic.downcast_ref::<String>().expect("a message").clone();
    // Run by one of the commands below: failing again is all it has to do.
    if std::env::var_os("FRAMESIM_SEED").is_some() {
        return;
    }
    let (first, smallest) = message.split_once(" | smallest: ").expect("shrunk");
    let replay = first.split_once(" | replay: ").expect("a replay command").1;
    let seed: u64 = message["framesim: seed ".len()..]
        .split(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("the seed");
    let target = framesim::harness::Replay::new("framesim", "--test printed_commands")
        .in_workspace_of(env!("CARGO_MANIFEST_DIR"));
    let (full, shrunk) = (
        target.transcript_path(seed),
        target.shrunk_path(seed).with_extension("txt"),
    );
    let (full_hash, shrunk_hash) = (hash_in(&full), hash_in(&shrunk));
    assert_ne!(full_hash, shrunk_hash);
    for (command, path, hash) in [
        (replay, &full, &full_hash),
        (smallest, &shrunk, &shrunk_hash),
    ] {
        std::fs::remove_file(path).unwrap();
        run(command);
        assert_eq!(&hash_in(path), hash, "{command} ran another run");
    }
    // The shrunk replay wrote its own transcript, not over the full run's.
    assert_eq!(hash_in(&full), full_hash);
}
