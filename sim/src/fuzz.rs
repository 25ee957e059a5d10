//! Coverage-guided simulation: the fuzzer's bytes are the simulation's choices.
//!
//! [`scenario_from_bytes`] reads every option a run has (framing, clients, requests,
//! delivery, faults, roles, limits, latency, restart, seed) from the input, one after the
//! other, within the ranges the `adversarial` preset draws from, so any input is a valid run
//! and a crash input is a scenario: `framesim replay-fuzz --input FILE` replays it with its
//! whole transcript.

use crate::report::Report;
use crate::scenario::{Delivery, Faults, Roles, Scenario, Target};
use crate::world::{run, RunOptions};
use arbitrary::Unstructured;
use framesim_server::protocol::Framing;
use framesim_server::Limits;
use std::time::Duration;

/// The scenario `data` stands for. Total: every input gives a valid scenario (bytes that
/// run out read as zeros, the smallest choices).
pub fn scenario_from_bytes(data: &[u8]) -> Scenario {
    let mut u = Unstructured::new(data);
    draw(&mut u).expect("drawing from bytes never fails: missing bytes read as zeros")
}

/// A probability in `0..=max` in steps of 1/255.
fn chance(u: &mut Unstructured<'_>, max: f64) -> arbitrary::Result<f64> {
    Ok(f64::from(u.arbitrary::<u8>()?) / 255.0 * max)
}

fn draw(u: &mut Unstructured<'_>) -> arbitrary::Result<Scenario> {
    let clients = u.int_in_range(1..=8)?;
    let client_hosts = u.int_in_range(1..=3)?;
    let requests = u.int_in_range(1..=12)?;
    // The virtual clients' hostile requests are written for these three framings.
    let framing = match u.int_in_range(0..=2)? {
        0 => Framing::Resp,
        1 => Framing::line(),
        _ => Framing::length(),
    };
    let delivery = Delivery {
        max_chunk: u.int_in_range(1..=64)?,
        byte_at_a_time: chance(u, 1.0)?,
        max_gap: Duration::from_micros(u.int_in_range(0..=5_000)?),
        pipeline: u.int_in_range(1..=8)?,
        cut_at_boundaries: chance(u, 1.0)?,
    };
    let faults = Faults {
        partial_read_chance: chance(u, 0.9)?,
        short_write_chance: chance(u, 0.6)?,
        spurious_pending_chance: chance(u, 0.3)?,
    };
    let mut share = || -> arbitrary::Result<f64> { Ok(if u.ratio(1, 4)? { 0.1 } else { 0.0 }) };
    let mut roles = Roles {
        slowloris: share()?,
        idle: share()?,
        disconnect: share()?,
        half_close: share()?,
        oversized: share()?,
        malformed: share()?,
        ..Roles::default()
    };
    // Limits stay wide enough for the model's requests (under 300 bytes) and short enough
    // for a slowloris client to be cut off long before its frame could complete.
    let max_line = *u.choose(&[512, 1024, 4096])?;
    let max_frame = *u.choose(&[512, 4096, 8192])?;
    let limits = Limits {
        max_line,
        max_frame,
        max_buffered: max_line + max_frame + *u.choose(&[0, 8, 4096])?,
        frame_deadline: Duration::from_millis(*u.choose(&[100, 250, 500, 1000])?),
        idle_timeout: Duration::from_secs(*u.choose(&[1, 2, 5])?),
    };
    roles.slowloris_every = Duration::from_millis(*u.choose(&[10, 25, 50])?);
    let min_latency = Duration::from_micros(u.int_in_range(0..=500)?);
    let latency = (
        min_latency,
        min_latency + Duration::from_micros(u.int_in_range(0..=2_000)?),
    );
    let restart_at = if u.ratio(1, 8)? {
        Some(Duration::from_millis(u.int_in_range(1..=200)?))
    } else {
        None
    };
    let seed = u.arbitrary()?;
    Ok(Scenario {
        name: "fuzz".into(),
        seed,
        clients,
        requests,
        client_hosts,
        framing,
        delivery,
        faults,
        roles,
        limits,
        latency,
        restart_at,
        ramp: Duration::ZERO,
        latency_bound: Duration::from_millis(250),
        target: Target::Framesim,
    })
}

/// Runs the scenario `data` stands for; panics with the failure report (first violation,
/// the events before it, and how to replay) if any oracle objects.
pub fn simulation(data: &[u8]) {
    let scenario = scenario_from_bytes(data);
    let report = run(&scenario, RunOptions::default());
    if !report.passed() {
        fail(&scenario);
    }
}

/// Re-runs a failed scenario keeping its transcript, for a report with the events.
fn fail(scenario: &Scenario) -> ! {
    let report: Report = run(
        scenario,
        RunOptions {
            keep_transcript: true,
        },
    );
    panic!(
        "{}\nreplay this input: cargo run --release -p framesim -- replay-fuzz --input <crash file>",
        report.failure()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bytes_make_a_valid_scenario() {
        let empty = scenario_from_bytes(&[]);
        assert_eq!((empty.clients, empty.requests), (1, 1));
        assert_eq!(empty.framing, Framing::Resp);
        let full = scenario_from_bytes(&[0xff; 64]);
        assert_eq!(full.clients, 8);
        assert!(full.faults.partial_read_chance <= 0.9);
        assert_eq!(scenario_from_bytes(b"seed"), scenario_from_bytes(b"seed"));
    }
}
