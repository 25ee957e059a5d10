//! `framesim`: run, replay and sweep simulations of the framesim server.

use clap::{Parser, Subcommand, ValueEnum};
use framesim::{check_determinism, run, Preset, Report, RunOptions, Scenario, Target};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
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
        /// Where to write the transcript (default: target/framesim/<scenario>-<seed>.txt).
        #[arg(long)]
        transcript: Option<PathBuf>,
    },
    /// Run a range of seeds and print every failing one.
    Sweep {
        /// Scenario preset.
        #[arg(long, default_value = "small")]
        scenario: String,
        /// Seeds as A..B (B excluded).
        #[arg(long, default_value = "0..1000")]
        seeds: String,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Only seeds s with s % N == I, given as I/N.
        #[arg(long)]
        shard: Option<String>,
        /// Server under test.
        #[arg(long, default_value = "framesim")]
        target: Target,
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
    /// Run one seed twice and report the first diverging event, if any.
    Check(Pick),
    /// List the scenario presets and the server targets.
    List,
}

#[derive(Debug, clap::Args)]
struct Pick {
    /// Scenario preset (see `framesim list`).
    #[arg(long, default_value = "default")]
    scenario: String,
    /// Seed (default: FRAMESIM_SEED, else a fresh one, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Server under test.
    #[arg(long, default_value = "framesim")]
    target: Target,
    /// Override the preset's number of virtual clients.
    #[arg(long)]
    clients: Option<usize>,
    /// Override the preset's number of client hosts.
    #[arg(long)]
    hosts: Option<usize>,
}

impl Pick {
    fn scenario(&self) -> Result<Scenario, String> {
        let seed = match self.seed {
            Some(seed) => seed,
            None => seed_from_env()?,
        };
        let mut s = Scenario::preset(self.scenario.parse()?, seed);
        s.target = self.target;
        if let Some(n) = self.clients {
            if n == 0 {
                return Err("--clients must be at least 1".into());
            }
            s.clients = n;
        }
        if let Some(n) = self.hosts {
            if n == 0 {
                return Err("--hosts must be at least 1".into());
            }
            s.client_hosts = n;
        }
        Ok(s)
    }
}

fn main() -> ExitCode {
    match main_inner() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("framesim: {e}");
            ExitCode::from(2)
        }
    }
}

fn main_inner() -> Result<ExitCode, String> {
    match Cli::parse().command {
        Cmd::Run(pick) => {
            let scenario = pick.scenario()?;
            let report = run(&scenario, RunOptions::default());
            Ok(finish(&report, None))
        }
        Cmd::Replay { pick, transcript } => {
            let scenario = pick.scenario()?;
            let report = run(
                &scenario,
                RunOptions {
                    keep_transcript: true,
                },
            );
            let path = transcript.unwrap_or_else(|| framesim::default_transcript_path(&scenario));
            framesim::write_transcript(&report, &path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(finish(&report, Some(&path)))
        }
        Cmd::ReplayFuzz { input, transcript } => {
            let data = std::fs::read(&input).map_err(|e| format!("{}: {e}", input.display()))?;
            let scenario = framesim::fuzz::scenario_from_bytes(&data);
            let options = RunOptions {
                keep_transcript: true,
            };
            let report = run(&scenario, options);
            let path = transcript.unwrap_or_else(|| framesim::default_transcript_path(&scenario));
            framesim::write_transcript(&report, &path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(finish(&report, Some(&path)))
        }
        Cmd::Check(pick) => {
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
        Cmd::Sweep {
            scenario,
            seeds,
            jobs,
            shard,
            target,
        } => sweep(&scenario, &seeds, jobs, shard.as_deref(), target),
        Cmd::List => {
            println!("scenarios:");
            for preset in Preset::value_variants() {
                println!("  {:<12} {}", preset.name(), preset.about());
            }
            println!("targets (--target):");
            for target in Target::value_variants() {
                println!("  {}", target.name());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The seed from `FRAMESIM_SEED`, or a fresh one (printed to stderr so it can be replayed).
fn seed_from_env() -> Result<u64, String> {
    match std::env::var("FRAMESIM_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("FRAMESIM_SEED must be a number, not '{s}'")),
        Err(_) => {
            let seed = framesim::fresh_seed();
            eprintln!("framesim: fresh seed {seed} (set FRAMESIM_SEED={seed} to replay)");
            Ok(seed)
        }
    }
}

fn finish(report: &Report, transcript: Option<&std::path::Path>) -> ExitCode {
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

fn parse_range(seeds: &str) -> Result<std::ops::Range<u64>, String> {
    let bad = || format!("--seeds must look like A..B, not '{seeds}'");
    let (a, b) = seeds.split_once("..").ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a >= b {
        return Err(format!("--seeds {seeds} is empty"));
    }
    Ok(a..b)
}

fn parse_shard(shard: Option<&str>) -> Result<(u64, u64), String> {
    let Some(shard) = shard else {
        return Ok((0, 1));
    };
    let bad = || format!("--shard must look like I/N with I < N, not '{shard}'");
    let (i, n) = shard.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

fn sweep(
    name: &str,
    seeds: &str,
    jobs: usize,
    shard: Option<&str>,
    target: Target,
) -> Result<ExitCode, String> {
    let range = parse_range(seeds)?;
    let (index, of) = parse_shard(shard)?;
    let preset: Preset = name.parse()?;
    let mine: Vec<u64> = range.filter(|s| s % of == index).collect();
    let bar = ProgressBar::new(mine.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds {per_sec} eta {eta} {msg}")
            .expect("progress template"),
    );
    let next = AtomicU64::new(0);
    let failures = Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&seed) = mine.get(i) else { return };
                let mut s = Scenario::preset(preset, seed);
                s.target = target;
                let report = run(&s, RunOptions::default());
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
        "swept {} seeds of '{name}' (shard {index}/{of}, {jobs} jobs) in {secs:.2}s: {:.0} seeds/s, {} failed",
        mine.len(),
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
