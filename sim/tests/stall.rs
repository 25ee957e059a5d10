//! A run that stops making progress (a task that never yields) ends its process with one
//! line naming the run, instead of hanging it.

use framesim::harness::{Harness, KvWorkload, Listener, Options, Shutdown};
use framesim_server::protocol::Framing;
use std::process::Command;
use tokio::io::AsyncReadExt;

/// Set in the child process, which runs the stalling server.
const CHILD: &str = "FRAMESIM_STALL_CHILD";
const TEST: &str = "a_server_that_never_yields_is_reported_not_left_to_hang";

/// A server whose connection spins without awaiting once it has read its first bytes.
async fn spinning(mut listener: Listener, _shutdown: Shutdown) {
    if let Ok((mut stream, _)) = listener.accept().await {
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf).await;
        loop {
            std::hint::spin_loop();
        }
    }
}

#[test]
fn a_server_that_never_yields_is_reported_not_left_to_hang() {
    if std::env::var_os(CHILD).is_some() {
        let harness = Harness::new(spinning, KvWorkload::new(Framing::Resp)).with(Options {
            clients: 1,
            ..Options::default()
        });
        harness.run(7);
        panic!("the run came back: the watchdog should have ended the process");
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([TEST, "--exact", "--nocapture"])
        .env(CHILD, "1")
        .env("FRAMESIM_STALL_SECS", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("STALLED"))
        .unwrap_or_else(|| panic!("no STALLED line: {stderr}"));
    assert!(line.starts_with("framesim: seed 7 "), "{line}");
    assert!(line.contains("FRAMESIM_SEED=7"), "{line}");
    assert!(line.contains("no simulation step for 1s"), "{line}");
}
