//! The same scenario against a real server over loopback (`framesim run --against`): the
//! framesim-server binary started with the scenario's limits passes, redis-server 7 passes
//! the well-behaved scenario and is caught keeping a slowloris connection (it has no frame
//! deadline), and a naive server that takes one read for one request is caught.

use framesim::kv::{against, Preset, Scenario};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port free right now on loopback.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    l.local_addr().unwrap().port()
}

/// Waits (at most 10 s) until `addr` accepts a connection.
fn wait_for(addr: SocketAddr, server: &mut Server) {
    let start = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("the server at {addr} exited early: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{addr} never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The framesim-server binary next to this test's (built if `cargo test -p framesim` ran
/// alone).
fn server_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let bin = dir.join("framesim-server");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "framesim-server",
                "--bin",
                "framesim-server",
            ])
            .status()
            .expect("cargo runs");
        assert!(built.success(), "could not build framesim-server");
    }
    bin
}

/// framesim-server on a free port with `scenario`'s limits.
fn framesim_server(scenario: &Scenario) -> (Server, SocketAddr) {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let l = scenario.limits;
    let mut server = Server(
        Command::new(server_binary())
            .args(["--listen", &addr.to_string()])
            .args(["--max-line", &l.max_line.to_string()])
            .args(["--max-frame", &l.max_frame.to_string()])
            .args(["--max-buffered", &l.max_buffered.to_string()])
            .args(["--max-output", &l.max_output.to_string()])
            .args([
                "--frame-deadline-ms",
                &l.frame_deadline.as_millis().to_string(),
            ])
            .args(["--idle-timeout-s", &l.idle_timeout.as_secs().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("framesim-server starts"),
    );
    wait_for(addr, &mut server);
    (server, addr)
}

#[test]
fn framesim_server_passes_the_hostile_scenario_over_loopback() {
    let mut s = Scenario::preset(Preset::Hostile, 3);
    s.clients = 60;
    let (_server, addr) = framesim_server(&s);
    let report = against::run(&s, addr, true);
    assert!(report.passed(), "{}", report.failure());
    assert_eq!(
        report.counts.replies,
        report.counts.requests + 6,
        "{}",
        report.summary()
    );
    // Every event is stamped with wall time since the run began, writes and requests too.
    let records = report.transcript.records();
    let unstamped = records.iter().skip(1).filter(|r| r.at.is_zero()).count();
    assert_eq!(unstamped, 0, "{unstamped} of {} events at 0", records.len());
    let (applied, dropped) = against::applicable(&s);
    assert!(applied.restart_at.is_none() && dropped.iter().any(|d| d.contains("faults")));
}

#[test]
fn redis_server_passes_the_small_scenario_and_keeps_a_slowloris() {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut redis = Server(
        Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (Debian package redis-server; .ci/run installs it)"),
    );
    wait_for(addr, &mut redis);
    let small = Scenario::preset(Preset::Small, 5);
    let report = against::run(&small, addr, true);
    assert!(report.passed(), "{}", report.failure());
    // Twice against one server: each run keeps to keys of its own.
    assert!(against::run(&small, addr, false).passed());
    // Slowloris alone: redis also takes oversized frames and keeps idle connections, which
    // the hostile preset's other roles would wait out.
    let mut slow = Scenario::preset(Preset::Small, 3);
    slow.roles.slowloris = 0.1;
    let report = against::run(&slow, addr, true);
    let first = report
        .violations
        .first()
        .expect("redis has no frame deadline");
    assert_eq!(
        first.oracle,
        framesim::Oracle::Slowloris,
        "{}",
        report.failure()
    );
    assert!(report.failure().contains("rerun: "), "{}", report.failure());
}

#[test]
fn a_server_that_takes_one_read_for_one_request_is_caught_over_loopback() {
    // Answers `+OK` to every read, whatever it holds: pipelined or split requests break it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(b"+OK\r\n").is_err() {
                        return;
                    }
                }
            });
        }
    });
    let s = Scenario::preset(Preset::Small, 1);
    let report = against::run(&s, addr, true);
    assert!(!report.passed(), "{}", report.summary());
}
