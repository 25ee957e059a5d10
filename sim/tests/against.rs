//! The same scenario against a real server over loopback (`framesim run --against`): the
//! framesim-server binary started with the scenario's limits passes, redis-server 7 passes
//! the well-behaved scenario and is caught keeping a slowloris connection (it has no frame
//! deadline), and a naive server that takes one read for one request is caught. The
//! black-box linearizability check (`framesim run --against --contention`): redis-server
//! and framesim-server (both modes) pass, a lost update over loopback is caught.

use framesim::harness::against as linear_against;
use framesim::harness::linear::{History, KvOp, KvResult};
use framesim::harness::ContentionWorkload;
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
    let (_redis, addr) = redis();
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

/// redis-server on a free port, without persistence.
fn redis() -> (Server, SocketAddr) {
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
    (redis, addr)
}

/// Clients sharing keys of their own (`prefix`) on one real server.
fn contention(prefix: &str) -> ContentionWorkload {
    ContentionWorkload::new().requests(100).prefix(prefix)
}

#[test]
fn redis_server_passes_the_black_box_linearizability_check() {
    let (_redis, addr) = redis();
    let found = linear_against::check(addr, &contention("a:"), 8, 1).unwrap();
    assert!(found.passed(), "{}", found.summary());
    assert_eq!(found.replies, 800, "{}", found.summary());
    assert_eq!(found.history.checked.ops, 800);
    // The history reads back, each operation with its times.
    let lines = found.history.json_lines();
    let read = History::<KvOp, KvResult>::from_json_lines(&lines).unwrap();
    assert_eq!(read.len(), 800);
    assert!(read.ops.iter().all(|o| o.ret.is_some_and(|r| r >= o.call)));
}

#[test]
fn framesim_server_passes_the_black_box_linearizability_check_in_both_modes() {
    for mode in ["async", "threads"] {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut server = Server(
            Command::new(server_binary())
                .args(["--listen", &addr.to_string(), "--mode", mode])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("framesim-server starts"),
        );
        wait_for(addr, &mut server);
        let found = linear_against::check(addr, &contention("f:"), 8, 2).unwrap();
        assert!(found.passed(), "--mode {mode}: {}", found.summary());
        assert_eq!(found.replies, 800, "--mode {mode}: {}", found.summary());
    }
}

/// framesim's store on OS threads over loopback, its INCR a GET, a pause, then a SET.
fn lost_update_server() -> SocketAddr {
    use framesim_server::framing::Decoder;
    use framesim_server::protocol::{Framing, ReplyEncoder, RequestDecoder};
    use framesim_server::{Command as Cmd, Kv, Limits, Reply, Service};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let kv = std::sync::Arc::new(Kv::new());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let kv = kv.clone();
            std::thread::spawn(move || {
                let mut decoder = RequestDecoder::new(&Framing::Resp, &Limits::default());
                let encoder = ReplyEncoder::new(&Framing::Resp);
                let mut buf = bytes::BytesMut::new();
                let mut chunk = [0; 4096];
                while let Ok(n) = conn.read(&mut chunk) {
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let mut out = bytes::BytesMut::new();
                    while let Ok(Some(cmd)) = decoder.decode(&mut buf) {
                        let reply = if cmd.name() == "INCR" && cmd.args.len() == 2 {
                            let key = cmd.args[1].to_vec();
                            let old = kv.call(Cmd::new([b"GET".to_vec(), key.clone()])).reply;
                            std::thread::sleep(Duration::from_millis(2));
                            let n = match old {
                                Reply::Bulk(v) => String::from_utf8_lossy(&v).parse().unwrap_or(0),
                                _ => 0,
                            } + 1i64;
                            kv.call(Cmd::new([b"SET".to_vec(), key, n.to_string().into_bytes()]));
                            Reply::Integer(n)
                        } else {
                            kv.call(cmd).reply
                        };
                        encoder.encode(&reply, &mut out);
                    }
                    if conn.write_all(&out).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_lost_update_over_loopback_is_caught_by_the_black_box_check() {
    let addr = lost_update_server();
    // Real time orders the clients: an INCR that overlaps another on the same counter is
    // likely in one run of 8 clients, and all but certain in one of five.
    let runs: Vec<String> = (0..5)
        .map(|run| {
            let found =
                linear_against::check(addr, &contention(&format!("l{run}:")), 8, run).unwrap();
            assert!(found.errors.is_empty(), "{}", found.summary());
            found.summary()
        })
        .take_while(|summary| !summary.contains("not linearizable"))
        .collect();
    assert!(runs.len() < 5, "never caught: {runs:#?}");
}

#[test]
fn framesim_run_against_with_contention_checks_redis_and_writes_the_history() {
    let (_redis, addr) = redis();
    let dir = std::env::temp_dir().join(format!("framesim-contention-{}", std::process::id()));
    let history = dir.join("redis.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_framesim"))
        .args(["run", "--against", &addr.to_string(), "--contention"])
        .args(["--clients", "4", "--requests", "50", "--seed", "3"])
        .arg("--history")
        .arg(&history)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("200 operation(s)") && stdout.contains(": linearizable"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&history).unwrap();
    assert_eq!(text.lines().count(), 200);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A harness whose workload is `workload`, 4 clients; its server is never run here.
fn harness_of(workload: ContentionWorkload) -> framesim::harness::Harness {
    framesim::harness::Harness::new(|_, _| async {}, workload).with(framesim::harness::Options {
        clients: 4,
        ..framesim::harness::Options::gentle()
    })
}

/// `against` of a harness binary's command line, with `args` after it.
fn harness_against(workload: ContentionWorkload, args: &[&str]) -> std::process::ExitCode {
    let args = ["harness", "against"].iter().chain(args).map(Into::into);
    framesim::harness::cli::main_from(harness_of(workload), args)
}

#[test]
fn a_harness_binary_checks_a_real_server_by_its_workloads_model() {
    let dir = std::env::temp_dir().join(format!("framesim-cli-against-{}", std::process::id()));
    let (_redis, addr) = redis();
    let history = dir.join("redis.jsonl");
    let code = harness_against(
        ContentionWorkload::new().requests(30),
        &[
            &addr.to_string(),
            "--seed",
            "5",
            "--history",
            history.to_str().unwrap(),
        ],
    );
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    assert_eq!(
        std::fs::read_to_string(&history).unwrap().lines().count(),
        120
    );
    assert!(!history.with_extension("html").exists());

    // A lost update is caught in one of a few runs, and drawn beside its history.
    let addr = lost_update_server().to_string();
    let caught = (0..5).find_map(|run| {
        let history = dir.join(format!("lost-{run}.jsonl"));
        let workload = ContentionWorkload::new()
            .requests(100)
            .prefix(format!("h{run}:"));
        let code = harness_against(
            workload,
            &[
                &addr,
                "--seed",
                &run.to_string(),
                "--history",
                history.to_str().unwrap(),
            ],
        );
        (code == std::process::ExitCode::FAILURE).then_some(history)
    });
    let history = caught.expect("the lost update was never caught");
    let page = std::fs::read_to_string(history.with_extension("html")).unwrap();
    assert!(page.contains("not linearizable") && page.contains(r#"class="op group stuck""#));
    std::fs::remove_dir_all(&dir).unwrap();
}
