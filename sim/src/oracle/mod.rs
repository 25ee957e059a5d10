//! The checks every run must pass, and what a failure says.
//!
//! [`Oracle`] lists every promise the server makes. Clients check theirs as they go (see
//! `client`); what the server's counters must show is checked once every client is done
//! ([`server`]). What each connection holds is measured at the stream boundary as the run
//! goes ([`backlog`]).

pub mod backlog;
pub mod frames;
pub mod server;

use crate::transcript::{Actor, Event, Transcript};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One promise the server makes; its name tags violations and transcript notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Oracle {
    /// A client could connect (retrying for a while).
    Connect,
    /// Every complete request gets the reply its client's model predicts, in order.
    Reply,
    /// A well-behaved batch is answered within the scenario's latency bound.
    Latency,
    /// A trickling client is cut off by the frame deadline (within the harness's
    /// `slowloris_bound` of its first byte), never answered.
    Slowloris,
    /// A silent client is closed by the idle timeout (under the harness, when the options
    /// declare one: `idle_timeout`).
    Idle,
    /// An oversized or malformed request gets a protocol error, then a close; under the
    /// harness, a malformed request (`Session::malformed`) gets at most one reply the
    /// session accepts as its error, then a close, or correct replies to what follows.
    ProtocolError,
    /// A half-closed client gets every reply, then a close.
    HalfClose,
    /// No connection task panics (under the harness a panic fails the run, named first,
    /// with what the first client to fail saw after it: `[panic] src/lib.rs:57: … (then
    /// [unanswered] client 3 …)`).
    Panic,
    /// No connection buffers more than `max_buffered`.
    Limit,
    /// Every connection is closed once its client has left.
    Leak,
    /// The server's counters match what the clients did to it.
    Counters,
    /// A connection reads no more request bytes without answering than `max_buffered`
    /// lets it hold (measured at the stream, not reported by the server).
    RequestBacklog,
    /// A connection holds no more unwritten replies than `max_output` plus one reply
    /// (measured at the stream and the service, not reported by the server); under the
    /// harness, a server reads no more than `max_buffered` request bytes from a client
    /// whose receive window of replies is full.
    ReplyBacklog,
    /// A client that stops reading is cut within the idle timeout of the server's last
    /// write to it (under the harness, when the options declare a `write_timeout`).
    StalledReader,
    /// No well-behaved client is closed by the server while it waits for replies: only
    /// misbehaving clients may be cut, each for its documented reason; under the harness,
    /// a request of exactly the declared `max_request` is answered (not closed, not refused
    /// with an error), and a bulk loader, every request within `request_budget` of its
    /// first byte, is never cut however long its upload lasts.
    WrongfulClose,
    /// A request that never ends is cut (buffer limit, line limit or frame deadline) before
    /// it costs more than `max_buffered` and one read, and never answered.
    Unfinished,
    /// `max_connections` clients at once are served, one more is refused with an error and
    /// closed, and a closed connection's slot is given back (probed at the end of a run).
    ConnectionLimit,
    /// A graceful shutdown drops no request the server had begun to read: it is answered
    /// before the connection closes, unless the grace ran out first.
    Drain,
    /// The service runs only requests the client sent whole, each once: never a truncated
    /// one at the end of a stream, never one twice (counted at the stream); under the
    /// harness, a request a client sends part of and leaves is not answered as if it came
    /// whole (the first reply is not the one the session expects for it, or takes for it
    /// with a check that refuses an empty frame).
    Executed,
    /// A client that ends with `QUIT` gets the replies to every request before it and
    /// `+OK`, then a close; nothing it sent after the `QUIT` runs (under the harness: every
    /// reply up to the quit's, then a close within 100 ms and nothing more; the same after
    /// a request marked `closing`, after which the server closes).
    Quit,
    /// The server goes on accepting after accept fails (a connection aborted, descriptors
    /// or memory out), and backs off rather than spin while descriptors are out. Under the
    /// harness, a server that returns before its shutdown (or a restart) is named at the
    /// moment it returns.
    Accept,
    /// Every request a well-behaved client sends is answered: the server neither closes
    /// the connection nor goes silent (past the reply timeout) with requests unanswered.
    Unanswered,
    /// What the server sends can be cut into replies by the workload's reply framer.
    Framing,
    /// The server sends nothing after the reply to a client's last request.
    Extra,
    /// Every client runs to its end.
    Finished,
    /// Once its shutdown completes, the server returns (within the settle time).
    Shutdown,
    /// A request larger than the declared `max_request` is refused (a reply or a close)
    /// before the server has read it all: no more than `max_request` and one read of it.
    Oversized,
    /// The same seed gives the same transcript, byte for byte, every time it runs.
    Determinism,
    /// What every client saw of the keys they share could have come from the requests
    /// running one at a time, each between its first byte written and its reply's last
    /// byte read (under the harness, for a workload that records a history:
    /// `Workload::linearizable`); a request never answered may have run or not. A search
    /// that runs out of its budget of steps fails too: unknown is never a pass.
    Linearizable,
}

impl Oracle {
    /// Every oracle.
    pub const ALL: [Oracle; 29] = [
        Oracle::Connect,
        Oracle::Reply,
        Oracle::Latency,
        Oracle::Slowloris,
        Oracle::Idle,
        Oracle::ProtocolError,
        Oracle::HalfClose,
        Oracle::Panic,
        Oracle::Limit,
        Oracle::Leak,
        Oracle::Counters,
        Oracle::RequestBacklog,
        Oracle::ReplyBacklog,
        Oracle::StalledReader,
        Oracle::WrongfulClose,
        Oracle::Unfinished,
        Oracle::ConnectionLimit,
        Oracle::Drain,
        Oracle::Executed,
        Oracle::Quit,
        Oracle::Accept,
        Oracle::Unanswered,
        Oracle::Framing,
        Oracle::Extra,
        Oracle::Finished,
        Oracle::Shutdown,
        Oracle::Oversized,
        Oracle::Determinism,
        Oracle::Linearizable,
    ];

    /// Whether the oracle judges any server under the harness (else only framesim's own
    /// key-value server, whose protocol, limits and counters it knows).
    pub fn any_server(self) -> bool {
        !matches!(
            self,
            Oracle::Latency
                | Oracle::Limit
                | Oracle::Counters
                | Oracle::RequestBacklog
                | Oracle::Unfinished
        )
    }

    /// The name in violations and transcripts: `[reply]`, `[protocol-error]`.
    pub fn name(self) -> &'static str {
        match self {
            Oracle::Connect => "connect",
            Oracle::Reply => "reply",
            Oracle::Latency => "latency",
            Oracle::Slowloris => "slowloris",
            Oracle::Idle => "idle",
            Oracle::ProtocolError => "protocol-error",
            Oracle::HalfClose => "half-close",
            Oracle::Panic => "panic",
            Oracle::Limit => "limit",
            Oracle::Leak => "leak",
            Oracle::Counters => "counters",
            Oracle::RequestBacklog => "request-backlog",
            Oracle::ReplyBacklog => "reply-backlog",
            Oracle::StalledReader => "stalled-reader",
            Oracle::WrongfulClose => "wrongful-close",
            Oracle::Unfinished => "unfinished",
            Oracle::ConnectionLimit => "connection-limit",
            Oracle::Drain => "drain",
            Oracle::Executed => "executed",
            Oracle::Quit => "quit",
            Oracle::Accept => "accept",
            Oracle::Unanswered => "unanswered",
            Oracle::Framing => "framing",
            Oracle::Extra => "extra",
            Oracle::Finished => "finished",
            Oracle::Shutdown => "shutdown",
            Oracle::Oversized => "oversized",
            Oracle::Determinism => "determinism",
            Oracle::Linearizable => "linearizable",
        }
    }
}

impl std::str::FromStr for Oracle {
    type Err = String;

    fn from_str(name: &str) -> Result<Oracle, String> {
        Oracle::ALL
            .iter()
            .copied()
            .find(|o| o.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Oracle::ALL.iter().map(|o| o.name()).collect();
                format!("unknown oracle '{name}' (one of: {})", names.join(", "))
            })
    }
}

impl fmt::Display for Oracle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken promise, found by an oracle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Virtual time it was found.
    pub at: Duration,
    /// Who saw it.
    pub actor: Actor,
    /// Which promise.
    pub oracle: Oracle,
    /// What happened instead.
    pub detail: String,
    /// Index in the transcript of the note that records it.
    pub event_index: u64,
}

impl Violation {
    /// The client that saw it, if a client did.
    pub fn client(&self) -> Option<usize> {
        match self.actor {
            Actor::Client(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {:?} at {:?} (event {}): {}",
            self.oracle, self.actor, self.at, self.event_index, self.detail
        )
    }
}

/// What a failure report says after the first of `violations`: how many more there are,
/// then the first of each other oracle broken, with its count, in the order found. Every
/// kind of bug a run hit is named at once, not one fix at a time.
pub fn more_violations(violations: &[Violation]) -> Vec<String> {
    let Some((first, rest)) = violations.split_first() else {
        return Vec::new();
    };
    if rest.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![format!("({} more violations)", rest.len())];
    let mut seen = vec![first.oracle];
    for v in rest {
        if seen.contains(&v.oracle) {
            continue;
        }
        seen.push(v.oracle);
        let count = rest.iter().filter(|o| o.oracle == v.oracle).count();
        lines.push(format!("also broken ({count}x): {v}"));
    }
    lines
}

/// Violations of one run, shared by all hosts; the first one found is the one reported.
#[derive(Debug, Clone, Default)]
pub struct Violations(Arc<Mutex<Vec<Violation>>>);

impl Violations {
    /// Records a violation (and notes it in the transcript).
    pub fn fail(&self, transcript: &Transcript, actor: Actor, oracle: Oracle, detail: String) {
        self.fail_at(crate::clock::now(), transcript, actor, oracle, detail);
    }

    /// [`fail`](Self::fail) at the run's time `at`: for a judgement made once the
    /// simulation has stopped, at its end.
    pub fn fail_at(
        &self,
        at: std::time::Duration,
        transcript: &Transcript,
        actor: Actor,
        oracle: Oracle,
        detail: String,
    ) {
        let event_index = transcript.len();
        transcript.record(
            actor,
            Event::Note {
                text: format!("VIOLATION [{oracle}] {detail}"),
            },
        );
        self.0.lock().expect("violations lock").push(Violation {
            at,
            actor,
            oracle,
            detail,
            event_index,
        });
    }

    /// Every violation found, in the order found.
    pub fn all(&self) -> Vec<Violation> {
        self.0.lock().expect("violations lock").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(oracle: Oracle, client: usize) -> Violation {
        Violation {
            at: Duration::from_millis(client as u64),
            actor: Actor::Client(client),
            oracle,
            detail: format!("client {client}"),
            event_index: client as u64,
        }
    }

    #[test]
    fn a_report_names_the_first_of_every_other_oracle_broken() {
        let all = [
            violation(Oracle::Slowloris, 0),
            violation(Oracle::Slowloris, 1),
            violation(Oracle::Oversized, 2),
            violation(Oracle::Executed, 3),
            violation(Oracle::Oversized, 4),
        ];
        let lines = more_violations(&all);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], "(4 more violations)");
        assert!(
            lines[1].starts_with("also broken (2x): [oversized] Client(2) "),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("also broken (1x): [executed] Client(3) "),
            "{lines:?}"
        );
        assert!(more_violations(&all[..1]).is_empty());
        assert!(more_violations(&[]).is_empty());
    }
}
