//! framesim's own world, which the `framesim` binary runs: its key-value server
//! ([`framesim_server`]) under a [`Scenario`] (a [`Preset`], or drawn by the [`swarm`]),
//! [`run`] on turmoil and judged by every [`Oracle`](crate::Oracle), summed up in a
//! [`Report`] with the command that replays it ([`command_for`]), its [`transcript`]
//! written as a file ([`write_transcript`]), [`shrink`]ed to the smallest scenario that
//! still fails, [`lift`]ed to a [`script`](crate::script) (with each connection's fault
//! [`plan`]) and [`explore`]d. [`against`] runs the same clients against a real server over
//! real TCP, and [`fuzz`] draws a scenario from a fuzzer's bytes. A [`setup::Setup`] is
//! what a command line picks (preset or file, target, size), and [`sweep`] is one seed of
//! its sweep on the engine of [`crate::sweep`](mod@crate::sweep).
//!
//! [`transcript`]: crate::transcript

pub mod against;
mod coverage;
pub mod explore;
pub mod fuzz;
mod lift;
pub mod plan;
pub mod setup;
pub mod shrink;
pub mod sweep;

pub use crate::net::FaultyStream;
pub use crate::output::{default_transcript_path, render_transcript, write_transcript};
pub use crate::report::{command_for, Report};
pub use crate::scenario::{
    shown, sim_limits, swarm, work_dir, Commands, Delivery, Faults, Preset, Role, Roles, Scenario,
    Target,
};
pub use crate::seeds::fresh as fresh_seed;
pub use crate::world::{check_determinism, run, Divergence, RunOptions};
pub use lift::{lift, lift_to_file};

use std::path::PathBuf;

/// `framesim replay`: runs `scenario` keeping its transcript, and writes it to `transcript`
/// (default [`default_transcript_path`]). Returns the report and the path written.
pub fn replay(
    scenario: &Scenario,
    transcript: Option<PathBuf>,
) -> Result<(Report, PathBuf), String> {
    let options = RunOptions {
        keep_transcript: true,
        ..RunOptions::default()
    };
    let report = run(scenario, options);
    let path = transcript.unwrap_or_else(|| default_transcript_path(scenario));
    write_transcript(&report, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((report, path))
}
