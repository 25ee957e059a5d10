//! The tokio tutorial's kind of server under the harness: a line protocol read through
//! tokio-util's `Framed` + `LinesCodec`, a task per connection, the store an
//! `Arc<Mutex<HashMap>>`. `SET key value` answers `OK`, `GET key` the value or `(nil)`,
//! `QUIT` `BYE` before it closes.
//!
//! `cargo run -p framesim --example lines -- sweep --jobs 2` sweeps it from its own
//! command line (`LINES_BUG=eof-line` plants one of the bugs below); `cargo test -p framesim --example lines` runs the tests below, which
//! plant the three bugs such servers ship with: no deadline on a line, no limit on its
//! length, and running the unfinished line a client left behind (`LinesCodec::decode_eof`
//! returns it as a line).

use bytes::Bytes;
use framesim::harness::Rng;
use framesim::harness::{delimited, Draws, Harness, Options, Request, Session, Workload};
use framesim_listener::Listener;
use futures_core::Stream;
use futures_sink::Sink;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Decoder, Encoder, Framed, LinesCodec, LinesCodecError};

/// The longest line the server takes.
const MAX_LINE: usize = 8 * 1024;
/// How long the server waits for a client's next line, or for a client to take a reply.
const LINE_TIMEOUT: Duration = Duration::from_millis(500);

type Db = Arc<Mutex<HashMap<String, String>>>;

/// The three fixes the tutorial's server needs to face the internet, each on or off.
#[derive(Debug, Clone, Copy)]
pub struct Fixes {
    /// A deadline on each line and on each reply's write.
    pub deadline: bool,
    /// A limit on a line's length.
    pub limit: bool,
    /// Only whole lines run: the bytes left when a stream ends are not a line.
    pub whole_lines: bool,
}

impl Fixes {
    /// Every fix in.
    pub const ALL: Fixes = Fixes {
        deadline: true,
        limit: true,
        whole_lines: true,
    };
}

/// `LinesCodec`, and what becomes of the bytes left when the stream ends: with
/// `whole_lines`, an unfinished line is an error; without, `LinesCodec::decode_eof`
/// returns it as a line, which the server then runs.
pub struct Lines {
    codec: LinesCodec,
    whole_lines: bool,
}

impl Decoder for Lines {
    type Item = String;
    type Error = LinesCodecError;

    fn decode(&mut self, buf: &mut bytes::BytesMut) -> Result<Option<String>, LinesCodecError> {
        self.codec.decode(buf)
    }

    fn decode_eof(&mut self, buf: &mut bytes::BytesMut) -> Result<Option<String>, LinesCodecError> {
        if !self.whole_lines {
            return self.codec.decode_eof(buf);
        }
        match self.codec.decode(buf)? {
            None if !buf.is_empty() => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the stream ended inside a line",
            )
            .into()),
            line => Ok(line),
        }
    }
}

impl Encoder<String> for Lines {
    type Error = LinesCodecError;

    fn encode(&mut self, line: String, buf: &mut bytes::BytesMut) -> Result<(), LinesCodecError> {
        self.codec.encode(line, buf)
    }
}

/// The server as the tutorial would write it, with each of `fixes` in or out.
pub async fn serve(mut listener: impl Listener, shutdown: impl Future<Output = ()>, fixes: Fixes) {
    let db = Db::default();
    tokio::pin!(shutdown);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            // Finished connections reaped, or the set keeps each one until the shutdown.
            Some(_) = connections.join_next() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let codec = if fixes.limit { LinesCodec::new_with_max_length(MAX_LINE) } else { LinesCodec::new() };
                    let lines = Lines { codec, whole_lines: fixes.whole_lines };
                    connections.spawn(connection(Framed::new(stream, lines), db.clone(), fixes.deadline));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    connections.shutdown().await;
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut lines: Framed<S, Lines>,
    db: Db,
    deadline: bool,
) {
    loop {
        let line = if deadline {
            match tokio::time::timeout(LINE_TIMEOUT, next_line(&mut lines)).await {
                Ok(line) => line,
                Err(_) => return,
            }
        } else {
            next_line(&mut lines).await
        };
        let Some(Ok(line)) = line else { return };
        let reply = {
            let mut db = db.lock().expect("db lock");
            let mut words = line.splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("SET"), Some(key), Some(value)) => {
                    db.insert(key.to_string(), value.to_string());
                    "OK".to_string()
                }
                (Some("GET"), Some(key), None) => db.get(key).cloned().unwrap_or("(nil)".into()),
                (Some("QUIT"), None, None) => "BYE".to_string(),
                _ => "ERR unknown command".to_string(),
            }
        };
        let sent = if deadline {
            // A client that stops reading is cut too, not held forever.
            tokio::time::timeout(LINE_TIMEOUT, send_line(&mut lines, reply))
                .await
                .unwrap_or(Err(LinesCodecError::Io(
                    std::io::ErrorKind::TimedOut.into(),
                )))
        } else {
            send_line(&mut lines, reply).await
        };
        if sent.is_err() || line == "QUIT" {
            return;
        }
    }
}

/// The next line: `StreamExt::next` of the futures crate, spelled with `futures-core`
/// alone (the trait `Framed` implements).
async fn next_line<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Framed<S, Lines>,
) -> Option<Result<String, LinesCodecError>> {
    std::future::poll_fn(|cx| Pin::new(&mut *lines).poll_next(cx)).await
}

/// Sends one line: `SinkExt::send`, spelled with `futures-sink` alone.
async fn send_line<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Framed<S, Lines>,
    line: String,
) -> Result<(), LinesCodecError> {
    std::future::poll_fn(|cx| Sink::<String>::poll_ready(Pin::new(&mut *lines), cx)).await?;
    Pin::new(&mut *lines).start_send(line)?;
    std::future::poll_fn(|cx| Sink::<String>::poll_flush(Pin::new(&mut *lines), cx)).await
}

/// Each client SETs and GETs keys of its own; the model is its own map.
struct Kv;

impl Workload for Kv {
    fn session(&self, client: usize) -> Box<dyn Session> {
        Box::new(Client {
            id: client,
            left: 12,
            mine: HashMap::new(),
        })
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(delimited(b"\n"))
    }
}

struct Client {
    id: usize,
    left: usize,
    mine: HashMap<String, String>,
}

impl Session for Client {
    fn next_request(&mut self, rng: &mut Draws) -> Option<Request> {
        self.left = self.left.checked_sub(1)?;
        let key = format!("c{}:k{}", self.id, rng.random_range(0..4));
        let line = if rng.random_bool(0.5) {
            let value: String = (0..rng.random_range(1..24))
                .map(|_| rng.random_range(b'a'..=b'z') as char)
                .collect();
            format!("SET {key} {value}\n")
        } else {
            format!("GET {key}\n")
        };
        // Seams: after the command's name, after the key.
        let name = line.find(' ').unwrap_or(0);
        let key_end = name + 1 + key.len();
        Some(Request::new(line).with_boundaries([name, name + 1, key_end]))
    }

    fn expect(&mut self, request: &Request) -> Option<Bytes> {
        let line = std::str::from_utf8(&request.bytes).ok()?.trim_end();
        if line == "QUIT" {
            return Some(Bytes::from_static(b"BYE\n"));
        }
        let mut words = line.splitn(3, ' ');
        let reply = match (words.next()?, words.next()?, words.next()) {
            ("SET", key, Some(value)) => {
                self.mine.insert(key.into(), value.into());
                "OK".to_string()
            }
            (_, key, _) => self.mine.get(key).cloned().unwrap_or("(nil)".into()),
        };
        Some(Bytes::from(reply + "\n"))
    }

    fn quit(&mut self, _rng: &mut Draws) -> Option<Request> {
        Some(Request::new(&b"QUIT\n"[..]))
    }

    /// A line that is not UTF-8: `LinesCodec` refuses it, and the server closes.
    fn malformed(&mut self, _rng: &mut Draws) -> Option<Request> {
        Some(Request::new(&b"SET k \xff\xfe\n"[..]))
    }

    /// A SET whose line is exactly `size` bytes, its newline included.
    fn at_limit(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        let mut line = format!("SET c{}:big ", self.id).into_bytes();
        line.resize(size.checked_sub(1)?, b'v');
        line.push(b'\n');
        Some(Request::new(line))
    }

    /// A line longer than the limit, never ended.
    fn oversized(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        let mut line = b"SET big ".to_vec();
        line.resize(size + 1, b'x');
        Some(Request::new(line))
    }
}

/// The server under the harness, hostile by default, with what it promises declared.
fn harness(fixes: Fixes) -> Harness {
    let options = Options {
        // `LinesCodec`'s limit counts a line without its newline.
        max_request: MAX_LINE + 1,
        ..Options::default()
    };
    Harness::new(
        move |listener, shutdown| serve(listener, shutdown, fixes),
        Kv,
    )
    .with(options)
}

/// The server's command line, every fix in, or one taken out if `LINES_BUG` names it
/// (`no-deadline`, `no-limit`, `eof-line`).
fn main() -> std::process::ExitCode {
    let fixes = match std::env::var("LINES_BUG").as_deref() {
        Err(_) | Ok("" | "none") => Fixes::ALL,
        Ok("no-deadline") => Fixes {
            deadline: false,
            ..Fixes::ALL
        },
        Ok("no-limit") => Fixes {
            limit: false,
            ..Fixes::ALL
        },
        Ok("eof-line") => Fixes {
            whole_lines: false,
            ..Fixes::ALL
        },
        Ok(other) => {
            eprintln!("LINES_BUG={other:?} is not a bug this example plants (no-deadline, no-limit, eof-line)");
            return std::process::ExitCode::from(2);
        }
    };
    framesim::harness::cli::main(harness(fixes))
}

#[test]
fn the_line_server_passes_a_hostile_sweep() {
    let tally = framesim::sweep!(harness(Fixes::ALL));
    assert_eq!(tally.requests, tally.replies);
    assert!(tally.slowloris_cut > 0 && tally.oversized_refused > 0 && tally.half_closed > 0);
    assert!(tally.malformed_refused > 0 && tally.at_limit_served > 0 && tally.quits > 0);
}

#[test]
fn without_a_line_deadline_a_default_sweep_fails_on_the_slowloris() {
    let fixes = Fixes {
        deadline: false,
        ..Fixes::ALL
    };
    let sweep = std::panic::AssertUnwindSafe(|| framesim::sweep!(harness(fixes)));
    let panic = std::panic::catch_unwind(sweep).expect_err("the deadline-less server passed");
    let message = panic.downcast_ref::<String>().expect("a message");
    assert!(message.contains("[slowloris]"), "{message}");
}

#[test]
fn without_a_line_limit_the_oversized_client_is_read_whole() {
    let fixes = Fixes {
        limit: false,
        ..Fixes::ALL
    };
    let caught = (0..8).any(|seed| {
        let outcome = harness(fixes).run(seed);
        let read_past = outcome
            .violations
            .iter()
            .any(|v| v.oracle.name() == "oversized" && v.detail.contains("without refusing"));
        // Read past the limit, then answered or closed: no refusal to count.
        assert!(
            !read_past || outcome.tally.oversized_refused == 0,
            "seed {seed}: {}",
            outcome.summary()
        );
        read_past
    });
    assert!(caught, "LinesCodec::new() passed 8 seeds");
}

#[test]
fn declared_idle_and_write_timeouts_are_held_to() {
    let declared = |deadline| {
        let fixes = Fixes {
            deadline,
            ..Fixes::ALL
        };
        let options = Options {
            idle_timeout: Some(LINE_TIMEOUT),
            write_timeout: Some(LINE_TIMEOUT),
            ..harness(fixes).options().clone()
        };
        harness(fixes).with(options)
    };
    for seed in 0..4 {
        let outcome = declared(true).run(seed);
        assert!(outcome.passed(), "{}", outcome.failure("-"));
    }
    let outcome = declared(false).run(0);
    for oracle in ["idle", "stalled-reader"] {
        assert!(
            outcome.violations.iter().any(|v| v.oracle.name() == oracle),
            "{oracle}: {}",
            outcome.summary()
        );
    }
}

#[test]
fn an_idle_timer_shorter_than_the_declared_one_cuts_a_patient_client() {
    // The server cuts a silent connection after LINE_TIMEOUT; declared twice as long, a
    // client that waits four fifths of the declared timeout is cut.
    let promising = |idle| {
        let options = Options {
            idle_timeout: Some(idle),
            ..harness(Fixes::ALL).options().clone()
        };
        harness(Fixes::ALL).with(options)
    };
    let outcome = promising(LINE_TIMEOUT * 2).run(0);
    let first = outcome.violations.first().expect("the short timer passed");
    assert_eq!(
        first.oracle.name(),
        "wrongful-close",
        "{}",
        outcome.summary()
    );
    assert!(first.detail.contains("idle_timeout"), "{}", first.detail);
    assert!(promising(LINE_TIMEOUT).run(0).passed());
}

#[test]
fn running_the_unfinished_line_at_the_end_of_a_stream_is_caught_shrunk_and_lifted() {
    let buggy = harness(Fixes {
        whole_lines: false,
        ..Fixes::ALL
    });
    let seed = (0..8)
        .find(|&seed| !buggy.run(seed).passed())
        .expect("LinesCodec::decode_eof passed 8 seeds");
    let shrunk = buggy.shrink(seed).expect("it fails");
    let first = &shrunk.outcome.violations[0];
    assert_eq!(
        first.oracle.name(),
        "executed",
        "{}",
        shrunk.outcome.summary()
    );
    // One client as a script: it fails the same way, and the fixed server passes it.
    let script = buggy
        .clone()
        .with(shrunk.options.clone())
        .lift(shrunk.seed)
        .unwrap();
    assert_eq!(script.clients.len(), 1, "{}", script.to_toml());
    let replayed = buggy.replay_script(&script).unwrap();
    let oracle = replayed.violations.first().map(|v| v.oracle.name());
    assert_eq!(oracle, Some("executed"), "{}", replayed.summary());
    let fixed = harness(Fixes::ALL).replay_script(&script).unwrap();
    assert!(fixed.passed(), "{}", fixed.failure("-"));
}
