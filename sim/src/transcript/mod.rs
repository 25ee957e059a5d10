//! Everything that happens in a run, in order, with its virtual time.
//!
//! Every event is folded into a hash as it is appended (FNV-1a over its fields, in order),
//! so two runs of the same seed can be compared even when the run is too large to keep.
//! Small runs (and replays) keep the records too, and render them as text lines.

mod logical;
mod render;

pub use logical::logical_view;
use render::render;

use bytes::Bytes;
use framesim_server::{Command, Reply};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The peer address a server-side event names, shared by every event of one connection:
/// a fault drawn on every other read must not allocate a string each time. Hashes and
/// renders as the text it holds.
pub type Peer = Arc<str>;

/// Who an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Actor {
    /// The harness itself (faults, the run's start and end).
    Sim,
    /// The server host.
    Server,
    /// Virtual client number `n`.
    Client(usize),
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Hash)]
pub enum Event {
    /// A client connected (its local address names the connection on the server side).
    Connect {
        /// The client's local address.
        local: String,
    },
    /// A client could not connect.
    ConnectFailed {
        /// Why.
        error: String,
    },
    /// A client wrote one chunk.
    Write {
        /// The chunk.
        bytes: Bytes,
    },
    /// A client asked for a request to be answered, expecting `expect`.
    Request {
        /// The command.
        cmd: Command,
        /// What the model predicts.
        expect: Expected,
    },
    /// A client read a reply.
    Reply {
        /// The reply.
        reply: Reply,
    },
    /// A client ended its side of the stream (half-close).
    HalfClose,
    /// A client dropped its connection on purpose, possibly inside a frame.
    Disconnect {
        /// Whether a request was partly written.
        mid_frame: bool,
    },
    /// A client saw the connection end.
    Closed {
        /// How it ended.
        why: String,
    },
    /// The server's stream adapter returned fewer bytes than were available.
    PartialRead {
        /// The connection.
        peer: Peer,
        /// Bytes returned.
        len: usize,
    },
    /// The server's stream adapter wrote only part of what the server asked.
    ShortWrite {
        /// The connection.
        peer: Peer,
        /// Bytes taken.
        len: usize,
        /// Bytes offered.
        of: usize,
    },
    /// The server's stream adapter returned `Pending` for no reason.
    SpuriousPending {
        /// The connection.
        peer: Peer,
    },
    /// The service answered a decoded request.
    Frame {
        /// The request the service ran.
        cmd: Command,
    },
    /// A fault the harness injected (e.g. a server restart).
    Fault {
        /// Which.
        what: String,
    },
    /// Free-form note (run start, run end, checks).
    Note {
        /// The note.
        text: String,
    },
    /// The server's stream adapter returned `len` of the `held` client bytes it had taken
    /// off the network at once: segments merged, the read ending at any byte.
    CoalescedRead {
        /// The connection.
        peer: Peer,
        /// Bytes returned.
        len: usize,
        /// Bytes taken off the network.
        held: usize,
    },
    /// The server's write waited: its client had left `unread` bytes unread, a full window.
    WindowFull {
        /// The connection.
        peer: Peer,
        /// Bytes its client had not read.
        unread: u64,
    },
    /// The server's accept failed, injected by its listener (`ECONNABORTED`, `EMFILE`...).
    AcceptFailed {
        /// The error's name.
        error: &'static str,
    },
    // New kinds go last: a kind's place in this list is part of every transcript hash.
    /// A harness client's request, its bytes as the workload drew them (shown as a `note
    /// request …` line; hashed a word at a time, not escaped and byte by byte).
    Asked {
        /// The request's bytes.
        bytes: Bytes,
    },
    /// A reply frame a harness client read (shown as a `note reply …` line, hashed as
    /// [`Asked`](Event::Asked) is).
    Answered {
        /// The reply frame.
        bytes: Bytes,
    },
}

impl Event {
    /// The peer a server-side event names: the connection it happened on.
    pub fn peer(&self) -> Option<&Peer> {
        match self {
            Event::PartialRead { peer, .. }
            | Event::ShortWrite { peer, .. }
            | Event::SpuriousPending { peer }
            | Event::CoalescedRead { peer, .. }
            | Event::WindowFull { peer, .. } => Some(peer),
            _ => None,
        }
    }
}

/// `record` rendered as its transcript line.
pub(crate) fn line(record: &Record) -> String {
    let mut line = String::new();
    render(record, &mut line);
    line
}

/// What a client's model predicts for a request.
#[derive(Debug, Clone, PartialEq, Hash)]
pub enum Expected {
    /// Exactly this reply.
    Exact(Reply),
    /// An error reply starting with this prefix.
    ErrorPrefix(String),
    /// Any integer reply (the shared counter: every client increments it).
    Integer,
}

/// A recorded event: when, who, what.
#[derive(Debug, Clone, PartialEq, Hash)]
pub struct Record {
    /// Virtual time since the simulation started.
    pub at: Duration,
    /// Who did it.
    pub actor: Actor,
    /// What happened.
    pub event: Event,
}

/// The run's events, shared by every host of one simulation (they all run on one thread).
#[derive(Debug, Clone)]
pub struct Transcript(Arc<Mutex<Inner>>);

#[derive(Debug)]
struct Inner {
    keep: bool,
    records: Vec<Record>,
    hash: u64,
    count: u64,
    kinds: [u64; KINDS],
}

/// FNV-1a, 64 bits: tiny, stable, and good enough to tell two transcripts apart.
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Number of [`Event`] kinds.
const KINDS: usize = 18;

impl Event {
    /// Index of this event's kind, for counting.
    fn kind(&self) -> usize {
        match self {
            Event::Connect { .. } => 0,
            Event::ConnectFailed { .. } => 1,
            Event::Write { .. } => 2,
            Event::Request { .. } => 3,
            Event::Reply { .. } => 4,
            Event::HalfClose => 5,
            Event::Disconnect { .. } => 6,
            Event::Closed { .. } => 7,
            Event::PartialRead { .. } => 8,
            Event::ShortWrite { .. } => 9,
            Event::SpuriousPending { .. } => 10,
            Event::Frame { .. } => 11,
            Event::Fault { .. } => 12,
            Event::Note { .. } | Event::Asked { .. } | Event::Answered { .. } => 13,
            Event::CoalescedRead { .. } => 14,
            Event::WindowFull { .. } => 15,
            Event::AcceptFailed { .. } => 16,
        }
    }
}

/// How many events of each kind a transcript holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Connections made.
    pub connects: u64,
    /// Chunks written by clients.
    pub writes: u64,
    /// Bytes written by clients.
    pub bytes: u64,
    /// Requests sent.
    pub requests: u64,
    /// Replies read.
    pub replies: u64,
    /// Frames the server decoded.
    pub frames: u64,
    /// Partial reads injected.
    pub partial_reads: u64,
    /// Short writes injected.
    pub short_writes: u64,
    /// Spurious `Pending`s injected.
    pub pendings: u64,
    /// Faults injected by the harness (restarts).
    pub faults: u64,
    /// Connections that ended.
    pub closes: u64,
    /// Coalesced reads injected.
    pub coalesced_reads: u64,
    /// Server writes that found their client's window full.
    pub window_stalls: u64,
    /// Accept errors injected.
    pub accept_errors: u64,
}

impl Inner {
    /// Folds one record into the hash and the counts, whether the record is lent or given.
    /// Byte events (a client's chunk, request and reply) hash their bytes a word at a
    /// time; every other record hashes as the derived `Hash` of [`Record`] does.
    fn fold(&mut self, at: Duration, actor: Actor, event: &Event) {
        use std::hash::{Hash, Hasher};
        let mut fnv = Fnv(self.hash);
        at.hash(&mut fnv);
        actor.hash(&mut fnv);
        match event {
            Event::Asked { bytes } | Event::Answered { bytes } | Event::Write { bytes } => {
                std::mem::discriminant(event).hash(&mut fnv);
                fnv.write_usize(bytes.len());
                fnv.write_u64(words(bytes));
            }
            _ => event.hash(&mut fnv),
        }
        self.hash = fnv.finish();
        self.count += 1;
        self.kinds[event.kind()] += 1;
        if let Event::Write { bytes } = event {
            self.kinds[KINDS - 1] += bytes.len() as u64;
        }
    }
}

/// FNV-1a over `bytes` eight at a time (the last word padded with zeros): a word that
/// differs changes the result, at an eighth of the multiplications.
fn words(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut hash = FNV_OFFSET;
    for word in &mut chunks {
        let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        hash = (hash ^ word).wrapping_mul(FNV_PRIME);
    }
    let mut last = [0u8; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    (hash ^ u64::from_le_bytes(last)).wrapping_mul(FNV_PRIME)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Transcript {
    /// An empty transcript; `keep` stores every record (else only the hash and count).
    pub fn new(keep: bool) -> Self {
        Transcript(Arc::new(Mutex::new(Inner {
            keep,
            records: Vec::new(),
            hash: FNV_OFFSET,
            count: 0,
            kinds: [0; KINDS],
        })))
    }

    /// Appends an event at the current virtual time.
    pub fn record(&self, actor: Actor, event: Event) {
        let at = crate::clock::now();
        self.push(Record { at, actor, event });
    }

    /// Appends `event` at the current virtual time, copying it only when records are
    /// kept: the caller keeps what it lends (a decoded request on its way to the service).
    pub fn record_ref(&self, actor: Actor, event: &Event) {
        self.record_ref_at(crate::clock::now(), actor, event);
    }

    /// [`record_ref`](Self::record_ref) at a virtual time the caller read itself: events
    /// recorded within one task poll share it, and turmoil's clock costs a host lookup
    /// per reading.
    pub fn record_ref_at(&self, at: Duration, actor: Actor, event: &Event) {
        let mut inner = self.0.lock().expect("transcript lock");
        inner.fold(at, actor, event);
        if inner.keep {
            inner.records.push(Record {
                at,
                actor,
                event: event.clone(),
            });
        }
    }

    /// Appends a record.
    pub fn push(&self, record: Record) {
        let mut inner = self.0.lock().expect("transcript lock");
        inner.fold(record.at, record.actor, &record.event);
        if inner.keep {
            inner.records.push(record);
        }
    }

    /// FNV-1a hash of every record so far.
    pub fn hash(&self) -> u64 {
        self.0.lock().expect("transcript lock").hash
    }

    /// How many events were appended.
    pub fn len(&self) -> u64 {
        self.0.lock().expect("transcript lock").count
    }

    /// Events counted by kind.
    pub fn counts(&self) -> Counts {
        let k = self.0.lock().expect("transcript lock").kinds;
        Counts {
            connects: k[0],
            writes: k[2],
            bytes: k[KINDS - 1],
            requests: k[3],
            replies: k[4],
            frames: k[11],
            partial_reads: k[8],
            short_writes: k[9],
            pendings: k[10],
            faults: k[12],
            closes: k[6] + k[7],
            coalesced_reads: k[14],
            window_stalls: k[15],
            accept_errors: k[16],
        }
    }

    /// True when nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kept records (empty unless made with `keep`).
    pub fn records(&self) -> Vec<Record> {
        self.0.lock().expect("transcript lock").records.clone()
    }

    /// The kept records rendered one per line.
    pub fn lines(&self) -> Vec<String> {
        self.records().iter().map(line).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lent and given records other than byte events must hash as the derived `Hash` of
    /// `Record` does: the hash names a run.
    #[test]
    fn lent_and_given_records_hash_as_the_derived_hash() {
        use std::hash::{Hash, Hasher};
        let events = [
            Event::Connect {
                local: "10.0.0.1:5000".into(),
            },
            Event::PartialRead {
                peer: "10.0.0.1:5000".into(),
                len: 3,
            },
            Event::Note {
                text: "start".into(),
            },
        ];
        let (given, lent) = (Transcript::new(true), Transcript::new(false));
        let mut derived = Fnv(FNV_OFFSET);
        for (i, event) in events.into_iter().enumerate() {
            // Outside a simulation `record_ref` stamps time zero.
            let record = Record {
                at: Duration::ZERO,
                actor: Actor::Client(i),
                event,
            };
            record.hash(&mut derived);
            lent.record_ref(record.actor, &record.event);
            given.push(record);
        }
        assert_eq!(given.hash(), derived.finish());
        assert_eq!(lent.hash(), derived.finish());
        assert_eq!(given.lines().len(), 3);
        assert_eq!(lent.len(), 3);
        assert!(lent.records().is_empty());
    }

    /// A byte event hashes every byte: a change anywhere in a chunk, or its length,
    /// changes the hash, lent or given alike.
    #[test]
    fn every_byte_of_a_chunk_is_in_the_hash() {
        let hash = |bytes: &'static [u8], lend: bool| {
            let t = Transcript::new(!lend);
            let event = Event::Write {
                bytes: Bytes::from_static(bytes),
            };
            if lend {
                t.record_ref(Actor::Client(0), &event);
            } else {
                t.record(Actor::Client(0), event);
            }
            t.hash()
        };
        let base: &[u8] = b"*1\r\n$4\r\nPING\r\n";
        assert_eq!(hash(base, true), hash(base, false));
        let mut seen = std::collections::HashSet::from([hash(base, false)]);
        for changed in [
            &b"+1\r\n$4\r\nPING\r\n"[..],
            b"*1\r\n$4\r\nPINGx\r\n",
            b"*1\r\n$4\r\nPING\r\r",
            b"*1\r\n$4\r\nPING\r\n\0",
        ] {
            let bytes: &'static [u8] = changed;
            assert!(
                seen.insert(hash(bytes, false)),
                "{:?} hashes as another chunk",
                bytes.escape_ascii().to_string()
            );
        }
    }
}
