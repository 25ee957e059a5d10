//! What the server's counters must show once every client is done.

use super::{Oracle, Violations};
use crate::boundary::{self, Cut};
use crate::net::AcceptFaults;
use crate::scenario::{Role, Scenario, Target};
use crate::transcript::{Actor, Transcript};
use framesim_server::Snapshot;
use std::sync::atomic::Ordering;

/// Checks the server's final counters against the scenario: no panics, no buffer over the
/// limit by the server's own count, no connection left open, and (for the real server,
/// without restarts) one counted close per misbehaving client, of the kind its role and the
/// framing's limits decide.
///
/// `accepts` is what the listeners injected into accept: a server that spun on a failing
/// accept breaks `[accept]`, and the real server counts every failure.
pub fn check(
    s: &Scenario,
    snap: &Snapshot,
    accepts: &AcceptFaults,
    t: &Transcript,
    violations: &Violations,
) {
    let fail = |oracle, detail: String| violations.fail(t, Actor::Server, oracle, detail);
    if let Some(spun) = accepts.spun() {
        fail(Oracle::Accept, spun);
    }
    if snap.panics > 0 {
        fail(
            Oracle::Panic,
            format!("{} connection tasks panicked", snap.panics),
        );
    }
    // The server's own count of what a connection held. The boundary oracles (`backlog`)
    // measure the same promise on the wire without trusting it; this one still adds the
    // decoder's bookkeeping (slots for parsed arguments), which no byte on the wire shows.
    if snap.max_buffered > s.limits.max_buffered as u64 {
        fail(
            Oracle::Limit,
            format!(
                "a connection buffered {} bytes (max {})",
                snap.max_buffered, s.limits.max_buffered
            ),
        );
    }
    if snap.connections_open > 0 {
        fail(
            Oracle::Leak,
            format!(
                "{} connections still open after every client left",
                snap.connections_open
            ),
        );
    }
    // Only the real server's counters are promised, and a restart resets them mid-run.
    if s.target != Target::Framesim || s.restart_at.is_some() {
        return;
    }
    let count = |role| s.clients_playing(role) as u64;
    // An at-limit client ends with a protocol error where a limit can be passed by one byte;
    // an unfinished request ends the way its framing and limits decide.
    let at_limit = if boundary::over_limit_possible(&s.framing, &s.limits) {
        count(Role::AtLimit)
    } else {
        0
    };
    let unfinished = boundary::unfinished_cut(&s.framing, &s.limits);
    let unfinished_by = |cut| {
        if unfinished == cut {
            count(Role::UnfinishedArgs)
        } else {
            0
        }
    };
    let (idle, never, slow) = (
        count(Role::Idle),
        count(Role::NeverReader),
        count(Role::SlowReader),
    );
    let mut checks = vec![
        ("eof_mid_frame", snap.eof_mid_frame, count(Role::Disconnect)),
        (
            "frame_timeouts",
            snap.frame_timeouts,
            count(Role::Slowloris) + unfinished_by(Cut::Deadline),
        ),
        (
            "protocol_errors",
            snap.protocol_errors,
            count(Role::Oversized)
                + count(Role::Malformed)
                + at_limit
                + unfinished_by(Cut::TooLong),
        ),
        ("overflows", snap.overflows, unfinished_by(Cut::Buffered)),
        (
            "accept_errors",
            snap.accept_errors,
            accepts.errors.load(Ordering::Relaxed),
        ),
    ];
    if slow == 0 {
        checks.push(("idle_timeouts", snap.idle_timeouts, idle));
        checks.push(("write_timeouts", snap.write_timeouts, never));
    } else {
        // A never-reader is always cut for not taking its replies. A slow reader gets every
        // reply and leaves, or is closed idle while it still reads what was written, or is
        // cut for not taking a batch in time; never by the frame deadline (the time the
        // server spends writing to it does not count). Each adds at most one.
        let closes = [(snap.idle_timeouts, idle), (snap.write_timeouts, never)];
        let fine = closes.iter().all(|&(got, want)| got >= want)
            && closes.iter().map(|&(got, want)| got - want).sum::<u64>() <= slow;
        if !fine {
            fail(
                Oracle::Counters,
                format!(
                    "server counted {} idle_timeouts and {} write_timeouts; the clients caused {idle} and {never}, and {slow} slow readers may add one each",
                    snap.idle_timeouts, snap.write_timeouts
                ),
            );
        }
    }
    for (name, got, want) in checks {
        if got != want {
            fail(
                Oracle::Counters,
                format!("server counted {got} {name}, the clients caused {want}"),
            );
        }
    }
}
