//! Every command a failing sweep prints runs that very run again: the test runs them, as a
//! person would paste them into a terminal, and compares transcript hashes.

use bytes::Bytes;
use framesim::harness::{delimited, Draws, Harness, Options, Request, Session, Workload};
use rand::Rng;
use std::path::Path;
use std::process::Command;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A line echo server with the classic bug: each read taken for one whole line.
fn one_read_one_line() -> Harness {
    let server = |mut listener: framesim::harness::Listener,
                  shutdown: framesim::harness::Shutdown| async move {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => return,
                accepted = listener.accept() => {
                    let Ok((mut stream, _)) = accepted else { continue };
                    tokio::spawn(async move {
                        let mut buf = [0u8; 256];
                        while let Ok(n @ 1..) = stream.read(&mut buf).await {
                            let mut line = buf[..n].to_vec();
                            if line.last() != Some(&b'\n') {
                                line.push(b'\n');
                            }
                            if stream.write_all(&line).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        }
    };
    Harness::new(server, Echo).with(Options {
        clients: 6,
        ..Options::default()
    })
}

struct Echo;

impl Workload for Echo {
    fn session(&self, client: usize) -> Box<dyn Session> {
        Box::new(Lines { client, left: 6 })
    }
    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(delimited(b"\n"))
    }
}

struct Lines {
    client: usize,
    left: usize,
}

impl Session for Lines {
    fn next_request(&mut self, rng: &mut Draws) -> Option<Request> {
        self.left = self.left.checked_sub(1)?;
        let word: String = (0..rng.random_range(1..12))
            .map(|_| rng.random_range(b'a'..=b'z') as char)
            .collect();
        Some(Request::new(format!("{} {word}\n", self.client)))
    }
    fn expect(&mut self, request: &Request) -> Option<Bytes> {
        Some(request.bytes.clone())
    }
}

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
    let sweep = std::panic::AssertUnwindSafe(|| framesim::sweep!(one_read_one_line(), 0..4));
    let panic = std::panic::catch_unwind(sweep).expect_err("the buggy server passed");
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
