//! Many seeds from a `#[test]`: which seeds (the environment says), the run of each, and a
//! failure that says how to replay it.

use super::asked::Asked;
use super::options::Options;
use super::outcome::Outcome;
use super::outcome::Tally;
use super::run::Harness;
use crate::oracle::Oracle;
use crate::output::write_file;
use crate::scenario::{shown, target_dir, work_dir};
use crate::sweep::{
    default_jobs, shard_from, Failures, Plan, Recheck, SeedResult, Seeds, Shard, Swept, Watch,
};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The seeds a sweep runs when the environment names none.
pub const DEFAULT_SEEDS: Range<u64> = 0..16;

/// The seeds to sweep: `FRAMESIM_SEED=N` for one, `FRAMESIM_SEEDS=A..B` for a range, else
/// `default`. A value that does not parse is an error naming it.
///
/// ```
/// let seeds = framesim::harness::seeds_from_env(0..4).unwrap();
/// # let _ = seeds;
/// ```
pub fn seeds_from_env(default: Range<u64>) -> Result<Range<u64>, String> {
    if let Ok(one) = std::env::var("FRAMESIM_SEED") {
        let seed: u64 = one
            .trim()
            .parse()
            .map_err(|_| format!("FRAMESIM_SEED={one:?} is not a seed"))?;
        return Ok(seed..seed + 1);
    }
    match std::env::var("FRAMESIM_SEEDS") {
        Ok(range) => parse_range(&range)
            .ok_or_else(|| format!("FRAMESIM_SEEDS={range:?} is not a range like 0..100")),
        Err(_) => Ok(default),
    }
}

fn parse_range(text: &str) -> Option<Range<u64>> {
    let (a, b) = text.trim().split_once("..")?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a < b).then_some(a..b)
}

/// The options a sweep runs with: the TOML of `FRAMESIM_OPTIONS=FILE` (as a shrunk failure
/// is written) laid over `options`, field by field ([`Options::overlaid`]), else `options`.
/// A file that cannot be read or parsed is an error naming it.
pub fn options_from_env(options: &Options) -> Result<Options, String> {
    let Some(path) = options_file() else {
        return Ok(options.clone());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("FRAMESIM_OPTIONS={}: cannot read it: {e}", path.display()))?;
    options
        .overlaid(&text)
        .map_err(|e| format!("FRAMESIM_OPTIONS={}: {e}", path.display()))
}

/// The file `FRAMESIM_OPTIONS` names, as a whole path (cargo runs a test in its package's
/// folder, wherever the command that names it ran).
fn options_file() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("FRAMESIM_OPTIONS")?);
    Some(std::path::absolute(&path).unwrap_or(path))
}

/// How a failing seed is run again: the `cargo test` command of the test that swept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The command before its test filter, e.g. `cargo test -p mypkg --test sim`.
    pub command: String,
    /// The test's name, as libtest filters it (`tests::kv` or `kv`), if known.
    pub test: Option<String>,
    /// Where transcripts and shrunk options go: `framesim/` in the target folder of the
    /// test's workspace.
    pub dir: PathBuf,
    /// The options file the sweep ran with (`FRAMESIM_OPTIONS`), if any: every command
    /// printed names it again, and what the run writes is named after it.
    pub options: Option<PathBuf>,
    /// What the files it writes are named after: the package and the test target
    /// (`my-server-sim`), so that two packages' tests sharing a target folder keep apart.
    pub name: String,
    /// The variables every command it prints sets first (`MY_SERVER_BUG=off-by-one `):
    /// those the package or the test target owns by name, and those `FRAMESIM_ENV` lists.
    pub env: String,
}

impl Replay {
    /// `cargo test -p <package> <target>`, e.g. `target` = `--test sim`; the test name is
    /// the current thread's (libtest names each test's thread after it); the options file
    /// is `FRAMESIM_OPTIONS`'s.
    pub fn new(package: &str, target: &str) -> Self {
        let test = std::thread::current()
            .name()
            .filter(|name| *name != "main")
            .map(str::to_string);
        let target_name = target.rsplit(' ').next().unwrap_or(target);
        Replay {
            command: format!("cargo test -p {package} {target}"),
            test,
            dir: work_dir(),
            options: options_file(),
            name: format!("{package}-{}", target_name.trim_start_matches('-')),
            env: super::env::carried(&[package, target_name]),
        }
    }

    /// The same replay writing under the target folder of the workspace that holds the
    /// package at `manifest_dir` (`CARGO_TARGET_DIR` if set): the nearest folder up from it
    /// with a `Cargo.lock`, else the package's own.
    pub fn in_workspace_of(mut self, manifest_dir: &str) -> Self {
        self.dir = target_dir(Some(PathBuf::from(manifest_dir))).join("framesim");
        self
    }

    /// The command that runs exactly `seed` of this test, with the options it ran with.
    pub fn command(&self, seed: u64) -> String {
        match &self.options {
            Some(file) => self.command_with(seed, file),
            None => self.bare(seed),
        }
    }

    /// The command that runs exactly `seed` of this test with the options in `file` laid
    /// over the test's own.
    pub fn command_with(&self, seed: u64, file: &std::path::Path) -> String {
        format!("FRAMESIM_OPTIONS={} {}", file.display(), self.bare(seed))
    }

    fn bare(&self, seed: u64) -> String {
        let mut cmd = format!("{}FRAMESIM_SEED={seed} {}", self.env, self.command);
        if let Some(test) = &self.test {
            cmd.push_str(&format!(" -- {test} --exact"));
        }
        cmd
    }

    /// Where the transcript of `seed` goes: `target/framesim/<package>-<target>-<test>-<seed>.txt`
    /// (the test's name left out when it is the target's, as in `my-server-sim-3.txt`);
    /// run with an options file, the file's name with `.txt` (a shrunk failure replayed
    /// writes its own transcript again, never the full run's).
    pub fn transcript_path(&self, seed: u64) -> PathBuf {
        self.dir.join(format!("{}.txt", self.stem(seed)))
    }

    /// Where the shrunk options of `seed` go: the transcript's name with `-shrunk.toml`.
    pub fn shrunk_path(&self, seed: u64) -> PathBuf {
        self.dir.join(format!("{}-shrunk.toml", self.stem(seed)))
    }

    /// `<package>-<target>-<test>-<seed>`, or the options file's own name when it has the
    /// form.
    fn stem(&self, seed: u64) -> String {
        let test = self.test.as_deref().unwrap_or("run").replace("::", "-");
        let own = if self.name.ends_with(&format!("-{test}")) {
            format!("{}-{seed}", self.name)
        } else {
            format!("{}-{test}-{seed}", self.name)
        };
        match self.options.as_deref().and_then(|f| f.file_stem()) {
            Some(file) => {
                let file = file.to_string_lossy();
                if file.starts_with(&own) {
                    file.into_owned()
                } else {
                    format!("{own}-{file}")
                }
            }
            None => own,
        }
    }
}

/// The shard a test's sweep runs: all of its seeds, unless `FRAMESIM_SHARD` says `I/N`, or
/// `ci` for the shard the CI engine's variables name ([`shard_from`]). Only when asked: a CI
/// that splits test files between its machines sets those variables too, and each test
/// must then run all its seeds. One seed named by `FRAMESIM_SEED` runs whatever the shard.
pub fn shard_from_env() -> Result<Shard, String> {
    let var = |name: &str| std::env::var(name).ok();
    if var("FRAMESIM_SHARD").is_none() || var("FRAMESIM_SEED").is_some() {
        return Ok(Shard::ALL);
    }
    Ok(shard_from(var)?.map_or(Shard::ALL, |found| found.shard))
}

/// Runs `seed` of `harness` (twice if `recheck` or it failed): what it showed (what its
/// first run exercised included, for the sweep's coverage), with `replay` as the command
/// that runs it again. What the clients of a passing seed did is added to `tally`.
pub(super) fn seed_result(
    harness: &Harness,
    seed: u64,
    recheck: bool,
    scenario: u64,
    replay: String,
    tally: &Mutex<Tally>,
) -> SeedResult {
    let outcome = harness.run(seed);
    let hash = outcome.transcript.hash();
    let result = SeedResult::pass(seed, scenario, hash, replay).seeing(super::coverage::seen(
        &outcome,
        &harness.options().for_seed(seed),
    ));
    // A failing seed always runs twice: the command it prints must show the same failure.
    let result = if recheck || !outcome.passed() {
        result.rechecked(harness.run(seed).transcript.hash())
    } else {
        result
    };
    if !outcome.passed() && result.second_hash.is_none() {
        return result.failing(outcome.first_failure());
    }
    match result.second_hash {
        Some(again) => result.failing(format!(
            "[determinism] two runs differ ({hash:016x} vs {again:016x})"
        )),
        None => {
            tally.lock().expect("sweep tally").add(&outcome.tally);
            result
        }
    }
}

/// Runs the seeds of `plan` (the first and one in 16 twice, for determinism), each failure
/// replayed with `replay(seed)`, each result handed to `watch` in seed order. On a failure
/// no seed above it is started and the ones below it finish, so the failure reported is
/// the lowest failing seed whatever the threads' timing. What the clients of the passing
/// seeds did, and what the sweep found.
pub(super) fn run_seeds(
    harness: &Harness,
    plan: Plan,
    replay: impl Fn(u64) -> String + Sync,
    watch: &dyn Watch,
) -> (Tally, Swept) {
    let plan = Plan {
        max_failures: Some(1),
        ..plan
    };
    let tally = Mutex::new(Tally::default());
    let scenario = harness.options().fingerprint();
    let swept = plan.run(
        |seed, recheck| seed_result(harness, seed, recheck, scenario, replay(seed), &tally),
        watch,
    );
    (tally.into_inner().expect("sweep tally"), swept)
}

/// Runs the seeds the failure database `db` kept, first: forgets those that pass; the
/// lowest that still fails, if one does.
fn known_first(
    harness: &Harness,
    db: &Failures,
    replay: &Replay,
) -> Result<Option<SeedResult>, String> {
    let known = db.seeds()?;
    if known.is_empty() {
        return Ok(None);
    }
    let plan = Plan {
        recheck: Recheck::Off,
        ..Plan::new(Seeds::List(known.clone()), default_jobs())
    };
    let (_, swept) = run_seeds(harness, plan, |seed| replay.command(seed), &());
    let failure = swept.failures.into_iter().next();
    // The seeds before the one that still fails ran, and passed.
    for &seed in known.iter().take(swept.seeds) {
        if failure.as_ref().is_none_or(|f| f.seed != seed) {
            db.forget(seed)?;
            eprintln!(
                "framesim: seed {seed} of {} passes now: forgotten",
                db.dir().display()
            );
        }
    }
    if let Some(f) = &failure {
        eprintln!(
            "framesim: seed {} of {} still fails",
            f.seed,
            db.dir().display()
        );
    }
    Ok(failure)
}

/// A determinism failure of `seed` in words: the first diverging event (and its client),
/// and the likely cause.
pub(super) fn divergence(harness: &Harness, seed: u64) -> (String, &'static str) {
    match harness.diverge(seed) {
        Some(d) => (
            format!(
                "first diverging event {}{}: {:?} vs {:?}",
                d.index,
                d.client()
                    .map(|c| format!(" (client {c})"))
                    .unwrap_or_default(),
                d.first,
                d.second
            ),
            d.likely_cause(),
        ),
        None => (
            "the transcripts agree when kept".into(),
            crate::world::UNORDERED,
        ),
    }
}

/// Runs `harness` for every seed the environment names (else `default`; `FRAMESIM_SHARD`
/// for one shard of them, [`shard_from_env`]; `FRAMESIM_FOR=20m` for every seed from a
/// root until the time is up, `FRAMESIM_RESULTS=FILE` for a results file,
/// `FRAMESIM_FAILURES=DIR` for a failure database whose seeds run first,
/// `FRAMESIM_REQUIRE_COVERAGE=1` to fail a passing sweep in which a role, fault or restart
/// its options ask for never happened, naming each), on every core
/// (`FRAMESIM_JOBS` to say how many), the first seed and one in 16 twice to check that
/// they give the same transcript. On a failure it stops taking new seeds, finishes the
/// ones below it, and reports the lowest failing seed, whatever the threads' timing: runs
/// it again keeping its events, prints the report (first violation, the failing client's
/// last events, the seed, the replay command) on stderr, writes the transcript under
/// `target/framesim/`, shrinks it, and fails the test with one line: the seed, the first
/// failure, the replay command, the smallest one. Returns what the clients did over every
/// seed.
///
/// Use it through [`sweep!`](crate::sweep!), which fills in `replay` for the calling test.
pub fn sweep(harness: &Harness, default: Range<u64>, replay: &Replay) -> Tally {
    let seeds = seeds_from_env(default).unwrap_or_else(|e| stop(format!("framesim: {e}")));
    let own = harness.options();
    let options = options_from_env(own).unwrap_or_else(|e| stop(format!("framesim: {e}")));
    let harness = &harness.clone().with(options);
    let shard = shard_from_env().unwrap_or_else(|e| stop(format!("framesim: {e}")));
    let test = replay.test.as_deref().unwrap_or("run").replace("::", "-");
    let what = format!("{test}-{:016x}", harness.options().fingerprint());
    let asked = Asked::from(|name| std::env::var(name).ok(), seeds, shard, &what)
        .unwrap_or_else(|e| stop(format!("framesim: {e}")));
    let required = super::coverage::required(|name| std::env::var(name).ok())
        .unwrap_or_else(|e| stop(format!("framesim: {e}")));
    let known = match &asked.failures {
        Some(db) => {
            known_first(harness, db, replay).unwrap_or_else(|e| stop(format!("framesim: {e}")))
        }
        None => None,
    };
    let failure = match known {
        Some(failure) => failure,
        None => {
            let plan = Plan {
                budget: asked.budget,
                ..Plan::new(asked.seeds.clone(), default_jobs())
            };
            let watch: &dyn Watch = match &asked.results {
                Some(results) => results,
                None => &(),
            };
            let (tally, swept) = run_seeds(harness, plan, |seed| replay.command(seed), watch);
            if let Some(results) = &asked.results {
                results
                    .finish()
                    .unwrap_or_else(|e| stop(format!("framesim: FRAMESIM_RESULTS: {e}")));
            }
            if let (Seeds::From { root, .. }, Some(last)) = (&asked.seeds, swept.last) {
                eprintln!(
                    "framesim: ran seeds {root}..{} (FRAMESIM_SEEDS={root}..{} runs them again)",
                    last + 1,
                    last + 1
                );
            }
            if swept.failures.is_empty() {
                eprintln!("{}", swept.coverage.table());
                if required {
                    if let Err(e) = swept.coverage.required() {
                        stop(format!("framesim: {e} (FRAMESIM_REQUIRE_COVERAGE=1)"));
                    }
                }
            }
            let Some(failure) = swept.failures.into_iter().next() else {
                return tally;
            };
            if let Some(db) = &asked.failures {
                db.keep(&failure)
                    .unwrap_or_else(|e| stop(format!("framesim: FRAMESIM_FAILURES: {e}")));
            }
            failure
        }
    };
    let seed = failure.seed;
    match failure.second_hash {
        None => fail(harness, own, seed, replay),
        Some(again) => {
            let first = failure.hash;
            let (detail, cause) = divergence(harness, seed);
            eprintln!(
                "framesim: seed {seed} is not deterministic: {detail}\nlikely cause: {cause}"
            );
            stop(format!(
                "framesim: seed {seed} [determinism] two runs differ ({first:016x} vs {again:016x}): likely {cause} | replay: {}",
                replay.command(seed)
            ))
        }
    }
}

/// Reports the failing `seed` and panics.
fn fail(harness: &Harness, own: &Options, seed: u64, replay: &Replay) -> ! {
    let outcome = harness.replay(seed);
    let command = replay.command(seed);
    eprintln!("{}", outcome.failure(&command));
    let path = replay.transcript_path(seed);
    match write_file(&path, outcome.render()) {
        Ok(()) => eprintln!("transcript: {}", shown(&path)),
        Err(e) => eprintln!("could not write the transcript to {}: {e}", shown(&path)),
    }
    let mut timeline = picture(&outcome, &path);
    let first = match outcome.first_failure() {
        line if line.is_empty() => "passed when run again: not deterministic".to_string(),
        line => line,
    };
    let smallest = shrink(harness, own, seed, replay).map(|(command, drawn)| {
        timeline = drawn.or(timeline.take());
        format!(" | smallest: {command}")
    });
    let timeline = timeline
        .map(|t| format!(" | timeline: {}", shown(&t)))
        .unwrap_or_default();
    stop(format!(
        "framesim: seed {seed} {first} | replay: {command}{}{timeline}",
        smallest.unwrap_or_default()
    ));
}

/// When `outcome` failed `[linearizable]`, writes its history (JSON lines) and timeline
/// (HTML) beside its transcript at `transcript` and says where on stderr; the timeline's
/// path.
pub(super) fn picture(outcome: &Outcome, transcript: &Path) -> Option<PathBuf> {
    let history = outcome.history.as_ref()?;
    if !outcome
        .violations
        .iter()
        .any(|v| v.oracle == Oracle::Linearizable)
    {
        return None;
    }
    match history.write_beside(transcript) {
        Ok((lines, timeline)) => {
            eprintln!("history: {}\ntimeline: {}", shown(&lines), shown(&timeline));
            Some(timeline)
        }
        Err(e) => {
            eprintln!(
                "could not write the history beside {}: {e}",
                shown(transcript)
            );
            None
        }
    }
}

/// Fails the calling test with `message` on one line: printed, then unwound with it as the
/// payload, without the panic hook's location and backtrace (`RUST_BACKTRACE=1` would add
/// a page of frames inside framesim to every failing seed).
fn stop(message: String) -> ! {
    eprintln!("{message}");
    std::panic::resume_unwind(Box::new(message))
}

/// Shrinks failing `seed` (unless `FRAMESIM_SHRINK=0`), writes the smallest options (as
/// TOML over the test's `own`) and their transcript under `target/framesim/`, reports them
/// on stderr; the command that runs them, if they are smaller, and the shrunk run's
/// timeline if it failed `[linearizable]` ([`picture`]).
fn shrink(
    harness: &Harness,
    own: &Options,
    seed: u64,
    replay: &Replay,
) -> Option<(String, Option<PathBuf>)> {
    if std::env::var("FRAMESIM_SHRINK").is_ok_and(|v| v.trim() == "0") {
        return None;
    }
    let shrunk = harness.shrink(seed)?;
    if shrunk.options == *harness.options() && shrunk.seed == seed {
        return None;
    }
    let path = replay.shrunk_path(seed);
    let transcript = path.with_extension("txt");
    let written = write_file(&path, shrunk.options.toml_over(own))
        .and_then(|()| write_file(&transcript, shrunk.outcome.render()));
    if let Err(e) = written {
        eprintln!(
            "could not write the shrunk options to {}: {e}",
            shown(&path)
        );
        return None;
    }
    let command = replay.command_with(shrunk.seed, &path);
    eprintln!(
        "{}\n{}transcript: {}\nrun it: {command}",
        shrunk.summary(),
        shrunk.options.toml_over(own),
        shown(&transcript),
    );
    let timeline = picture(&shrunk.outcome, &transcript);
    Some((command, timeline))
}

/// Sweeps a [`Harness`] over seeds from a `#[test]`: `sweep!(harness)` for
/// [`DEFAULT_SEEDS`], `sweep!(harness, 0..100)` for others. `FRAMESIM_SEED=N` or
/// `FRAMESIM_SEEDS=A..B` override them. A failure panics with the seed, the first
/// violation and the command that replays it in this test; see [`sweep`](crate::harness::sweep()).
///
/// ```
/// use framesim::harness::{Harness, KvWorkload, Options};
/// use framesim_server::protocol::Framing;
/// use framesim_server::{serve, Config, Kv, Stats};
///
/// let harness = Harness::new(
///     |listener, shutdown| async move {
///         serve(listener, Kv::new(), Config::default(), Stats::default(), shutdown).await.unwrap();
///     },
///     KvWorkload::new(Framing::Resp),
/// )
/// .with(Options { clients: 4, ..Options::gentle() });
/// let tally = framesim::sweep!(harness, 0..2);
/// assert_eq!(tally.replies, 2 * 4 * 8);
/// ```
#[macro_export]
macro_rules! sweep {
    ($harness:expr) => {
        $crate::sweep!($harness, $crate::harness::DEFAULT_SEEDS)
    };
    ($harness:expr, $seeds:expr) => {
        $crate::harness::sweep(
            &$harness,
            $seeds,
            &$crate::harness::Replay::new(
                env!("CARGO_PKG_NAME"),
                &$crate::harness::target_flag(
                    env!("CARGO_CRATE_NAME"),
                    option_env!("CARGO_TARGET_TMPDIR").is_some(),
                    env!("CARGO_PKG_NAME"),
                ),
            )
            .in_workspace_of(env!("CARGO_MANIFEST_DIR")),
        )
    };
}

/// The cargo flag naming the target a test is compiled in: `--test NAME` for an integration
/// test (cargo sets `CARGO_TARGET_TMPDIR` only for those), `--lib` for the library's unit
/// tests, `--example NAME` otherwise (an example with `test = true`). For [`sweep!`].
#[doc(hidden)]
pub fn target_flag(crate_name: &str, integration: bool, package: &str) -> String {
    if integration {
        format!("--test {crate_name}")
    } else if crate_name == package.replace('-', "_") {
        "--lib".into()
    } else {
        format!("--example {crate_name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_writes_in_the_workspace_of_the_calling_package() {
        let root = std::env::temp_dir().join(format!("framesim-replay-{}", std::process::id()));
        let package = root.join("crates").join("my-server");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(root.join("Cargo.lock"), "").unwrap();
        let replay =
            Replay::new("my-server", "--test sim").in_workspace_of(package.to_str().unwrap());
        if std::env::var_os("CARGO_TARGET_DIR").is_none() {
            assert_eq!(replay.dir, root.join("target").join("framesim"));
        }
        assert!(replay.shrunk_path(3).starts_with(&replay.dir));
        let name = replay.transcript_path(3);
        let name = name.file_name().unwrap().to_string_lossy();
        assert!(
            name.starts_with("my-server-sim-") && name.ends_with("-3.txt"),
            "{name}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
