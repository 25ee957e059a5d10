//! `framesim`: run, replay, check and sweep simulations of the framesim server.

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use framesim::{check_determinism, run, Preset, Report, RunOptions, Scenario, Target};
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::{self, Write as _};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Deterministic simulation testing of the framesim server.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run one scenario (default: 10,000 clients) and print its summary.
    Run(Pick),
    /// Re-run one seed, keep its whole transcript, and write it to a file.
    Replay {
        #[command(flatten)]
        pick: Pick,
        /// Where to write the transcript (default: target/framesim/<scenario>-<target>-<seed>.txt).
        #[arg(long)]
        transcript: Option<PathBuf>,
    },
    /// Run one seed twice and report the first diverging event, if any.
    Check(Pick),
    /// Run a range of seeds and print every failing one.
    Sweep(Sweep),
    /// Replay an input of the `simulation` fuzz target (e.g. a crash file) as a scenario,
    /// keeping its whole transcript.
    ReplayFuzz {
        /// The fuzz input.
        #[arg(long)]
        input: PathBuf,
        /// Where to write the transcript (default: target/framesim/fuzz-<target>-<seed>.txt).
        #[arg(long)]
        transcript: Option<PathBuf>,
    },
    /// List the scenario presets and the server targets.
    List,
}

/// Which scenario, against which server, at what size: shared by every subcommand that runs
/// a preset.
#[derive(Debug, Args)]
struct Setup {
    /// Scenario preset.
    #[arg(long, value_enum, default_value_t = Preset::Default)]
    scenario: Preset,
    /// Server under test.
    #[arg(long, value_enum, default_value_t = Target::Framesim)]
    target: Target,
    /// Override the preset's number of virtual clients.
    #[arg(long, value_parser = at_least_one)]
    clients: Option<usize>,
    /// Override the preset's number of client hosts.
    #[arg(long, value_parser = at_least_one)]
    hosts: Option<usize>,
}

impl Setup {
    /// The scenario for `seed`: the preset, then the overrides.
    fn scenario(&self, seed: u64) -> Scenario {
        let mut s = Scenario::preset(self.scenario, seed);
        s.target = self.target;
        if let Some(n) = self.clients {
            s.clients = n;
        }
        if let Some(n) = self.hosts {
            s.client_hosts = n;
        }
        s
    }
}

/// One run: a [`Setup`] and its seed.
#[derive(Debug, Args)]
struct Pick {
    #[command(flatten)]
    setup: Setup,
    /// Seed [default: a fresh one, printed].
    #[arg(long, env = "FRAMESIM_SEED")]
    seed: Option<u64>,
}

impl Pick {
    fn scenario(&self) -> Scenario {
        let seed = self.seed.unwrap_or_else(|| {
            let seed = framesim::fresh_seed();
            eprintln!("framesim: fresh seed {seed} (set FRAMESIM_SEED={seed} to replay)");
            seed
        });
        self.setup.scenario(seed)
    }
}

/// Many runs: a [`Setup`] over a range of seeds.
#[derive(Debug, Args)]
#[command(mut_arg("scenario", |arg| arg.default_value("adversarial")))]
struct Sweep {
    #[command(flatten)]
    setup: Setup,
    /// Seeds as A..B (B excluded).
    #[arg(long, default_value = "0..1000", value_parser = seed_range)]
    seeds: Range<u64>,
    /// Worker threads.
    #[arg(long, default_value_t = 2, value_parser = at_least_one)]
    jobs: usize,
    /// Only seeds s with s % N == I, given as I/N.
    #[arg(long, value_parser = shard)]
    shard: Option<Shard>,
}

/// One of `of` disjoint slices of a seed range: the seeds `s` with `s % of == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shard {
    index: u64,
    of: u64,
}

impl Shard {
    fn holds(self, seed: u64) -> bool {
        seed % self.of == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
}

/// `A..B` with A < B.
fn seed_range(text: &str) -> Result<Range<u64>, String> {
    let bad = || format!("expected A..B with A < B (e.g. 0..1000), not '{text}'");
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a >= b {
        return Err(bad());
    }
    Ok(a..b)
}

/// `I/N` with I < N.
fn shard(text: &str) -> Result<Shard, String> {
    let bad = || format!("expected I/N with I < N (e.g. 0/4), not '{text}'");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (index, of): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if index >= of {
        return Err(bad());
    }
    Ok(Shard { index, of })
}

/// A count of at least one.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "expected a whole number of at least 1, not '{text}'"
        )),
    }
}

/// Every accepted scenario and target, for `framesim --help` and `framesim list`.
fn catalogue() -> String {
    let mut out = String::from("Scenarios (--scenario):\n");
    for preset in Preset::value_variants() {
        let _ = writeln!(out, "  {:<26} {}", preset.name(), preset.about());
    }
    out.push_str("\nServer targets (--target):\n");
    for target in Target::value_variants() {
        let _ = writeln!(out, "  {:<26} {}", target.name(), target.about());
    }
    out.push_str("\nSeeds: --seed, else FRAMESIM_SEED, else a fresh one that is printed.");
    out
}

fn main() -> ExitCode {
    let matches = Cli::command().after_help(catalogue()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let done = match cli.command {
        Cmd::Run(pick) => run_one(&pick),
        Cmd::Replay { pick, transcript } => replay(&pick, transcript),
        Cmd::Check(pick) => check(&pick),
        Cmd::Sweep(sweep_args) => sweep(&sweep_args),
        Cmd::ReplayFuzz { input, transcript } => replay_fuzz(&input, transcript),
        Cmd::List => {
            println!("{}", catalogue());
            Ok(ExitCode::SUCCESS)
        }
    };
    done.unwrap_or_else(|e| {
        eprintln!("framesim: {e}");
        ExitCode::from(2)
    })
}

/// `framesim run`.
fn run_one(pick: &Pick) -> Result<ExitCode, String> {
    let report = run(&pick.scenario(), RunOptions::default());
    Ok(finish(&report, None))
}

/// `framesim replay`.
fn replay(pick: &Pick, transcript: Option<PathBuf>) -> Result<ExitCode, String> {
    replay_scenario(&pick.scenario(), transcript)
}

/// `framesim replay-fuzz`.
fn replay_fuzz(input: &Path, transcript: Option<PathBuf>) -> Result<ExitCode, String> {
    let data = std::fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?;
    replay_scenario(&framesim::fuzz::scenario_from_bytes(&data), transcript)
}

/// Runs `scenario` keeping its transcript, and writes it to `transcript` (or the default).
fn replay_scenario(scenario: &Scenario, transcript: Option<PathBuf>) -> Result<ExitCode, String> {
    let options = RunOptions {
        keep_transcript: true,
    };
    let report = run(scenario, options);
    let path = transcript.unwrap_or_else(|| framesim::default_transcript_path(scenario));
    framesim::write_transcript(&report, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(finish(&report, Some(&path)))
}

/// `framesim check`.
fn check(pick: &Pick) -> Result<ExitCode, String> {
    let scenario = pick.scenario();
    match check_determinism(&scenario) {
        Ok(hash) => {
            println!("deterministic: seed {} hash {hash:016x}", scenario.seed);
            Ok(ExitCode::SUCCESS)
        }
        Err(d) => {
            println!(
                "NOT deterministic: seed {} first diverging event #{}\n  first:  {}\n  second: {}",
                scenario.seed,
                d.index,
                d.first.as_deref().unwrap_or("(end)"),
                d.second.as_deref().unwrap_or("(end)")
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `framesim sweep`.
fn sweep(args: &Sweep) -> Result<ExitCode, String> {
    let shard = args.shard.unwrap_or(Shard { index: 0, of: 1 });
    let name = args.setup.scenario;
    let mine: Vec<u64> = args.seeds.clone().filter(|&s| shard.holds(s)).collect();
    let bar = ProgressBar::new(mine.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds {per_sec} eta {eta} {msg}")
            .expect("progress template"),
    );
    let next = AtomicU64::new(0);
    let failures = Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&seed) = mine.get(i) else { return };
                let report = run(&args.setup.scenario(seed), RunOptions::default());
                if !report.passed() {
                    let first = report
                        .violations
                        .first()
                        .map(|v| v.to_string())
                        .or(report.error.clone())
                        .unwrap_or_default();
                    bar.println(format!(
                        "seed {seed} FAILED: {first}\n  replay: {}",
                        report.replay_command()
                    ));
                    failures.lock().expect("failures").push(seed);
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let mut failed = failures.into_inner().expect("failures");
    failed.sort_unstable();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "swept {} seeds of '{name}' (shard {shard}, {} jobs) in {secs:.2}s: {:.0} seeds/s, {} failed",
        mine.len(),
        args.jobs,
        mine.len() as f64 / secs,
        failed.len()
    );
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        println!("failing seeds: {failed:?}");
        Ok(ExitCode::FAILURE)
    }
}

/// Prints the summary (and where the transcript went); on a failure, the failure report.
fn finish(report: &Report, transcript: Option<&Path>) -> ExitCode {
    println!("{}", report.summary());
    if let Some(path) = transcript {
        println!("transcript: {}", path.display());
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{}", report.failure());
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ranges_and_shards_parse_or_say_why() {
        assert_eq!(seed_range("3..7"), Ok(3..7));
        assert!(seed_range("7..7").is_err());
        assert!(seed_range("7").is_err());
        assert_eq!(shard("1/4"), Ok(Shard { index: 1, of: 4 }));
        assert!(shard("4/4").is_err());
        assert!(shard("1/0").is_err());
        assert!(at_least_one("0").is_err());
    }
}
