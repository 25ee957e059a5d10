//! Lifting a run of framesim's own world into a script: every client's steps and every
//! connection's polls, written down.

use crate::scenario::{Faults, Scenario};
use crate::world::{run, RunOptions};

/// `scenario` lifted into a script: run once, every client's steps and every connection's
/// polls (`plan`) written down. The script keeps the scenario's target, framing and limits,
/// and the seed turmoil's latencies draw from; nothing else in it draws.
pub fn lift(scenario: &Scenario) -> Scenario {
    let options = RunOptions {
        lift: true,
        ..RunOptions::default()
    };
    let report = run(scenario, options);
    let (scripts, connections) = (report.scripts, report.connections);
    Scenario {
        name: format!("{}-script", scenario.name.trim_end_matches("-script")),
        clients: scripts.iter().map(|s| s.id + 1).max().unwrap_or(0),
        only_clients: None,
        tape: None,
        scripts,
        connections,
        // The plans hold every fault the run had; only the window still applies.
        faults: Faults {
            window: scenario.faults.window,
            ..Faults::none()
        },
        ..scenario.clone()
    }
}
