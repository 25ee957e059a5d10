//! Coverage-guided simulation: the fuzzer's bytes are the simulation's choices.
//!
//! [`scenario_from_bytes`] reads every option of a run, the seed among them, from the input
//! through the same swarm the `adversarial` preset draws from ([`draw`]), so any input is a
//! valid run and a crash input is a scenario: `framesim replay-fuzz --input FILE` replays it
//! with its whole transcript.

use crate::report::Report;
use crate::scenario::swarm::draw;
use crate::scenario::Scenario;
use crate::world::{run, RunOptions};
use arbitrary::Unstructured;

/// The scenario `data` stands for: its first bytes choose the options (and the seed), the
/// rest becomes the run's tape, which every draw inside the run (chunk sizes, gaps, faults,
/// arrival times, requests) reads before falling back to the seed. Total: every input gives
/// a valid scenario (bytes that run out read as zeros, the smallest choices).
pub fn scenario_from_bytes(data: &[u8]) -> Scenario {
    let mut u = Unstructured::new(data);
    let mut s = Scenario::base("fuzz", 0);
    draw(&mut u, &mut s);
    let rest = u.take_rest();
    s.tape = (!rest.is_empty()).then(|| rest.to_vec());
    s
}

/// The scenario the fuzz input at `path` stands for ([`scenario_from_bytes`]).
pub fn scenario_from_file(path: &std::path::Path) -> Result<Scenario, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(scenario_from_bytes(&data))
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
            ..RunOptions::default()
        },
    );
    panic!(
        "{}\nreplay this input: cargo run --release -p framesim -- replay --fuzz-input <crash file>\nshrink it: cargo run --release -p framesim -- shrink --fuzz-input <crash file>",
        report.failure()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use framesim_server::protocol::Framing;

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
