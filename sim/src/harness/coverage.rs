//! What one harness run exercised, for a sweep's coverage: its clients' [`Tally`] and its
//! transcript's counts, each marked wanted when the options ask for it (a role some client
//! of the run plays, a fault with a chance above 0, a restart).

use super::options::{Options, Role};
use super::outcome::Outcome;
use crate::sweep::{stream_faults, Seen};

/// What `outcome`, a run under `options`, exercised.
pub fn seen(outcome: &Outcome, options: &Options) -> Vec<Seen> {
    let (t, c, f) = (&outcome.tally, &outcome.counts, &options.faults);
    let roles: Vec<Role> = options
        .client_ids()
        .into_iter()
        .map(|id| options.roles.of(id))
        .collect();
    let played = |role: Role| roles.contains(&role);
    // A role whose request the session cannot make is played as a well-behaved client.
    let asked = |role: Role| played(role) && !t.unasked(role);
    let restart = options.restart_at.is_some();
    let mut seen = vec![
        Seen::new("requests sent", t.requests, !roles.is_empty()),
        Seen::new("replies read", t.replies, played(Role::Normal)),
        Seen::new("slowloris cut", t.slowloris_cut, played(Role::Slowloris)),
        Seen::new("disconnects", t.disconnects, played(Role::Disconnect)),
        // Half the disconnecting clients' draws: shown, not required of a short sweep.
        Seen::new("left with replies unread", t.left_unread, false),
        // One well-behaved client in four, and only under a declared idle timeout.
        Seen::new("quiet under the idle timeout", t.quiet_kept, false),
        Seen::new("idle", t.idle, played(Role::Idle)),
        Seen::new("half-closed", t.half_closed, played(Role::HalfClose)),
        Seen::new("windows filled", t.windows_filled, asked(Role::NeverReader)),
        Seen::new(
            "oversized refused",
            t.oversized_refused,
            asked(Role::Oversized),
        ),
        Seen::new(
            "malformed refused",
            t.malformed_refused,
            asked(Role::Malformed),
        ),
        Seen::new(
            "at the limit served",
            t.at_limit_served,
            asked(Role::AtLimit),
        ),
        Seen::new("slow reads", t.slow_reads, played(Role::SlowReader)),
        Seen::new("quits", t.quits, asked(Role::Quit)),
        Seen::new("bulk loads", t.bulk_loads, played(Role::BulkLoader)),
        Seen::new(
            "reads ending inside a request",
            t.reads_inside,
            played(Role::Normal) && (f.partial_read_chance > 0.0 || f.coalesce_chance > 0.0),
        ),
        Seen::new(
            "reads ending at a seam",
            t.reads_at_seams,
            // Only where the session marks seams in its requests: never required.
            false,
        ),
        Seen::new(
            "reads across requests",
            t.reads_across,
            played(Role::Normal) && f.coalesce_chance > 0.0,
        ),
        // Only where the session takes frames for pushes: never required.
        Seen::new("frames pushed", t.pushed, false),
        Seen::new("restarted clients", t.restarted, restart),
        // Only where the workload has a model: never required.
        Seen::new("histories checked", t.histories_checked, false),
        Seen::new("histories narrowed", t.histories_narrowed, false),
        Seen::new("histories unknown", t.histories_unknown, false),
        // Only where the server tells its order: never required.
        Seen::new("server orders linear", t.orders_linear, false),
        Seen::new("server orders broken", t.orders_broken, false),
    ];
    seen.extend(stream_faults(c, f, restart));
    seen
}

/// Whether a sweep must exercise everything its options ask for: `FRAMESIM_REQUIRE_COVERAGE`
/// read by `var`, `1` for yes, `0` or unset for no, anything else an error naming it.
pub fn required(var: impl Fn(&str) -> Option<String>) -> Result<bool, String> {
    match var("FRAMESIM_REQUIRE_COVERAGE").as_deref().map(str::trim) {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(format!(
            "FRAMESIM_REQUIRE_COVERAGE={other:?} is neither 1 nor 0"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requirement_is_read_as_1_or_0() {
        let env = |value: &'static str| move |_: &str| Some(value.to_string());
        assert_eq!(required(|_| None), Ok(false));
        assert_eq!(required(env("1")), Ok(true));
        assert_eq!(required(env("0")), Ok(false));
        assert!(required(env("yes")).unwrap_err().contains("\"yes\""));
    }
}
