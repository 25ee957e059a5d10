//! The binary against hostile clients over real TCP: memory bounded on both sides, out of
//! file descriptors, signals, and the thread-per-connection write deadline. Memory is the
//! child's own (`/proc/<pid>/status`), every wait is bounded, and each timing assertion
//! states its deadline.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;

/// The binary on a free port, its log collected; killed on drop.
struct Binary {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Binary {
    fn start(extra: &[&str]) -> Binary {
        Binary::start_with(extra, None)
    }

    /// Starts the binary, with its file-descriptor limit (soft and hard) set to `nofile`.
    fn start_with(extra: &[&str], nofile: Option<u64>) -> Binary {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_framesim-server"));
        cmd.args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped());
        if let Some(n) = nofile {
            // SAFETY: only setrlimit, which is async-signal-safe, runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("start framesim-server");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let addr = loop {
            let line = lines.next().expect("the server logs its address").unwrap();
            log.lock().unwrap().push(line.clone());
            if let Some(rest) = line.split("addr=").nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Binary { child, addr, log }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// The child's peak resident memory so far, in bytes.
    fn peak_rss(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: usize = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kb * 1024
    }

    fn log_lines(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as libc::pid_t, sig) },
            0
        );
    }

    /// Waits up to `within` for the process to exit; its status.
    fn exit_within(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < within {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads until `want` bytes arrived, the peer closed, or 10 s passed.
fn read_exactly(s: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 65536];
    let start = Instant::now();
    while got.len() < want && start.elapsed() < Duration::from_secs(10) {
        match s.read(&mut chunk[..(want - got.len()).min(65536)]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    got
}

/// True when the peer closes (EOF or reset) within `within`, whatever it still sends.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut chunk = [0u8; 65536];
    while start.elapsed() < within {
        match s.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

fn set_big_value(server: &Binary, key: &str, len: usize) {
    let mut c = server.connect();
    c.write_all(&resp(&[b"SET", key.as_bytes(), &vec![b'v'; len]]))
        .unwrap();
    assert_eq!(read_exactly(&mut c, 5), b"+OK\r\n");
}

/// Case 1: a client pipelines GETs of a 16 MiB value and never reads. The server answers
/// one, stops decoding at `--max-output`, and holds one reply, not one per request.
#[test]
fn replies_to_a_client_that_never_reads_stay_bounded() {
    let server = Binary::start(&[]);
    set_big_value(&server, "a", 16 * MIB);
    let mut c = server.connect();
    let gets: Vec<u8> = b"GET a\r\n".repeat(20_000);
    // The server reads everything it can; writes may block once its buffers are full.
    c.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = c.write_all(&gets);
    std::thread::sleep(Duration::from_secs(2));
    let peak = server.peak_rss();
    assert!(
        peak < 64 * MIB,
        "peak RSS {} MiB with a never-reading client",
        peak / MIB
    );
    // The client is still served once it reads: the next reply is a whole 16 MiB bulk.
    let head = read_exactly(&mut c, 16 * MIB + 13);
    assert!(
        head.starts_with(b"$16777216\r\nvvv"),
        "{:?}",
        &head[..16.min(head.len())]
    );
}

/// Case 1, four connections: each holds at most one 4 MiB reply.
#[test]
fn four_never_readers_hold_one_reply_each() {
    let server = Binary::start(&[]);
    set_big_value(&server, "b", 4 * MIB);
    let mut clients = Vec::new();
    for _ in 0..4 {
        let mut c = server.connect();
        c.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = c.write_all(&b"GET b\r\n".repeat(10_000));
        clients.push(c);
    }
    std::thread::sleep(Duration::from_secs(2));
    let peak = server.peak_rss();
    assert!(
        peak < 64 * MIB,
        "peak RSS {} MiB with four never-reading clients",
        peak / MIB
    );
}

/// Case 2: an unfinished multibulk of 200,000 arguments is cut at `--max-buffered`,
/// arguments already parsed included, with an error reply.
#[test]
fn parsed_arguments_of_an_unfinished_request_count_against_max_buffered() {
    let server = Binary::start(&["--max-buffered", "65536"]);
    let mut c = server.connect();
    c.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let arg = resp(&[&vec![b'x'; 4096]]);
    let arg = &arg[4..]; // one `$4096\r\n...\r\n`, without the array header
    let mut sent = c.write_all(b"*200001\r\n").is_ok();
    let start = Instant::now();
    for _ in 0..200_000 {
        if !sent || start.elapsed() > Duration::from_secs(10) {
            break;
        }
        sent = c.write_all(arg).is_ok();
    }
    let peak = server.peak_rss();
    assert!(
        peak < 24 * MIB,
        "peak RSS {} MiB at --max-buffered 65536",
        peak / MIB
    );
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reply = vec![0u8; 256];
    let n = c.read(&mut reply).unwrap_or(0);
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(
        n == 0 || reply.starts_with("-ERR Protocol error: more than 65536 bytes buffered"),
        "{reply}"
    );
    assert!(closed_within(&mut c, Duration::from_secs(5)));
}

/// Case 3: with 256 file descriptors the server lowers its connection limit once, serves
/// that many, and refuses the rest with Redis's error and a close: none left unanswered.
#[test]
fn out_of_file_descriptors_clients_are_refused_not_ignored() {
    let server = Binary::start_with(&[], Some(256));
    let budget = 256 - framesim_server::fd_budget::FD_RESERVE as usize;
    assert_eq!(
        server.log_lines(&format!("lowered from 10000 to {budget}")),
        1
    );
    let (mut served, mut refused) = (Vec::new(), 0);
    for _ in 0..600 {
        let mut c = server.connect();
        c.write_all(b"PING\r\n").unwrap();
        let mut reply = [0u8; 64];
        let n = c
            .read(&mut reply)
            .expect("an answer within 10 s, never silence");
        match &reply[..n] {
            b"+PONG\r\n" => served.push(c),
            b"-ERR max number of clients reached\r\n" => {
                refused += 1;
                assert!(closed_within(&mut c, Duration::from_secs(5)));
            }
            other => panic!("unexpected {:?}", String::from_utf8_lossy(other)),
        }
    }
    assert!(served.len() <= budget, "{} served", served.len());
    assert!(served.len() >= budget - 8, "{} served", served.len());
    assert_eq!(served.len() + refused, 600);
    assert!(server.log_lines("Too many open files") <= 10);
}

/// Case 4: SIGHUP is ignored; SIGTERM is a graceful shutdown: a request in flight is
/// finished, every connection closed, the counters logged, exit status 0.
#[test]
fn sighup_is_ignored_and_sigterm_shuts_down_gracefully() {
    let mut server = Binary::start(&["--grace-ms", "3000"]);
    server.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(200));
    let mut idle = server.connect();
    idle.write_all(b"PING\r\n").unwrap();
    assert_eq!(read_exactly(&mut idle, 7), b"+PONG\r\n");
    assert_eq!(server.log_lines("SIGHUP ignored"), 1);

    let mut busy = Vec::new();
    for i in 0..100 {
        let mut c = server.connect();
        let batch: Vec<u8> = (0..200)
            .flat_map(|j| resp(&[b"SET", format!("k{i}-{j}").as_bytes(), b"v"]))
            .collect();
        c.write_all(&batch).unwrap();
        busy.push(c);
    }
    for c in &mut busy {
        assert_eq!(read_exactly(c, 5 * 200), b"+OK\r\n".repeat(200));
    }
    let mut mid = server.connect();
    let set = resp(&[b"SET", b"late", b"value"]);
    mid.write_all(&set[..9]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    mid.write_all(&set[9..]).unwrap();
    assert_eq!(read_exactly(&mut mid, 5), b"+OK\r\n");
    for c in busy.iter_mut().chain([&mut idle, &mut mid]) {
        assert!(closed_within(c, Duration::from_secs(5)));
    }
    let status = server.exit_within(Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert_eq!(server.log_lines("SIGTERM: shutting down"), 1);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.log_lines("stopped"), 1);
}

/// Case 6: in thread-per-connection mode a client that reads nothing is cut once its replies
/// have waited the idle timeout (an absolute deadline for the batch, not per byte).
#[test]
fn threads_mode_cuts_a_client_that_never_reads_at_the_idle_timeout() {
    let server = Binary::start(&["--mode", "threads", "--idle-timeout-s", "2"]);
    set_big_value(&server, "c", MIB);
    let mut c = server.connect();
    c.write_all(&b"GET c\r\n".repeat(64)).unwrap();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    // Cut at ~2 s: what is left to read is at most what the socket buffers held then.
    let mut total = 0;
    let mut chunk = [0u8; 65536];
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    loop {
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    assert!(
        total < 32 * MIB,
        "read {} MiB: the server kept writing past its idle timeout",
        total / MIB
    );
    assert!(start.elapsed() < Duration::from_secs(15));
}
