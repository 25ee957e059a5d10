//! `framesim`: run, replay, check and sweep simulations of the framesim server.

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use framesim::kv::shard::{seed_range, shard, Shard};
use framesim::kv::{
    check_determinism, run, Divergence, Preset, Report, RunOptions, Scenario, Target,
};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::IsTerminal;
use std::io::Write as _;
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
    Run {
        #[command(flatten)]
        pick: Pick,
        /// Drive the scenario's clients over real TCP to a running server at HOST:PORT
        /// instead of simulating one (its limits must be the scenario's; what does not
        /// apply over a real network is printed).
        #[arg(long, value_name = "HOST:PORT")]
        against: Option<String>,
    },
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
    /// Shrink a failing run to the smallest scenario that still fails the same way (fewer
    /// clients and requests, calmer delivery, shorter deadlines), printing each accepted
    /// step, and write it as a ready regression: the scenario file the regression suite
    /// replays, and its transcript.
    Shrink {
        #[command(flatten)]
        pick: Pick,
        /// Where the shrunk scenario file goes [default: sim/regressions, which
        /// `cargo test -p framesim --test regressions` replays].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Lift one run into a script: every client's connect, writes (bytes and times),
    /// expectations, reads and closes written down as steps, so the run no longer depends
    /// on how the generators draw. Replay it with `replay --script FILE`.
    Lift {
        #[command(flatten)]
        pick: Pick,
        /// Where the script goes [default: target/framesim/<scenario>-script-<target>-<seed>.toml].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Run a small script under every way its clients' bytes can be cut: each client's
    /// writes merged into one, cut once at every byte, and cut twice at every pair of
    /// bytes. A correct server gives every run the same logical view (the requests its
    /// service saw and the replies each client read).
    Explore {
        /// The script (`framesim lift` or `framesim shrink` writes one).
        #[arg(long, value_name = "FILE")]
        script: PathBuf,
        /// Server under test [default: the script's].
        #[arg(long, value_enum)]
        target: Option<Target>,
        /// Cut each client's bytes at most this many times (0, 1 or 2).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=2))]
        cuts: u8,
    },
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
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "scenario",
        visible_alias = "script"
    )]
    scenario_file: Option<PathBuf>,
    /// An input of the `simulation` fuzz target (a crash file) instead of a preset: the
    /// scenario and the tape of choices it stands for.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["scenario", "scenario_file"])]
    fuzz_input: Option<PathBuf>,
    /// Server under test [default: framesim, or the scenario file's].
    #[arg(long, value_enum)]
    target: Option<Target>,
    /// Override the scenario's number of virtual clients.
    #[arg(long, value_parser = at_least_one)]
    clients: Option<usize>,
    /// Override the commands the workload draws (get-set: GET and SET only, for servers
    /// that know no more).
    #[arg(long, value_enum)]
    commands: Option<framesim::kv::Commands>,
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
        if let Some(path) = &self.fuzz_input {
            let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok(Base::File(Box::new(
                framesim::kv::fuzz::scenario_from_bytes(&data),
            )));
        }
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
        if let Some(commands) = self.commands {
            s.commands = commands;
        }
        s
    }

    /// What the runs are called in a sweep's summary: the preset, or the file.
    fn label(&self) -> String {
        match (&self.scenario_file, &self.fuzz_input) {
            (Some(path), _) | (_, Some(path)) => path.display().to_string(),
            _ => self.scenario.to_string(),
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
                let seed = framesim::kv::fresh_seed();
                eprintln!("framesim: fresh seed {seed} (set FRAMESIM_SEED={seed} to replay)");
                Some(seed)
            }
        };
        Ok(self.setup.scenario(&base, seed))
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
    /// Run seeds a second time and compare transcript hashes: every seed (`all`), every Nth
    /// seed of the sweep (`N`), or none (`off`). A mismatch fails the sweep and names the
    /// first diverging event.
    #[arg(long, value_name = "all|N|off", default_value = "16", value_parser = recheck)]
    check_determinism: Recheck,
    /// Shrink every failing seed and print the shrunk scenario's replay command (the file
    /// goes to target/framesim/).
    #[arg(long)]
    shrink: bool,
    /// Print one JSON line per seed on stdout, in seed order:
    /// {"seed":N,"hash":"<16 hex digits>","passed":true}. Everything else goes to stderr, so
    /// the output of two sweeps compares with diff.
    #[arg(long)]
    hashes: bool,
}

/// Which seeds of a sweep run twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recheck {
    /// None.
    Off,
    /// The first seed of the sweep and every Nth after it (1: all).
    Every(u64),
}

impl Recheck {
    /// Whether the `index`th seed of the sweep runs twice.
    fn covers(self, index: usize) -> bool {
        match self {
            Recheck::Off => false,
            Recheck::Every(n) => index as u64 % n == 0,
        }
    }
}

impl fmt::Display for Recheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recheck::Off => f.write_str("off"),
            Recheck::Every(1) => f.write_str("every seed"),
            Recheck::Every(n) => write!(f, "every {n}th seed"),
        }
    }
}

/// `all`, `off`, or N >= 1.
fn recheck(text: &str) -> Result<Recheck, String> {
    match text {
        "all" => Ok(Recheck::Every(1)),
        "off" => Ok(Recheck::Off),
        n => match n.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(Recheck::Every(n)),
            _ => Err(format!(
                "expected all, off, or a whole number N >= 1 (every Nth seed), not '{text}'"
            )),
        },
    }
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
    if let (Cmd::Run { pick, .. } | Cmd::Replay { pick, .. } | Cmd::Check(pick), Some((_, sub))) =
        (&mut cli.command, matches.subcommand())
    {
        pick.seed_from_env = sub.value_source("seed") == Some(ValueSource::EnvVariable);
    }
    let done = match cli.command {
        Cmd::Run { pick, against } => match against {
            Some(addr) => run_against(&pick, &addr),
            None => run_one(&pick),
        },
        Cmd::Replay { pick, transcript } => replay(&pick, transcript),
        Cmd::Check(pick) => check(&pick),
        Cmd::Sweep(sweep_args) => sweep(&sweep_args),
        Cmd::Shrink { pick, out } => shrink(&pick, out),
        Cmd::Lift { pick, out } => lift(&pick, out),
        Cmd::Explore {
            script,
            target,
            cuts,
        } => explore(&script, target, cuts),
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

/// `framesim run --against`.
fn run_against(pick: &Pick, addr: &str) -> Result<ExitCode, String> {
    use std::net::ToSocketAddrs;
    let scenario = pick.scenario()?;
    let resolved = addr
        .to_socket_addrs()
        .map_err(|e| format!("--against {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("--against {addr}: no address"))?;
    let (_, dropped) = framesim::kv::against::applicable(&scenario);
    for line in dropped {
        eprintln!("framesim: not applicable against a real server: {line}");
    }
    let report = framesim::kv::against::run(&scenario, resolved, true);
    let path = framesim::kv::work_dir().join(format!("{}-against.txt", scenario.file_stem()));
    framesim::kv::write_transcript(&report, &path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(finish(
        &report,
        Some(Path::new(&framesim::kv::shown(&path))),
    ))
}

/// `framesim replay`.
fn replay(pick: &Pick, transcript: Option<PathBuf>) -> Result<ExitCode, String> {
    replay_scenario(&pick.scenario()?, transcript)
}

/// `framesim replay-fuzz`.
fn replay_fuzz(input: &Path, transcript: Option<PathBuf>) -> Result<ExitCode, String> {
    let data = std::fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?;
    replay_scenario(&framesim::kv::fuzz::scenario_from_bytes(&data), transcript)
}

/// Runs `scenario` keeping its transcript, and writes it to `transcript` (or the default).
fn replay_scenario(scenario: &Scenario, transcript: Option<PathBuf>) -> Result<ExitCode, String> {
    let options = RunOptions {
        keep_transcript: true,
        ..RunOptions::default()
    };
    let report = run(scenario, options);
    let path = transcript.unwrap_or_else(|| framesim::kv::default_transcript_path(scenario));
    framesim::kv::write_transcript(&report, &path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(finish(&report, Some(&path)))
}

/// `framesim shrink`.
fn shrink(pick: &Pick, out: Option<PathBuf>) -> Result<ExitCode, String> {
    let scenario = pick.scenario()?;
    println!(
        "shrinking: {}",
        scenario.to_string().lines().next().unwrap_or_default()
    );
    let shrunk = framesim::kv::shrink::shrink(&scenario, |step| {
        println!(
            "  {:>8.2?}  {:<34} clients {:>5}  requests {:>3}  events {:>7}",
            step.elapsed, step.what, step.clients, step.requests, step.events
        )
    })?;
    println!("{}", shrunk.summary());
    let dir = out.unwrap_or_else(framesim::kv::shrink::regressions_dir);
    let (file, transcript) = shrunk
        .save(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    // Paths as a developer types them: relative to where the command runs, when inside it.
    let here = std::env::current_dir().unwrap_or_default();
    let (file, transcript) = (
        file.strip_prefix(&here).unwrap_or(&file).to_path_buf(),
        transcript
            .strip_prefix(&here)
            .unwrap_or(&transcript)
            .to_path_buf(),
    );
    let first = shrunk.report.violations.first().map(|v| v.to_string());
    println!(
        "violation: {}",
        first.or(shrunk.report.error.clone()).unwrap_or_default()
    );
    println!("scenario: {}", file.display());
    println!("transcript: {}", transcript.display());
    println!("replay: {CLI} replay --scenario-file {}", file.display());
    println!(
        "pin it: INSTA_UPDATE=always cargo test -p framesim --test regressions, then commit {} and its snapshot",
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `framesim lift`.
fn lift(pick: &Pick, out: Option<PathBuf>) -> Result<ExitCode, String> {
    let scenario = pick.scenario()?;
    let script = framesim::kv::lift(&scenario);
    let path = out
        .unwrap_or_else(|| framesim::kv::work_dir().join(format!("{}.toml", script.file_stem())));
    script
        .save(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let steps: usize = script.scripts.iter().map(|c| c.steps.len()).sum();
    println!(
        "lifted {} clients, {steps} steps: {}",
        script.scripts.len(),
        framesim::kv::shown(&path)
    );
    println!(
        "replay: {CLI} replay --script {}",
        framesim::kv::shown(&path)
    );
    Ok(ExitCode::SUCCESS)
}

/// `framesim explore`.
fn explore(script: &Path, target: Option<Target>, cuts: u8) -> Result<ExitCode, String> {
    let mut scenario = Scenario::load(script)?;
    if let Some(target) = target {
        scenario.target = target;
    }
    let found = framesim::kv::explore::explore(&scenario, usize::from(cuts))?;
    println!("{found}");
    Ok(if found.failure.is_some() || found.logical_views > 1 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// How printed commands start the CLI.
const CLI: &str = "cargo run --release -p framesim --";

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

/// `framesim sweep`: one line per failing seed as it is found (above the progress bar in a
/// terminal, and no bar otherwise, for CI logs), then a summary.
fn sweep(args: &Sweep) -> Result<ExitCode, String> {
    let shard = args.shard.unwrap_or(Shard::ALL);
    let base = args.setup.base()?;
    let mine: Vec<u64> = args.seeds.clone().filter(|&s| shard.holds(s)).collect();
    let bar = if std::io::stdout().is_terminal() && !args.hashes {
        let bar = ProgressBar::new(mine.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} seeds {per_sec} eta {eta} {msg}")
                .expect("progress template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    // With --hashes, stdout is for the JSON lines alone.
    let say = |line: &str| {
        if !bar.is_hidden() {
            bar.println(line);
        } else if args.hashes {
            eprintln!("{line}");
        } else {
            print_line(line);
        }
    };
    let next = AtomicU64::new(0);
    let done = Mutex::new(InOrder::default());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&seed) = mine.get(i) else { return };
                let scenario = args.setup.scenario(&base, Some(seed));
                let outcome = sweep_seed(&scenario, args.check_determinism.covers(i));
                if let Some(line) = &outcome.failure {
                    say(line);
                    if args.shrink {
                        say(&shrink_line(&scenario));
                    }
                }
                let mut done = done.lock().expect("sweep results");
                for ready in done.add(i, outcome) {
                    if args.hashes {
                        print_line(&format!(
                            "{{\"seed\":{},\"hash\":\"{:016x}\",\"passed\":{}}}",
                            ready.seed,
                            ready.hash,
                            ready.failure.is_none()
                        ));
                    }
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let outcomes = done.into_inner().expect("sweep results").flushed;
    let failed: Vec<u64> = outcomes
        .iter()
        .filter(|o| o.failure.is_some())
        .map(|o| o.seed)
        .collect();
    let rechecked = outcomes.iter().filter(|o| o.rechecked).count();
    let diverged = outcomes.iter().filter(|o| o.diverged).count();
    let secs = started.elapsed().as_secs_f64();
    say(&format!(
        "swept {} seeds of '{}' (shard {shard}, {} jobs) in {secs:.2}s: {:.0} seeds/s, {} failed; \
         determinism ({}) rechecked {rechecked} seeds, {diverged} diverged",
        mine.len(),
        args.setup.label(),
        args.jobs,
        mine.len() as f64 / secs,
        failed.len(),
        args.check_determinism,
    ));
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        say(&format!("failing seeds: {failed:?}"));
        Ok(ExitCode::FAILURE)
    }
}

/// Writes a line to stdout. A reader that has gone (`| head`) ends the sweep, with the exit
/// code of a process killed by SIGPIPE, rather than a panic in every worker.
fn print_line(line: &str) {
    if let Err(e) = writeln!(std::io::stdout().lock(), "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
    }
}

/// What one seed of a sweep showed.
#[derive(Debug)]
struct Outcome {
    seed: u64,
    /// The transcript hash of its (first) run.
    hash: u64,
    /// The line it prints if it failed.
    failure: Option<String>,
    /// It ran twice.
    rechecked: bool,
    /// Its two runs differed.
    diverged: bool,
}

/// Runs one seed of a sweep, twice if `recheck`.
fn sweep_seed(scenario: &Scenario, recheck: bool) -> Outcome {
    let report = run(scenario, RunOptions::default());
    let again = recheck.then(|| run(scenario, RunOptions::default()).transcript.hash());
    let hash = report.transcript.hash();
    Outcome {
        seed: scenario.seed,
        hash,
        failure: seed_failure(&report, again, || check_determinism(scenario)),
        rechecked: again.is_some(),
        diverged: again.is_some_and(|h| h != hash),
    }
}

/// What `sweep --shrink` prints for a failing seed: the shrink's summary and the command
/// replaying the shrunk scenario.
fn shrink_line(scenario: &Scenario) -> String {
    match framesim::kv::shrink::shrink(scenario, |_| {}) {
        Ok(shrunk) => {
            let dir = framesim::kv::work_dir();
            match shrunk.save(&dir) {
                Ok((file, _)) => format!(
                    "  {} | replay: {CLI} replay --scenario-file {}",
                    shrunk.summary(),
                    file.display()
                ),
                Err(e) => format!("  {} (could not write it: {e})", shrunk.summary()),
            }
        }
        Err(e) => format!("  could not shrink seed {}: {e}", scenario.seed),
    }
}

/// The one line a failing seed prints: `seed N FAILED [oracle] detail | replay: <command>`.
/// A second run with another hash (`again`) is the failure that matters most, since no replay
/// can be trusted then: `diverge` reruns the seed keeping both transcripts, to name the first
/// event where they part.
fn seed_failure(
    report: &Report,
    again: Option<u64>,
    diverge: impl FnOnce() -> Result<u64, Divergence>,
) -> Option<String> {
    let seed = report.scenario.seed;
    let hash = report.transcript.hash();
    if let Some(again) = again.filter(|&h| h != hash) {
        let found = match diverge() {
            Err(d) => format!(
                "first diverging event #{}: first run {:?}, second run {:?}",
                d.index,
                d.first.as_deref().unwrap_or("(end)"),
                d.second.as_deref().unwrap_or("(end)")
            ),
            Ok(h) => format!("two more runs keeping their transcripts agreed (hash {h:016x})"),
        };
        let also = if report.passed() {
            String::new()
        } else {
            format!("; the first run also failed {}", report.first_failure())
        };
        return Some(format!(
            "seed {seed} FAILED [determinism] hash {hash:016x}, then {again:016x} on a second run; {found}{also} | replay: {}",
            framesim::kv::command_for("check", &report.scenario)
        ));
    }
    (!report.passed()).then(|| {
        format!(
            "seed {seed} FAILED {} | replay: {}",
            report.first_failure(),
            report.replay_command()
        )
    })
}

/// Outcomes of a sweep in seed order, as they become ready: workers finish seeds out of
/// order, and the JSON lines of `--hashes` must come in order to compare with diff.
#[derive(Debug, Default)]
struct InOrder {
    /// Finished, waiting for an earlier seed.
    waiting: BTreeMap<usize, Outcome>,
    /// Handed out, in order.
    flushed: Vec<Outcome>,
}

impl InOrder {
    /// Adds the outcome of the `index`th seed; the outcomes now ready, in order.
    fn add(&mut self, index: usize, outcome: Outcome) -> &[Outcome] {
        self.waiting.insert(index, outcome);
        let from = self.flushed.len();
        while let Some(ready) = self.waiting.remove(&self.flushed.len()) {
            self.flushed.push(ready);
        }
        &self.flushed[from..]
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
        assert!(at_least_one("0").is_err());
        assert_eq!(recheck("all"), Ok(Recheck::Every(1)));
        assert_eq!(recheck("16"), Ok(Recheck::Every(16)));
        assert_eq!(recheck("off"), Ok(Recheck::Off));
        assert!(recheck("0").is_err());
        assert!(recheck("some").is_err());
    }

    #[test]
    fn every_nth_seed_of_a_sweep_is_rechecked_from_the_first() {
        let covered: Vec<usize> = (0..40).filter(|&i| Recheck::Every(16).covers(i)).collect();
        assert_eq!(covered, [0, 16, 32]);
        assert!((0..5).all(|i| Recheck::Every(1).covers(i)));
        assert!(!(0..5).any(|i| Recheck::Off.covers(i)));
    }

    fn outcome(seed: u64) -> Outcome {
        Outcome {
            seed,
            hash: seed,
            failure: None,
            rechecked: false,
            diverged: false,
        }
    }

    #[test]
    fn outcomes_come_out_in_seed_order() {
        let mut done = InOrder::default();
        assert!(done.add(1, outcome(11)).is_empty());
        assert!(done.add(2, outcome(12)).is_empty());
        let ready: Vec<u64> = done.add(0, outcome(10)).iter().map(|o| o.seed).collect();
        assert_eq!(ready, [10, 11, 12]);
        let ready: Vec<u64> = done.add(3, outcome(13)).iter().map(|o| o.seed).collect();
        assert_eq!(ready, [13]);
    }

    fn kept(s: &Scenario) -> Report {
        run(
            s,
            RunOptions {
                keep_transcript: true,
                ..RunOptions::default()
            },
        )
    }

    #[test]
    fn a_second_run_with_another_hash_fails_the_seed_and_names_the_first_diverging_event() {
        let s = Scenario::preset(Preset::Small, 1);
        let report = kept(&s);
        let hash = report.transcript.hash();
        assert_eq!(seed_failure(&report, Some(hash), || unreachable!()), None);
        assert_eq!(seed_failure(&report, None, || unreachable!()), None);

        // Two transcripts that differ, as two runs of a nondeterministic seed would.
        let other = kept(&Scenario::preset(Preset::Small, 2));
        let (a, b) = (report.transcript.lines(), other.transcript.lines());
        let d = Divergence::between(&a, &b).expect("different seeds differ");
        let line = seed_failure(&report, Some(other.transcript.hash()), || Err(d.clone()))
            .expect("a failure");
        assert!(
            line.starts_with(&format!(
                "seed 1 FAILED [determinism] hash {hash:016x}, then {:016x} on a second run; first diverging event #{}: first run {:?}, second run {:?}",
                other.transcript.hash(),
                d.index,
                a[d.index],
                b[d.index]
            )),
            "{line}"
        );
        assert!(
            line.ends_with(
                " | replay: cargo run --release -p framesim -- check --scenario small --seed 1"
            ),
            "{line}"
        );
        assert!(!line.contains('\n'));

        let line = seed_failure(&report, Some(hash ^ 1), || Ok(hash)).expect("a failure");
        assert!(
            line.contains("two more runs keeping their transcripts agreed"),
            "{line}"
        );
    }

    #[test]
    fn a_failing_seed_is_one_line_with_its_replay_command() {
        let mut s = Scenario::preset(Preset::Small, 3);
        s.target = Target::OneReadOneRequest;
        let report = run(&s, RunOptions::default());
        let line = seed_failure(&report, None, || unreachable!()).expect("caught");
        assert!(line.starts_with("seed 3 FAILED [executed] "), "{line}");
        assert!(
            line.ends_with(" | replay: cargo run --release -p framesim -- replay --scenario small --seed 3 --target naive-one-read"),
            "{line}"
        );
    }
}
