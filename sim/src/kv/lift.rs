//! Lifting a run of framesim's own world into a script: every client's steps and every
//! connection's polls, written down.

use crate::report::CLI;
use crate::scenario::{shown, work_dir, Faults, Scenario};
use crate::world::{run, RunOptions};
use std::path::PathBuf;

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

/// `framesim lift`: `scenario` [`lift`]ed and saved to `out` (default
/// `target/framesim/<stem>.toml`), with a line saying how many clients and steps it holds
/// and the command that replays it.
pub fn lift_to_file(scenario: &Scenario, out: Option<PathBuf>) -> Result<(), String> {
    let script = lift(scenario);
    let path = out.unwrap_or_else(|| work_dir().join(format!("{}.toml", script.file_stem())));
    script
        .save(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let steps: usize = script.scripts.iter().map(|c| c.steps.len()).sum();
    println!(
        "lifted {} clients, {steps} steps: {}",
        script.scripts.len(),
        shown(&path)
    );
    println!("replay: {CLI} replay --script {}", shown(&path));
    Ok(())
}
