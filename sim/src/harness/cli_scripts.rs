//! The script subcommands of a harness's command line ([`cli`](super::cli)): `lift`,
//! `replay --script` and `explore`.

use super::run::Harness;
use super::script::Script;
use crate::scenario::shown;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `lift --seed N`: the failure shrunk (if `shrink`), then lifted and written to `path`.
pub(super) fn lift(
    harness: &Harness,
    me: &str,
    seed: u64,
    path: PathBuf,
    shrink: bool,
) -> ExitCode {
    let shrunk = if shrink { harness.shrink(seed) } else { None };
    let lifted = match shrunk {
        Some(shrunk) => {
            println!("{}", shrunk.summary());
            harness.clone().with(shrunk.options).lift(shrunk.seed)
        }
        None => harness.lift(seed),
    };
    let script = match lifted {
        Ok(script) => script,
        Err(e) => {
            eprintln!("seed {seed}: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = script.save(&path) {
        eprintln!("could not write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    let steps: usize = script.clients.iter().map(|c| c.steps.len()).sum();
    let (clients, path) = (script.clients.len(), shown(&path));
    println!(
        "lifted {clients} client(s), {steps} steps: {path}\nreplay: {me} replay --script {path}\nexplore: {me} explore {path}"
    );
    ExitCode::SUCCESS
}

/// `replay --script FILE`.
pub(super) fn replay(harness: &Harness, me: &str, path: &Path) -> ExitCode {
    let outcome = match Script::load(path).and_then(|s| harness.replay_script(&s)) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if outcome.passed() {
        println!("{}", outcome.summary());
        ExitCode::SUCCESS
    } else {
        let again = format!("{me} replay --script {}", shown(path));
        println!("{}", outcome.failure(&again));
        ExitCode::FAILURE
    }
}

/// `explore FILE --cuts N`.
pub(super) fn explore(harness: &Harness, me: &str, path: &Path, cuts: usize) -> ExitCode {
    let mut found = match Script::load(path).and_then(|s| harness.explore(&s, cuts)) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(failed) = &mut found.failure {
        failed.replay = format!("{me} replay --script {}", shown(&failed.path));
    }
    println!("{found}");
    if found.failure.is_some() || found.logical_views > 1 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
