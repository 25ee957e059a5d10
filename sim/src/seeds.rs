//! Every random stream of a run, derived from its one seed in one place.
//!
//! Each consumer of randomness names its [`Stream`]; [`derive`] turns the run's seed and that
//! name into the stream's own seed. Streams are independent of each other, so drawing more
//! from one (say, a client's delivery) never shifts another (its workload, or the faults of
//! a connection).

use rand::rngs::SmallRng;
use rand::SeedableRng;

/// One independent source of randomness within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// turmoil's own generator (message latencies).
    Network,
    /// The options of a swarm-drawn scenario (the `adversarial` preset).
    Swarm,
    /// How client `id` puts its bytes on the wire: start time, chunks, gaps, batches, cuts.
    Delivery(usize),
    /// What client `id` asks: kept apart from delivery, so the logical view of a run is the
    /// same under any delivery.
    Workload(usize),
    /// The faults of the server's `n`th accepted connection (1 for the first), counted over
    /// the whole run, restarts included.
    Connection(u64),
}

/// Salt of the workload streams.
const WORKLOAD: u64 = 0x3030_7761_6b72_6f77;
/// Salt of the swarm stream.
const SWARM: u64 = 0x0d7a_5eed_0f7e_a11a;
/// Offset of connection indices: keeps them clear of client ids, which share the salt.
const CONNECTION: u64 = 0xacce_97ed;

/// The seed of `stream` in the run seeded with `seed`: the table of every stream.
pub fn derive(seed: u64, stream: Stream) -> u64 {
    match stream {
        // turmoil gets the run seed itself: every snapshot's latencies depend on it.
        Stream::Network => seed,
        Stream::Swarm => mix(seed ^ SWARM, 0),
        Stream::Delivery(id) => mix(seed, id as u64),
        Stream::Workload(id) => mix(seed ^ WORKLOAD, id as u64),
        Stream::Connection(n) => mix(seed, CONNECTION ^ n),
    }
}

/// A generator for `stream` in the run seeded with `seed`.
pub fn rng(seed: u64, stream: Stream) -> SmallRng {
    SmallRng::seed_from_u64(derive(seed, stream))
}

/// A seed nobody chose: for runs started without one (it is printed, so it can be replayed).
pub fn fresh() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::process::id())
}

/// Mixes a seed with a stream index into a new, well-spread seed (SplitMix64's finaliser).
fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ() {
        let all = [
            Stream::Network,
            Stream::Swarm,
            Stream::Delivery(0),
            Stream::Delivery(1),
            Stream::Workload(0),
            Stream::Workload(1),
            Stream::Connection(1),
            Stream::Connection(2),
        ];
        let seeds: Vec<u64> = all.iter().map(|&s| derive(7, s)).collect();
        for (i, a) in seeds.iter().enumerate() {
            assert!(!seeds[i + 1..].contains(a), "{:?} collides", all[i]);
        }
    }
}
