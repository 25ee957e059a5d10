//! Same seed, same transcript bytes: in one process, and across processes.

mod common;
mod lines;

use common::seeds;
use framesim::harness::{Harness, Listener, Options, Shutdown};
use framesim::kv::{check_determinism, run, Divergence, Preset, RunOptions, Scenario};
use std::process::Command;

#[test]
fn same_seed_same_transcript_over_many_seeds() {
    for preset in [
        Preset::Small,
        Preset::Hostile,
        Preset::Adversarial,
        Preset::Restart,
        Preset::Drain,
        Preset::Limits,
    ] {
        for seed in seeds(0..8) {
            let s = Scenario::preset(preset, seed);
            if let Err(d) = check_determinism(&s) {
                panic!(
                    "{preset} seed {seed} diverges at event {}:\n  {:?}\n  {:?}",
                    d.index, d.first, d.second
                );
            }
        }
    }
}

#[test]
fn different_seeds_give_different_transcripts() {
    let a = run(&Scenario::preset(Preset::Small, 1), RunOptions::default());
    let b = run(&Scenario::preset(Preset::Small, 2), RunOptions::default());
    assert_ne!(a.transcript.hash(), b.transcript.hash());
}

#[test]
fn a_second_process_writes_the_same_transcript_bytes() {
    let dir = std::env::temp_dir().join(format!("framesim-det-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (preset, seed) in [(Preset::Hostile, 5u64), (Preset::Adversarial, 11)] {
        let mut files = Vec::new();
        for n in 0..2 {
            let path = dir.join(format!("{preset}-{seed}-{n}.txt"));
            let out = Command::new(env!("CARGO_BIN_EXE_framesim"))
                .args([
                    "replay",
                    "--scenario",
                    preset.name(),
                    "--seed",
                    &seed.to_string(),
                ])
                .arg("--transcript")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            files.push(std::fs::read(&path).unwrap());
        }
        assert!(files[0].len() > 1000, "a real transcript");
        assert!(
            files[0] == files[1],
            "{preset} seed {seed}: two processes differ"
        );
        // And the in-process run hashes the same events.
        let report = run(&Scenario::preset(preset, seed), RunOptions::default());
        let text = String::from_utf8(files[0].clone()).unwrap();
        assert!(
            text.contains(&format!("hash {:016x}", report.transcript.hash())),
            "{preset} seed {seed}: in-process hash differs from the CLI's"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_first_diverging_line_is_found() {
    let lines = |s: &[&str]| s.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    let (a, b) = (
        lines(&["start", "c1 write", "end"]),
        lines(&["start", "c2 write", "end"]),
    );
    let d = Divergence::between(&a, &b).unwrap();
    assert_eq!(
        (d.index, d.first.as_deref(), d.second.as_deref()),
        (1, Some("c1 write"), Some("c2 write"))
    );
    let shorter = lines(&["start"]);
    let d = Divergence::between(&shorter, &a).unwrap();
    assert_eq!(
        (d.index, d.first, d.second.as_deref()),
        (1, None, Some("c1 write"))
    );
    assert_eq!(Divergence::between(&a, &a.clone()), None);
}

/// A line echo server that leaves its connection tasks running when told to stop (a
/// `tokio::spawn` per connection, never joined).
async fn detached_echo(listener: Listener, shutdown: Shutdown) {
    lines::task_per_connection(listener, shutdown, |conn| async move {
        let (reader, mut writer) = tokio::io::split(conn);
        let mut reader = tokio::io::BufReader::new(reader);
        let mut line = Vec::new();
        while matches!(
            tokio::io::AsyncBufReadExt::read_until(&mut reader, b'\n', &mut line).await,
            Ok(1..)
        ) {
            if tokio::io::AsyncWriteExt::write_all(&mut writer, &line)
                .await
                .is_err()
            {
                return;
            }
            line.clear();
        }
    })
    .await
}

/// Tokio files tasks by a process-wide id, so the runs before this one (here: tasks
/// spawned elsewhere) decide the order a dropped runtime drops a run's tasks in. The
/// connections a crash takes from the server close in the order they were accepted, and
/// a seed's transcript stays one.
#[test]
fn a_crash_closes_the_connections_a_server_left_open_in_the_same_order_every_time() {
    let harness = Harness::new(detached_echo, lines::Lines { oversized: false }).with(Options {
        clients: 16,
        restart_at: Some(std::time::Duration::from_millis(12)),
        roles: framesim::harness::RoleMix::none(),
        ..Options::default()
    });
    let mut started_over = 0;
    for seed in seeds(0..8) {
        let hashes: std::collections::BTreeSet<u64> = (0..4)
            .map(|spawned| {
                let elsewhere = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("runtime");
                elsewhere.block_on(async {
                    for _ in 0..spawned {
                        tokio::spawn(async {}).await.expect("task");
                    }
                });
                let outcome = harness.run(seed);
                started_over += outcome.tally.restarted;
                outcome.transcript.hash()
            })
            .collect();
        assert_eq!(hashes.len(), 1, "seed {seed}: {hashes:?}");
    }
    assert!(started_over > 0, "the crash cut no client");
}
