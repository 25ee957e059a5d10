//! framesim: the unchanged framesim server under turmoil's simulated network.
//!
//! A [`Scenario`] (plain data) becomes a turmoil simulation: a server host running
//! [`framesim_server::serve`] behind a stream adapter that cuts reads and writes short, and
//! client hosts running thousands of virtual clients that write requests in seeded chunks.
//! Every event goes into one [`Transcript`]; oracles check every answer; the [`Report`]
//! says pass, or the first violation with the seed and the command that replays it.

mod client;
mod files;
pub mod fuzz;
mod model;
pub mod naive;
mod oracle;
mod report;
mod run;
mod scenario;
mod stream;
mod transcript;

pub use files::{default_transcript_path, render_transcript, seed_from_env, write_transcript};
pub use naive::Target;
pub use oracle::Violation;
pub use report::Report;
pub use run::{check_determinism, run, Divergence, RunOptions};
pub use scenario::{sim_limits, Delivery, Faults, Roles, Scenario, PRESETS};
pub use transcript::{logical_view, Actor, Event, Expected, Record, Transcript};

/// Mixes a seed with a stream id into a new, well-spread seed (SplitMix64's finaliser), so
/// every client, connection and fault has its own independent generator.
pub fn mix(seed: u64, id: u64) -> u64 {
    let mut z = seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
