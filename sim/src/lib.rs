//! framesim: the unchanged framesim server under turmoil's simulated network.
//!
//! A [`Scenario`] (plain data) becomes a turmoil simulation: a server host running
//! [`framesim_server::serve`] behind a stream adapter that cuts reads and writes short, and
//! client hosts running thousands of virtual clients that write requests in seeded chunks.
//! Every event goes into one [`Transcript`]; oracles check every answer; the [`Report`]
//! says pass, or the first violation with the seed and the command that replays it.
//!
//! Modules, from the top: `world` (a scenario as turmoil hosts) runs `client`s and a
//! `target` behind `net`, both ends sharing each connection's `window`; clients use `model`
//! to predict replies, `boundary` to find where each limit falls and `oracle` to judge them;
//! everything lands in `transcript`, summed up by `report` and written by `output`.
//! `scenario` is plain data, drawn by `seeds`' streams; `shrink` makes a failing one small.
//! `panics` keeps a run's panics for its report. [`harness`] runs a server of your own
//! under the same simulation, with your protocol's workload.

pub mod against;
mod boundary;
mod client;
mod clock;
mod ddmin;
pub mod explore;
pub mod fuzz;
pub mod harness;
mod model;
mod naive;
mod net;
mod oracle;
mod output;
mod panics;
pub mod plan;
mod report;
mod scenario;
pub mod script;
mod seeds;
pub mod shard;
pub mod shrink;
mod stage;
mod target;
mod transcript;
mod watchdog;
mod window;
mod world;

pub use net::FaultyStream;
pub use oracle::{Oracle, Violation};
pub use output::{default_transcript_path, render_transcript, write_transcript};
pub use report::{command_for, Report};
pub use scenario::{
    shown, sim_limits, swarm, work_dir, Commands, Delivery, Faults, Preset, Role, Roles, Scenario,
    Target,
};
pub use seeds::fresh as fresh_seed;
pub use transcript::{logical_view, Actor, Counts, Event, Expected, Record, Transcript};
pub use world::{check_determinism, run, Divergence, RunOptions};
