//! What a run found, for people: a summary, or the first violation and how to replay it.

use crate::oracle::Violation;
use crate::scenario::{shown, work_dir, Scenario, Target};
use crate::transcript::{Counts, Transcript};
use framesim_server::Snapshot;
use std::fmt::Write as _;
use std::time::Duration;

/// How printed commands start the CLI.
pub const CLI: &str = "cargo run --release -p framesim --";

/// The CLI command `subcommand` (`replay`, `check`, `run`) for exactly `s`: `--scenario P
/// --seed N [--target T]` when `s` is a preset left as it is; otherwise `--scenario-file
/// PATH`, with `s` written to that file under `target/framesim/` first (named after the
/// scenario and a hash of it, so it is the same file for the same scenario).
pub fn command_for(subcommand: &str, s: &Scenario) -> String {
    if let Some(preset) = s.unchanged_preset() {
        let mut cmd = format!("{CLI} {subcommand} --scenario {preset} --seed {}", s.seed);
        if s.target != Target::Framesim {
            let _ = write!(cmd, " --target {}", s.target);
        }
        return cmd;
    }
    let path = work_dir().join(format!("{}.toml", s.file_stem()));
    let mut cmd = format!("{CLI} {subcommand} --scenario-file {}", shown(&path));
    if let Err(e) = s.save(&path) {
        let _ = write!(cmd, "  (could not write that file: {e})");
    }
    cmd
}

/// What one run found, and the numbers it left.
#[derive(Debug, Clone)]
pub struct Report {
    /// What ran.
    pub scenario: Scenario,
    /// Every violation, in the order found.
    pub violations: Vec<Violation>,
    /// The simulation itself failed: `panic at file:line: message`, or a turmoil error.
    pub error: Option<String>,
    /// Every panic inside the run, as `file:line: message`, in order: connection tasks that
    /// tokio caught as well as the one that ended the simulation, if one did.
    pub panics: Vec<String>,
    /// Every client's steps, when the run was lifted into a script (`RunOptions::lift`).
    pub scripts: Vec<crate::script::ClientScript>,
    /// Every connection's fault plan, when the run was lifted (those with a fault only).
    pub connections: Vec<crate::kv::plan::ConnectionPlan>,
    /// The real server the run's clients talked to (`framesim run --against`), if any.
    pub against: Option<std::net::SocketAddr>,
    /// The run's transcript (lines kept only if asked for).
    pub transcript: Transcript,
    /// The server's counters at the end.
    pub stats: Snapshot,
    /// Events by kind.
    pub counts: Counts,
    /// Virtual time the run took.
    pub virtual_time: Duration,
    /// Wall time the run took.
    pub wall: Duration,
    /// Median virtual latency of a request batch.
    pub p50: Duration,
    /// 99th percentile virtual latency of a request batch.
    pub p99: Duration,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        scenario: Scenario,
        violations: Vec<Violation>,
        error: Option<String>,
        transcript: Transcript,
        stats: Snapshot,
        mut latencies: Vec<u64>,
        virtual_time: Duration,
        wall: Duration,
    ) -> Report {
        latencies.sort_unstable();
        let pct = |p: usize| {
            latencies
                .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
                .map(|&us| Duration::from_micros(us))
                .unwrap_or_default()
        };
        Report {
            counts: transcript.counts(),
            p50: pct(50),
            p99: pct(99),
            scenario,
            violations,
            error,
            panics: Vec::new(),
            scripts: Vec::new(),
            connections: Vec::new(),
            against: None,
            transcript,
            stats,
            virtual_time,
            wall,
        }
    }

    /// True when no oracle found anything, nothing panicked, and the simulation ran to its
    /// end.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.error.is_none() && self.panics.is_empty()
    }

    /// What failed, on one line: `[oracle] detail` of the first violation, `[panic]
    /// file:line: message`, or `[error] ...`; empty for a pass.
    pub fn first_failure(&self) -> String {
        let mut line = if let Some(e) = &self.error {
            match self.panics.first() {
                Some(panic) => format!("[panic] {panic}"),
                None => format!("[error] {e}"),
            }
        } else if let Some(v) = self.violations.first() {
            let mut line = format!("[{}] {}", v.oracle, v.detail);
            if let Some(panic) = self.panics.first() {
                let _ = write!(line, "; panicked at {panic}");
            }
            line
        } else if let Some(panic) = self.panics.first() {
            format!("[panic] {panic}")
        } else {
            return String::new();
        };
        if self.panics.len() > 1 {
            let _ = write!(line, " (+{} more panics)", self.panics.len() - 1);
        }
        line.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The command that replays this run with the CLI, exactly: see [`command_for`].
    pub fn replay_command(&self) -> String {
        command_for("replay", &self.scenario)
    }

    /// The summary `framesim run` prints. Only seed-determined numbers, except the wall time.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.scenario);
        let _ = writeln!(
            out,
            "clients {}  requests {}  replies {}  frames {}  bytes {}  chunks {}",
            self.scenario.clients, c.requests, c.replies, c.frames, c.bytes, c.writes
        );
        let _ = write!(
            out,
            "faults: partial reads {}  short writes {}  pending {}  restarts {}",
            c.partial_reads, c.short_writes, c.pendings, c.faults
        );
        // Only when some were injected: the summaries of runs without read as before.
        if c.accept_errors > 0 {
            let _ = write!(out, "  accept errors {}", c.accept_errors);
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "virtual time {:?}  latency p50 {:?} p99 {:?}  wall {:.3}s",
            self.virtual_time,
            self.p50,
            self.p99,
            self.wall.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "transcript {} events, hash {:016x}  seed {}",
            self.transcript.len(),
            self.transcript.hash(),
            self.scenario.seed
        );
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        let _ = write!(out, "{verdict}");
        out
    }

    /// The summary without the wall time: the same bytes for the same seed.
    pub fn summary_stable(&self) -> String {
        self.summary()
            .lines()
            .map(|l| match l.find("  wall ") {
                Some(i) => &l[..i],
                None => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The failure report: seed, first violation, the events before it, how to replay.
    pub fn failure(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "FAIL: {}", self.scenario);
        if let Some(e) = &self.error {
            let _ = writeln!(out, "simulation error: {e}");
        }
        if let Some(v) = self.violations.first() {
            let _ = writeln!(out, "first violation: {v}");
            for line in crate::oracle::more_violations(&self.violations) {
                let _ = writeln!(out, "{line}");
            }
            let lines = self.transcript.lines();
            if !lines.is_empty() {
                let end = (v.event_index as usize).min(lines.len());
                let _ = writeln!(out, "last events before it:");
                for line in &lines[end.saturating_sub(12)..end] {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
        if !self.panics.is_empty() {
            let _ = writeln!(out, "panics ({}):", self.panics.len());
            for panic in self.panics.iter().take(5) {
                let _ = writeln!(out, "  {panic}");
            }
        }
        let _ = writeln!(out, "seed: {}", self.scenario.seed);
        if let Some(addr) = self.against {
            // Real time and a real server: the same clients again, not the same run.
            let rerun = command_for("run", &self.scenario);
            let _ = write!(out, "rerun: {rerun} --against {addr}");
            return out;
        }
        let _ = writeln!(out, "replay: {}", self.replay_command());
        let _ = write!(
            out,
            "replay in tests: FRAMESIM_SEED={} cargo test -p framesim",
            self.scenario.seed
        );
        out
    }
}
