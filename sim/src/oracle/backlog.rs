//! The boundary oracles: what one server connection holds, measured where its bytes cross
//! the stream adapter and where its replies leave the service, never taken from what the
//! server reports about itself.
//!
//! Each accepted connection gets a [`Meter`], its `net::Tap`. The stream adapter
//! (`net::FaultyStream`) tells it every byte the server reads and writes, and makes it the
//! thread's *current connection* on every poll; the recording service tells [`replied`] every reply it
//! produces, which lands on the current connection. That attribution is exact because a
//! connection task decodes and answers in the same task poll right after its read or
//! write, and every host of a simulation runs on one thread, one task poll at a time.
//!
//! Three promises are checked at every step:
//! - **request backlog**: request bytes read since the server last wrote to the connection
//!   stay within `max_buffered` (see [`Backlog::new`] for the exact bound);
//! - **reply backlog**: reply bytes produced and not yet written stay within `max_output`
//!   plus the largest single reply produced on that connection;
//! - **executed**: the service is called no more often than the bytes read hold complete
//!   requests (counted apart from the server's decoders, see [`FrameCount`]).

use super::frames::FrameCount;
use super::{Oracle, Violations};
use crate::net::{Tap, Taps};
use crate::transcript::{Actor, Transcript};
use bytes::BytesMut;
use framesim_server::protocol::{Framing, ReplyEncoder};
use framesim_server::{Limits, Reply};
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task;

/// The boundary oracles of one run: hands each accepted connection its [`Meter`].
#[derive(Clone)]
pub struct Backlog(Arc<Bounds>);

/// What every connection of a run is held to, and where violations go.
struct Bounds {
    /// Encodes each reply as the server does, to know its length on the wire.
    encoder: ReplyEncoder,
    /// The requests' framing, for counting them.
    framing: Framing,
    /// Most request bytes a connection may read without writing anything back.
    max_unanswered: usize,
    max_output: usize,
    max_buffered: usize,
    transcript: Transcript,
    violations: Violations,
}

impl Backlog {
    /// The oracles for a run serving `framing` under `limits`.
    ///
    /// The request bound follows from what `max_buffered` promises: a connection holds at
    /// most that many bytes for requests it has not answered (its buffer plus what the
    /// decoder parsed out of an unfinished request), and it reads no more than the room
    /// left. Every request gets a reply, written before the next read, so every byte read
    /// since the last write belongs to a request not answered yet and is still held —
    /// except a length header, which the length decoder keeps as a number once read: hence
    /// `max_buffered` plus one header for length framing, and exactly `max_buffered` for
    /// RESP (a parsed argument's slot in the decoder's bookkeeping outweighs its `$len`
    /// header) and for lines (kept whole in the buffer). An empty request (a blank line, an
    /// empty array, an empty length frame) is skipped without a reply: its bytes are not
    /// counted ([`FrameCount::skipped`]).
    pub fn new(
        framing: &Framing,
        limits: &Limits,
        transcript: Transcript,
        violations: Violations,
    ) -> Self {
        let header = match framing {
            Framing::Length { header_len, .. } => *header_len,
            _ => 0,
        };
        Backlog(Arc::new(Bounds {
            encoder: ReplyEncoder::new(framing),
            framing: framing.clone(),
            max_unanswered: limits.max_buffered + header,
            max_output: limits.max_output,
            max_buffered: limits.max_buffered,
            transcript,
            violations,
        }))
    }

    /// A meter for the connection accepted from `peer`, known to this thread until the
    /// next [`clear`].
    pub fn meter(&self, peer: SocketAddr) -> Meter {
        let connection = Arc::new(Mutex::new(Connection {
            read: 0,
            idle_at_stop: None,
            frames: FrameCount::new(&self.0.framing),
            executed: 0,
            executed_failed: false,
            bounds: self.0.clone(),
            peer: peer.to_string(),
            unanswered: 0,
            produced: 0,
            written: 0,
            largest: 0,
            shut: false,
            requests_failed: false,
            replies_failed: false,
        }));
        METERS.with(|meters| {
            let mut meters = meters.borrow_mut();
            let meter = Meter {
                connection,
                index: meters.len(),
            };
            meters.push(meter.clone());
            meter
        })
    }
}

/// What one server connection has read, produced and written so far.
#[derive(Clone)]
pub struct Meter {
    connection: Arc<Mutex<Connection>>,
    /// Where it is in this thread's `METERS`.
    index: usize,
}

struct Connection {
    bounds: Arc<Bounds>,
    peer: String,
    /// Request bytes read in all.
    read: u64,
    /// When a graceful shutdown began with this connection idle (nothing in progress, every
    /// reply written), and the bytes read by then.
    idle_at_stop: Option<(Duration, u64)>,
    /// Complete requests in the bytes read.
    frames: FrameCount,
    /// Times the service was called for this connection.
    executed: u64,
    executed_failed: bool,
    /// Request bytes read since the server last wrote to this connection.
    unanswered: usize,
    /// Bytes of replies the service produced for this connection.
    produced: u64,
    /// Bytes the server wrote to this connection.
    written: u64,
    /// The largest single reply produced so far.
    largest: usize,
    /// The server shut its side down: it can answer nothing more, so what it still reads
    /// (lingering after an error reply) is discarded input, not a backlog.
    shut: bool,
    /// Each promise is reported once per connection: the first breach is the news.
    requests_failed: bool,
    replies_failed: bool,
}

thread_local! {
    /// Every meter made on this thread since the last [`clear`], by index. Each lives until
    /// then, so the current connection can be a plain index: the stream adapter makes a
    /// connection current on every poll, and a reference count bumped each time cost more
    /// than all the meters' bookkeeping.
    static METERS: RefCell<Vec<Meter>> = const { RefCell::new(Vec::new()) };
    /// The index of the connection whose stream was polled last on this thread, and the
    /// task that polled it.
    static CURRENT: Cell<(Option<task::Id>, usize)> = const { Cell::new((None, usize::MAX)) };
    /// Replies a task produced before it polled its connection's stream (a connection given
    /// a task again with bytes a parking lot read for it): they are that connection's, and
    /// counted on it when the task first polls the stream.
    static UNCLAIMED: RefCell<Vec<(task::Id, Reply)>> = const { RefCell::new(Vec::new()) };
    /// How many replies wait in `UNCLAIMED`: a stream poll looks there only when some do.
    static WAITING: Cell<usize> = const { Cell::new(0) };
    /// Where replies are encoded to learn their length, kept between replies.
    static SCRATCH: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Scratch space kept for the next reply is given back past this size.
const SCRATCH_KEPT: usize = 64 * 1024;

impl Taps for Backlog {
    fn tap(&self, peer: SocketAddr) -> Box<dyn Tap> {
        Box::new(self.meter(peer))
    }
}

impl Tap for Meter {
    /// Makes this the thread's current connection: replies its task produces from now on
    /// (and any it produced before polling the stream) are its.
    fn enter(&self) {
        let task = task::try_id();
        CURRENT.set((task, self.index));
        let Some(task) = task else {
            return;
        };
        if WAITING.get() == 0 {
            return;
        }
        let claimed: Vec<Reply> = UNCLAIMED.with(|u| {
            let mut u = u.borrow_mut();
            if !u.iter().any(|(t, _)| *t == task) {
                return Vec::new();
            }
            let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut *u)
                .into_iter()
                .partition(|(t, _)| *t == task);
            *u = others;
            WAITING.set(u.len());
            mine.into_iter().map(|(_, reply)| reply).collect()
        });
        for reply in &claimed {
            self.replied(reply);
        }
    }

    fn read(&self, bytes: &[u8]) {
        let n = bytes.len();
        let mut c = self.connection.lock().expect("meter lock");
        let skipped = c.frames.skipped();
        c.frames.feed(bytes);
        c.read += n as u64;
        if c.shut || n == 0 {
            return;
        }
        // An empty request split across reads is taken off when its last byte comes.
        let skipped = (c.frames.skipped() - skipped) as usize;
        c.unanswered = (c.unanswered + n).saturating_sub(skipped);
        if c.unanswered > c.bounds.max_unanswered && !c.requests_failed {
            c.requests_failed = true;
            let detail = format!(
                "connection {}: read {} request bytes since the server last wrote to it (max_buffered {}, bound {})",
                c.peer, c.unanswered, c.bounds.max_buffered, c.bounds.max_unanswered
            );
            c.fail(Oracle::RequestBacklog, detail);
        }
    }

    fn wrote(&self, bytes: &[u8]) {
        let n = bytes.len();
        if n == 0 {
            return;
        }
        let mut c = self.connection.lock().expect("meter lock");
        c.unanswered = 0;
        c.written += n as u64;
    }

    fn shut(&self) {
        let mut c = self.connection.lock().expect("meter lock");
        c.shut = true;
        // Idle when the shutdown began and quiet since: it had nothing to wait for.
        if let Some((at, read)) = c.idle_at_stop.take() {
            let held = crate::clock::now().saturating_sub(at);
            if c.read == read && held > IDLE_CLOSE {
                let detail = format!(
                    "connection {}: idle when the graceful shutdown began, closed only {held:?} later (bound {IDLE_CLOSE:?}): a draining server closes idle connections at once, not at the end of its grace",
                    c.peer
                );
                c.fail(Oracle::Drain, detail);
            }
        }
    }
}

impl Meter {
    fn replied(&self, reply: &Reply) {
        let mut c = self.connection.lock().expect("meter lock");
        c.executed += 1;
        if c.executed > c.frames.complete() && !c.executed_failed {
            c.executed_failed = true;
            let detail = format!(
                "connection {}: the service ran request {} but the bytes the server read hold {} complete request(s): a request never sent whole (truncated, run twice, or garbage)",
                c.peer, c.executed, c.frames.complete()
            );
            c.fail(Oracle::Executed, detail);
        }
        let len = SCRATCH.with(|scratch| {
            let mut out = scratch.borrow_mut();
            out.clear();
            c.bounds.encoder.encode(reply, &mut out);
            let len = out.len();
            if out.capacity() > SCRATCH_KEPT {
                *out = BytesMut::new();
            }
            len
        });
        c.produced += len as u64;
        c.largest = c.largest.max(len);
        // Replies the server makes up itself (protocol errors) are written without passing
        // the service, so `written` may run ahead of `produced`: that only ever makes the
        // pending count smaller, never a false alarm.
        let pending = c.produced.saturating_sub(c.written);
        let bound = (c.bounds.max_output + c.largest) as u64;
        if pending > bound && !c.replies_failed {
            c.replies_failed = true;
            let detail = format!(
                "connection {}: {} bytes of replies produced and not written (max_output {} + largest reply {})",
                c.peer, pending, c.bounds.max_output, c.largest
            );
            c.fail(Oracle::ReplyBacklog, detail);
        }
    }
}

impl Connection {
    fn fail(&self, oracle: Oracle, detail: String) {
        let b = &self.bounds;
        b.violations
            .fail(&b.transcript, Actor::Server, oracle, detail);
    }
}

/// The service produced `reply`: counts it on the current connection (or, from a task that
/// has not polled its stream yet, on that task's connection once it does).
pub fn replied(reply: &Reply) {
    let (current, index) = CURRENT.get();
    if let Some(task) = task::try_id() {
        if current != Some(task) {
            UNCLAIMED.with(|u| u.borrow_mut().push((task, reply.clone())));
            WAITING.set(WAITING.get() + 1);
            return;
        }
    }
    let meter = METERS.with(|meters| meters.borrow().get(index).cloned());
    if let Some(meter) = meter {
        meter.replied(reply);
    }
}

/// How soon after a graceful shutdown begins a connection idle then must be closed.
const IDLE_CLOSE: Duration = Duration::from_millis(20);

/// A graceful shutdown begins at `at`: every connection open and idle now (no request in
/// progress, nothing unanswered, every reply written) must be closed within
/// [`IDLE_CLOSE`], unless its client sends more first.
pub fn shutdown_began(at: Duration) {
    METERS.with(|meters| {
        for meter in meters.borrow().iter() {
            let mut c = meter.connection.lock().expect("meter lock");
            let idle = c.frames.at_boundary()
                && c.executed == c.frames.complete()
                && c.produced <= c.written;
            if !c.shut && idle {
                c.idle_at_stop = Some((at, c.read));
            }
        }
    });
}

/// Forgets every meter and the current connection: every run starts (and ends) with none.
pub fn clear() {
    CURRENT.set((None, usize::MAX));
    UNCLAIMED.with(|u| u.borrow_mut().clear());
    WAITING.set(0);
    METERS.with(|meters| meters.borrow_mut().clear());
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn limits() -> Limits {
        Limits {
            max_buffered: 100,
            max_output: 50,
            ..Limits::default()
        }
    }

    /// A fresh run's oracles under `limits()` (RESP) and the meter of one connection, the
    /// thread's current one.
    fn metered() -> (Violations, Meter) {
        let violations = Violations::default();
        let backlog = Backlog::new(
            &Framing::Resp,
            &limits(),
            Transcript::new(true),
            violations.clone(),
        );
        clear();
        let meter = backlog.meter("10.0.0.1:5000".parse().unwrap());
        meter.enter();
        (violations, meter)
    }

    #[test]
    fn request_bytes_read_without_a_write_are_bounded() {
        let (violations, meter) = metered();
        meter.read(&[0; 60]);
        meter.wrote(&[b'x'; 1]);
        meter.read(&[0; 100]);
        assert!(violations.all().is_empty(), "{:?}", violations.all());
        meter.read(&[0; 1]);
        let found = violations.all();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].oracle, Oracle::RequestBacklog);
        assert!(
            found[0].detail.contains("10.0.0.1:5000"),
            "{}",
            found[0].detail
        );
        // Once shut, what the server reads is discarded input.
        meter.shut();
        meter.read(&[0; 1000]);
        assert_eq!(violations.all().len(), 1);
    }

    #[test]
    fn replies_held_unwritten_are_bounded_by_max_output_and_one_reply() {
        let (violations, meter) = metered();
        meter.read(&b"GET k\r\n".repeat(5));
        // `$20\r\n` + 20 bytes + `\r\n`: 27 bytes each; bound 50 + 27.
        let reply = Reply::Bulk(Bytes::from(vec![b'v'; 20]));
        replied(&reply);
        replied(&reply);
        meter.wrote(&[b'x'; 54]);
        replied(&reply);
        replied(&reply);
        assert!(violations.all().is_empty(), "{:?}", violations.all());
        replied(&reply);
        let found = violations.all();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].oracle, Oracle::ReplyBacklog);
        clear();
    }

    #[test]
    fn the_service_runs_no_more_requests_than_came_whole() {
        let (violations, meter) = metered();
        meter.read(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI");
        replied(&Reply::Simple("PONG".into()));
        assert!(violations.all().is_empty(), "{:?}", violations.all());
        // The second request was cut short: running it is running what nobody sent.
        replied(&Reply::Simple("PONG".into()));
        let found = violations.all();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].oracle, Oracle::Executed);
        assert!(
            found[0].detail.contains("1 complete"),
            "{}",
            found[0].detail
        );
        clear();
    }

    #[test]
    fn an_empty_request_is_not_one_to_run() {
        let (violations, meter) = metered();
        meter.read(b"*0\r\n\r\n*-1\r\nPING\r\n");
        replied(&Reply::Simple("PONG".into()));
        meter.wrote(&[b'x'; 7]);
        // Empty requests get no reply and are not held: no bound on reading them.
        meter.read(&b"*0\r\n".repeat(100));
        assert!(violations.all().is_empty(), "{:?}", violations.all());
        replied(&Reply::Error("ERR unknown command ''".into()));
        let found = violations.all();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].oracle, Oracle::Executed);
        clear();
    }
}
