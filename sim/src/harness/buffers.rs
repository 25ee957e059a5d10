//! What a server under the harness holds for each connection, measured at its stream: the
//! request bytes it reads while its client has a full window of replies unread
//! (`reply-backlog`), how much of an oversized request it reads before refusing it
//! (`oversized`), and whether it answers a request a client left in the middle of as if it
//! had it all (`executed`). Nothing is asked of the server: whatever it buffers, it first
//! read; whatever it answers, it wrote.

use super::options::Options;
use super::reads::{ReadEnds, Sent};
use super::recorder::Recorder;
use super::workload::{ReplyFramer, Request, Session};
use crate::net::{Tap, Taps};
use crate::oracle::{Oracle, Violations};
use crate::transcript::{Actor, Transcript};
use crate::window::Windows;
use bytes::BytesMut;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Bytes past a declared limit a server may read before it can tell: one read's worth.
pub(super) const READ_SLACK: u64 = 64 * 1024;

/// The run's connections as the buffer oracles see them, keyed by the client's address.
pub(super) struct Buffers {
    connections: Mutex<Connections>,
    /// Connections whose server writes are still to be judged (`Held::unfinished`): none,
    /// in most of a run, and then a server write takes no lock.
    armed: AtomicUsize,
    windows: Windows,
    max_request: u64,
    max_buffered: u64,
    transcript: Transcript,
    violations: Violations,
    /// The run's history, when it records one: the server's reads and writes are stamped
    /// on its clock ([`Buffers::served`]).
    history: Option<Arc<Recorder>>,
}

/// Every connection of the run, and how the server's reads of well-behaved requests on
/// them ended.
#[derive(Default)]
struct Connections {
    held: HashMap<SocketAddr, Held>,
    ends: ReadEnds,
}

/// One connection.
#[derive(Default)]
struct Held {
    /// The client, once it has said who it is.
    client: Option<usize>,
    /// Whether its client sends an oversized request.
    oversized: bool,
    /// Request bytes the server read.
    read: u64,
    /// Bytes the server wrote before it read any (a greeting): no answer to a request.
    greeting: u64,
    /// Request bytes read since the window last had room.
    stalled: u64,
    /// Its client sends part of a request and leaves: what judges the server's answer.
    unfinished: Option<Unfinished>,
    /// A violation was reported for it (one a connection).
    reported: bool,
    /// The well-behaved requests sent on it.
    sent: Sent,
    /// When a history is recorded: where each of the server's reads ended, and its stamp,
    /// from the oldest a request being answered may still need.
    reads: std::collections::VecDeque<(u64, u64)>,
    /// When a history is recorded: where each of the server's writes ended, and its
    /// stamp, from the oldest a reply being read may still need.
    writes: std::collections::VecDeque<(u64, u64)>,
    /// Bytes the server wrote, when a history is recorded.
    wrote: u64,
}

impl Buffers {
    pub(super) fn new(
        options: &Options,
        windows: Windows,
        transcript: Transcript,
        violations: Violations,
        history: Option<Arc<Recorder>>,
    ) -> Self {
        Buffers {
            connections: Mutex::default(),
            armed: AtomicUsize::new(0),
            windows,
            max_request: options.max_request as u64,
            max_buffered: options.max_buffered as u64,
            transcript,
            violations,
            history,
        }
    }

    /// The server's side of the wire for a request whose bytes are `request` of what
    /// `local`'s connection carried, its reply, just read, `reply` of what the server
    /// wrote: the stamps of the server's read that took the request's last byte and of
    /// its write that gave the reply's first. A server that runs a command once it has
    /// read it and before it answers runs it between the two, which lie inside its
    /// client's call and return.
    pub(super) fn served(
        &self,
        local: SocketAddr,
        request: Range<u64>,
        reply: Range<u64>,
    ) -> Option<(u64, u64)> {
        let mut connections = self.connections.lock().expect("buffers lock");
        let held = connections.held.get_mut(&local)?;
        while held.reads.front().is_some_and(|&(to, _)| to < request.end) {
            held.reads.pop_front();
        }
        while held
            .writes
            .front()
            .is_some_and(|&(to, _)| to <= reply.start)
        {
            held.writes.pop_front();
        }
        Some((held.reads.front()?.1, held.writes.front()?.1))
    }

    /// A well-behaved request went out on `local`'s connection as the bytes `span` of
    /// what it carried, with seams at `seams`.
    pub(super) fn sent(
        &self,
        local: SocketAddr,
        span: Range<u64>,
        seams: impl IntoIterator<Item = u64>,
    ) {
        let mut connections = self.connections.lock().expect("buffers lock");
        if let Some(held) = connections.held.get_mut(&local) {
            held.sent.request(span, seams);
        }
    }

    /// How the server's reads of well-behaved requests ended, so far.
    pub(super) fn read_ends(&self) -> ReadEnds {
        self.connections.lock().expect("buffers lock").ends
    }

    /// Client `id` connected from `local`; `oversized` if it sends an oversized request.
    pub(super) fn joined(&self, local: SocketAddr, id: usize, oversized: bool) {
        let mut connections = self.connections.lock().expect("buffers lock");
        // A new connection from a reused address starts afresh.
        let old = connections.held.insert(
            local,
            Held {
                client: Some(id),
                oversized,
                ..Held::default()
            },
        );
        if old.is_some_and(|old| old.unfinished.is_some()) {
            self.armed.fetch_sub(1, Relaxed);
        }
    }

    /// `local`'s client is about to send part of `request`, its first, and leave: the
    /// server must not answer it as the whole request (`executed`), which `session` (the
    /// client's, given up) tells from the first reply `framer` cuts of what it writes.
    pub(super) fn leaving_mid_request(
        &self,
        local: SocketAddr,
        request: Request,
        sent: usize,
        session: Box<dyn Session>,
        framer: Box<dyn ReplyFramer>,
    ) {
        let mut connections = self.connections.lock().expect("buffers lock");
        if let Some(held) = connections.held.get_mut(&local) {
            let armed = Unfinished {
                request,
                sent,
                session,
                framer,
                replies: BytesMut::new(),
            };
            if held.unfinished.replace(armed).is_none() {
                self.armed.fetch_add(1, Relaxed);
            }
        }
    }

    /// Request bytes the server has read from `local`'s connection.
    pub(super) fn read(&self, local: SocketAddr) -> u64 {
        let connections = self.connections.lock().expect("buffers lock");
        connections.held.get(&local).map_or(0, |held| held.read)
    }

    fn server_read(&self, key: SocketAddr, n: usize) {
        let full = self.windows.full(key);
        let found = {
            let mut connections = self.connections.lock().expect("buffers lock");
            let Connections { held, ends } = &mut *connections;
            let held = held.entry(key).or_default();
            let before = held.read;
            if before == 0 {
                held.greeting = self.windows.written(key);
            }
            held.read += n as u64;
            held.sent.read(before..held.read, ends);
            if let Some(history) = &self.history {
                let at = history.stamp(crate::clock::now().as_nanos() as u64);
                held.reads.push_back((held.read, at));
            }
            held.stalled = if full { held.stalled + n as u64 } else { 0 };
            let found = if held.stalled > self.max_buffered {
                Some((
                    Oracle::ReplyBacklog,
                    format!(
                        "the server read {} bytes of requests while its client had a full window of replies unread (max_buffered {}): it buffers what it cannot send",
                        held.stalled, self.max_buffered
                    ),
                ))
            } else if held.oversized
                && held.read > self.max_request + READ_SLACK
                // Once it has answered (a refusal) or shut its side, what it reads is a
                // linger discarding the rest, not a request being buffered.
                && !self.windows.answered(key, held.greeting)
            {
                Some((
                    Oracle::Oversized,
                    format!(
                        "the server read {} bytes of a request larger than max_request {} without refusing it (a server with a larger limit declares it in Options::max_request)",
                        held.read, self.max_request
                    ),
                ))
            } else {
                None
            };
            held.first(found)
        };
        self.report(found);
    }

    fn server_wrote(&self, key: SocketAddr, bytes: &[u8]) {
        if let Some(history) = self.history.as_ref().filter(|_| !bytes.is_empty()) {
            let at = history.stamp(crate::clock::now().as_nanos() as u64);
            let mut connections = self.connections.lock().expect("buffers lock");
            let held = connections.held.entry(key).or_default();
            held.wrote += bytes.len() as u64;
            held.writes.push_back((held.wrote, at));
        }
        if self.armed.load(Relaxed) == 0 {
            return;
        }
        let found = {
            let mut connections = self.connections.lock().expect("buffers lock");
            let Some(held) = connections.held.get_mut(&key) else {
                return;
            };
            let Some(found) = held.unfinished.as_mut().and_then(|u| u.wrote(bytes)) else {
                return;
            };
            // Judged: what the server writes after its first reply is not.
            held.unfinished = None;
            self.armed.fetch_sub(1, Relaxed);
            held.first(found)
        };
        self.report(found);
    }

    /// The server closed `key`'s connection: nothing more to judge on it.
    fn server_shut(&self, key: SocketAddr) {
        if self.armed.load(Relaxed) == 0 {
            return;
        }
        let mut connections = self.connections.lock().expect("buffers lock");
        let held = connections.held.get_mut(&key);
        if held.and_then(|held| held.unfinished.take()).is_some() {
            self.armed.fetch_sub(1, Relaxed);
        }
    }

    fn report(&self, found: Option<((Oracle, String), Option<usize>)>) {
        if let Some(((oracle, detail), client)) = found {
            let actor = client.map_or(Actor::Sim, Actor::Client);
            self.violations
                .fail(&self.transcript, actor, oracle, detail);
        }
    }
}

impl Held {
    /// `found`, with the client, if it is this connection's first violation.
    fn first(
        &mut self,
        found: Option<(Oracle, String)>,
    ) -> Option<((Oracle, String), Option<usize>)> {
        match found {
            Some(found) if !self.reported => {
                self.reported = true;
                Some((found, self.client))
            }
            _ => None,
        }
    }
}

/// The taps of a run's connections.
pub(super) struct BufferTaps(pub(super) Arc<Buffers>);

impl Taps for BufferTaps {
    fn tap(&self, peer: SocketAddr) -> Box<dyn Tap> {
        Box::new(BufferTap {
            buffers: self.0.clone(),
            key: peer,
        })
    }
}

struct BufferTap {
    buffers: Arc<Buffers>,
    key: SocketAddr,
}

impl Tap for BufferTap {
    fn enter(&self) {}

    fn read(&self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.buffers.server_read(self.key, bytes.len());
        }
    }

    fn wrote(&self, bytes: &[u8]) {
        self.buffers.server_wrote(self.key, bytes);
    }

    fn shut(&self) {
        self.buffers.server_shut(self.key);
    }
}

/// A request its client leaves in the middle of, and what judges the server's answer.
struct Unfinished {
    /// The whole request; the client sends part of it.
    request: Request,
    /// The bytes of it the client sends.
    sent: usize,
    /// The client's session, which judges a reply to the whole request.
    session: Box<dyn Session>,
    framer: Box<dyn ReplyFramer>,
    /// What the server wrote, until its first reply is whole.
    replies: BytesMut,
}

impl Unfinished {
    /// The server wrote `bytes`: `None` while its first reply is not whole yet; then the
    /// judgement, an `executed` violation if that reply passes for the whole request's
    /// (the model's exact reply, or one its check takes, if that check refuses an empty
    /// frame) and the session's error check does not take it as an error. An error, a
    /// refusal, bytes no reply frame holds, anything else passes.
    fn wrote(&mut self, bytes: &[u8]) -> Option<Option<(Oracle, String)>> {
        // A request that gets no reply has none to pass for the whole request's.
        if self.request.no_reply {
            return Some(None);
        }
        self.replies.extend_from_slice(bytes);
        let reply = loop {
            match self.framer.next_frame(&mut self.replies) {
                Ok(None) => return None,
                // What the server pushes of its own accord is no reply.
                Ok(Some(frame)) if self.session.pushed(&frame).is_some() => {}
                Ok(Some(reply)) => break reply,
                Err(_) => return Some(None),
            }
        };
        let passes = match self.session.expect(&self.request) {
            Some(want) => want == reply,
            // A check that takes even an empty frame (the default) cannot tell the whole
            // request's reply from an error: nothing is judged.
            None => {
                self.session.check_reply(&self.request, &reply).is_ok()
                    && self.session.check_reply(&self.request, b"").is_err()
            }
        };
        // A reply the session's error check takes for the bytes sent (a check that refuses
        // an empty frame) is a refusal, even where the whole request's own reply is an
        // error too (an HTTP 400 for a bad id, and the server's 400 for a body cut short).
        let mut refusal = || {
            let sent = Request::new(self.request.bytes.slice(..self.sent));
            self.session.check_error(&sent, &reply).is_ok()
                && self.session.check_error(&sent, b"").is_err()
        };
        Some((passes && !refusal()).then(|| {
            let (sent, len) = (self.sent, self.request.bytes.len());
            (
                Oracle::Executed,
                format!(
                    "the client sent the first {sent} of a request's {len} bytes and left; the server answered as if it had all of them ({}): it ran a request never sent whole (a decoder that takes what is left at the end of the stream as a request, or a read as one)",
                    reply[..reply.len().min(80)].escape_ascii()
                ),
            )
        }))
    }
}
