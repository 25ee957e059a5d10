//! The swarm: every option a scenario's seed (or a fuzzer's input) decides, drawn in one
//! place, in one order, from one set of ranges.
//!
//! The `adversarial` preset draws from a seeded generator and the `simulation` fuzz target
//! from the fuzzer's bytes, both through [`draw`], so a sweep and a fuzzing campaign explore
//! the same space. [`Scenario`]'s `Display` prints every drawn option, so a failure report
//! shows what the run was.

use super::{Delivery, Faults, Roles, Scenario};
use arbitrary::Unstructured;
use framesim_server::protocol::Framing;
use framesim_server::Limits;
use rand::rngs::SmallRng;
use rand::Rng;
use std::ops::RangeInclusive;
use std::time::Duration;

/// A source of choices: a seeded generator, or a fuzzer's bytes.
pub trait Choices {
    /// A whole number in `range`.
    fn int(&mut self, range: RangeInclusive<u64>) -> u64;

    /// A probability in `0..=max`.
    fn chance(&mut self, max: f64) -> f64;

    /// One of `from` (not empty).
    fn pick<T: Clone>(&mut self, from: &[T]) -> T;

    /// True about once in `n` draws.
    fn one_in(&mut self, n: u64) -> bool {
        self.int(1..=n) == 1
    }
}

impl Choices for SmallRng {
    fn int(&mut self, range: RangeInclusive<u64>) -> u64 {
        self.random_range(range)
    }

    fn chance(&mut self, max: f64) -> f64 {
        self.random_range(0.0..=max)
    }

    fn pick<T: Clone>(&mut self, from: &[T]) -> T {
        from[self.random_range(0..from.len())].clone()
    }
}

/// Total: bytes that run out read as zeros, the smallest choices.
impl Choices for Unstructured<'_> {
    fn int(&mut self, range: RangeInclusive<u64>) -> u64 {
        let start = *range.start();
        self.int_in_range(range).unwrap_or(start)
    }

    /// In steps of 1/255 of `max`.
    fn chance(&mut self, max: f64) -> f64 {
        f64::from(self.arbitrary::<u8>().unwrap_or(0)) / 255.0 * max
    }

    fn pick<T: Clone>(&mut self, from: &[T]) -> T {
        self.choose(from).unwrap_or(&from[0]).clone()
    }
}

/// Draws every option the swarm varies into `s`: clients, hosts and requests, framing,
/// delivery, stream faults, misbehaving roles, limits, latency and a server restart, then
/// the back-pressure options ([`draw_back_pressure`]). The name, seed, ramp, latency bound
/// and target are left as they are.
pub fn draw(c: &mut impl Choices, s: &mut Scenario) {
    draw_first(c, s);
    draw_back_pressure(c, s);
}

/// The options the swarm drew before the back-pressure ones: their order is what gives
/// checked-in fuzz inputs their meaning, so new options go after them, never among them.
pub fn draw_first(c: &mut impl Choices, s: &mut Scenario) {
    s.clients = c.int(1..=8) as usize;
    s.client_hosts = c.int(1..=3) as usize;
    s.requests = c.int(1..=12) as usize;
    // The virtual clients' hostile requests are written for these three framings.
    s.framing = c.pick(&[Framing::Resp, Framing::line(), Framing::length()]);
    s.delivery = Delivery {
        max_chunk: c.int(1..=64) as usize,
        byte_at_a_time: c.chance(1.0),
        max_gap: Duration::from_micros(c.int(0..=5_000)),
        pipeline: c.int(1..=8) as usize,
        cut_at_boundaries: c.chance(1.0),
    };
    s.faults = Faults {
        partial_read_chance: c.chance(0.9),
        short_write_chance: c.chance(0.6),
        spurious_pending_chance: c.chance(0.3),
        // Drawn in `draw_back_pressure`.
        ..Faults::none()
    };
    let mut share = || if c.one_in(4) { 0.1 } else { 0.0 };
    let mut roles = Roles {
        slowloris: share(),
        idle: share(),
        disconnect: share(),
        half_close: share(),
        oversized: share(),
        malformed: share(),
        ..Roles::default()
    };
    // Limits stay wide enough for the model's requests (under 300 bytes) and short enough
    // for a slowloris client to be cut off long before its frame could complete.
    let max_line = c.pick(&[512, 1024, 4096]);
    let max_frame = c.pick(&[512, 4096, 8192]);
    s.limits = Limits {
        max_line,
        max_frame,
        max_buffered: max_line + max_frame + c.pick(&[0, 8, 4096]),
        frame_deadline: Duration::from_millis(c.pick(&[100, 250, 500, 1000])),
        idle_timeout: Duration::from_secs(c.pick(&[1, 2, 5])),
        max_output: 64 * 1024,
    };
    roles.slowloris_every = Duration::from_millis(c.pick(&[10, 25, 50]));
    s.roles = roles;
    let min_latency = Duration::from_micros(c.int(0..=500));
    s.latency = (
        min_latency,
        min_latency + Duration::from_micros(c.int(0..=2_000)),
    );
    s.restart_at = c.one_in(8).then(|| Duration::from_millis(c.int(1..=200)));
}

/// Draws how the stream shapes reads and how much a client may leave unread (coalesced
/// reads, the receive window) and the shares of clients that hold the server's replies back
/// (never-readers, slow readers). Drawn after every other option, so inputs written before
/// these existed keep their meaning.
pub fn draw_back_pressure(c: &mut impl Choices, s: &mut Scenario) {
    s.faults.coalesce_chance = c.chance(0.9);
    // Small enough that a client which stops reading fills it within a few replies.
    s.faults.window = c.int(4 * 1024..=64 * 1024) as usize;
    let mut share = || if c.one_in(4) { 0.1 } else { 0.0 };
    s.roles.never_reader = share();
    s.roles.slow_reader = share();
}
