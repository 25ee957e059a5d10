//! `merge`: the results files of many sweeps (shards, machines, commits) as one summary:
//! counts, failures grouped by oracle, the slowest seeds, and determinism across them: the
//! same seed of the same scenario with two transcript hashes is a divergence; and the
//! coverage the seeds carry, added up as one sweep adds it.

use super::coverage::Coverage;
use super::result::SeedResult;
use clap::Args;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// How many of the slowest seeds a merge names.
const SLOWEST: usize = 5;

/// How many seeds of an oracle's failures a merge names.
const SEEDS_SHOWN: usize = 20;

/// A seed of one scenario with two transcript hashes in two results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// The first result seen, and where (`file:line`).
    pub first: (SeedResult, String),
    /// A result with another hash, and where.
    pub second: (SeedResult, String),
}

/// What many results files say together.
#[derive(Debug, Clone, Default)]
pub struct Merged {
    /// Files read.
    pub files: usize,
    /// Results read (one a line).
    pub results: usize,
    /// Distinct seeds of distinct scenarios among them.
    pub distinct: usize,
    /// Results that passed.
    pub passed: usize,
    /// Failing results, grouped by their oracle, each group in seed order.
    pub by_oracle: BTreeMap<String, Vec<SeedResult>>,
    /// The slowest results, slowest first.
    pub slowest: Vec<SeedResult>,
    /// Seeds of one scenario found more than once (two shards, two commits).
    pub rerun: usize,
    /// Seeds of one scenario with two transcript hashes.
    pub divergences: Vec<Disagreement>,
    /// What the distinct seeds exercised, added up as a sweep adds it (a seed found in two
    /// files counts once, as first found).
    pub coverage: Coverage,
    /// Distinct seeds whose line carries no coverage (a results file written before lines
    /// carried it, or a run that counted nothing).
    pub without_coverage: usize,
}

impl Merged {
    /// Failing results.
    pub fn failed(&self) -> usize {
        self.by_oracle.values().map(Vec::len).sum()
    }

    /// Nothing failed and nothing diverged.
    pub fn passed_all(&self) -> bool {
        self.failed() == 0 && self.divergences.is_empty()
    }

    /// `Err` naming everything some seed's options asked for that never happened in any
    /// seed (as [`Coverage::required`]), or saying that no result carries coverage.
    pub fn required(&self) -> Result<(), String> {
        if self.coverage.seeds == 0 {
            return Err(
                "coverage: none of these results carries coverage counts, so none can be required"
                    .into(),
            );
        }
        self.coverage.required()
    }
}

/// Reads every results file (one JSON [`SeedResult`] a line, as `--results` writes them) and
/// merges them. A file that cannot be read, or a line that is not a result, is an error
/// naming the file and the line.
pub fn merge(paths: &[PathBuf]) -> Result<Merged, String> {
    let mut merged = Merged {
        files: paths.len(),
        ..Merged::default()
    };
    // (seed, scenario) -> the first result seen and where.
    let mut seen: HashMap<(u64, u64), (SeedResult, String)> = HashMap::new();
    for path in paths {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = format!("{}:{}", shown(path), n + 1);
            let result: SeedResult = serde_json::from_str(line)
                .map_err(|e| format!("{at}: not a seed's result: {e}"))?;
            add(&mut merged, &mut seen, result, at);
        }
    }
    merged.distinct = seen.len();
    for group in merged.by_oracle.values_mut() {
        group.sort_by_key(|r| r.seed);
    }
    Ok(merged)
}

/// The arguments of the `merge` subcommand of every command line.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The results files.
    #[arg(required = true, value_name = "RESULTS")]
    pub files: Vec<PathBuf>,
    /// Fail (exit code 1) if a fault, role or situation some seed's options asked for never
    /// happened in any seed of the files, naming each, as `sweep --require-coverage` does;
    /// results that carry no coverage fail it too.
    #[arg(long)]
    pub require_coverage: bool,
}

/// `merge` of every command line: prints the merge of the files; exit code 1 if anything
/// failed or disagreed, or if coverage was required and something asked for never
/// happened.
pub fn print_merged(args: &MergeArgs) -> Result<std::process::ExitCode, String> {
    let merged = merge(&args.files)?;
    println!("{merged}");
    let covered = !args.require_coverage || {
        let required = merged.required();
        if let Err(e) = &required {
            println!("{e} (--require-coverage)");
        }
        required.is_ok()
    };
    Ok(if merged.passed_all() && covered {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

fn add(
    merged: &mut Merged,
    seen: &mut HashMap<(u64, u64), (SeedResult, String)>,
    mut result: SeedResult,
    at: String,
) {
    merged.results += 1;
    // Counted below if the seed is new; no copy of the result keeps it.
    let covered = std::mem::take(&mut result.seen);
    if result.passed() {
        merged.passed += 1;
    } else {
        let oracle = result.oracle.clone().unwrap_or_else(|| "unknown".into());
        merged
            .by_oracle
            .entry(oracle)
            .or_default()
            .push(result.clone());
    }
    if merged.slowest.len() < SLOWEST || result.wall_ms > merged.slowest[SLOWEST - 1].wall_ms {
        let at = merged
            .slowest
            .partition_point(|r| r.wall_ms >= result.wall_ms);
        merged.slowest.insert(at, result.clone());
        merged.slowest.truncate(SLOWEST);
    }
    match seen.get(&(result.seed, result.scenario)) {
        None => {
            merged.coverage.add(&covered);
            merged.without_coverage += usize::from(covered.is_empty());
            seen.insert((result.seed, result.scenario), (result, at));
        }
        Some((first, first_at)) => {
            merged.rerun += 1;
            if first.hash != result.hash {
                merged.divergences.push(Disagreement {
                    first: (first.clone(), first_at.clone()),
                    second: (result, at),
                });
            }
        }
    }
}

/// A path as typed, without a `./`.
fn shown(path: &Path) -> String {
    path.strip_prefix("./")
        .unwrap_or(path)
        .display()
        .to_string()
}

impl fmt::Display for Merged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "merged {} files: {} results of {} distinct seeds; {} passed, {} failed",
            self.files,
            self.results,
            self.distinct,
            self.passed,
            self.failed()
        )?;
        if !self.by_oracle.is_empty() {
            writeln!(f, "failures by oracle:")?;
            for (oracle, group) in &self.by_oracle {
                let seeds: Vec<u64> = group.iter().take(SEEDS_SHOWN).map(|r| r.seed).collect();
                let more = match group.len().saturating_sub(SEEDS_SHOWN) {
                    0 => String::new(),
                    n => format!(" and {n} more"),
                };
                writeln!(f, "  [{oracle}] {} seeds: {seeds:?}{more}", group.len())?;
                writeln!(f, "    first: {}", group[0].line())?;
            }
        }
        if !self.slowest.is_empty() {
            writeln!(f, "slowest seeds:")?;
            for r in &self.slowest {
                writeln!(
                    f,
                    "  seed {}: {} ms | replay: {}",
                    r.seed, r.wall_ms, r.replay
                )?;
            }
        }
        write!(
            f,
            "determinism across files: {} seeds ran more than once, {} gave another transcript",
            self.rerun,
            self.divergences.len()
        )?;
        for d in &self.divergences {
            let ((a, a_at), (b, b_at)) = (&d.first, &d.second);
            write!(
                f,
                "\n  seed {} [determinism] scenario {:016x}: hash {:016x} in {a_at}, hash {:016x} in {b_at} | replay: {}",
                a.seed, a.scenario, a.hash, b.hash, a.replay
            )?;
        }
        match (self.coverage.seeds, self.without_coverage) {
            (0, _) => write!(
                f,
                "\ncoverage: none (no result carries coverage counts: a results file written before they were recorded, or runs that counted nothing)"
            ),
            (_, 0) => write!(f, "\n{}", self.coverage.table()),
            (_, n) => write!(
                f,
                "\n{}\n  ({n} seeds carry no coverage counts and are not in the table)",
                self.coverage.table()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seed: u64, hash: u64, failure: Option<&str>, wall_ms: u64) -> String {
        let mut r = SeedResult::pass(seed, 7, hash, format!("replay {seed}"));
        if let Some(f) = failure {
            r = r.failing(f.into());
        }
        r.wall_ms = wall_ms;
        serde_json::to_string(&r).unwrap()
    }

    fn files(name: &str, contents: &[Vec<String>]) -> (PathBuf, Vec<PathBuf>) {
        let dir =
            std::env::temp_dir().join(format!("framesim-merge-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let paths = contents
            .iter()
            .enumerate()
            .map(|(i, lines)| {
                let path = dir.join(format!("shard-{i}.jsonl"));
                std::fs::write(&path, lines.join("\n") + "\n").unwrap();
                path
            })
            .collect();
        (dir, paths)
    }

    #[test]
    fn shards_merge_into_counts_failures_by_oracle_and_the_slowest_seeds() {
        let (dir, paths) = files(
            "counts",
            &[
                vec![
                    line(0, 10, None, 5),
                    line(2, 12, Some("[executed] twice"), 50),
                    line(4, 14, None, 7),
                ],
                vec![
                    line(1, 11, Some("[slowloris] kept"), 1),
                    line(3, 13, Some("[executed] again"), 90),
                ],
            ],
        );
        let mut m = merge(&paths).unwrap();
        assert_eq!((m.results, m.distinct, m.passed, m.failed()), (5, 5, 2, 3));
        let executed: Vec<u64> = m.by_oracle["executed"].iter().map(|r| r.seed).collect();
        assert_eq!(executed, [2, 3]);
        assert_eq!(m.by_oracle["slowloris"].len(), 1);
        let slowest: Vec<u64> = m.slowest.iter().map(|r| r.seed).collect();
        assert_eq!(slowest, [3, 2, 4, 0, 1]);
        assert!(m.divergences.is_empty() && !m.passed_all());
        let text = m.to_string();
        assert!(text.contains("[executed] 2 seeds: [2, 3]"), "{text}");
        assert!(text.contains("seed 3: 90 ms | replay: replay 3"), "{text}");
        m.by_oracle
            .get_mut("executed")
            .unwrap()
            .extend((10..40).map(|seed| {
                SeedResult::pass(seed, 7, 0, String::new()).failing("[executed] x".into())
            }));
        let text = m.to_string();
        assert!(text.contains("[executed] 32 seeds: [2, 3, 10, "), "{text}");
        assert!(text.contains(", 27] and 12 more\n"), "{text}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_seed_with_two_hashes_in_two_files_is_a_divergence_naming_both() {
        let (dir, paths) = files(
            "diverge",
            &[
                vec![line(5, 0xaa, None, 1), line(6, 0xbb, None, 1)],
                vec![line(5, 0xaa, None, 1), line(6, 0xcc, None, 1)],
            ],
        );
        let m = merge(&paths).unwrap();
        assert_eq!((m.rerun, m.divergences.len()), (2, 1));
        let d = &m.divergences[0];
        assert_eq!((d.first.0.hash, d.second.0.hash), (0xbb, 0xcc));
        assert!(d.first.1.ends_with("shard-0.jsonl:2"), "{}", d.first.1);
        assert!(d.second.1.ends_with("shard-1.jsonl:2"), "{}", d.second.1);
        let text = m.to_string();
        assert!(
            text.contains("hash 00000000000000bb in") && text.contains("hash 00000000000000cc in"),
            "{text}"
        );
        assert!(!m.passed_all());
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn covered(seed: u64, partial: u64, oversized: u64) -> String {
        use crate::sweep::Seen;
        let r = SeedResult::pass(seed, 7, seed, format!("replay {seed}")).seeing(vec![
            Seen::new("partial reads", partial, true),
            Seen::new("oversized refused", oversized, true),
            Seen::new("parks", 1, false),
        ]);
        serde_json::to_string(&r).unwrap()
    }

    #[test]
    fn coverage_adds_up_across_files_once_a_seed_and_names_what_never_happened() {
        let (dir, paths) = files(
            "coverage",
            &[
                vec![covered(0, 3, 0), covered(2, 0, 0)],
                vec![covered(1, 4, 0), covered(2, 0, 0)],
            ],
        );
        let m = merge(&paths).unwrap();
        let mut one = Coverage::default();
        for (seed, partial) in [(0, 3), (2, 0), (1, 4)] {
            let r: SeedResult = serde_json::from_str(&covered(seed, partial, 0)).unwrap();
            one.add(&r.seen);
        }
        assert_eq!(m.coverage, one, "seed 2, in both files, counts once");
        assert_eq!(m.coverage.seeds, 3);
        assert_eq!(m.coverage.count("partial reads"), Some(7));
        assert_eq!(m.coverage.count("parks"), Some(3));
        assert_eq!(m.without_coverage, 0);
        assert_eq!(
            m.required().unwrap_err(),
            "coverage: never happened in 3 seeds: oversized refused"
        );
        let text = m.to_string();
        assert!(text.ends_with(&one.table()), "{text}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn results_without_coverage_read_and_say_so() {
        let (dir, paths) = files(
            "old",
            &[vec![
                line(0, 1, None, 1),
                "{\"seed\":1,\"scenario\":\"0000000000000007\",\"hash\":\"0000000000000002\",\"verdict\":\"pass\",\"replay\":\"r\"}".into(),
            ]],
        );
        let m = merge(&paths).unwrap();
        assert_eq!((m.results, m.coverage.seeds, m.without_coverage), (2, 0, 2));
        assert!(m.passed_all());
        let text = m.to_string();
        assert!(text.ends_with("coverage: none (no result carries coverage counts: a results file written before they were recorded, or runs that counted nothing)"), "{text}");
        assert!(m
            .required()
            .unwrap_err()
            .contains("none of these results carries coverage"));
        let (dir2, paths2) = files("mixed", &[vec![line(0, 1, None, 1), covered(1, 1, 1)]]);
        let m = merge(&paths2).unwrap();
        assert_eq!(m.required(), Ok(()));
        assert!(m
            .to_string()
            .ends_with("\n  (1 seeds carry no coverage counts and are not in the table)"));
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::remove_dir_all(dir2).unwrap();
    }

    #[test]
    fn a_bad_line_or_a_missing_file_is_an_error_naming_it() {
        let (dir, paths) = files("bad", &[vec![line(0, 1, None, 1), "{\"seed\":".into()]]);
        let e = merge(&paths).unwrap_err();
        assert!(e.contains("shard-0.jsonl:2: not a seed's result"), "{e}");
        let e = merge(&[dir.join("none.jsonl")]).unwrap_err();
        assert!(e.contains("none.jsonl: cannot read it"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
