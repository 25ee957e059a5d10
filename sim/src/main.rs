//! `framesim`: run, replay, check and sweep simulations of the framesim server.

use clap::parser::ValueSource;
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
    List {
        /// Also write every preset (seed 0) to DIR/<name>.toml, to read or to start a
        /// scenario file from.
        #[arg(long, value_name = "DIR")]
        files: Option<PathBuf>,
    },
}

/// Which scenario, against which server, at what size: shared by every subcommand that runs
/// one.
#[derive(Debug, Args)]
struct Setup {
    /// Scenario preset.
    #[arg(long, value_enum, default_value_t = Preset::Default)]
    scenario: Preset,
    /// A scenario file instead of a preset: every option of the run (`framesim list --files
    /// DIR` writes the presets as files to start from).
    #[arg(long, value_name = "FILE", conflicts_with = "scenario")]
    scenario_file: Option<PathBuf>,
    /// Server under test [default: framesim, or the scenario file's].
    #[arg(long, value_enum)]
    target: Option<Target>,
    /// Override the scenario's number of virtual clients.
    #[arg(long, value_parser = at_least_one)]
    clients: Option<usize>,
    /// Override the scenario's number of client hosts.
    #[arg(long, value_parser = at_least_one)]
    hosts: Option<usize>,
}

/// What the runs of a [`Setup`] start from, read once.
enum Base {
    /// A preset: the seed draws the rest.
    Preset(Preset),
    /// A scenario file: every option, the seed included.
    File(Box<Scenario>),
}

impl Setup {
    /// The preset, or the scenario file read and checked.
    fn base(&self) -> Result<Base, String> {
        match &self.scenario_file {
            Some(path) => Scenario::load(path).map(|s| Base::File(Box::new(s))),
            None => Ok(Base::Preset(self.scenario)),
        }
    }

    /// The scenario of `base` for `seed` (`None`: the file's own seed), then the overrides.
    fn scenario(&self, base: &Base, seed: Option<u64>) -> Scenario {
        let mut s = match base {
            Base::Preset(preset) => Scenario::preset(*preset, seed.unwrap_or(0)),
            Base::File(file) => Scenario {
                seed: seed.unwrap_or(file.seed),
                ..(**file).clone()
            },
        };
        if let Some(target) = self.target {
            s.target = target;
        }
        if let Some(n) = self.clients {
            s.clients = n;
        }
        if let Some(n) = self.hosts {
            s.client_hosts = n;
        }
        s
    }

    /// What the runs are called in a sweep's summary: the preset, or the file.
    fn label(&self) -> String {
        match &self.scenario_file {
            Some(path) => path.display().to_string(),
            None => self.scenario.to_string(),
        }
    }
}

/// One run: a [`Setup`] and its seed.
#[derive(Debug, Args)]
struct Pick {
    #[command(flatten)]
    setup: Setup,
    /// Seed [default: FRAMESIM_SEED, else a fresh one, printed; with --scenario-file, the
    /// file's].
    #[arg(long, env = "FRAMESIM_SEED")]
    seed: Option<u64>,
    /// The seed came from FRAMESIM_SEED, not from `--seed` (see [`Pick::scenario`]).
    #[arg(skip)]
    seed_from_env: bool,
}

impl Pick {
    /// The scenario to run. A scenario file keeps its own seed unless `--seed` is given on
    /// the command line: a replay command must mean the same run whatever FRAMESIM_SEED a
    /// shell has left behind.
    fn scenario(&self) -> Result<Scenario, String> {
        let base = self.setup.base()?;
        let seed = match (&base, self.seed) {
            (Base::File(_), Some(_)) if self.seed_from_env => {
                eprintln!("framesim: FRAMESIM_SEED ignored: the scenario file has its seed (use --seed to replace it)");
                None
            }
            (Base::File(_), seed) => seed,
            (Base::Preset(_), Some(seed)) => Some(seed),
            (Base::Preset(_), None) => {
                let seed = framesim::fresh_seed();
                eprintln!("framesim: fresh seed {seed} (set FRAMESIM_SEED={seed} to replay)");
                Some(seed)
            }
        };
        Ok(self.setup.scenario(&base, seed))
    }
}

/// Many runs: a [`Setup`] over a range of seeds.
#[derive(Debug, Args)]
#[command(mut_arg("scenario", |arg| arg.default_value("small")))]
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
    out.push_str("\nScenario files (--scenario-file): every option of a run as TOML; a file keeps its own\nseed unless --seed is given (a sweep replaces it with each swept seed).");
    out
}

fn main() -> ExitCode {
    let matches = Cli::command().after_help(catalogue()).get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let (Cmd::Run(pick) | Cmd::Replay { pick, .. } | Cmd::Check(pick), Some((_, sub))) =
        (&mut cli.command, matches.subcommand())
    {
        pick.seed_from_env = sub.value_source("seed") == Some(ValueSource::EnvVariable);
    }
    let done = match cli.command {
        Cmd::Run(pick) => run_one(&pick),
        Cmd::Replay { pick, transcript } => replay(&pick, transcript),
        Cmd::Check(pick) => check(&pick),
        Cmd::Sweep(sweep_args) => sweep(&sweep_args),
        Cmd::ReplayFuzz { input, transcript } => replay_fuzz(&input, transcript),
        Cmd::List { files } => list(files.as_deref()),
    };
    done.unwrap_or_else(|e| {
        eprintln!("framesim: {e}");
        ExitCode::from(2)
    })
}

/// `framesim list`.
fn list(files: Option<&Path>) -> Result<ExitCode, String> {
    println!("{}", catalogue());
    if let Some(dir) = files {
        println!();
        for &preset in Preset::value_variants() {
            let path = dir.join(format!("{preset}.toml"));
            Scenario::preset(preset, 0)
                .save(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `framesim run`.
fn run_one(pick: &Pick) -> Result<ExitCode, String> {
    let report = run(&pick.scenario()?, RunOptions::default());
    Ok(finish(&report, None))
}

/// `framesim replay`.
fn replay(pick: &Pick, transcript: Option<PathBuf>) -> Result<ExitCode, String> {
    replay_scenario(&pick.scenario()?, transcript)
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
    let scenario = pick.scenario()?;
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
    let base = args.setup.base()?;
    let name = args.setup.label();
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
                let report = run(
                    &args.setup.scenario(&base, Some(seed)),
                    RunOptions::default(),
                );
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
