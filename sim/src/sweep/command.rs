//! The `sweep` subcommand of every command line, `framesim sweep` and a harness binary's
//! alike: its flags, one line per failing seed as it is found (above a progress bar in a
//! terminal, none otherwise, for CI logs), `--hashes` lines in seed order, and a summary.

use super::engine::{Ended, Plan, Swept, Watch};
use super::recheck::{recheck, Recheck};
use super::result::SeedResult;
use super::seeds::Seeds;
use super::shard::{seed_range, shard, shard_from, Found, Shard};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write as _};
use std::ops::Range;

/// The flags of a `sweep` subcommand.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Seeds as A..B (B excluded).
    #[arg(long, default_value = "0..1000", value_parser = seed_range)]
    pub seeds: Range<u64>,
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

    /// The plan these flags give, on `shard`.
    pub fn plan(&self, shard: Shard, max_failures: Option<usize>) -> Plan {
        Plan {
            recheck: self.check_determinism,
            max_failures,
            ..Plan::new(
                Seeds::Range {
                    range: self.seeds.clone(),
                    shard,
                },
                self.jobs.unwrap_or_else(default_jobs),
            )
        }
    }

    /// Runs the sweep these flags ask for, each seed with `one`, printing as it goes; what
    /// it found. Its exit code is [`exit_code`].
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
        let bar = if std::io::stdout().is_terminal() && !self.hashes {
            progress(plan.seeds.len())
        } else {
            ProgressBar::hidden()
        };
        let console = Console {
            bar,
            hashes: self.hashes,
            also: sweeping.also,
        };
        let swept = plan.run(one, &console);
        console.bar.finish_and_clear();
        console.say(&format!(
            "swept {} seeds of '{}' (shard {}{from}, {} jobs) in {:.2}s: {:.0} seeds/s, {} failed; \
             determinism ({}) rechecked {} seeds, {} diverged{}",
            swept.seeds,
            sweeping.label,
            shard,
            plan.jobs,
            swept.wall.as_secs_f64(),
            swept.per_second(),
            swept.failures.len(),
            plan.recheck,
            swept.rechecked,
            swept.diverged,
            match swept.ended {
                Ended::AllRan => String::new(),
                Ended::Failures => match swept.failures.len() {
                    1 => "; stopped at the first failure".to_string(),
                    n => format!("; stopped at {n} failures"),
                },
                Ended::Budget => "; out of time".to_string(),
            }
        ));
        if !swept.failures.is_empty() {
            let failed: Vec<u64> = swept.failures.iter().map(|f| f.seed).collect();
            console.say(&format!("failing seeds: {failed:?}"));
        }
        Ok(swept)
    }
}

/// 0 when every seed passed, else 1.
pub fn exit_code(swept: &Swept) -> std::process::ExitCode {
    if swept.failures.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// A bar over `len` seeds, or a counter for a sweep without end.
fn progress(len: Option<usize>) -> ProgressBar {
    match len {
        Some(len) => {
            let bar = ProgressBar::new(len as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} seeds {per_sec} eta {eta} {msg}",
                )
                .expect("progress template"),
            );
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {pos} seeds {per_sec} {elapsed} {msg}")
                    .expect("progress template"),
            );
            bar
        }
    }
}

/// Where a sweep's lines go.
struct Console<'a> {
    bar: ProgressBar,
    hashes: bool,
    also: &'a (dyn Fn(&SeedResult) -> Option<String> + Sync),
}

impl Console<'_> {
    /// A line for a person: above the bar; on stderr with `--hashes`, whose stdout is for
    /// the JSON lines alone; else on stdout.
    fn say(&self, line: &str) {
        if !self.bar.is_hidden() {
            self.bar.println(line);
        } else if self.hashes {
            eprintln!("{line}");
        } else {
            print_line(line);
        }
    }
}

impl Watch for Console<'_> {
    fn finished(&self, result: &SeedResult) {
        if !result.passed() {
            self.say(&result.line());
            if let Some(more) = (self.also)(result) {
                self.say(&more);
            }
        }
        self.bar.inc(1);
    }

    fn ready(&self, result: &SeedResult) {
        if self.hashes {
            print_line(&format!(
                "{{\"seed\":{},\"hash\":\"{:016x}\",\"passed\":{}}}",
                result.seed,
                result.hash,
                result.passed()
            ));
        }
    }
}

/// Writes a line to stdout. A reader that has gone (`| head`) ends the sweep, with the exit
/// code of a process killed by SIGPIPE, rather than a panic in every worker.
pub fn print_line(line: &str) {
    if let Err(e) = writeln!(std::io::stdout().lock(), "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
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
}
