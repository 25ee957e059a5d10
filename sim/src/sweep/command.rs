//! The `sweep` subcommand of every command line, `framesim sweep` and a harness binary's
//! alike: its flags, and a sweep run from them: the failure database's seeds first, the
//! sweep (lines as [`Console`] prints them), its summary, then the files it was asked for.

use super::budget::duration;
use super::console::Console;
use super::engine::{Ended, Plan, Swept};
use super::failures::Failures;
use super::junit::junit;
use super::recheck::{recheck, Recheck};
use super::result::SeedResult;
use super::results::ResultsFile;
use super::seeds::Seeds;
use super::shard::{seed_range, shard, shard_from, Found, Shard};
use clap::Args;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The seeds a sweep runs without `--seeds` or `--for`.
pub const SWEEP_SEEDS: Range<u64> = 0..1000;

/// The flags of a `sweep` subcommand.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Seeds as A..B (B excluded) [default: 0..1000; with --for, every seed from --root on].
    #[arg(long, value_parser = seed_range)]
    pub seeds: Option<Range<u64>>,
    /// Worker threads [default: FRAMESIM_JOBS, else one per core].
    #[arg(long, value_parser = at_least_one)]
    pub jobs: Option<usize>,
    /// Only seeds s with s % N == I, given as I/N [default: FRAMESIM_SHARD, else the shard
    /// a CI engine's variables name (Kubernetes JOB_COMPLETION_INDEX with FRAMESIM_SHARDS,
    /// GitLab CI_NODE_INDEX/CI_NODE_TOTAL, Buildkite BUILDKITE_PARALLEL_JOB/_COUNT, CircleCI
    /// CIRCLE_NODE_INDEX/_TOTAL), else all].
    #[arg(long, value_parser = shard, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Run seeds a second time and compare transcript hashes: every seed (`all`), every Nth
    /// seed of the sweep (`N`), or none (`off`). A mismatch fails the sweep and names the
    /// first diverging event.
    #[arg(long, value_name = "all|N|off", default_value = "16", value_parser = recheck)]
    pub check_determinism: Recheck,
    /// Print one JSON line per seed on stdout, in seed order:
    /// {"seed":N,"hash":"<16 hex digits>","passed":true}. Everything else goes to stderr, so
    /// the output of two sweeps compares with diff.
    #[arg(long)]
    pub hashes: bool,
    /// Start no seed once this much time has gone (90s, 20m, 2h, 1h30m). Without --seeds it
    /// runs seeds from a root seed, printed, so that the seeds it ran run again.
    #[arg(long = "for", value_name = "TIME", value_parser = duration)]
    pub budget: Option<Duration>,
    /// The first seed of a --for sweep without --seeds [default: a fresh one, printed].
    #[arg(
        long,
        value_name = "SEED",
        requires = "budget",
        conflicts_with = "seeds"
    )]
    pub root: Option<u64>,
    /// Stop after this many failing seeds: the lowest ones, whatever the threads' timing.
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub max_failures: Option<usize>,
    /// Write one JSON line per seed to FILE, in seed order: seed, scenario hash, transcript
    /// hash, verdict, oracle, failure, replay command, wall time, coverage counts
    /// (`framesim merge` reads them).
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Write the sweep as JUnit XML to FILE: a test case per failing seed, one for the rest.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// A failure database: run the seeds that failed in earlier sweeps of the same thing
    /// first and say which still fail (forgetting those that pass), then keep this sweep's
    /// failing seeds there (e.g. target/framesim/failures, or a folder the project commits).
    #[arg(long, value_name = "DIR")]
    pub failures: Option<PathBuf>,
    /// Fail the sweep if a fault, role or situation its options ask for (a role with
    /// clients, a fault with a chance above 0) never happened in any seed, naming each.
    #[arg(long)]
    pub require_coverage: bool,
}

/// A count of at least one.
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "expected a whole number of at least 1, not '{text}'"
        )),
    }
}

/// How many seeds run at once when no `--jobs` says: `FRAMESIM_JOBS=N`, else one per core.
pub fn default_jobs() -> usize {
    std::env::var("FRAMESIM_JOBS")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// What a command line adds to a sweep of its own: what its runs are called, what else it
/// prints for a failing seed, and where it stops by default.
pub struct Sweeping<'a> {
    /// What the runs are called in the summary: a preset, a file, a program.
    pub label: String,
    /// What the sweep runs, as the failure database names it: the same for every sweep of
    /// the same server, scenario and options.
    pub what: String,
    /// Lines printed under a failing seed's, as it is found (a shrink's result, say).
    pub also: &'a (dyn Fn(&SeedResult) -> Option<String> + Sync),
    /// The number of failures it stops at without a flag saying (`None`: none).
    pub max_failures: Option<usize>,
}

impl SweepArgs {
    /// The shard: `--shard`, else the environment's ([`shard_from`]), else all; where it
    /// came from, if not all.
    pub fn shard(&self) -> Result<Option<Found>, String> {
        match self.shard {
            Some(shard) => Ok(Some(Found {
                shard,
                from: "--shard".into(),
            })),
            None => shard_from(|name| std::env::var(name).ok()),
        }
    }

    /// The plan these flags give, on `shard`, stopping at `max_failures` unless
    /// `--max-failures` says.
    pub fn plan(&self, shard: Shard, max_failures: Option<usize>) -> Plan {
        let seeds = match (&self.seeds, self.budget) {
            (None, Some(_)) => Seeds::From {
                root: self.root.unwrap_or_else(crate::seeds::fresh),
                shard,
            },
            (range, _) => Seeds::Range {
                range: range.clone().unwrap_or(SWEEP_SEEDS),
                shard,
            },
        };
        Plan {
            recheck: self.check_determinism,
            max_failures: self.max_failures.or(max_failures),
            budget: self.budget,
            ..Plan::new(seeds, self.jobs.unwrap_or_else(default_jobs))
        }
    }

    /// Runs the sweep these flags ask for, each seed with `one`, printing as it goes: first
    /// the failure database's seeds, then the sweep, its summary, then the files asked
    /// for. What it found, the database's seeds that still fail among the failures; its
    /// exit code is [`exit_code`]. A flag's file that cannot be written, or a shard the
    /// environment names badly, is an error.
    pub fn run<F>(&self, sweeping: &Sweeping<'_>, one: F) -> Result<Swept, String>
    where
        F: Fn(u64, bool) -> SeedResult + Sync,
    {
        let found = self.shard()?;
        let shard = found.as_ref().map_or(Shard::ALL, |f| f.shard);
        let from = match found {
            Some(found) if found.from != "--shard" => format!(" from {}", found.from),
            _ => String::new(),
        };
        let plan = self.plan(shard, sweeping.max_failures);
        let results = match &self.results {
            Some(path) => Some(ResultsFile::create(path)?),
            None => None,
        };
        let mut console = Console {
            bar: indicatif::ProgressBar::hidden(),
            hashes: self.hashes,
            also: sweeping.also,
            results,
        };
        let failures = self
            .failures
            .as_ref()
            .map(|dir| Failures::new(dir, &sweeping.what));
        let still = match &failures {
            Some(db) => known_first(db, &plan, &one, &console)?,
            None => Vec::new(),
        };
        if let Seeds::From { root, .. } = plan.seeds {
            console.say(&format!(
                "sweeping for {} from root seed {root} (--root {root} runs the same seeds)",
                shown(self.budget.unwrap_or_default())
            ));
        }
        let plan = Plan {
            stop: Some(interrupt()),
            ..plan
        };
        console.bar = Console::bar(plan.seeds.len(), self.hashes);
        let mut swept = plan.run(&one, &console);
        console.bar.finish_and_clear();
        console.say(&format!(
            "swept {} seeds of '{}' (shard {shard}{from}, {} jobs) in {:.2}s: {:.0} seeds/s, {} failed; \
             determinism ({}) rechecked {} seeds, {} diverged{}",
            swept.seeds,
            sweeping.label,
            plan.jobs,
            swept.wall.as_secs_f64(),
            swept.per_second(),
            swept.failures.len(),
            match plan.recheck {
                Recheck::Off => "failing seeds only".to_string(),
                every => every.to_string(),
            },
            swept.rechecked,
            swept.diverged,
            match swept.ended {
                Ended::AllRan => String::new(),
                Ended::Failures => match swept.failures.len() {
                    1 => "; stopped at the first failure".to_string(),
                    n => format!("; stopped at {n} failures"),
                },
                Ended::Budget => "; out of time".to_string(),
                Ended::Stopped => "; interrupted".to_string(),
            }
        ));
        if let (
            Seeds::From { root, .. }
            | Seeds::Range {
                range: Range { start: root, .. },
                ..
            },
            Some(last),
            Some(_),
        ) = (&plan.seeds, swept.last, self.budget)
        {
            console.say(&format!(
                "ran seeds {root}..{} of shard {shard}: --seeds {root}..{} runs them again",
                last + 1,
                last + 1
            ));
        }
        if !swept.coverage.items.is_empty() {
            console.say(&swept.coverage.table());
        }
        if self.require_coverage {
            swept.uncovered = swept.coverage.dead();
            if let Err(e) = swept.coverage.required() {
                console.say(&format!("{e} (--require-coverage)"));
            }
        }
        if let Some(results) = &console.results {
            results.finish().map_err(|e| format!("--results {e}"))?;
        }
        if let Some(path) = &self.junit {
            std::fs::write(path, junit(&sweeping.label, &swept))
                .map_err(|e| format!("--junit {}: cannot write it: {e}", path.display()))?;
        }
        if let Some(db) = &failures {
            for failure in &swept.failures {
                db.keep(failure)?;
            }
        }
        let failed: Vec<u64> = swept.failures.iter().map(|f| f.seed).collect();
        let known: Vec<SeedResult> = still
            .into_iter()
            .filter(|k| !failed.contains(&k.seed))
            .collect();
        let also = match known.iter().map(|k| k.seed).collect::<Vec<u64>>() {
            seeds if seeds.is_empty() => String::new(),
            seeds => format!("; still failing from the failure database: {seeds:?}"),
        };
        if !failed.is_empty() || !also.is_empty() {
            console.say(&format!("failing seeds: {failed:?}{also}"));
        }
        swept.failures.extend(known);
        swept.failures.sort_by_key(|f| f.seed);
        Ok(swept)
    }
}

/// Runs the seeds the failure database `db` kept, before the sweep of `plan`: says which
/// still fail, and forgets those that pass. Those that still fail.
fn known_first<F>(
    db: &Failures,
    plan: &Plan,
    one: &F,
    console: &Console<'_>,
) -> Result<Vec<SeedResult>, String>
where
    F: Fn(u64, bool) -> SeedResult + Sync,
{
    let known = db.seeds()?;
    if known.is_empty() {
        return Ok(Vec::new());
    }
    console.say(&format!(
        "failure database {}: running its {} seeds first",
        db.dir().display(),
        known.len()
    ));
    let replay = Plan {
        recheck: Recheck::Off,
        ..Plan::new(Seeds::List(known.clone()), plan.jobs)
    };
    let again = replay.run(one, &());
    for seed in known {
        match again.failures.iter().find(|f| f.seed == seed) {
            Some(f) => console.say(&format!("  seed {seed} still fails: {}", f.line())),
            None => {
                db.forget(seed)?;
                console.say(&format!("  seed {seed} passes now: forgotten"));
            }
        }
    }
    Ok(again.failures)
}

/// A flag Ctrl-C sets: the sweep starts no more seeds, finishes those running and prints
/// its summary, losing no finished seed's result. A second Ctrl-C ends the process at once
/// (exit code 130). Set once per process; every sweep of it shares the flag.
fn interrupt() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let set = flag.clone();
        // The handler is in place before the sweep starts: a Ctrl-C at any time after
        // this returns is the sweep's.
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return flag;
        };
        let Ok(mut interrupts) = ({
            let _inside = runtime.enter();
            Interrupts::new()
        }) else {
            return flag;
        };
        std::thread::spawn(move || {
            runtime.block_on(async {
                if interrupts.next().await {
                    set.store(true, Ordering::Relaxed);
                    eprintln!("framesim: interrupted: finishing the seeds running (Ctrl-C again to stop at once)");
                    if interrupts.next().await {
                        std::process::exit(130);
                    }
                }
            })
        });
        flag
    })
    .clone()
}

/// Ctrl-C, as the operating system says it.
#[cfg(unix)]
struct Interrupts(tokio::signal::unix::Signal);

#[cfg(unix)]
impl Interrupts {
    /// Takes SIGINT from now on (inside a runtime).
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::interrupt()).map(Interrupts)
    }

    /// The next one came.
    async fn next(&mut self) -> bool {
        self.0.recv().await.is_some()
    }
}

/// Ctrl-C, as the operating system says it.
#[cfg(not(unix))]
struct Interrupts;

#[cfg(not(unix))]
impl Interrupts {
    /// Takes Ctrl-C (from the first wait on).
    fn new() -> std::io::Result<Self> {
        Ok(Interrupts)
    }

    /// The next one came.
    async fn next(&mut self) -> bool {
        tokio::signal::ctrl_c().await.is_ok()
    }
}

/// A budget as it was written: `20m`, `1h30m`, `90s`.
fn shown(budget: Duration) -> String {
    let secs = budget.as_secs();
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        _ if budget.subsec_millis() != 0 => format!("{budget:?}"),
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

/// 0 when every seed passed and the sweep exercised what it was required to, else 1.
pub fn exit_code(swept: &Swept) -> std::process::ExitCode {
    if swept.failures.is_empty() && swept.uncovered.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_or_say_why() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").unwrap_err().contains("'0'"));
    }

    #[test]
    fn budgets_are_shown_as_written() {
        for text in ["20m", "1h", "90s", "1h30m0s"] {
            let d = duration(text).unwrap();
            assert_eq!(duration(&shown(d)), Ok(d), "{text}");
        }
        assert_eq!(shown(Duration::from_secs(1200)), "20m");
    }
}
