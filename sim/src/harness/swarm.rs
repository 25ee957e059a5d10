//! The harness's swarm: with [`Options::swarm`] on, each seed runs with options of its own,
//! drawn from the seed within the test's options. Some seeds turn a role or a fault off,
//! others have few clients or whole requests in one write: a bug that one feature hides
//! behind another shows in the seeds without it (swarm testing).

use super::options::Options;
use crate::scenario::swarm::Choices;
use crate::seeds::{self, Stream};
use std::time::Duration;

impl Options {
    /// The options seed `seed` runs with: these, or with [`swarm`](Options::swarm) on,
    /// options drawn from the seed within these (swarm off in them, so they replay as
    /// they are). Drawn within means: no more clients, no more clients of a role, no
    /// higher chance of a fault, no deeper pipeline, no longer gaps, no smaller chunks than
    /// these (up to whole requests). Every limit, bound and timeout is kept.
    ///
    /// ```
    /// use framesim::harness::Options;
    /// let base = Options { swarm: true, ..Options::default() };
    /// let drawn: Vec<Options> = (0..16).map(|seed| base.for_seed(seed)).collect();
    /// assert!(drawn.iter().all(|o| !o.swarm && o.clients <= base.clients));
    /// assert!(drawn.iter().any(|o| o.clients < base.clients));
    /// assert_eq!(base.for_seed(3), base.for_seed(3));
    /// assert_eq!(Options::default().for_seed(3), Options::default());
    /// ```
    pub fn for_seed(&self, seed: u64) -> Options {
        let mut o = self.clone();
        if !self.swarm {
            return o;
        }
        o.swarm = false;
        let c = &mut seeds::rng(seed, Stream::Swarm);
        // A quarter of the seeds keep every client; the rest 1..=all.
        if !c.one_in(4) {
            o.clients = c.int(1..=self.clients.max(1) as u64) as usize;
        }
        for count in o.roles.counts_mut() {
            // Each role off in a third of the seeds.
            if *count > 0 && c.one_in(3) {
                *count = 0;
            }
        }
        let f = &mut o.faults;
        for chance in [
            &mut f.partial_read_chance,
            &mut f.short_write_chance,
            &mut f.spurious_pending_chance,
            &mut f.coalesce_chance,
            &mut f.accept_error_chance,
        ] {
            *chance = within(c, *chance);
        }
        let d = &mut o.delivery;
        // Never smaller chunks than the test's: a byte at a time is `byte_at_a_time`'s, which
        // spares large requests.
        let most = d.max_chunk;
        d.max_chunk = c.pick(&[most, most.saturating_mul(8), most.max(4096), usize::MAX]);
        d.byte_at_a_time = within(c, d.byte_at_a_time);
        d.cut_at_boundaries = within(c, d.cut_at_boundaries);
        d.pipeline = c.int(1..=d.pipeline.max(1) as u64) as usize;
        d.max_gap = Duration::from_nanos(c.int(0..=d.max_gap.as_nanos() as u64));
        o.ramp = Duration::from_nanos(c.int(0..=o.ramp.as_nanos() as u64));
        o
    }
}

/// A chance drawn within `most`: none in a quarter of the seeds, `most` itself in another,
/// anything between in the rest.
fn within(c: &mut impl Choices, most: f64) -> f64 {
    if most <= 0.0 {
        return most;
    }
    match c.int(0..=3) {
        0 => 0.0,
        1 => most,
        _ => c.chance(most),
    }
}
