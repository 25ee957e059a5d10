//! What a harness run found: the violations, the numbers, the transcript, and how to say
//! it to a person.

use super::options::Role;
use super::recorder::RunHistory;
use crate::oracle::Oracle;
pub use crate::oracle::Violation;
use crate::transcript::{line, Actor, Counts, Record, Transcript};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// What the clients of a run did, counted: a run that exercised nothing passes nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Requests well-behaved clients sent.
    pub requests: u64,
    /// Replies they read and judged.
    pub replies: u64,
    /// Clients that ran to their end (every one should).
    pub clients_finished: u64,
    /// Slowloris clients the server closed in time.
    pub slowloris_cut: u64,
    /// Clients that left without a word: mid-request, or after whole requests.
    pub disconnects: u64,
    /// Of those, the ones that left after whole requests, their replies unread: the server
    /// answered into a closed connection.
    pub left_unread: u64,
    /// Well-behaved clients that stayed quiet most of a declared idle timeout and were not
    /// cut.
    pub quiet_kept: u64,
    /// Idle clients.
    pub idle: u64,
    /// Well-behaved clients that lost their connection to the server's restart and
    /// started over.
    pub restarted: u64,
    /// Half-closing clients that got every reply, then the close.
    pub half_closed: u64,
    /// Never-reading clients whose window of replies filled.
    pub windows_filled: u64,
    /// Oversized requests the server refused.
    pub oversized_refused: u64,
    /// Malformed requests the server answered with an error or a close.
    pub malformed_refused: u64,
    /// Requests of exactly the declared limit the server answered.
    pub at_limit_served: u64,
    /// Slow readers that got every reply.
    pub slow_reads: u64,
    /// Quitting clients answered, then closed.
    pub quits: u64,
    /// Bulk loaders that got every reply of their upload.
    pub bulk_loads: u64,
    /// Server reads of well-behaved requests that ended inside a request.
    pub reads_inside: u64,
    /// Of those, the ones that ended within a byte of a seam (a delimiter's or header's
    /// edge, as the session marks them).
    pub reads_at_seams: u64,
    /// Server reads that took the end of one well-behaved request and bytes of the next.
    pub reads_across: u64,
    /// Frames the server pushed of its own accord, taken out of the replies
    /// ([`Session::pushed`](super::Session::pushed)).
    pub pushed: u64,
    /// Histories checked for linearizability.
    pub histories_checked: u64,
    /// Of those, the ones an order inside each request's window on the server's side of
    /// the wire showed linearizable ([`Checked::narrowed`](super::linear::Checked::narrowed)).
    pub histories_narrowed: u64,
    /// Histories whose linearizability check ran out of its budget: neither passed nor
    /// failed.
    pub histories_unknown: u64,
    /// Histories the server's own order ([`ran`](super::ran)) showed linearizable in one
    /// pass, with no search.
    pub orders_linear: u64,
    /// Histories whose server's order was not a linearization (the search then decided).
    pub orders_broken: u64,
    /// Roles (a bit each) some client could not play: its session makes no request for
    /// them (oversized, malformed, at-limit, quit; that client behaved well instead), or,
    /// for a never-reader, the run checks a history (that client stayed idle).
    unasked: u32,
}

impl Tally {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.pushed += other.pushed;
        self.replies += other.replies;
        self.clients_finished += other.clients_finished;
        self.slowloris_cut += other.slowloris_cut;
        self.disconnects += other.disconnects;
        self.left_unread += other.left_unread;
        self.quiet_kept += other.quiet_kept;
        self.idle += other.idle;
        self.restarted += other.restarted;
        self.half_closed += other.half_closed;
        self.windows_filled += other.windows_filled;
        self.oversized_refused += other.oversized_refused;
        self.malformed_refused += other.malformed_refused;
        self.at_limit_served += other.at_limit_served;
        self.slow_reads += other.slow_reads;
        self.quits += other.quits;
        self.bulk_loads += other.bulk_loads;
        self.reads_inside += other.reads_inside;
        self.reads_at_seams += other.reads_at_seams;
        self.reads_across += other.reads_across;
        self.histories_checked += other.histories_checked;
        self.histories_narrowed += other.histories_narrowed;
        self.histories_unknown += other.histories_unknown;
        self.orders_linear += other.orders_linear;
        self.orders_broken += other.orders_broken;
        self.unasked |= other.unasked;
    }

    /// Whether some client could not play `role`: its session makes no request for it
    /// (`Session::oversized`, `malformed`, `at_limit`, `quit` returned `None`), and it
    /// behaved well; or it was a never-reader in a run that checks a history, and it
    /// stayed idle. A sweep's coverage does not ask for what could not be played.
    pub fn unasked(&self, role: Role) -> bool {
        self.unasked & (1 << role as u32) != 0
    }

    /// A client played `role` without its session's request for it.
    pub(super) fn mark_unasked(&mut self, role: Role) {
        self.unasked |= 1 << role as u32;
    }
}

/// What one harness run found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The run's seed.
    pub seed: u64,
    /// Every violation, in the order found.
    pub violations: Vec<Violation>,
    /// The role of each client that did not behave well, by id.
    pub roles: BTreeMap<usize, Role>,
    /// Every panic inside the run (the server's connection tasks included), as
    /// `file:line: message`.
    pub panics: Vec<String>,
    /// The simulation itself failed (a host returned an error or panicked).
    pub error: Option<String>,
    /// The run's events (lines only if kept).
    pub transcript: Transcript,
    /// Events by kind: writes, stream faults, connects.
    pub counts: Counts,
    /// What the clients did.
    pub tally: Tally,
    /// Virtual time the run took.
    pub virtual_time: Duration,
    /// The history of the clients' requests and its check, for a workload with a model
    /// ([`Workload::model`](super::Workload::model)).
    pub history: Option<RunHistory>,
}

impl Outcome {
    /// No violation, no panic, no simulation error.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.panics.is_empty() && self.error.is_none()
    }

    /// The oracle the run failed first: [`Oracle::Panic`] when anything panicked (the
    /// likelier cause of what a client saw), else the first violation's; `None` for a
    /// pass or a simulation error alone.
    pub fn oracle(&self) -> Option<Oracle> {
        if self.panics.is_empty() {
            self.violations.first().map(|v| v.oracle)
        } else {
            Some(Oracle::Panic)
        }
    }

    /// The first failure on one line: the first panic if any (`[panic] src/lib.rs:57: ...`,
    /// then what the first client to fail saw, in parentheses), else the first violation
    /// (`[oracle] client 3 at 12ms: ...`, the client's role named unless it behaved well:
    /// `client 8 (slow-reader)`), else `[error] ...`; empty for a pass.
    pub fn first_failure(&self) -> String {
        let violation = self.violations.first().map(|v| {
            let who = match v.client() {
                Some(c) => match self.roles.get(&c) {
                    Some(role) => format!(" client {c} ({})", role.name()),
                    None => format!(" client {c}"),
                },
                None => String::new(),
            };
            format!("[{}]{who} at {:?}: {}", v.oracle, v.at, v.detail)
        });
        let line = match (self.panics.first(), violation) {
            (Some(p), Some(v)) => format!("[panic] {p} (then {v})"),
            (Some(p), None) => format!("[panic] {p}"),
            (None, Some(v)) => v,
            (None, None) => match &self.error {
                Some(e) => format!("[error] {e}"),
                None => return String::new(),
            },
        };
        line.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// A few lines: what ran and what it did.
    pub fn summary(&self) -> String {
        let (t, c) = (&self.tally, &self.counts);
        format!(
            "seed {}: {} requests, {} replies, {} clients finished, {} slowloris cut, {} \
             disconnects, {} idle, {} restarted, {} half-closed, {} windows filled, {} oversized refused, {} malformed refused, {} at the limit served, {} slow reads, {} quits, {} bulk loads; {} chunks, {} partial reads, {} coalesced reads, {} short \
             writes, {} spurious pendings; {} events, hash {:016x}, {:?} virtual; {}",
            self.seed,
            t.requests,
            t.replies,
            t.clients_finished,
            t.slowloris_cut,
            t.disconnects,
            t.idle,
            t.restarted,
            t.half_closed,
            t.windows_filled,
            t.oversized_refused,
            t.malformed_refused,
            t.at_limit_served,
            t.slow_reads,
            t.quits,
            t.bulk_loads,
            c.writes,
            c.partial_reads,
            c.coalesced_reads,
            c.short_writes,
            c.pendings,
            self.transcript.len(),
            self.transcript.hash(),
            self.virtual_time,
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }

    /// The failure report: the first violation, the events before it (if kept), every
    /// panic, the seed and `replay`, the command that runs it again.
    pub fn failure(&self, replay: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "FAIL: seed {}", self.seed);
        let _ = writeln!(out, "first failure: {}", self.first_failure());
        for line in crate::oracle::more_violations(&self.violations) {
            let _ = writeln!(out, "{line}");
        }
        let records = self.transcript.records();
        if let (Some(v), false) = (self.violations.first(), records.is_empty()) {
            let end = (v.event_index as usize).min(records.len());
            let before = &records[..end];
            let locals = v.client().map(|id| connections_of(id, before));
            let theirs = |r: &&Record| match (v.client(), &locals) {
                (Some(id), Some(locals)) => belongs(r, id, locals),
                _ => true,
            };
            let last: Vec<&Record> = before.iter().filter(theirs).collect();
            match v.client() {
                Some(id) => {
                    let _ = writeln!(
                        out,
                        "last events of client {id} (and its connections) before it:"
                    );
                }
                None => {
                    let _ = writeln!(out, "last events before it:");
                }
            }
            for record in &last[last.len().saturating_sub(12)..] {
                let _ = writeln!(out, "  {}", shortened(line(record)));
            }
        }
        for p in self.panics.iter().take(5) {
            let _ = writeln!(out, "panic: {p}");
        }
        if let Some(e) = &self.error {
            let _ = writeln!(out, "simulation error: {e}");
        }
        let _ = writeln!(out, "{}", self.summary());
        let _ = write!(out, "seed: {}\nreplay: {replay}", self.seed);
        out
    }

    /// The transcript as text: a header, every event on its line, the summary.
    pub fn render(&self) -> String {
        let mut out = format!("# framesim harness run, seed {}\n", self.seed);
        for line in self.transcript.lines() {
            out.push_str(&line);
            out.push('\n');
        }
        let _ = writeln!(out, "# {}", self.summary());
        for v in &self.violations {
            let _ = writeln!(out, "# {v}");
        }
        out
    }
}

/// The local addresses of the connections client `id` made in `run`.
fn connections_of(id: usize, run: &[Record]) -> Vec<&str> {
    run.iter()
        .filter(|r| r.actor == Actor::Client(id))
        .filter_map(|r| match &r.event {
            crate::transcript::Event::Connect { local } => Some(local.as_str()),
            _ => None,
        })
        .collect()
}

/// Whether `record` is client `id`'s: its own, or the server's side of one of its
/// connections (`locals`, their addresses), or a fault injected into the whole run.
fn belongs(record: &Record, id: usize, locals: &[&str]) -> bool {
    use crate::transcript::Event;
    if record.actor == Actor::Client(id) || matches!(record.event, Event::Fault { .. }) {
        return true;
    }
    record
        .event
        .peer()
        .is_some_and(|peer| locals.contains(&&**peer))
}

/// Most characters of one event a failure report shows; the transcript file has them all.
const REPORTED: usize = 240;

/// `line`, cut to [`REPORTED`] characters with how many more there were.
fn shortened(line: String) -> String {
    match line.char_indices().nth(REPORTED) {
        Some((at, _)) => format!(
            "{}… ({} more characters)",
            &line[..at],
            line[at..].chars().count()
        ),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_event_is_cut_in_a_report_with_what_was_left_out() {
        let long = format!("c1 note reply {}", "x".repeat(65_536));
        let cut = shortened(long.clone());
        assert!(cut.starts_with(&long[..REPORTED]), "{cut}");
        assert!(cut.ends_with(&format!("… ({} more characters)", long.len() - REPORTED)));
        assert_eq!(shortened("c1 connect".into()), "c1 connect");
    }
}
