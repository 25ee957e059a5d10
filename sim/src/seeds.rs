//! Every random stream of a run, derived from its one seed in one place.
//!
//! Each consumer of randomness names its [`Stream`]; [`derive`] turns the run's seed and that
//! name into the stream's own seed. Streams are independent of each other, so drawing more
//! from one (say, a client's delivery) never shifts another (its workload, or the faults of
//! a connection).
//!
//! Every generator of a run is a [`Draws`]: a seeded generator that, when the run has a
//! [`Tape`] (a fuzzer's bytes), takes its bits from the tape first, in the order the run
//! draws them, and falls back to its seed once the tape runs out. So coverage guidance steers
//! the chunk sizes, gaps, faults and arrival times themselves, not only the scenario's
//! options. turmoil's own latencies stay with the seed: turmoil takes a seed, not a
//! generator.

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

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
    /// Whether the server's accept of its `n`th connection (1 for the first) fails first,
    /// counted over the whole run, restarts included.
    Accept(u64),
}

/// Salt of the workload streams.
const WORKLOAD: u64 = 0x3030_7761_6b72_6f77;
/// Salt of the swarm stream.
const SWARM: u64 = 0x0d7a_5eed_0f7e_a11a;
/// Offset of connection indices: keeps them clear of client ids, which share the salt.
const CONNECTION: u64 = 0xacce_97ed;
/// Salt of the accept streams.
const ACCEPT: u64 = 0x0ac0_e7fa_11ed_0000;

/// The seed of `stream` in the run seeded with `seed`: the table of every stream.
pub fn derive(seed: u64, stream: Stream) -> u64 {
    match stream {
        // turmoil gets the run seed itself: every snapshot's latencies depend on it.
        Stream::Network => seed,
        Stream::Swarm => mix(seed ^ SWARM, 0),
        Stream::Delivery(id) => mix(seed, id as u64),
        Stream::Workload(id) => mix(seed ^ WORKLOAD, id as u64),
        Stream::Connection(n) => mix(seed, CONNECTION ^ n),
        Stream::Accept(n) => mix(seed ^ ACCEPT, n),
    }
}

/// A generator for `stream` in the run seeded with `seed`, reading the running run's tape
/// first if it has one (see [`with_tape`]).
pub fn rng(seed: u64, stream: Stream) -> Draws {
    Draws {
        rng: SmallRng::seed_from_u64(derive(seed, stream)),
        tape: TAPE.with(|t| t.borrow().clone()),
    }
}

/// The bytes a run's draws read before their seeds: a fuzzer's input, past the part that
/// chose the scenario. Shared by every generator of the run, read in draw order (the run is
/// one thread, so that order is deterministic).
#[derive(Debug, Clone)]
pub struct Tape(Arc<Mutex<(Vec<u8>, usize)>>);

impl Tape {
    /// A tape of `bytes`, read from the start.
    pub fn new(bytes: Vec<u8>) -> Self {
        Tape(Arc::new(Mutex::new((bytes, 0))))
    }

    /// Fills the front of `out` from the tape; returns how many bytes it had left to give.
    fn take(&self, out: &mut [u8]) -> usize {
        let mut guard = self.0.lock().expect("tape lock");
        let (bytes, at) = &mut *guard;
        let n = out.len().min(bytes.len() - *at);
        out[..n].copy_from_slice(&bytes[*at..*at + n]);
        *at += n;
        n
    }
}

thread_local! {
    /// The tape of the run on this thread, if any (a run is one thread).
    static TAPE: RefCell<Option<Tape>> = const { RefCell::new(None) };
}

/// Runs `f` (one whole run) with `tape` under every generator [`rng`] makes.
pub fn with_tape<R>(tape: Option<Tape>, f: impl FnOnce() -> R) -> R {
    /// Puts the outer tape back, even if `f` unwinds.
    struct Restore(Option<Tape>);
    impl Drop for Restore {
        fn drop(&mut self) {
            TAPE.with(|t| *t.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(TAPE.with(|t| t.replace(tape)));
    f()
}

/// One stream's generator: its seed's draws, after the run's tape while it lasts.
#[derive(Debug, Clone)]
pub struct Draws {
    rng: SmallRng,
    tape: Option<Tape>,
}

impl Draws {
    /// A generator of `seed` alone, reading no tape.
    pub fn seeded(seed: u64) -> Self {
        Draws {
            rng: SmallRng::seed_from_u64(seed),
            tape: None,
        }
    }
}

impl RngCore for Draws {
    fn next_u32(&mut self) -> u32 {
        if self.tape.is_none() {
            return self.rng.next_u32();
        }
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        if self.tape.is_none() {
            return self.rng.next_u64();
        }
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, out: &mut [u8]) {
        let taken = match &self.tape {
            Some(tape) => {
                let n = tape.take(out);
                if n < out.len() {
                    // Spent: no need to look again.
                    self.tape = None;
                }
                n
            }
            None => 0,
        };
        self.rng.fill_bytes(&mut out[taken..]);
    }
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

    #[test]
    fn draws_read_the_tape_first_in_draw_order_then_their_seed() {
        let plain: Vec<u32> = {
            let mut r = rng(7, Stream::Delivery(0));
            (0..3).map(|_| r.next_u32()).collect()
        };
        let tape = Tape::new(vec![1, 0, 0, 0, 2, 0, 0, 0, 3, 0]);
        let (a, b) = with_tape(Some(tape.clone()), || {
            let (mut a, mut b) = (rng(7, Stream::Delivery(0)), rng(7, Stream::Delivery(1)));
            (
                [a.next_u32(), a.next_u32(), a.next_u32()],
                [b.next_u32(), b.next_u32()],
            )
        });
        assert_eq!(a[..2], [1, 2]);
        // The tape's last two bytes, then the seed's.
        assert_eq!(a[2] & 0xffff, 3);
        assert_ne!(a[2], 3);
        // The tape is spent: the other stream draws from its seed alone.
        let mut alone = rng(7, Stream::Delivery(1));
        assert_eq!(b, [alone.next_u32(), alone.next_u32()]);
        // Outside a run, no tape.
        assert_eq!(rng(7, Stream::Delivery(0)).next_u32(), plain[0]);
    }
}
