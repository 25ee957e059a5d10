//! What one run of framesim's own world exercised, for a sweep's coverage: its
//! transcript's counts and the server's counters, the faults and the restart marked wanted
//! when the scenario asks for them. The server's counters are shown, not required: which
//! of them a role reaches depends on the limits.

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
    ];
    seen.extend(stream_faults(c, f, restart));
    seen
}
