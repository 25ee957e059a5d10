//! What a server under the harness holds for each connection, measured at its stream: the
//! request bytes it reads while its client has a full window of replies unread
//! (`reply-backlog`), and how much of an oversized request it reads before refusing it
//! (`oversized`). Nothing is asked of the server: whatever it buffers, it first read.

use super::options::Options;
use super::reads::{ReadEnds, Sent};
use crate::net::{Tap, Taps};
use crate::oracle::{Oracle, Violations};
use crate::transcript::{Actor, Transcript};
use crate::window::Windows;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// Bytes past a declared limit a server may read before it can tell: one read's worth.
pub(super) const READ_SLACK: u64 = 64 * 1024;

/// The run's connections as the buffer oracles see them, keyed by the client's address.
pub(super) struct Buffers {
    connections: Mutex<Connections>,
    windows: Windows,
    max_request: u64,
    max_buffered: u64,
    transcript: Transcript,
    violations: Violations,
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
    /// Request bytes read since the window last had room.
    stalled: u64,
    /// A violation was reported for it (one a connection).
    reported: bool,
    /// The well-behaved requests sent on it.
    sent: Sent,
}

impl Buffers {
    pub(super) fn new(
        options: &Options,
        windows: Windows,
        transcript: Transcript,
        violations: Violations,
    ) -> Self {
        Buffers {
            connections: Mutex::default(),
            windows,
            max_request: options.max_request as u64,
            max_buffered: options.max_buffered as u64,
            transcript,
            violations,
        }
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
        connections.held.insert(
            local,
            Held {
                client: Some(id),
                oversized,
                ..Held::default()
            },
        );
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
            held.read += n as u64;
            held.sent.read(before..held.read, ends);
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
                && !self.windows.answered(key)
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
            match found {
                Some(found) if !held.reported => {
                    held.reported = true;
                    Some((found, held.client))
                }
                _ => None,
            }
        };
        if let Some(((oracle, detail), client)) = found {
            let actor = client.map_or(Actor::Sim, Actor::Client);
            self.violations
                .fail(&self.transcript, actor, oracle, detail);
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

    fn wrote(&self, _: usize) {}

    fn shut(&self) {}
}
