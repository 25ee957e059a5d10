//! Everything that happens in a run, in order, with its virtual time.
//!
//! Every event is folded into a hash as it is appended (FNV-1a over its fields, in order),
//! so two runs of the same seed can be compared even when the run is too large to keep.
//! Small runs (and replays) keep the records too, and render them as text lines.

use bytes::Bytes;
use framesim_server::{Command, Reply};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    Connect { local: String },
    /// A client could not connect.
    ConnectFailed { error: String },
    /// A client wrote one chunk.
    Write { bytes: Bytes },
    /// A client asked for a request to be answered, expecting `expect`.
    Request { cmd: Command, expect: Expected },
    /// A client read a reply.
    Reply { reply: Reply },
    /// A client ended its side of the stream (half-close).
    HalfClose,
    /// A client dropped its connection on purpose, possibly inside a frame.
    Disconnect { mid_frame: bool },
    /// A client saw the connection end.
    Closed { why: String },
    /// The server's stream adapter returned fewer bytes than were available.
    PartialRead { peer: String, len: usize },
    /// The server's stream adapter wrote only part of what the server asked.
    ShortWrite { peer: String, len: usize, of: usize },
    /// The server's stream adapter returned `Pending` for no reason.
    SpuriousPending { peer: String },
    /// The service answered a decoded request.
    Frame { cmd: Command },
    /// A fault the harness injected (e.g. a server restart).
    Fault { what: String },
    /// Free-form note (run start, run end, checks).
    Note { text: String },
}

/// What a client's model predicts for a request.
#[derive(Debug, Clone, PartialEq, Hash)]
pub enum Expected {
    /// Exactly this reply.
    Exact(Reply),
    /// An error reply starting with this prefix.
    ErrorPrefix(String),
    /// Any reply of the right shape (shared keys, after a restart).
    Any,
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
const KINDS: usize = 15;

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
            Event::Note { .. } => 13,
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
    /// Partial reads, short writes and spurious `Pending`s injected.
    pub partial_reads: u64,
    /// Short writes injected.
    pub short_writes: u64,
    /// Spurious `Pending`s injected.
    pub pendings: u64,
    /// Faults injected by the harness (restarts).
    pub faults: u64,
    /// Connections that ended.
    pub closes: u64,
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
        let at = turmoil::sim_elapsed().unwrap_or_default();
        self.push(Record { at, actor, event });
    }

    /// Appends a record.
    pub fn push(&self, record: Record) {
        use std::hash::{Hash, Hasher};
        let mut inner = self.0.lock().expect("transcript lock");
        let inner = &mut *inner;
        let mut fnv = Fnv(inner.hash);
        record.hash(&mut fnv);
        inner.hash = fnv.finish();
        inner.count += 1;
        inner.kinds[record.event.kind()] += 1;
        if let Event::Write { bytes } = &record.event {
            inner.kinds[KINDS - 1] += bytes.len() as u64;
        }
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
        self.records()
            .iter()
            .map(|r| {
                let mut line = String::new();
                render(r, &mut line);
                line
            })
            .collect()
    }
}

/// Renders `bytes` with non-printables visible: `\r`, `\n`, `\t`, `\\`, `\xHH`.
pub fn escape(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'|' => out.push_str("\\|"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
}

/// A command as one readable string: `SET k "v"` with each argument escaped.
pub fn render_command(cmd: &Command, out: &mut String) {
    for (i, arg) in cmd.args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        escape(arg, out);
    }
}

/// A reply in RESP2 notation on one line: `+OK`, `$"v"`, `*2[$"a" _]`.
pub fn render_reply(reply: &Reply, out: &mut String) {
    match reply {
        Reply::Simple(s) => {
            out.push('+');
            escape(s.as_bytes(), out);
        }
        Reply::Error(s) => {
            out.push('-');
            escape(s.as_bytes(), out);
        }
        Reply::Integer(n) => {
            let _ = write!(out, ":{n}");
        }
        Reply::Bulk(b) => {
            out.push_str("$\"");
            escape(b, out);
            out.push('"');
        }
        Reply::Null => out.push('_'),
        Reply::Array(items) => {
            let _ = write!(out, "*{}[", items.len());
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                render_reply(item, out);
            }
            out.push(']');
        }
    }
}

fn render_actor(actor: Actor, out: &mut String) {
    match actor {
        Actor::Sim => out.push_str("sim"),
        Actor::Server => out.push_str("server"),
        Actor::Client(n) => {
            let _ = write!(out, "c{n}");
        }
    }
}

/// One record as one line: `<ms>.<us> <actor> <event> <details>`.
pub fn render(record: &Record, out: &mut String) {
    let at = record.at;
    let _ = write!(
        out,
        "{:>6}.{:03}ms ",
        at.as_millis(),
        at.subsec_micros() % 1000
    );
    render_actor(record.actor, out);
    out.push(' ');
    match &record.event {
        Event::Connect { local } => {
            let _ = write!(out, "connect {local}");
        }
        Event::ConnectFailed { error } => {
            let _ = write!(out, "connect-failed {error}");
        }
        Event::Write { bytes } => {
            let _ = write!(out, "write {} |", bytes.len());
            escape(bytes, out);
            out.push('|');
        }
        Event::Request { cmd, expect } => {
            out.push_str("request ");
            render_command(cmd, out);
            out.push_str(" => ");
            match expect {
                Expected::Exact(r) => render_reply(r, out),
                Expected::ErrorPrefix(p) => {
                    out.push('-');
                    escape(p.as_bytes(), out);
                    out.push_str("...");
                }
                Expected::Any => out.push('?'),
            }
        }
        Event::Reply { reply } => {
            out.push_str("reply ");
            render_reply(reply, out);
        }
        Event::HalfClose => out.push_str("half-close"),
        Event::Disconnect { mid_frame } => {
            let _ = write!(out, "disconnect mid_frame={mid_frame}");
        }
        Event::Closed { why } => {
            let _ = write!(out, "closed {why}");
        }
        Event::PartialRead { peer, len } => {
            let _ = write!(out, "partial-read {peer} {len}");
        }
        Event::ShortWrite { peer, len, of } => {
            let _ = write!(out, "short-write {peer} {len}/{of}");
        }
        Event::SpuriousPending { peer } => {
            let _ = write!(out, "pending {peer}");
        }
        Event::Frame { cmd } => {
            out.push_str("frame ");
            render_command(cmd, out);
        }
        Event::Fault { what } => {
            let _ = write!(out, "fault {what}");
        }
        Event::Note { text } => {
            let _ = write!(out, "note {text}");
        }
    }
}

/// The logical view of a run: per client, each request and its reply, in order, with no
/// chunking and no timing. Replies to shared keys (only their type is promised) show as
/// `:<integer>`. Equal under every delivery of the same workload.
pub fn logical_view(records: &[Record]) -> Vec<String> {
    use std::collections::{BTreeMap, VecDeque};
    let mut pending: BTreeMap<usize, VecDeque<(Command, Expected)>> = BTreeMap::new();
    let mut lines: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for record in records {
        let Actor::Client(id) = record.actor else {
            continue;
        };
        match &record.event {
            Event::Request { cmd, expect } => pending
                .entry(id)
                .or_default()
                .push_back((cmd.clone(), expect.clone())),
            Event::Reply { reply } => {
                let mut line = format!("c{id} ");
                match pending.entry(id).or_default().pop_front() {
                    Some((cmd, expect)) => {
                        render_command(&cmd, &mut line);
                        line.push_str(" => ");
                        match (expect, reply) {
                            (Expected::Any, Reply::Integer(_)) => line.push_str(":<integer>"),
                            _ => render_reply(reply, &mut line),
                        }
                    }
                    None => {
                        line.push_str("(bad request) => ");
                        render_reply(reply, &mut line);
                    }
                }
                lines.entry(id).or_default().push(line);
            }
            _ => {}
        }
    }
    for (id, left) in pending {
        for (cmd, _) in left {
            let mut line = format!("c{id} ");
            render_command(&cmd, &mut line);
            line.push_str(" => (no reply)");
            lines.entry(id).or_default().push(line);
        }
    }
    lines.into_values().flatten().collect()
}
