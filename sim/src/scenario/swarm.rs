//! The swarm: every option a seed decides, drawn in one place (printed by [`Scenario`]'s
//! `Display`, so a failure report shows what the run was).

use super::{Delivery, Faults, Roles, Scenario};
use framesim_server::protocol::Framing;
use rand::rngs::SmallRng;
use rand::Rng;
use std::time::Duration;

/// Draws the options of `s` from `rng`.
pub fn draw(rng: &mut SmallRng, s: &mut Scenario) {
    s.clients = rng.random_range(2..=24);
    s.client_hosts = rng.random_range(1..=3);
    s.requests = rng.random_range(1..=12);
    s.framing = match rng.random_range(0..3) {
        0 => Framing::Resp,
        1 => Framing::line(),
        _ => Framing::length(),
    };
    s.delivery = Delivery {
        max_chunk: [1, 2, 3, 7, 16, 64][rng.random_range(0..6)],
        byte_at_a_time: rng.random_range(0.0..0.3),
        max_gap: Duration::from_micros(rng.random_range(0..5_000)),
        pipeline: rng.random_range(1..=8),
        cut_at_boundaries: rng.random_range(0.0..0.5),
    };
    s.faults = Faults {
        partial_read_chance: rng.random_range(0.0..0.9),
        short_write_chance: rng.random_range(0.0..0.6),
        spurious_pending_chance: rng.random_range(0.0..0.3),
    };
    let share = |rng: &mut SmallRng| {
        if rng.random_bool(0.3) {
            0.1
        } else {
            0.0
        }
    };
    s.roles = Roles {
        slowloris_every: s.roles.slowloris_every,
        slowloris: share(rng),
        idle: share(rng),
        disconnect: share(rng),
        half_close: share(rng),
        oversized: share(rng),
        malformed: share(rng),
    };
}
