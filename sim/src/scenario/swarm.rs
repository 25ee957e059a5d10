//! The swarm: every option a scenario's seed (or a fuzzer's input) decides, drawn in one
//! place, in one order, from one set of ranges.
//!
//! The `adversarial` preset draws from a seeded generator and the `simulation` fuzz target
//! from the fuzzer's bytes, both through [`draw`], so a sweep and a fuzzing campaign explore
//! the same space. [`Scenario`]'s `Display` prints every drawn option, so a failure report
//! shows what the run was.

use super::{Delivery, Faults, Roles, Scenario};
use crate::seeds::Draws;
use arbitrary::Unstructured;
use framesim_server::framing::Endian;
use framesim_server::protocol::{Framing, SHARE_MIN};
use framesim_server::Limits;
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

    /// The run's seed, when this source decides it: a fuzzer's bytes do, a seeded generator
    /// leaves the scenario its own.
    fn seed(&mut self) -> Option<u64> {
        None
    }
}

impl Choices for Draws {
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

    fn seed(&mut self) -> Option<u64> {
        Some(self.arbitrary().unwrap_or(0))
    }
}

/// Draws every option the swarm varies into `s`: clients, hosts and requests, framing,
/// delivery, stream faults, misbehaving roles, limits, latency, a server restart, then (from
/// a fuzzer's bytes) the seed, then the options added since: the framing's delimiter or
/// header, the limit-reaching roles, edge values and the output limit; last the
/// back-pressure options (`draw_back_pressure`). The name, ramp, latency bound and target
/// are left as they are.
///
/// New options are drawn at the end, so the fuzz inputs and seeds of earlier swarms keep the
/// meaning of everything they drew before; and a source that has run out (zeros) draws what
/// earlier swarms had: a `\n` delimiter, a 4-byte big-endian header, no new role, no edge
/// values, 64 KiB of output.
pub fn draw(c: &mut impl Choices, s: &mut Scenario) {
    draw_first(c, s);
    draw_back_pressure(c, s);
    draw_grace(c, s);
    draw_pauses(c, s);
    draw_quit(c, s);
    draw_accept_errors(c, s);
    draw_overlapping_delimiter(c, s);
    draw_large_values(c, s);
}

/// The options the swarm drew before the back-pressure ones: their order is what gives
/// checked-in fuzz inputs their meaning, so new options go after them, never among them.
fn draw_first(c: &mut impl Choices, s: &mut Scenario) {
    s.clients = c.int(1..=8) as usize;
    s.client_hosts = c.int(1..=3) as usize;
    s.requests = c.int(1..=12) as usize;
    // The protocol; its delimiter or header is drawn at the end (see above).
    s.framing = c.pick(&[Framing::Resp, Framing::line(), Framing::length()]);
    s.delivery = Delivery {
        max_chunk: c.int(1..=64) as usize,
        byte_at_a_time: c.chance(1.0),
        max_gap: Duration::from_micros(c.int(0..=5_000)),
        pipeline: c.int(1..=8) as usize,
        cut_at_boundaries: c.chance(1.0),
        // Drawn in `draw_pauses`.
        max_pause: Duration::ZERO,
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
    if let Some(seed) = c.seed() {
        s.seed = seed;
    }

    // Every delimiter shape the line framing accepts: one byte, two, three, and bytes that
    // are not ASCII (each valid by `Framing::validate`).
    let delimiter = c.pick(&[&b"\n"[..], b"\r\n", b"\r\n\0", b"\x00\xff"]);
    let header_len = c.pick(&[4, 1, 2, 8]);
    let endian = c.pick(&[Endian::Big, Endian::Little]);
    // A 1-byte header says at most 255: a frame limit under it keeps a frame one byte over
    // the limit expressible (the oversized and at-limit clients need one), and every
    // request of the model fits (under 100 bytes).
    let one_byte_frame = c.pick(&[254, 128, 200]);
    match &mut s.framing {
        Framing::Line { delimiter: d } => *d = delimiter.to_vec(),
        Framing::Length {
            header_len: h,
            endian: e,
        } => {
            (*h, *e) = (header_len, endian);
            if header_len == 1 {
                s.limits.max_frame = s.limits.max_frame.min(one_byte_frame);
            }
        }
        Framing::Resp => {}
    }
    let mut new_share = || if c.int(0..=3) == 3 { 0.1 } else { 0.0 };
    s.roles.bulk_loader = new_share();
    s.roles.at_limit = new_share();
    s.roles.unfinished_args = new_share();
    s.edge_values = c.pick(&[0.0, 0.05, 0.2, 0.5]);
    s.limits.max_output = c.pick(&[64 * 1024, 256, 1024, 4096, 16 * 1024]);
}

/// Draws how the stream shapes reads and how much a client may leave unread (coalesced
/// reads, the receive window) and the shares of clients that hold the server's replies back
/// (never-readers, slow readers). Drawn after every other option, so inputs written before
/// these existed keep their meaning.
fn draw_back_pressure(c: &mut impl Choices, s: &mut Scenario) {
    s.faults.coalesce_chance = c.chance(0.9);
    // Small enough that a client which stops reading fills it within a few replies.
    s.faults.window = c.int(4 * 1024..=64 * 1024) as usize;
    let mut share = || if c.one_in(4) { 0.1 } else { 0.0 };
    s.roles.never_reader = share();
    s.roles.slow_reader = share();
}

/// Whether well-behaved clients pause between batches, and how long at most: past the frame
/// deadline, within the idle timeout. Drawn last; a source of zeros draws no pauses.
fn draw_pauses(c: &mut impl Choices, s: &mut Scenario) {
    let (frame, idle) = (s.limits.frame_deadline, s.limits.idle_timeout);
    let longest = idle.mul_f64(0.8);
    if c.int(0..=3) >= 2 && longest > frame {
        s.delivery.max_pause = longest;
    }
}

/// The share of clients that end with `QUIT`. Drawn last; a source of zeros draws none.
fn draw_quit(c: &mut impl Choices, s: &mut Scenario) {
    if c.int(0..=3) == 3 {
        s.roles.quit = 0.1;
    }
}

/// The chance the server's accept fails while a client waits. Drawn last; a source of
/// zeros draws none.
fn draw_accept_errors(c: &mut impl Choices, s: &mut Scenario) {
    if c.int(0..=3) == 3 {
        s.faults.accept_error_chance = c.pick(&[0.05, 0.2, 0.5]);
    }
}

/// Whether a line framing ends its lines with `\r\n\r\n` (HTTP's end of headers) instead:
/// a delimiter that overlaps itself, so a read can end inside two candidate delimiters at
/// once (`\r\n\r`) and a search that resumes from the wrong one misses the frame. Drawn
/// last; a source of zeros keeps the delimiter drawn before.
fn draw_overlapping_delimiter(c: &mut impl Choices, s: &mut Scenario) {
    if let Framing::Line { delimiter } = &mut s.framing {
        if c.int(0..=4) == 4 {
            *delimiter = b"\r\n\r\n".to_vec();
        }
    }
}

/// Whether a RESP run takes values of 64 KiB and more ([`SHARE_MIN`]: the server sends a
/// reply that large by reference, not copied): about one RESP run in eight raises the frame
/// limit (and the buffer limit with it) to twice that, so a slow reader's value (half the
/// frame limit) and an at-limit client's (the whole of it) are that large, and has a slow
/// reader if it had no such client. Every role that sizes its requests by the limits grows
/// with them. Drawn last, and only for RESP (the only framing that shares a reply); a
/// source of zeros draws none.
fn draw_large_values(c: &mut impl Choices, s: &mut Scenario) {
    if s.framing != Framing::Resp || c.int(0..=7) != 7 {
        return;
    }
    let max_frame = 2 * SHARE_MIN;
    s.limits.max_buffered = s.limits.max_buffered - s.limits.max_frame + max_frame;
    s.limits.max_frame = max_frame;
    let r = &mut s.roles;
    if r.slow_reader == 0.0 && r.never_reader == 0.0 && r.at_limit == 0.0 {
        r.slow_reader = 0.1;
    }
}

/// Whether a drawn restart is a crash or a graceful shutdown, and its grace. Drawn last,
/// and only for a run that restarts; a source of zeros draws the crash earlier swarms had.
fn draw_grace(c: &mut impl Choices, s: &mut Scenario) {
    if s.restart_at.is_some() {
        s.restart_grace = Duration::from_millis(c.pick(&[0, 20, 100, 500]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Preset, Role};
    use std::collections::BTreeSet;

    #[test]
    fn the_swarm_reaches_every_framing_variant_and_every_new_option() {
        let mut framings = BTreeSet::new();
        let (mut roles, mut edge, mut small_output) = (BTreeSet::new(), false, false);
        let mut accept_errors = false;
        for seed in 0..2000 {
            let s = Scenario::preset(Preset::Adversarial, seed);
            assert_eq!(s.framing.validate(), Ok(()), "seed {seed}");
            if let Framing::Length { header_len: 1, .. } = s.framing {
                assert!(
                    s.limits.max_frame < 255,
                    "seed {seed}: max_frame + 1 fits the header"
                );
            }
            framings.insert(format!("{:?}", s.framing));
            for id in 0..s.clients {
                roles.insert(format!("{:?}", s.role_of(id)));
            }
            edge |= s.edge_values > 0.0;
            small_output |= s.limits.max_output <= 1024;
            accept_errors |= s.faults.accept_error_chance > 0.0;
        }
        // RESP, 5 delimiters (one overlapping itself), 4 header sizes in 2 byte orders.
        assert_eq!(framings.len(), 1 + 5 + 8, "{framings:?}");
        for role in [
            Role::BulkLoader,
            Role::AtLimit,
            Role::UnfinishedArgs,
            Role::Quit,
        ] {
            assert!(roles.contains(&format!("{role:?}")), "{role:?} never drawn");
        }
        assert!(edge && small_output && accept_errors);
    }

    #[test]
    fn some_resp_runs_take_values_a_server_sends_by_reference() {
        let mut large = Vec::new();
        for seed in 0..2000 {
            let s = Scenario::preset(Preset::Adversarial, seed);
            if s.limits.max_frame < 2 * SHARE_MIN {
                assert!(s.limits.max_frame <= 8192, "seed {seed}");
                continue;
            }
            large.push(seed);
            assert_eq!(s.framing, Framing::Resp, "seed {seed}");
            assert!(s.limits.max_buffered > s.limits.max_frame, "seed {seed}");
            let r = s.roles;
            assert!(
                r.slow_reader + r.never_reader + r.at_limit > 0.0,
                "seed {seed}"
            );
        }
        // About one RESP run in eight: one run in 24.
        assert!((40..=130).contains(&large.len()), "{}", large.len());
    }

    #[test]
    fn choices_that_run_out_draw_what_earlier_swarms_had() {
        // The earlier fields and the seed take these 38 bytes: the new ones read zeros.
        let mut s = Scenario::base("fuzz", 0);
        draw(&mut Unstructured::new(&[0xff; 38]), &mut s);
        assert_eq!(s.framing, Framing::Resp);
        let (r, l) = (s.roles, s.limits);
        assert_eq!(
            (r.bulk_loader, r.at_limit, r.unfinished_args),
            (0.0, 0.0, 0.0)
        );
        assert_eq!((s.edge_values, l.max_output), (0.0, 64 * 1024));
        let mut s = Scenario::base("fuzz", 0);
        draw(&mut Unstructured::new(&[2; 38]), &mut s);
        assert_eq!(s.framing, Framing::length());
    }
}
