//! What every client and the server of a run share: its configuration, its events, the
//! violations noted and the [`Findings`].

use crate::config::Config;
use framesim::transcript::{Actor, Event, Transcript};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What the run shows about the server beyond pass or fail.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Responses checked against the model.
    pub responses: u64,
    /// Of those, on pipelined connections.
    pub pipelined: u64,
    /// Clients that left mid-request.
    pub disconnects: u64,
    /// Per slowloris: virtual ms from its connect to the server's close.
    pub slowloris_cut_ms: Vec<u64>,
    /// What slowloris clients were told before the close, counted.
    pub slowloris_replies: BTreeMap<String, u64>,
    /// Per slow body: virtual ms from its head to its response.
    pub slow_body_ms: Vec<u64>,
    /// Per lingerer: virtual ms from its response to the server's close.
    pub idle_cut_ms: Vec<u64>,
    /// Lingerers still open after three header timeouts.
    pub idle_kept: u64,
    /// What oversized heads got, counted.
    pub oversized: BTreeMap<String, u64>,
    /// What requests whose body the handler left unread got, counted.
    pub unread_bodies: BTreeMap<String, u64>,
    /// What clients that waited before their first byte got, counted.
    pub latecomers: BTreeMap<String, u64>,
    /// Heads of half to nearly all of the buffer limit that were served.
    pub large_heads: u64,
    /// How hyper's connections ended (`serve_connection`'s result), counted.
    pub server_ends: BTreeMap<String, u64>,
    /// Requests the handler saw.
    pub handled: u64,
}

/// What every client and the server share.
#[derive(Clone)]
pub struct Shared {
    /// The run's configuration.
    pub config: Arc<Config>,
    /// The run's events.
    pub transcript: Transcript,
    /// The violations noted, in the order they happened.
    pub(crate) violations: Arc<Mutex<Vec<String>>>,
    /// What the run shows so far.
    pub(crate) findings: Arc<Mutex<Findings>>,
}

impl Shared {
    /// Notes a violation.
    pub fn violation(&self, what: String) {
        self.transcript.record(
            Actor::Sim,
            Event::Note {
                text: format!("violation: {what}"),
            },
        );
        self.violations.lock().expect("violations").push(what);
    }

    /// Updates the findings.
    pub fn findings(&self, f: impl FnOnce(&mut Findings)) {
        f(&mut self.findings.lock().expect("findings"));
    }

    /// Client `id`'s own random stream.
    pub fn rng_for(&self, id: usize) -> SmallRng {
        SmallRng::seed_from_u64(derive(self.config.seed, id as u64))
    }
}

/// A seed for stream `n` of the run seeded `seed` (splitmix64).
pub(crate) fn derive(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
