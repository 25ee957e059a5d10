//! What one run of framesim's own world exercised, for a sweep's coverage: its
//! transcript's counts and the server's counters, the faults and the restart marked wanted
//! when the scenario asks for them. The server's counters are shown, not required: which
//! of them a role reaches depends on the limits. `buffer filled to the limit` is a run in
//! which a read left some connection holding exactly `max_buffered` bytes (the server
//! never reads past it), from the server's high-water mark, which reads set: once a run at
//! most, with an overflow or without one (a frame that ended at the limit).
//! `large replies sent by reference` counts RESP bulk replies of at least `SHARE_MIN`
//! (64 KiB) queued from the store's bytes rather than copied. `parked mid-frame` counts
//! connections that a frame met in the parking lot: the server never parks a connection
//! with part of a frame buffered (mid-frame it keeps its task and the frame deadline
//! applies), so the row counts connections parked after a quiet spell and woken by part of
//! a frame, the rest arriving later (the server's `woken_mid_frame`).

use crate::report::Report;
use crate::sweep::{stream_faults, Seen};

/// What `report`'s run exercised.
pub fn seen(report: &Report) -> Vec<Seen> {
    let (c, s, f) = (&report.counts, &report.stats, &report.scenario.faults);
    let restart = report.scenario.restart_at.is_some();
    let mut seen = vec![
        Seen::new("requests sent", c.requests, report.scenario.clients > 0),
        Seen::new("replies read", c.replies, report.scenario.clients > 0),
        Seen::new("connections refused", s.connections_refused, false),
        Seen::new("parks", s.parks, false),
        Seen::new("protocol errors", s.protocol_errors, false),
        Seen::new("eof mid-frame", s.eof_mid_frame, false),
        Seen::new("frame timeouts", s.frame_timeouts, false),
        Seen::new("idle timeouts", s.idle_timeouts, false),
        Seen::new("write timeouts", s.write_timeouts, false),
        Seen::new("overflows", s.overflows, false),
        Seen::new("buffer filled to the limit", filled(report), false),
        Seen::new("large replies sent by reference", s.shared_replies, false),
        Seen::new("parked mid-frame", s.woken_mid_frame, false),
    ];
    seen.extend(stream_faults(c, f, restart));
    seen
}

/// 1 if a read of the run left a connection holding exactly `max_buffered` bytes, else 0.
fn filled(report: &Report) -> u64 {
    let limit = report.scenario.limits.max_buffered as u64;
    u64::from(limit > 0 && report.stats.max_buffered == limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Preset, Scenario};
    use crate::world::{run, RunOptions};
    use std::time::Duration;

    const ROW: &str = "buffer filled to the limit";
    const LARGE: &str = "large replies sent by reference";
    const PARKED: &str = "parked mid-frame";

    fn count(report: &Report) -> u64 {
        row(report, ROW)
    }

    fn row(report: &Report, name: &str) -> u64 {
        let seen = seen(report);
        seen.iter().find(|s| s.name == name).expect(name).count
    }

    fn adversarial(seed: u64) -> Report {
        run(
            &Scenario::preset(Preset::Adversarial, seed),
            RunOptions::default(),
        )
    }

    #[test]
    fn a_read_that_fills_a_buffer_to_its_limit_is_counted_once_a_run() {
        // Adversarial seed 6: a read filled a buffer to exactly max_buffered, and the frame
        // in it ended there: the limit reached, no overflow.
        let exact = adversarial(6);
        assert_eq!(exact.stats.overflows, 0);
        assert_eq!(
            exact.stats.max_buffered,
            exact.scenario.limits.max_buffered as u64
        );
        assert_eq!(count(&exact), 1);
        // Under a limit one byte higher, the same high-water mark is not the limit.
        let mut higher = exact.clone();
        higher.scenario.limits.max_buffered += 1;
        assert_eq!(count(&higher), 0);
        // Not a copy of `overflows`: seed 15 overflows with what its decoder held, no
        // read having filled the buffer.
        let overflowed = adversarial(15);
        assert!(overflowed.stats.overflows > 0);
        assert_eq!(count(&overflowed), 0);
        let quiet = run(&Scenario::preset(Preset::Small, 0), RunOptions::default());
        assert_eq!(count(&quiet), 0);
    }

    #[test]
    fn the_swarm_sends_a_large_reply_by_reference_and_wakes_a_connection_mid_frame() {
        // Adversarial seed 8 takes large values (RESP, a frame limit of twice SHARE_MIN): a
        // reply of 64 KiB or more leaves by reference.
        let large = adversarial(8);
        let share_min = framesim_server::protocol::SHARE_MIN;
        assert_eq!(large.scenario.limits.max_frame, 2 * share_min);
        assert!(row(&large, LARGE) > 0);
        assert_eq!(row(&large, LARGE), large.stats.shared_replies);
        // Seed 2: a client pausing between batches past the park delay, then writing its
        // next request in chunks, wakes its parked connection with part of a frame.
        let woken = adversarial(2);
        assert!(row(&woken, PARKED) > 0);
        assert_eq!(row(&woken, PARKED), woken.stats.woken_mid_frame);
        assert!(woken.scenario.delivery.max_pause > Duration::from_secs(1));
        let quiet = run(&Scenario::preset(Preset::Small, 0), RunOptions::default());
        assert_eq!((row(&quiet, LARGE), row(&quiet, PARKED)), (0, 0));
    }
}
