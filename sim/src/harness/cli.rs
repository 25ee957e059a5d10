//! framesim's subcommands for any server: one call in a binary of your own (an example, say)
//! gives your [`Harness`] `run`, `check`, `sweep` (jobs, shards, budgets, results files),
//! `merge`, `shrink`, and `lift`, `replay --script` and `explore` for scripts, each failure
//! with the command that runs it again; and `against HOST:PORT`, the black-box
//! linearizability check of a real server by the workload's model.
//!
//! ```no_run
//! # use framesim::harness::{Harness, KvWorkload};
//! # fn my_harness() -> Harness { unimplemented!() }
//! // examples/sim.rs: `cargo run --example sim -- sweep --seeds 0..10000 --jobs 2`
//! fn main() -> std::process::ExitCode {
//!     framesim::harness::cli::main(my_harness())
//! }
//! ```

use super::cli_scripts as scripts;
use super::options::Options;
use super::outcome::Tally;
use super::run::Harness;
use super::sweep::{divergence, picture, seed_result};
use crate::output::write_file;
use crate::scenario::{shown, work_dir};
use crate::sweep::{exit_code, SweepArgs, Sweeping};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

/// The command line of a harness binary.
#[derive(Debug, Parser)]
#[command(about = "Simulate this server under framesim: run, check, sweep or shrink seeds")]
struct Cli {
    /// TOML options laid over the harness's own (as `shrink` writes them).
    #[arg(long, global = true, value_name = "FILE")]
    options: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one seed, keep its transcript, report it.
    Run {
        /// The seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where the transcript goes (default `target/framesim/cli-<seed>.txt`, with the
        /// options file's name before `.txt` when run with one).
        #[arg(long)]
        transcript: Option<PathBuf>,
    },
    /// Run one seed twice: the transcript hash, or where the runs first differ and why.
    Check {
        /// The seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Run many seeds on several threads; the lowest failing seed is reported.
    Sweep(SweepArgs),
    /// Merge the results files of many sweeps (`sweep --results FILE`) into one summary:
    /// counts, failures by oracle, the slowest seeds, seeds with two transcript hashes, the
    /// coverage table of the seeds.
    Merge(crate::sweep::MergeArgs),
    /// Shrink a failing seed to the fewest clients and smallest options that still fail.
    Shrink {
        /// The seed.
        #[arg(long)]
        seed: u64,
        /// Where the shrunk options go (default `target/framesim/cli-<seed>-shrunk.toml`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Shrink a failing seed, then lift it into a script file: its clients' bytes as their
    /// delivery cut them, and what each reply must be.
    Lift {
        /// The seed.
        #[arg(long)]
        seed: u64,
        /// Where the script goes (default `target/framesim/cli-<seed>-script.toml`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Lift the run as it is, without shrinking it first.
        #[arg(long)]
        no_shrink: bool,
    },
    /// Run the workload's clients over real TCP against a server already running at
    /// HOST:PORT, one request at a time each, timed on a monotonic clock, and check their
    /// history by the workload's model (`Workload::model`): the black-box linearizability
    /// check. The server should hold none of the workload's keys. The history goes to a
    /// file, and a timeline beside it when it is not linearizable.
    Against {
        /// The server.
        #[arg(value_name = "HOST:PORT")]
        addr: String,
        /// The seed the sessions draw from [default: a fresh one, printed].
        #[arg(long)]
        seed: Option<u64>,
        /// Where the history goes (default `target/framesim/cli-against-<seed>-history.jsonl`).
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
    },
    /// Replay a script file (as `lift` writes it) with every oracle.
    Replay {
        /// The script.
        #[arg(long, value_name = "FILE")]
        script: PathBuf,
    },
    /// Run a script under every cut of its clients' bytes, each write one server read.
    Explore {
        /// The script.
        script: PathBuf,
        /// Cuts per client's bytes: 0, 1 or 2.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=2))]
        cuts: u8,
    },
}

/// Parses the process's arguments and runs the subcommand on `harness` (a sweep of seeds
/// `0..1000` without one); the exit code says whether it passed. Bad arguments or an
/// options file that does not parse exit with code 2 and say what was wrong.
pub fn main(harness: Harness) -> ExitCode {
    main_from(harness, std::env::args_os())
}

/// [`main`] with the arguments given (the first is the program's name).
pub fn main_from(harness: Harness, args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    let program = args
        .first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "harness".into());
    let parsed = Cli::try_parse_from(&args).and_then(|cli| match cli.command {
        // Without a subcommand: a sweep with its defaults.
        None => Cli::try_parse_from(args.iter().cloned().chain(["sweep".into()])),
        Some(_) => Ok(cli),
    });
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let own = harness.options().clone();
    let options = match &cli.options {
        None => own.clone(),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read it: {e}"))
            .and_then(|text| own.overlaid(&text))
        {
            Ok(options) => options,
            Err(e) => {
                eprintln!("--options {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let me = Me::new(program, cli.options.as_deref().map(absolute));
    let harness = harness.with(options);
    match cli
        .command
        .expect("a subcommand, or the sweep put in its place")
    {
        Command::Run { seed, transcript } => {
            let transcript = transcript.unwrap_or_else(|| me.transcript(seed));
            run(&harness, &me, seed, transcript)
        }
        Command::Check { seed } => check(&harness, &me, seed),
        Command::Sweep(args) => sweep(&harness, &me, &args),
        Command::Merge(args) => crate::sweep::print_merged(&args).unwrap_or_else(|e| {
            eprintln!("{e}");
            ExitCode::from(2)
        }),
        Command::Shrink { seed, out } => shrink(&harness, &own, &me, seed, out),
        Command::Lift {
            seed,
            out,
            no_shrink,
        } => {
            let out =
                out.unwrap_or_else(|| work_dir().join(format!("{}-{seed}-script.toml", me.name())));
            scripts::lift(&harness, me.invocation(), seed, out, !no_shrink)
        }
        Command::Replay { script } => scripts::replay(&harness, me.invocation(), &script),
        Command::Against {
            addr,
            seed,
            history,
        } => against(&harness, &me, &addr, seed, history),
        Command::Explore { script, cuts } => {
            scripts::explore(&harness, me.invocation(), &script, cuts.into())
        }
    }
}

/// How to name this program in a command a person can paste.
struct Me {
    program: String,
    options: Option<PathBuf>,
    /// How it was started, as [`Me::started`] says: worked out once, not for every seed.
    invocation: String,
}

impl Me {
    fn new(program: String, options: Option<PathBuf>) -> Self {
        let invocation = Me::started(&program);
        Me {
            program,
            options,
            invocation,
        }
    }

    /// The program as it was started, what a printed command begins with.
    fn invocation(&self) -> &str {
        &self.invocation
    }

    /// What the files this program writes are named after: its package and its own name
    /// (`my-server-sim`) when cargo started it, else its own name; two projects' programs
    /// of one name writing into one shared target folder then keep apart.
    fn name(&self) -> String {
        let name = Path::new(&self.program)
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "cli".into());
        match std::env::var("CARGO_PKG_NAME") {
            Ok(package) if package != name => format!("{package}-{name}"),
            _ => name,
        }
    }

    /// Where seed `seed`'s transcript goes: named after the options file too, when there is
    /// one, so a shrunk run, or a sweep of other options, never writes over another's.
    fn transcript(&self, seed: u64) -> PathBuf {
        let stem = self
            .options
            .as_deref()
            .and_then(Path::file_stem)
            .map(|s| format!("-{}", s.to_string_lossy()))
            .unwrap_or_default();
        work_dir().join(format!("{}-{seed}{stem}.txt", self.name()))
    }

    /// The program as it was started: `cargo run` of an example when cargo started it,
    /// else its path.
    fn started(program: &str) -> String {
        let name = Path::new(program)
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let example = Path::new(program)
            .parent()
            .is_some_and(|dir| dir.ends_with("examples"));
        let package = std::env::var("CARGO_PKG_NAME").ok();
        let env = super::env::carried(&[package.as_deref().unwrap_or_default(), &name]);
        match package {
            Some(package) if example => {
                format!("{env}cargo run -q -p {package} --example {name} --")
            }
            Some(package) => format!("{env}cargo run -q -p {package} --bin {name} --"),
            None => format!("{env}{program}"),
        }
    }

    /// The invocation and the options it ran with (`--options FILE`, if any): what a
    /// printed command starts with, so that it runs what this one ran.
    fn with_options(&self) -> String {
        match &self.options {
            Some(file) => format!("{} --options {}", self.invocation(), file.display()),
            None => self.invocation().to_string(),
        }
    }

    /// The command that runs `seed` alone, with `options` (else the options it ran with).
    fn run_command(&self, seed: u64, options: Option<&Path>) -> String {
        let mut command = format!("{} run --seed {seed}", self.invocation());
        if let Some(file) = options.or(self.options.as_deref()) {
            command.push_str(&format!(" --options {}", file.display()));
        }
        command
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn run(harness: &Harness, me: &Me, seed: u64, path: PathBuf) -> ExitCode {
    let outcome = harness.replay(seed);
    if let Err(e) = write_file(&path, outcome.render()) {
        eprintln!("could not write the transcript to {}: {e}", path.display());
    }
    picture(&outcome, &path);
    if outcome.passed() {
        println!("{}\ntranscript: {}", outcome.summary(), shown(&path));
        ExitCode::SUCCESS
    } else {
        println!(
            "{}\ntranscript: {}",
            outcome.failure(&me.run_command(seed, None)),
            shown(&path)
        );
        ExitCode::FAILURE
    }
}

fn check(harness: &Harness, me: &Me, seed: u64) -> ExitCode {
    match harness.diverge(seed) {
        None => {
            let hash = harness.run(seed).transcript.hash();
            println!("seed {seed}: deterministic, transcript hash {hash:016x}");
            ExitCode::SUCCESS
        }
        Some(_) => {
            let (detail, cause) = divergence(harness, seed);
            println!(
                "seed {seed} [determinism] {detail}\nlikely cause: {cause}\nreplay: {} check --seed {seed}",
                me.with_options()
            );
            ExitCode::FAILURE
        }
    }
}

/// `sweep`: the library's sweep, stopping at the lowest failing seed (unless told
/// otherwise), which it runs again for its report.
fn sweep(harness: &Harness, me: &Me, args: &SweepArgs) -> ExitCode {
    let tally = Mutex::new(Tally::default());
    let scenario = harness.options().fingerprint();
    let label = Path::new(&me.program)
        .file_stem()
        .map_or_else(|| me.program.clone(), |n| n.to_string_lossy().into_owned());
    let sweeping = Sweeping {
        what: format!("{label}-{scenario:016x}"),
        label,
        also: &|_| None,
        max_failures: Some(1),
    };
    let swept = args.run(&sweeping, |seed, recheck| {
        let replay = me.run_command(seed, None);
        seed_result(harness, seed, recheck, scenario, replay, &tally)
    });
    let swept = match swept {
        Ok(swept) => swept,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // What the passing seeds did is the coverage table the sweep printed.
    if let Some(failure) = swept.failures.first() {
        let seed = failure.seed;
        match failure.second_hash {
            None => {
                let outcome = harness.replay(seed);
                let path = me.transcript(seed);
                if let Err(e) = write_file(&path, outcome.render()) {
                    eprintln!("could not write the transcript to {}: {e}", path.display());
                }
                // A history that is not linearizable: its timeline beside the transcript.
                picture(&outcome, &path);
                println!(
                    "{}\ntranscript: {}\nshrink it: {} shrink --seed {seed}",
                    outcome.failure(&me.run_command(seed, None)),
                    shown(&path),
                    me.with_options()
                );
            }
            Some(again) => {
                let (detail, cause) = divergence(harness, seed);
                println!(
                    "seed {seed} [determinism] two runs differ ({:016x} vs {again:016x}): {detail}\nlikely cause: {cause}\nreplay: {} check --seed {seed}",
                    failure.hash,
                    me.with_options()
                );
            }
        }
    }
    exit_code(&swept)
}

/// Shrinks `seed`; the options file is written over `own`, the harness's options before
/// any `--options`, as `--options` lays it.
fn shrink(harness: &Harness, own: &Options, me: &Me, seed: u64, out: Option<PathBuf>) -> ExitCode {
    let Some(shrunk) = harness.shrink(seed) else {
        println!("seed {seed} passes: nothing to shrink");
        return ExitCode::SUCCESS;
    };
    let path = absolute(
        &out.unwrap_or_else(|| work_dir().join(format!("{}-{seed}-shrunk.toml", me.name()))),
    );
    let text = shrunk.options.toml_over(own);
    if let Err(e) = write_file(&path, &text) {
        eprintln!("could not write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    println!(
        "{}\n{text}options: {}\nrun it: {}",
        shrunk.summary(),
        shown(&path),
        me.run_command(shrunk.seed, Some(&path))
    );
    ExitCode::FAILURE
}

/// `against HOST:PORT`: the workload's clients against a real server, their history checked.
fn against(
    harness: &Harness,
    me: &Me,
    addr: &str,
    seed: Option<u64>,
    history: Option<PathBuf>,
) -> ExitCode {
    use std::net::ToSocketAddrs;
    let resolved = match addr.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(resolved)) => resolved,
        Ok(None) => {
            eprintln!("{addr}: no address");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("{addr}: {e}");
            return ExitCode::from(2);
        }
    };
    let seed = seed.unwrap_or_else(super::against::fresh_seed);
    let clients = harness.options().clients;
    let found = match super::against::check(resolved, harness.workload().as_ref(), clients, seed) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let path = history
        .unwrap_or_else(|| work_dir().join(format!("{}-against-{seed}-history.jsonl", me.name())));
    println!(
        "against {addr}, {clients} clients, seed {seed}: {}",
        found.summary()
    );
    match super::against::write(&found, &path, &format!("against {addr}")) {
        Ok(timeline) => {
            println!("history: {}", shown(&path));
            if let Some(timeline) = timeline {
                println!("timeline: {}", shown(&timeline));
            }
        }
        Err(e) => eprintln!("could not write the history to {}: {e}", shown(&path)),
    }
    if found.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A printed command runs with the options the sweep ran with: a `shrink it:` without
    /// them finds a seed that passes.
    #[test]
    fn printed_commands_carry_the_options_file() {
        let me = Me::new("/bin/harness".into(), Some(PathBuf::from("/tmp/o.toml")));
        assert!(me.with_options().ends_with(" --options /tmp/o.toml"));
        assert!(me
            .run_command(3, None)
            .ends_with(" run --seed 3 --options /tmp/o.toml"));
        let bare = Me {
            options: None,
            ..me
        };
        assert_eq!(bare.with_options(), bare.invocation());
    }
}
