//! Exhaustive split points for framesim's own world: a small script scenario under every
//! way its clients' bytes can be cut ([`crate::script::cuts`]), on the scenario's target.

use crate::report::Report;
use crate::scenario::{shown, work_dir, Faults, Scenario, Target};
use crate::script::cuts::{self, Tried};
use crate::transcript::logical_view;
use crate::world::{run, RunOptions};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

/// `script` with its clients' steps replaced by `scripts`, the stream adapter's faults and
/// plans off: each write is one server read.
fn with_scripts(script: &Scenario, scripts: &[crate::script::ClientScript]) -> Scenario {
    let mut v = script.clone();
    v.faults = Faults::none();
    v.connections.clear();
    v.tape = None;
    v.scripts = scripts.to_vec();
    v
}

/// `script` with every burst of writes written whole and the stream adapter's faults off.
pub fn whole(script: &Scenario) -> Scenario {
    with_scripts(script, &cuts::whole(&script.scripts))
}

/// Runs `script` under every cut of up to `max_cuts` (0, 1 or 2) per client's bytes.
pub fn explore(script: &Scenario, max_cuts: usize) -> Result<cuts::Exploration<Report>, String> {
    if script.scripts.is_empty() {
        return Err(format!(
            "'{}' has no scripted clients: lift a run into a script first (framesim lift)",
            script.name
        ));
    }
    let hasher = BuildHasherDefault::<DefaultHasher>::default();
    let run_one = |scripts: &[crate::script::ClientScript]| {
        let options = RunOptions {
            keep_transcript: true,
            ..RunOptions::default()
        };
        let report = run(&with_scripts(script, scripts), options);
        Tried {
            transcript: report.transcript.hash(),
            view: hasher.hash_one(logical_view(&report.transcript.records())),
            failed: (!report.passed()).then(|| report.first_failure()),
            run: report,
        }
    };
    let save = |scripts: &[crate::script::ClientScript], runs: usize| {
        let v = with_scripts(script, scripts);
        let path = work_dir().join(format!("{}-explored-{runs}.toml", v.file_stem()));
        // A failure that cannot be written is still reported; the path says where not.
        let _ = v.save(&path);
        let replay = format!(
            "cargo run --release -p framesim -- replay --script {}",
            shown(&path)
        );
        (path, replay)
    };
    Ok(cuts::explore(&script.scripts, max_cuts, run_one, save))
}

/// `framesim explore`: the script at `path` (on `target` if given, else its own) [`explore`]d
/// under up to `cuts` cuts per client's bytes, and what that found printed. Returns whether
/// it passed: no run failed and every run gave one logical view.
pub fn explore_file(
    path: &std::path::Path,
    target: Option<Target>,
    cuts: usize,
) -> Result<bool, String> {
    let mut script = Scenario::load(path)?;
    if let Some(target) = target {
        script.target = target;
    }
    let found = explore(&script, cuts)?;
    println!("{found}");
    Ok(found.failure.is_none() && found.logical_views <= 1)
}
