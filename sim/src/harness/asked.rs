//! What the environment asks of a test's sweep beyond its seeds and options: a time budget
//! (`FRAMESIM_FOR`), a results file (`FRAMESIM_RESULTS`) and a failure database
//! (`FRAMESIM_FAILURES`), as `framesim sweep`'s `--for`, `--results` and `--failures` do.

use crate::sweep::{duration, Failures, ResultsFile, Seeds, Shard};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

/// What the environment asks of a test's sweep.
#[derive(Debug)]
pub(super) struct Asked {
    /// The seeds: the range, or with a budget and no range named, every seed from a root.
    pub(super) seeds: Seeds,
    /// `FRAMESIM_FOR`.
    pub(super) budget: Option<Duration>,
    /// `FRAMESIM_RESULTS`.
    pub(super) results: Option<ResultsFile>,
    /// `FRAMESIM_FAILURES`, under `what`.
    pub(super) failures: Option<Failures>,
}

impl Asked {
    /// Reads the environment through `var`: `range` (the seeds the environment or the test
    /// named) unless `FRAMESIM_FOR=TIME` is set without `FRAMESIM_SEED` or `FRAMESIM_SEEDS`:
    /// then every seed from `FRAMESIM_ROOT` (else a fresh one, printed) until the time is
    /// up. A value that does not parse, or a file that cannot be written, is an error naming
    /// the variable.
    pub(super) fn from(
        var: impl Fn(&str) -> Option<String>,
        range: Range<u64>,
        shard: Shard,
        what: &str,
    ) -> Result<Asked, String> {
        let budget = match var("FRAMESIM_FOR") {
            Some(text) => Some(duration(&text).map_err(|e| format!("FRAMESIM_FOR: {e}"))?),
            None => None,
        };
        let named = var("FRAMESIM_SEED").is_some() || var("FRAMESIM_SEEDS").is_some();
        let seeds = match (budget, named) {
            (Some(budget), false) => {
                let root = match var("FRAMESIM_ROOT") {
                    Some(text) => text
                        .trim()
                        .parse()
                        .map_err(|_| format!("FRAMESIM_ROOT={text:?} is not a seed"))?,
                    None => crate::seeds::fresh(),
                };
                eprintln!(
                    "framesim: sweeping for {budget:?} from root seed {root} (FRAMESIM_ROOT={root} runs the same seeds)"
                );
                Seeds::From { root, shard }
            }
            _ => Seeds::Range { range, shard },
        };
        let results = match var("FRAMESIM_RESULTS") {
            Some(path) => Some(
                ResultsFile::create(Path::new(&path))
                    .map_err(|e| format!("FRAMESIM_RESULTS: {e}"))?,
            ),
            None => None,
        };
        let failures = var("FRAMESIM_FAILURES").map(|dir| Failures::new(Path::new(&dir), what));
        Ok(Asked {
            seeds,
            budget,
            results,
            failures,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::env;

    #[test]
    fn a_budget_without_named_seeds_sweeps_from_a_root() {
        let asked = Asked::from(
            env(&[("FRAMESIM_FOR", "2m"), ("FRAMESIM_ROOT", "40")]),
            0..16,
            Shard::ALL,
            "t",
        )
        .unwrap();
        assert_eq!(asked.budget, Some(Duration::from_secs(120)));
        assert_eq!(
            asked.seeds,
            Seeds::From {
                root: 40,
                shard: Shard::ALL
            }
        );
        let named = Asked::from(
            env(&[("FRAMESIM_FOR", "2m"), ("FRAMESIM_SEEDS", "0..4")]),
            0..4,
            Shard::ALL,
            "t",
        )
        .unwrap();
        assert!(matches!(named.seeds, Seeds::Range { .. }));
        let plain = Asked::from(env(&[]), 0..16, Shard::ALL, "t").unwrap();
        assert!(plain.budget.is_none() && plain.results.is_none() && plain.failures.is_none());
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (vars, name) in [
            (&[("FRAMESIM_FOR", "soon")][..], "FRAMESIM_FOR"),
            (
                &[("FRAMESIM_FOR", "1m"), ("FRAMESIM_ROOT", "x")],
                "FRAMESIM_ROOT",
            ),
            (
                &[("FRAMESIM_RESULTS", "/proc/no/such/r.jsonl")],
                "FRAMESIM_RESULTS",
            ),
        ] {
            let e = Asked::from(env(vars), 0..16, Shard::ALL, "t").unwrap_err();
            assert!(e.starts_with(name), "{e}");
        }
    }
}
