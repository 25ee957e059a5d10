//! The real binary against the real `redis-cli` and `redis-benchmark`.
//!
//! Needs Debian's `redis-tools`. Under `CI` a missing tool fails the test; elsewhere the test
//! says it cannot run and returns.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};

/// The binary, started on a free port; killed on drop.
struct Binary {
    child: Child,
    port: u16,
}

impl Binary {
    fn start(extra: &[&str]) -> Binary {
        let mut child = Command::new(env!("CARGO_BIN_EXE_framesim-server"))
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("start framesim-server");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut lines = stderr.lines();
        let port = loop {
            let line = lines
                .next()
                .expect("the server logs its address")
                .expect("stderr");
            if let Some(rest) = line.split("addr=").nth(1) {
                let addr = rest.split_whitespace().next().unwrap();
                break addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Binary { child, port }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when `tool` is installed; under `CI` its absence is a failure.
fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing: install Debian's redis-tools"
        );
        eprintln!(
            "{tool} is not installed: this test cannot run here (apt-get install redis-tools)"
        );
    }
    found
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    text.strip_suffix('\n').unwrap_or(&text).to_string()
}

#[test]
fn redis_cli_commands_get_redis_replies() {
    if !have("redis-cli") {
        return;
    }
    let server = Binary::start(&[]);
    let p = server.port;
    assert_eq!(cli(p, &["PING"]), "PONG");
    assert_eq!(cli(p, &["SET", "greeting", "hello world"]), "OK");
    assert_eq!(cli(p, &["GET", "greeting"]), "hello world");
    assert_eq!(cli(p, &["INCR", "n"]), "1");
    assert_eq!(cli(p, &["INCR", "n"]), "2");
    assert_eq!(cli(p, &["MSET", "a", "1", "b", "2"]), "OK");
    assert_eq!(cli(p, &["MGET", "a", "b", "missing"]), "1\n2\n");
    assert_eq!(cli(p, &["EXISTS", "a", "b", "missing"]), "2");
    assert_eq!(cli(p, &["DEL", "a", "greeting"]), "2");
    assert_eq!(cli(p, &["GET", "greeting"]), "");
    assert!(cli(p, &["NOPE", "x"]).starts_with("ERR unknown command 'NOPE'"));
    assert!(cli(p, &["GET"]).contains("wrong number of arguments"));
}

#[test]
fn redis_cli_pipe_mode_streams_a_large_batch() {
    if !have("redis-cli") {
        return;
    }
    let server = Binary::start(&[]);
    let mut input = String::new();
    for i in 0..20_000 {
        input.push_str(&format!("SET key:{i} value:{i}\r\n"));
    }
    let mut child = Command::new("redis-cli")
        .args(["-p", &server.port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("errors: 0, replies: 20000"), "{text}");
    assert_eq!(cli(server.port, &["GET", "key:19999"]), "value:19999");
}

fn benchmark(port: u16, extra: &[&str]) -> Output {
    Command::new("redis-benchmark")
        .args([
            "-p",
            &port.to_string(),
            "-t",
            "ping,set,get",
            "-n",
            "10000",
            "-q",
        ])
        .args(extra)
        .output()
        .expect("run redis-benchmark")
}

#[test]
fn redis_benchmark_completes_every_test() {
    if !have("redis-benchmark") {
        return;
    }
    let server = Binary::start(&[]);
    for extra in [&["-c", "50"][..], &["-c", "100", "-P", "16"]] {
        let out = benchmark(server.port, extra);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        for test in ["PING_INLINE", "PING_MBULK", "SET", "GET"] {
            let line = text
                .lines()
                .map(|l| l.rsplit('\r').next().unwrap())
                .find(|l| l.starts_with(&format!("{test}:")))
                .unwrap_or_else(|| panic!("no {test} result in {text}"));
            assert!(line.contains("requests per second"), "{line}");
        }
        assert!(!text.contains("ERR"), "{text}");
    }
    assert_eq!(cli(server.port, &["GET", "key:__rand_int__"]).len(), 3);
}

#[test]
fn the_line_and_length_framings_serve_the_same_commands() {
    use std::io::Read;
    use std::net::TcpStream;
    let server = Binary::start(&["--framing", "line"]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.write_all(b"SET k \"two words\"\nGET k\nQUIT\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert_eq!(text, "+OK\n$two words\n+OK\n");

    let server = Binary::start(&["--framing", "length", "--header-len", "2"]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    // PING as one frame holding one argument frame, 2-byte big-endian headers.
    s.write_all(b"\x00\x06\x00\x04PING").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"\x00\x07+PONG\r\n");
}

#[test]
fn bad_command_lines_are_refused_with_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_framesim-server"))
        .args(["--framing", "length", "--header-len", "3"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[possible values: 1, 2, 4, 8]"), "{err}");
    for bad in [
        &["--framing", "json"][..],
        &["--mode", "fibers"],
        &["--delimiter", "\\q"],
        &["--framing", "line", "--delimiter", "ab"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_framesim-server"))
            .args(bad)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.lines().count() <= 4,
            "{bad:?}: one clear error, not {err}"
        );
    }
}
