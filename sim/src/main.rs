//! `framesim`: run, replay, check and sweep simulations of the framesim server.

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use framesim::kv::setup::{Setup, Source};
use framesim::kv::sweep::{check, seed_result, shrink_line};
use framesim::kv::{against, explore, fuzz, lift_to_file, shrink};
use framesim::kv::{run, Preset, Report, RunOptions, Scenario, Target};
use framesim::sweep::{at_least_one, exit_code, SweepArgs, Sweeping};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
        /// With --against: instead of the scenario, clients that share a few keys (GET, SET
        /// with NX or GET, DEL, EXISTS, INCR, MGET, MSET; --clients of them, default 8), their
        /// history timed on a monotonic clock and checked linearizable; the history is
        /// written as JSON lines, and a timeline beside it when it is not linearizable.
        #[arg(long, requires = "against")]
        contention: bool,
        /// Requests per client of --contention.
        #[arg(long, requires = "contention", default_value_t = 100)]
        requests: usize,
        /// Shared registers of --contention (besides two counters).
        #[arg(long, requires = "contention", default_value_t = 3)]
        keys: usize,
        /// Where --contention's history goes [default:
        /// target/framesim/contention-<seed>-history.jsonl].
        #[arg(long, requires = "contention", value_name = "FILE")]
        history: Option<PathBuf>,
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
    /// Merge the results files of many sweeps (`sweep --results FILE`: shards, machines,
    /// commits) into one summary: counts, failures by oracle, the slowest seeds, and any
    /// seed of one scenario with two transcript hashes, and the coverage table of the
    /// seeds. Exit code 1 if any failed or disagreed (or, with --require-coverage, if
    /// something asked for never happened).
    Merge(framesim::sweep::MergeArgs),
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
struct SetupArgs {
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

impl SetupArgs {
    /// The setup these flags pick.
    fn setup(&self) -> Setup {
        let source = match (&self.scenario_file, &self.fuzz_input) {
            (_, Some(path)) => Source::Fuzz(path.clone()),
            (Some(path), None) => Source::File(path.clone()),
            (None, None) => Source::Preset(self.scenario),
        };
        Setup {
            source,
            target: self.target,
            clients: self.clients,
            commands: self.commands,
            hosts: self.hosts,
        }
    }
}

/// One run: a setup and its seed.
#[derive(Debug, Args)]
struct Pick {
    #[command(flatten)]
    setup: SetupArgs,
    /// Seed [default: FRAMESIM_SEED, else a fresh one, printed; with --scenario-file, the
    /// file's].
    #[arg(long, env = "FRAMESIM_SEED")]
    seed: Option<u64>,
    /// The seed came from FRAMESIM_SEED, not from `--seed` (see [`Pick::scenario`]).
    #[arg(skip)]
    seed_from_env: bool,
}

impl Pick {
    /// The scenario to run ([`Setup::pick`]).
    fn scenario(&self) -> Result<Scenario, String> {
        self.setup.setup().pick(self.seed, self.seed_from_env)
    }
}

/// Many runs: a setup over a range of seeds.
#[derive(Debug, Args)]
#[command(mut_arg("scenario", |arg| arg.default_value("adversarial")))]
struct Sweep {
    #[command(flatten)]
    setup: SetupArgs,
    #[command(flatten)]
    sweep: SweepArgs,
    /// Shrink every failing seed and print the shrunk scenario's replay command (the file
    /// goes to target/framesim/).
    #[arg(long)]
    shrink: bool,
}

fn main() -> ExitCode {
    let matches = Cli::command()
        .after_help(framesim::kv::setup::catalogue())
        .get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let (Cmd::Run { pick, .. } | Cmd::Replay { pick, .. } | Cmd::Check(pick), Some((_, sub))) =
        (&mut cli.command, matches.subcommand())
    {
        pick.seed_from_env = sub.value_source("seed") == Some(ValueSource::EnvVariable);
    }
    dispatch(cli.command).unwrap_or_else(|e| {
        eprintln!("framesim: {e}");
        ExitCode::from(2)
    })
}

/// Runs `command`: its exit code, or the error that stopped it (exit code 2).
fn dispatch(command: Cmd) -> Result<ExitCode, String> {
    Ok(match command {
        Cmd::Run {
            pick,
            against: Some(addr),
            contention: true,
            requests,
            keys,
            history,
        } => code(framesim::harness::against::contend(
            &addr,
            pick.seed,
            pick.setup.clients,
            requests,
            keys,
            history,
        )?),
        Cmd::Run {
            pick,
            against: Some(addr),
            ..
        } => {
            let (report, path) = against::run_to_file(&pick.scenario()?, &addr)?;
            finish(&report, Some(&path))
        }
        Cmd::Run { pick, .. } => finish(&run(&pick.scenario()?, RunOptions::default()), None),
        Cmd::Replay { pick, transcript } => replay(&pick.scenario()?, transcript)?,
        Cmd::Check(pick) => code(check(&pick.scenario()?)),
        Cmd::Sweep(sweep_args) => sweep(&sweep_args)?,
        Cmd::Shrink { pick, out } => {
            shrink::shrink_and_save(&pick.scenario()?, out)?;
            ExitCode::SUCCESS
        }
        Cmd::Lift { pick, out } => {
            lift_to_file(&pick.scenario()?, out)?;
            ExitCode::SUCCESS
        }
        Cmd::Explore {
            script,
            target,
            cuts,
        } => code(explore::explore_file(&script, target, usize::from(cuts))?),
        Cmd::ReplayFuzz { input, transcript } => {
            replay(&fuzz::scenario_from_file(&input)?, transcript)?
        }
        Cmd::Merge(merge_args) => framesim::sweep::print_merged(&merge_args)?,
        Cmd::List { files } => list(files.as_deref())?,
    })
}

/// `framesim list`.
fn list(files: Option<&Path>) -> Result<ExitCode, String> {
    println!("{}", framesim::kv::setup::catalogue());
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

/// `framesim replay` ([`framesim::kv::replay`]).
fn replay(scenario: &Scenario, transcript: Option<PathBuf>) -> Result<ExitCode, String> {
    let (report, path) = framesim::kv::replay(scenario, transcript)?;
    Ok(finish(&report, Some(&path)))
}

/// `framesim sweep`: the library's sweep ([`SweepArgs::run`]) of one [`seed_result`] per seed.
fn sweep(args: &Sweep) -> Result<ExitCode, String> {
    let setup = args.setup.setup();
    let base = setup.base()?;
    let also = |result: &framesim::sweep::SeedResult| {
        args.shrink
            .then(|| shrink_line(&setup.scenario(&base, Some(result.seed))))
    };
    let sweeping = Sweeping {
        label: setup.label(),
        what: setup.what(&base),
        also: &also,
        max_failures: None,
    };
    let swept = args.sweep.run(&sweeping, |seed, recheck| {
        let replay = setup.command("replay", seed);
        seed_result(&setup.scenario(&base, Some(seed)), recheck, replay)
    })?;
    Ok(exit_code(&swept))
}

/// The exit code of a command that `passed` or not.
fn code(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
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
}
