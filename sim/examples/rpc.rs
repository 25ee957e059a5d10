//! A length-prefixed RPC server and its model under the harness: the minimum a user writes
//! to test a server of their own. The server's code needs only `framesim_listener`; the
//! rest (the workload, the tests) is what a dev-dependency on `framesim` gives.
//!
//! A frame is a 4-byte big-endian length, then that many bytes: an opcode and its payload.
//! ADD (1) takes two big-endian u64s and answers their wrapping sum; ECHO (2) answers its
//! payload; QUIT (3) answers an empty ok and closes the connection, running nothing after it. A reply is a frame holding a status byte (0 ok, 1 unknown opcode) and the result.
//!
//! `cargo run -p framesim --example rpc -- sweep --seeds 0..1000 --jobs 2` sweeps it from
//! its own command line (`run`, `check`, `sweep`, `shrink`); `cargo test -p framesim
//! --example rpc` runs the tests below.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use framesim::harness::Rng;
use framesim::harness::{length_prefixed, Draws, Harness, Options, Request, Session, Workload};
use framesim_listener::Listener;
use std::future::Future;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{sleep, timeout_at, Instant};

const ADD: u8 = 1;
const ECHO: u8 = 2;
const QUIT: u8 = 3;
/// The largest frame the server takes.
const MAX_FRAME: usize = 1 << 20;
/// How long a frame's bytes may take to arrive, from its first.
const FRAME_DEADLINE: Duration = Duration::from_millis(500);

/// A classic bug to plant in the server, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// The server as it should be.
    None,
    /// Each read taken for one whole frame.
    OneReadOneFrame,
    /// No deadline on a frame's bytes: a client that trickles holds its connection forever.
    NoFrameDeadline,
    /// A failed accept retried at once: a spin while descriptors are out.
    NoAcceptBackoff,
    /// Replies queued for a writer task without bound: the server reads on while its
    /// client reads nothing.
    UnboundedReplies,
    /// No limit on a frame's length: the server buffers whatever a header announces.
    NoFrameLimit,
    /// Reading and writing raced in one `select!` without `biased;`: tokio picks which
    /// goes first at random, so the same seed runs two ways.
    UnbiasedSelect,
    /// The frame limit checked with `>=`: a frame of exactly the largest size is refused.
    LimitOffByOne,
    /// A frame with no opcode read as if it had one: its connection's task panics.
    EmptyFramePanics,
    /// QUIT closes at once, dropping the replies of the frames read with it.
    QuitDropsReplies,
    /// A frame with an unknown opcode passed over in silence: its client waits forever.
    UnknownIgnored,
    /// The frame deadline restarted only when the buffer empties: a client that streams
    /// frames back to back, each on time, is cut once the stream outlasts one deadline.
    DeadlineKept,
}

/// Serves every connection `listener` accepts until `shutdown`, with `bug` planted.
pub async fn serve(mut listener: impl Listener, shutdown: impl Future<Output = ()>, bug: Bug) {
    tokio::pin!(shutdown);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            // Finished connections reaped, or the set keeps each one until the shutdown.
            Some(_) = connections.join_next() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => drop(connections.spawn(connection(stream, bug))),
                // Out of descriptors (or a connection aborted): wait before the next try.
                Err(_) if bug != Bug::NoAcceptBackoff => sleep(Duration::from_millis(10)).await,
                Err(_) => {}
            },
        }
    }
    connections.shutdown().await;
}

async fn connection(stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static, bug: Bug) {
    if bug == Bug::UnbiasedSelect {
        return racing(stream).await;
    }
    let (mut reader, writer) = tokio::io::split(stream);
    let (replies, mut queued) = tokio::sync::mpsc::unbounded_channel::<BytesMut>();
    let mut writer = Some(writer);
    if bug == Bug::UnboundedReplies {
        let mut writer = writer.take().expect("the writer");
        tokio::spawn(async move {
            while let Some(out) = queued.recv().await {
                if writer.write_all(&out).await.is_err() {
                    return;
                }
            }
        });
    }
    let mut buf = BytesMut::new();
    // When the frame at the front of `buf` began to arrive.
    let mut begun: Option<Instant> = None;
    loop {
        let read = match begun {
            Some(at) if bug != Bug::NoFrameDeadline => {
                match timeout_at(at + FRAME_DEADLINE, reader.read_buf(&mut buf)).await {
                    Ok(read) => read,
                    Err(_) => return,
                }
            }
            _ => reader.read_buf(&mut buf).await,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut out = BytesMut::new();
        if bug == Bug::OneReadOneFrame {
            let read = buf.split().freeze();
            answer(&read.slice(4.min(read.len())..), &mut out);
        }
        // Every frame whose bytes have all arrived; the rest waits for the next read.
        let (mut answered, mut quitting) = (false, false);
        while buf.len() >= 4 {
            let len = u32::from_be_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
            let too_long = match bug {
                Bug::NoFrameLimit => false,
                Bug::LimitOffByOne => len >= MAX_FRAME,
                _ => len > MAX_FRAME,
            };
            if too_long {
                return;
            }
            if buf.len() < 4 + len {
                break;
            }
            buf.advance(4);
            let frame = buf.split_to(len).freeze();
            if bug == Bug::EmptyFramePanics {
                // The opcode, taken without asking whether there is one.
                std::hint::black_box(frame[0]);
            }
            if bug == Bug::UnknownIgnored && !matches!(frame.first(), Some(&(ADD | ECHO | QUIT))) {
                continue;
            }
            if frame.first() == Some(&QUIT) {
                if bug == Bug::QuitDropsReplies {
                    return;
                }
                quitting = true;
            }
            answer(&frame, &mut out);
            answered = true;
            if quitting {
                break;
            }
        }
        let sent = match writer.as_mut() {
            Some(writer) => writer.write_all(&out).await.is_ok(),
            None => replies.send(out).is_ok(),
        };
        if !sent || quitting {
            return;
        }
        // After the write: a reply the client takes slowly is no time of the next frame's.
        begun = match (buf.is_empty(), answered) {
            (true, _) => None,
            (false, true) if bug != Bug::DeadlineKept => Some(Instant::now()),
            (false, _) => begun.or(Some(Instant::now())),
        };
    }
}

/// The connection as one loop that reads requests and writes the replies owed, whichever
/// `select!` picks (no `biased;`: at random when both can go).
async fn racing(stream: impl AsyncRead + AsyncWrite + Unpin) {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (mut buf, mut owed) = (BytesMut::new(), BytesMut::new());
    loop {
        tokio::select! {
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => while buf.len() >= 4 {
                    let len = u32::from_be_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
                    if len > MAX_FRAME {
                        return;
                    }
                    if buf.len() < 4 + len {
                        break;
                    }
                    buf.advance(4);
                    answer(&buf.split_to(len).freeze(), &mut owed);
                },
            },
            wrote = writer.write(&owed), if !owed.is_empty() => match wrote {
                Ok(n) => owed.advance(n),
                Err(_) => return,
            },
        }
    }
}

/// Appends the reply to `frame` (opcode + payload) to `out`.
fn answer(frame: &Bytes, out: &mut BytesMut) {
    let (status, body) = match (frame.first(), frame.len()) {
        (Some(&ADD), 17) => {
            let sum = u64_at(frame, 1).wrapping_add(u64_at(frame, 9));
            (0, Bytes::copy_from_slice(&sum.to_be_bytes()))
        }
        (Some(&ECHO), _) => (0, frame.slice(1..)),
        (Some(&QUIT), 1) => (0, Bytes::new()),
        _ => (1, Bytes::new()),
    };
    out.put_u32(1 + body.len() as u32);
    out.put_u8(status);
    out.put_slice(&body);
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Every client sends ten ADDs and ECHOs; replies are frames with a 4-byte length.
struct Rpc;

impl Workload for Rpc {
    fn session(&self, _client: usize) -> Box<dyn Session> {
        Box::new(RpcSession { left: 10 })
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(length_prefixed(4))
    }
}

/// One client: its requests left, and the model (a pure function of each request).
struct RpcSession {
    left: usize,
}

impl Session for RpcSession {
    fn next_request(&mut self, rng: &mut Draws) -> Option<Request> {
        self.left = self.left.checked_sub(1)?;
        let mut body = BytesMut::new();
        if rng.random_bool(0.5) {
            body.put_u8(ADD);
            body.put_u64(rng.random());
            body.put_u64(rng.random());
        } else {
            body.put_u8(ECHO);
            (0..rng.random_range(0..40)).for_each(|_| body.put_u8(rng.random()));
        }
        let mut bytes = BytesMut::new();
        bytes.put_u32(body.len() as u32);
        bytes.put_slice(&body);
        // Seams: the header's end, the opcode's end, the first operand's end.
        Some(Request::new(bytes.freeze()).with_boundaries([4, 5, 13]))
    }

    /// A header announcing a frame larger than `size`, and the start of its body.
    fn oversized(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        let mut bytes = BytesMut::new();
        bytes.put_u32(u32::try_from(size + 1).ok()?);
        bytes.put_u8(ECHO);
        bytes.resize(size + 1, b'x');
        Some(Request::new(bytes.freeze()).with_boundaries([4]))
    }

    /// A frame with no opcode, or one no server knows.
    fn malformed(&mut self, rng: &mut Draws) -> Option<Request> {
        let frame: &[u8] = if rng.random_bool(0.5) {
            b"\0\0\0\0"
        } else {
            b"\0\0\0\x03\xffhi"
        };
        Some(Request::new(frame).with_boundaries([4]))
    }

    /// Status 1, unknown opcode, and nothing else.
    fn check_error(&mut self, _request: &Request, reply: &[u8]) -> Result<(), String> {
        match reply {
            b"\0\0\0\x01\x01" => Ok(()),
            other => Err(format!("expected status 1, got {}", other.escape_ascii())),
        }
    }

    /// An ECHO frame of exactly `size` bytes in all, header included.
    fn at_limit(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        let mut bytes = BytesMut::new();
        bytes.put_u32(u32::try_from(size.checked_sub(4)?).ok()?);
        bytes.put_u8(ECHO);
        bytes.resize(size, b'y');
        Some(Request::new(bytes.freeze()).with_boundaries([4, 5]))
    }

    /// QUIT.
    fn quit(&mut self, _rng: &mut Draws) -> Option<Request> {
        Some(Request::new(&b"\0\0\0\x01\x03"[..]).with_boundaries([4]))
    }

    /// An ECHO of 64 KiB.
    fn large_reply(&mut self, _rng: &mut Draws) -> Option<Request> {
        let mut bytes = BytesMut::new();
        bytes.put_u32(1 + 64 * 1024);
        bytes.put_u8(ECHO);
        bytes.resize(4 + 1 + 64 * 1024, b'z');
        Some(Request::new(bytes.freeze()).with_boundaries([4, 5]))
    }

    fn expect(&mut self, request: &Request) -> Option<Bytes> {
        let body = &request.bytes[4..];
        let result = match body[0] {
            ADD => u64_at(body, 1)
                .wrapping_add(u64_at(body, 9))
                .to_be_bytes()
                .to_vec(),
            QUIT => Vec::new(),
            _ => body[1..].to_vec(),
        };
        let mut reply = BytesMut::new();
        reply.put_u32(1 + result.len() as u32);
        reply.put_u8(0);
        reply.put_slice(&result);
        Some(reply.freeze())
    }
}

/// The RPC server under the harness, `bug` planted: 32 clients, hostile by default (one of
/// every misbehaving role, stream faults, failing accepts).
fn harness(bug: Bug) -> Harness {
    let options = Options {
        max_request: MAX_FRAME + 4,
        ..Options::default()
    };
    Harness::new(
        move |listener, shutdown| serve(listener, shutdown, bug),
        Rpc,
    )
    .with(options)
}

/// framesim's subcommands for this server (`cargo run --example rpc -- sweep --jobs 2`),
/// with a bug planted if `RPC_BUG` names one (`no-frame-deadline`, `one-read-one-frame`,
/// `no-accept-backoff`, `unbounded-replies`, `no-frame-limit`, `unbiased-select`,
/// `limit-off-by-one`, `empty-frame-panics`, `quit-drops-replies`, `unknown-ignored`,
/// `deadline-kept`).
fn main() -> std::process::ExitCode {
    let bug = match std::env::var("RPC_BUG").as_deref() {
        Err(_) | Ok("" | "none") => Bug::None,
        Ok("one-read-one-frame") => Bug::OneReadOneFrame,
        Ok("no-frame-deadline") => Bug::NoFrameDeadline,
        Ok("no-accept-backoff") => Bug::NoAcceptBackoff,
        Ok("unbounded-replies") => Bug::UnboundedReplies,
        Ok("no-frame-limit") => Bug::NoFrameLimit,
        Ok("unbiased-select") => Bug::UnbiasedSelect,
        Ok("limit-off-by-one") => Bug::LimitOffByOne,
        Ok("empty-frame-panics") => Bug::EmptyFramePanics,
        Ok("quit-drops-replies") => Bug::QuitDropsReplies,
        Ok("unknown-ignored") => Bug::UnknownIgnored,
        Ok("deadline-kept") => Bug::DeadlineKept,
        Ok(other) => {
            eprintln!("RPC_BUG={other:?} is not a bug this example plants");
            return std::process::ExitCode::from(2);
        }
    };
    framesim::harness::cli::main(harness(bug))
}

#[test]
fn the_rpc_server_answers_every_request_as_the_model_says() {
    let tally = framesim::sweep!(harness(Bug::None));
    assert_eq!(tally.requests, tally.replies);
    // 26 well-behaved clients of ten requests each and a half-closing one, per seed.
    assert!(tally.replies >= 26 * 10);
    assert!(tally.slowloris_cut > 0 && tally.half_closed > 0 && tally.windows_filled > 0);
    assert!(tally.oversized_refused > 0);
    assert!(tally.malformed_refused > 0 && tally.at_limit_served > 0 && tally.slow_reads > 0);
    assert!(tally.quits > 0 && tally.bulk_loads > 0);
}

#[test]
fn every_planted_bug_is_caught_by_the_oracle_aimed_at_it() {
    for (bug, oracles) in [
        (
            Bug::OneReadOneFrame,
            &["reply", "unanswered", "framing"][..],
        ),
        (Bug::NoFrameDeadline, &["slowloris"]),
        (Bug::NoAcceptBackoff, &["accept"]),
        (Bug::UnboundedReplies, &["reply-backlog"]),
        (Bug::NoFrameLimit, &["oversized"]),
        (Bug::LimitOffByOne, &["wrongful-close"]),
        (Bug::EmptyFramePanics, &["panic"]),
        (Bug::QuitDropsReplies, &["quit"]),
        (Bug::UnknownIgnored, &["protocol-error"]),
        (Bug::DeadlineKept, &["wrongful-close"]),
    ] {
        let caught = (0..8).filter(|&seed| {
            let outcome = harness(bug).run(seed);
            let panicked = !outcome.panics.is_empty() && oracles.contains(&"panic");
            panicked
                || outcome
                    .violations
                    .iter()
                    .any(|v| oracles.contains(&v.oracle.name()))
        });
        assert!(caught.count() > 0, "{bug:?} passed 8 seeds");
    }
}

#[test]
fn a_select_without_biased_is_caught_and_named() {
    let options = Options {
        clients: 8,
        ..Options::gentle()
    };
    let harness = Harness::new(
        |listener, shutdown| serve(listener, shutdown, Bug::UnbiasedSelect),
        Rpc,
    )
    .with(options);
    let sweep = std::panic::AssertUnwindSafe(|| framesim::sweep!(harness, 0..32));
    let panic = std::panic::catch_unwind(sweep).expect_err("the racing server passed");
    let message = panic.downcast_ref::<String>().expect("a message");
    assert!(message.contains("[determinism]"), "{message}");
    assert!(message.contains("select! without `biased;`"), "{message}");
}

/// The first seed of `0..16` this harness fails.
#[cfg(test)]
fn failing_seed(harness: &Harness) -> u64 {
    (0..16)
        .find(|&seed| !harness.run(seed).passed())
        .expect("a failing seed")
}

#[test]
fn a_planted_bugs_failure_lifts_to_a_script_that_fails_it_and_passes_the_fixed_server() {
    let dir = std::env::temp_dir().join(format!("framesim-rpc-scripts-{}", std::process::id()));
    for bug in [
        Bug::OneReadOneFrame,
        Bug::NoFrameDeadline,
        Bug::DeadlineKept,
    ] {
        let buggy = harness(bug);
        let seed = failing_seed(&buggy);
        let shrunk = buggy.shrink(seed).expect("it fails");
        let script = buggy
            .clone()
            .with(shrunk.options.clone())
            .lift(shrunk.seed)
            .unwrap();
        assert_eq!(script.clients.len(), 1, "{bug:?}: {}", script.to_toml());
        // The file reads back to the same script.
        let path = dir.join(format!("{bug:?}.toml"));
        script.save(&path).unwrap();
        assert_eq!(framesim::harness::Script::load(&path).unwrap(), script);
        // Against the buggy server it fails as the shrunk run did; the same every time.
        let failed = buggy.replay_script(&script).unwrap();
        let oracle = |o: &framesim::Outcome| o.violations.first().map(|v| v.oracle);
        assert_eq!(
            oracle(&failed),
            oracle(&shrunk.outcome),
            "{bug:?}: {}",
            failed.failure("-")
        );
        let again = buggy.replay_script(&script).unwrap();
        assert_eq!(again.transcript.hash(), failed.transcript.hash());
        // The fixed server passes it.
        let fixed = harness(Bug::None).replay_script(&script).unwrap();
        assert!(
            fixed.passed(),
            "{bug:?} script, fixed server: {}",
            fixed.failure("-")
        );
        if bug == Bug::OneReadOneFrame {
            assert!(
                script.to_toml().contains("expect bytes "),
                "{}",
                script.to_toml()
            );
            assert!(fixed.tally.replies > 0);
        }
    }
    // A folder of scripts is a regression test: the fixed server passes every one.
    assert_eq!(harness(Bug::None).replay_scripts(&dir), Ok(3));
    let err = harness(Bug::NoFrameDeadline)
        .replay_scripts(&dir)
        .unwrap_err();
    assert!(err.contains("NoFrameDeadline.toml: [slowloris]"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn explore_finds_the_cut_a_server_that_takes_each_read_for_a_frame_mishandles() {
    // One client, three requests, one at a time, from the fixed server: a passing script.
    let options = Options {
        clients: 1,
        max_requests: Some(3),
        delivery: framesim::harness::Delivery {
            pipeline: 1,
            ..Options::gentle().delivery
        },
        ..Options::gentle()
    };
    let script = harness(Bug::None).with(options).lift(0).unwrap();
    let clean = harness(Bug::None).explore(&script, 1).unwrap();
    assert!(clean.failure.is_none(), "{clean}");
    assert_eq!(clean.logical_views, 1, "{clean}");
    assert!(clean.runs > 30, "{clean}");
    // Each request written whole is one read: the buggy server passes that...
    let buggy = harness(Bug::OneReadOneFrame);
    assert!(buggy.replay_script(&script.whole()).unwrap().passed());
    // ...and fails the first cut inside a request, written as a script that fails again.
    let found = buggy.explore(&script, 1).unwrap();
    let failed = found.failure.as_ref().expect("a cut that breaks it");
    assert!(failed.what.contains("cut at"), "{found}");
    let again = buggy
        .replay_script(&framesim::harness::Script::load(&failed.path).unwrap())
        .unwrap();
    assert_eq!(again.first_failure(), failed.run.first_failure());
}

#[test]
fn a_script_that_cannot_be_judged_is_refused_saying_why() {
    let script = harness(Bug::None)
        .with(Options {
            clients: 1,
            max_requests: Some(1),
            ..Options::gentle()
        })
        .lift(0)
        .unwrap();
    let text = script.to_toml();
    for (from, to, says) in [
        ("\"read\"", "\"read twice\"", "script step 'read twice'"),
        ("connect\"", "connect soon\"", "connect soon"),
        (
            "\nrole = \"normal\"",
            "\nrole = \"nobody\"",
            "unknown role 'nobody'",
        ),
    ] {
        assert!(text.contains(from), "{from} in\n{text}");
        let err = framesim::harness::Script::from_toml(&text.replacen(from, to, 1)).unwrap_err();
        assert!(err.contains(says), "{err}");
    }
    // A reply of framesim's own world is not a reply of this server.
    let mut kv = script.clone();
    kv.clients[0].steps[1] =
        framesim::script::Step::Expect(framesim::transcript::Expected::Integer);
    let err = framesim::harness::Script::from_toml(&kv.to_toml()).unwrap_err();
    assert!(err.contains("a step of framesim's own world"), "{err}");
    // A reply only the session's check judges, from a session that draws other bytes now.
    let checked = text.replacen("expect bytes", "expect checked", 1);
    let edited = checked.replacen("write \\x00", "write \\x01", 1);
    assert_ne!(checked, edited);
    let err = harness(Bug::None)
        .replay_script(&framesim::harness::Script::from_toml(&edited).unwrap())
        .unwrap_err();
    assert!(err.contains("expect checked"), "{err}");
    // Lifting a never-reader is refused, naming it.
    let err = harness(Bug::None).lift(0).unwrap_err();
    assert!(err.contains("never-reader"), "{err}");
}
