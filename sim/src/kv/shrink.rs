//! From a failing run to the smallest scenario that still fails the same way.
//!
//! Delta debugging (Zeller's ddmin) over the scenario, not over bytes: each pass proposes a
//! smaller or calmer scenario (fewer clients, fewer requests, one host, no ramp, no faults,
//! plainer delivery, no restart) and keeps it only if the same oracle still fails first.
//! Clients keep their ids, roles and random streams when others are dropped
//! ([`Scenario::only_clients`]), so the client that failed goes on failing on its own.

use crate::oracle::Oracle;
use crate::report::{Report, CLI};
use crate::scenario::{Scenario, Target};
use crate::transcript::Actor;
use crate::world::{run, RunOptions};
use std::time::{Duration, Instant};

/// How a run failed, as far as shrinking is concerned: which promise broke first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// An oracle's violation.
    Oracle(Oracle),
    /// The simulation itself failed (a panic, a turmoil error).
    Error,
}

impl Failure {
    /// How `report` failed, or `None` if it passed.
    pub fn of(report: &Report) -> Option<Failure> {
        if let Some(v) = report.violations.first() {
            return Some(Failure::Oracle(v.oracle));
        }
        report.error.as_ref().map(|_| Failure::Error)
    }
}

/// One accepted reduction.
#[derive(Debug, Clone)]
pub struct ShrinkStep {
    /// What was reduced, e.g. "clients 10000 -> 1".
    pub what: String,
    /// Clients that run after it.
    pub clients: usize,
    /// Requests per client after it.
    pub requests: usize,
    /// Transcript events of the run that still failed.
    pub events: u64,
    /// Time since shrinking began.
    pub elapsed: Duration,
}

/// The smallest failing scenario found, its run, and how it got there.
#[derive(Debug, Clone)]
pub struct ShrunkScenario {
    /// The scenario it began with.
    pub original: Scenario,
    /// The first run's failure, which every accepted step still shows.
    pub failure: Failure,
    /// The smallest scenario that still fails the same way.
    pub scenario: Scenario,
    /// Its run.
    pub report: Report,
    /// Transcript events of the first run.
    pub events_before: u64,
    /// Every accepted step, in order.
    pub steps: Vec<ShrinkStep>,
    /// Runs tried, accepted or not.
    pub runs: usize,
    /// Wall time it took.
    pub elapsed: Duration,
}

/// Shrinks a failing `scenario`; `on_step` sees each accepted step as it happens. Fails if
/// the scenario passes.
pub fn shrink(
    scenario: &Scenario,
    mut on_step: impl FnMut(&ShrinkStep),
) -> Result<ShrunkScenario, String> {
    let started = Instant::now();
    let first = run(scenario, RunOptions::default());
    let failure = Failure::of(&first)
        .ok_or_else(|| format!("{} passes: nothing to shrink", describe(scenario)))?;
    let mut state = State {
        best: scenario.clone(),
        report: first.clone(),
        failure: failure.clone(),
        steps: Vec::new(),
        runs: 1,
        started,
    };
    state.tape(&mut on_step);
    state.clients(&first, &mut on_step);
    state.try_set("client hosts", &mut on_step, |s| {
        (s.client_hosts > 1).then(|| Scenario {
            client_hosts: 1,
            ..s.clone()
        })
    });
    state.requests(&mut on_step);
    state.calm(&mut on_step);
    // Dropping requests or faults can make more clients droppable, and the other way round.
    state.clients(&state.report.clone(), &mut on_step);
    state.requests(&mut on_step);
    state.tape(&mut on_step);
    state.script(&mut on_step);
    Ok(ShrunkScenario {
        original: scenario.clone(),
        failure,
        events_before: first.transcript.len(),
        scenario: state.best,
        report: state.report,
        steps: state.steps,
        runs: state.runs,
        elapsed: started.elapsed(),
    })
}

/// `scenario 'hostile' seed 1` and its size.
fn describe(s: &Scenario) -> String {
    format!(
        "scenario '{}' seed {} ({} clients x {} requests)",
        s.name,
        s.seed,
        s.client_ids().count(),
        s.requests_per_client()
    )
}

/// One way to make a scenario calmer.
type Calmer = fn(&mut Scenario);

struct State {
    best: Scenario,
    report: Report,
    failure: Failure,
    steps: Vec<ShrinkStep>,
    runs: usize,
    started: Instant,
}

impl State {
    /// Runs `candidate`; keeps it (and reports the step) if it fails the same way.
    fn accept(
        &mut self,
        candidate: Scenario,
        what: String,
        on_step: &mut impl FnMut(&ShrinkStep),
    ) -> bool {
        self.accept_if(candidate, what, on_step, |_| true)
    }

    /// Like [`State::accept`], and only if `better` holds for the new run's event count.
    fn accept_if(
        &mut self,
        candidate: Scenario,
        what: String,
        on_step: &mut impl FnMut(&ShrinkStep),
        better: impl FnOnce(u64) -> bool,
    ) -> bool {
        self.runs += 1;
        let report = run(&candidate, RunOptions::default());
        let same = Failure::of(&report).as_ref() == Some(&self.failure);
        if !same || !better(report.transcript.len()) {
            return false;
        }
        let step = ShrinkStep {
            what,
            clients: candidate.client_ids().count(),
            requests: candidate.requests_per_client(),
            events: report.transcript.len(),
            elapsed: self.started.elapsed(),
        };
        on_step(&step);
        self.steps.push(step);
        self.best = candidate;
        self.report = report;
        true
    }

    /// Tries the reduction `change` proposes (if any) under `name`.
    fn try_set(
        &mut self,
        name: &str,
        on_step: &mut impl FnMut(&ShrinkStep),
        change: impl FnOnce(&Scenario) -> Option<Scenario>,
    ) -> bool {
        match change(&self.best) {
            Some(candidate) if candidate != self.best => {
                self.accept(candidate, name.to_string(), on_step)
            }
            _ => false,
        }
    }

    /// A fuzzer's tape gone (every draw from the seed), else cut short: halves from the
    /// end, then runs of zeros (the smallest choices) over each quarter.
    fn tape(&mut self, on_step: &mut impl FnMut(&ShrinkStep)) {
        if self.try_set("no tape", on_step, |s| {
            Some(Scenario {
                tape: None,
                ..s.clone()
            })
        }) {
            return;
        }
        while let Some(len) = self.best.tape.as_ref().map(Vec::len).filter(|&n| n > 1) {
            let half = len / 2;
            if !self.try_set(&format!("tape cut to {half} bytes"), on_step, |s| {
                let mut s = s.clone();
                s.tape.as_mut()?.truncate(half);
                Some(s)
            }) {
                break;
            }
        }
        let len = self.best.tape.as_ref().map_or(0, Vec::len);
        let quarter = len.div_ceil(4).max(1);
        for start in (0..len).step_by(quarter) {
            let end = (start + quarter).min(len);
            self.try_set(&format!("tape bytes {start}..{end} zeroed"), on_step, |s| {
                let mut s = s.clone();
                s.tape.as_mut()?[start..end].fill(0);
                Some(s)
            });
        }
    }

    /// Lifted into a script (the regression then no longer depends on how the generators
    /// draw), then each burst of writes merged into one, then steps cut from each client's
    /// end.
    fn script(&mut self, on_step: &mut impl FnMut(&ShrinkStep)) {
        if self.best.scripts.is_empty() {
            let lifted = crate::kv::lift(&self.best);
            if !self.accept(lifted, "lifted into a script".into(), on_step) {
                return;
            }
        }
        self.try_set("no stream faults", on_step, |s| {
            Some(Scenario {
                connections: Vec::new(),
                ..s.clone()
            })
        });
        // Each remaining fault made plain, one at a time.
        for c in 0..self.best.connections.len() {
            for read in [true, false] {
                let len = match read {
                    true => self.best.connections[c].reads.len(),
                    false => self.best.connections[c].writes.len(),
                };
                for i in (0..len).rev() {
                    let plan = &self.best.connections[c];
                    let line = if read { &plan.reads } else { &plan.writes };
                    if line[i] == crate::kv::plan::Fault::Plain {
                        continue;
                    }
                    let what = format!("connection {} poll {i} plain", plan.n);
                    self.try_set(&what, on_step, |s| {
                        let mut s = s.clone();
                        let plan = &mut s.connections[c];
                        let line = if read {
                            &mut plan.reads
                        } else {
                            &mut plan.writes
                        };
                        line[i] = crate::kv::plan::Fault::Plain;
                        Some(s)
                    });
                }
            }
        }
        self.try_set("bursts written whole", on_step, |s| {
            Some(crate::kv::explore::whole(s))
        });
        // Halve the longest write while the failure stays: a short value reads better.
        loop {
            let longest = self
                .best
                .scripts
                .iter()
                .enumerate()
                .flat_map(|(i, c)| c.steps.iter().enumerate().map(move |(j, s)| (i, j, s)))
                .filter_map(|(i, j, s)| match s {
                    crate::script::Step::Write { bytes, .. } if bytes.len() > 16 => {
                        Some((bytes.len(), i, j))
                    }
                    _ => None,
                })
                .max();
            let Some((len, i, j)) = longest else { break };
            let what = format!("a write of {len} bytes -> {}", len / 2);
            if !self.try_set(&what, on_step, |s| {
                let mut s = s.clone();
                if let crate::script::Step::Write { bytes, .. } = &mut s.scripts[i].steps[j] {
                    bytes.truncate(len / 2);
                }
                Some(s)
            }) {
                break;
            }
        }
        self.exchanges(on_step);
        for i in 0..self.best.scripts.len() {
            // Halve the steps after the connect while the failure stays.
            loop {
                let len = self.best.scripts[i].steps.len();
                let keep = 1 + (len - 1) / 2;
                if keep >= len {
                    break;
                }
                let what = format!("client {} steps {len} -> {keep}", self.best.scripts[i].id);
                if !self.try_set(&what, on_step, |s| {
                    let mut s = s.clone();
                    s.scripts[i].steps.truncate(keep);
                    Some(s)
                }) {
                    break;
                }
            }
        }
        for i in 0..self.best.scripts.len() {
            // Expectations past the last read are never checked: drop them.
            self.try_set("unchecked expectations dropped", on_step, |s| {
                let mut s = s.clone();
                let steps = &mut s.scripts[i].steps;
                let reads = steps
                    .iter()
                    .filter(|s| **s == crate::script::Step::Read)
                    .count();
                let mut seen = 0;
                steps.retain(|s| {
                    let expect = matches!(s, crate::script::Step::Expect(_));
                    seen += usize::from(expect);
                    !expect || seen <= reads
                });
                Some(s)
            });
        }
    }

    /// Each exchange of a scripted client (its expectations, writes and the reads that
    /// answer them) dropped, last first. Dropping one can make a later expectation wrong
    /// (a GET whose SET is gone), so a candidate is kept only if the real server still
    /// passes it: the script stays a test whose every expectation is right.
    fn exchanges(&mut self, on_step: &mut impl FnMut(&ShrinkStep)) {
        use crate::script::Step as S;
        // With the real server failing there is no server to vouch for what is left.
        if self.best.target == Target::Framesim {
            return;
        }
        for i in 0..self.best.scripts.len() {
            let mut end = self.best.scripts[i].steps.len();
            while end > 0 {
                let steps = &self.best.scripts[i].steps;
                // The exchange ending at `end`: back over its reads, then its writes and
                // expectations.
                let mut start = end;
                while start > 0 && steps[start - 1] == S::Read {
                    start -= 1;
                }
                let reads = end - start;
                while start > 0 && matches!(steps[start - 1], S::Write { .. } | S::Expect(_)) {
                    start -= 1;
                }
                if reads == 0 || start == end - reads {
                    // Not an exchange (a close, a connect, reads alone): step over it.
                    end = start.min(end - 1);
                    continue;
                }
                let mut candidate = self.best.clone();
                candidate.scripts[i].steps.drain(start..end);
                self.runs += 1;
                let fixed = Scenario {
                    target: Target::Framesim,
                    ..candidate.clone()
                };
                let valid = run(&fixed, RunOptions::default()).passed();
                let what = format!(
                    "client {} exchange at steps {start}..{end} dropped",
                    self.best.scripts[i].id
                );
                if valid {
                    self.accept(candidate, what, on_step);
                }
                // Kept or not, the steps before `start` are the same: look there next.
                end = start;
            }
        }
    }

    /// Fewer clients: the one that saw the violation alone, else ddmin over the ids.
    fn clients(&mut self, last: &Report, on_step: &mut impl FnMut(&ShrinkStep)) {
        let ids: Vec<usize> = self.best.client_ids().collect();
        if ids.len() <= 1 {
            return;
        }
        if let Some(Actor::Client(id)) = last.violations.first().map(|v| v.actor) {
            if self.keep_clients(vec![id], on_step) {
                return;
            }
        }
        crate::ddmin::ddmin(ids, |part| self.keep_clients(part, on_step));
    }

    fn keep_clients(&mut self, mut ids: Vec<usize>, on_step: &mut impl FnMut(&ShrinkStep)) -> bool {
        ids.sort_unstable();
        let before = self.best.client_ids().count();
        if ids.len() >= before {
            return false;
        }
        let what = format!("clients {before} -> {}", ids.len());
        let candidate = Scenario {
            only_clients: Some(ids),
            ..self.best.clone()
        };
        self.accept(candidate, what, on_step)
    }

    /// Fewer requests per client: the smallest count that still fails (each client's
    /// requests are drawn in order, so fewer requests is a prefix of the same workload).
    fn requests(&mut self, on_step: &mut impl FnMut(&ShrinkStep)) {
        let (mut low, mut high) = (1, self.best.requests);
        while low < high {
            let mid = low + (high - low) / 2;
            let before = self.best.requests;
            let candidate = Scenario {
                requests: mid,
                ..self.best.clone()
            };
            if self.accept(candidate, format!("requests {before} -> {mid}"), on_step) {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
    }

    /// Calmer conditions, one at a time: each kept only if the failure stays.
    fn calm(&mut self, on_step: &mut impl FnMut(&ShrinkStep)) {
        let calmer: [(&str, Calmer); 12] = [
            ("no restart", |s| s.restart_at = None),
            ("no accept errors", |s| s.faults.accept_error_chance = 0.0),
            // Not calmer but plainer: a failure that needs a failed accept no longer needs
            // the client whose accept happened to draw one.
            ("every accept fails first", |s| {
                if s.faults.accept_error_chance > 0.0 {
                    s.faults.accept_error_chance = 1.0;
                }
            }),
            ("no ramp", |s| s.ramp = Duration::ZERO),
            ("fixed latency", |s| s.latency.1 = s.latency.0),
            ("no spurious pending", |s| {
                s.faults.spurious_pending_chance = 0.0
            }),
            ("no short writes", |s| s.faults.short_write_chance = 0.0),
            ("no partial reads", |s| s.faults.partial_read_chance = 0.0),
            ("no byte-at-a-time", |s| s.delivery.byte_at_a_time = 0.0),
            ("no gaps", |s| s.delivery.max_gap = Duration::ZERO),
            ("no pipelining", |s| s.delivery.pipeline = 1),
            ("no boundary cuts", |s| s.delivery.cut_at_boundaries = 0.0),
        ];
        for (name, change) in calmer {
            self.try_set(name, on_step, |s| {
                let mut calmer = s.clone();
                change(&mut calmer);
                Some(calmer)
            });
        }
        // Whole requests in one write, else the largest chunks that still fail.
        for max_chunk in [usize::MAX, 4096, 256, 64] {
            if max_chunk <= self.best.delivery.max_chunk {
                break;
            }
            let what = match max_chunk {
                usize::MAX => "whole requests in one write".to_string(),
                n => format!("chunks up to {n} bytes"),
            };
            if self.try_set(&what, on_step, |s| {
                let mut calmer = s.clone();
                calmer.delivery.max_chunk = max_chunk;
                Some(calmer)
            }) {
                break;
            }
        }
        self.shorter_times(on_step);
    }

    /// Keeps a change of timing only if the transcript gets shorter: its whole point.
    fn shorter(
        &mut self,
        candidate: Scenario,
        what: String,
        on_step: &mut impl FnMut(&ShrinkStep),
    ) -> bool {
        let events = self.report.transcript.len();
        self.accept_if(candidate, what, on_step, |now| now < events)
    }

    /// Shorter deadlines, smaller limits and slower tricklers: fewer events before the
    /// failure shows.
    fn shorter_times(&mut self, on_step: &mut impl FnMut(&ShrinkStep)) {
        const FLOOR: Duration = Duration::from_millis(20);
        loop {
            let l = self.best.limits;
            // Whole milliseconds keep the shrunk scenario readable.
            let halved = |d: Duration| Duration::from_millis(d.as_millis() as u64 / 2).max(FLOOR);
            let shorter = [
                ("frame deadline", halved(l.frame_deadline), l.frame_deadline),
                ("idle timeout", halved(l.idle_timeout), l.idle_timeout),
            ];
            let mut any = false;
            for (name, to, from) in shorter {
                if to >= from {
                    continue;
                }
                let mut shorter = self.best.clone();
                match name {
                    "frame deadline" => shorter.limits.frame_deadline = to,
                    _ => shorter.limits.idle_timeout = to,
                }
                any |= self.shorter(shorter, format!("{name} {from:?} -> {to:?}"), on_step);
            }
            // Smaller limits: a client that must reach one sends less to get there.
            for name in ["max_output", "max_buffered", "window"] {
                let mut smaller = self.best.clone();
                let (value, floor) = match name {
                    "max_output" => (&mut smaller.limits.max_output, 256),
                    "window" => (&mut smaller.faults.window, 1024),
                    _ => (
                        &mut smaller.limits.max_buffered,
                        smaller.limits.max_line.max(smaller.limits.max_frame),
                    ),
                };
                let from = *value;
                *value = (from / 2).max(floor);
                let to = *value;
                if to < from && smaller.limits.validate().is_ok() {
                    any |= self.shorter(smaller, format!("{name} {from} -> {to}"), on_step);
                }
            }
            let every = self.best.roles.slowloris_every;
            let slower = (every * 2).min(self.best.limits.frame_deadline);
            if slower > every {
                let mut slower_s = self.best.clone();
                slower_s.roles.slowloris_every = slower;
                let what = format!("slowloris every {every:?} -> {slower:?}");
                any |= self.shorter(slower_s, what, on_step);
            }
            if !any {
                return;
            }
        }
    }
}

impl ShrunkScenario {
    /// One line for logs: what shrank to what, and how long it took.
    pub fn summary(&self) -> String {
        format!(
            "shrunk {} seed {} ({}): {} -> {} clients, {} -> {} requests, {} -> {} events, {} runs in {:.2?}",
            self.original.name,
            self.original.seed,
            match &self.failure {
                Failure::Oracle(o) => format!("[{}]", o.name()),
                Failure::Error => "[error]".to_string(),
            },
            self.original.client_ids().count(),
            self.scenario.client_ids().count(),
            self.original.requests_per_client(),
            self.scenario.requests_per_client(),
            self.events_before,
            self.report.transcript.len(),
            self.runs,
            self.elapsed
        )
    }

    /// Writes the ready regression: the shrunk scenario as `dir/<stem>.toml` (the regression
    /// suite replays every file there) and its transcript, both views, under
    /// `target/framesim/`. Returns both paths.
    pub fn save(
        &self,
        dir: &std::path::Path,
    ) -> std::io::Result<(std::path::PathBuf, std::path::PathBuf)> {
        let mut scenario = self.scenario.clone();
        scenario.name = format!("{}-shrunk", self.original.name);
        let file = dir.join(format!("{}.toml", scenario.file_stem()));
        scenario.save(&file)?;
        let kept = run(
            &scenario,
            RunOptions {
                keep_transcript: true,
                ..RunOptions::default()
            },
        );
        let transcript = crate::output::default_transcript_path(&scenario);
        crate::output::write_transcript(&kept, &transcript)?;
        Ok((file, transcript))
    }
}

/// Where `framesim shrink` puts shrunk scenarios by default, and where the regression suite
/// looks for them: `sim/regressions/`.
pub fn regressions_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions")
}

/// `framesim shrink`: shrinks a failing `scenario`, printing each accepted step as it
/// happens, and saves the ready regression ([`ShrunkScenario::save`]) under `out` (default
/// [`regressions_dir`]). Prints the summary, the violation, both paths (relative to the
/// working directory when inside it), the command that replays it and how to pin it.
pub fn shrink_and_save(scenario: &Scenario, out: Option<std::path::PathBuf>) -> Result<(), String> {
    println!(
        "shrinking: {}",
        scenario.to_string().lines().next().unwrap_or_default()
    );
    let shrunk = shrink(scenario, |step| {
        println!(
            "  {:>8.2?}  {:<34} clients {:>5}  requests {:>3}  events {:>7}",
            step.elapsed, step.what, step.clients, step.requests, step.events
        )
    })?;
    println!("{}", shrunk.summary());
    let dir = out.unwrap_or_else(regressions_dir);
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
    Ok(())
}
