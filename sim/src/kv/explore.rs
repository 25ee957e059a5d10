//! Exhaustive split points: a small script under every way its clients' bytes can be cut.
//!
//! Each client's writes come in bursts (writes with no read, connect or close between
//! them). [`explore`] runs the script with every burst merged into one write (the server
//! reads it whole: every coalescing of adjacent writes at once), then, one client at a
//! time, with one cut at every byte of its bytes and two cuts at every pair of bytes, the
//! other clients' bursts whole. The server's stream adapter is turned off, so each write is
//! exactly one server read: the cuts are the server's read boundaries. It counts the
//! distinct runs and the distinct logical views (one, for a correct server) and keeps the
//! first run that fails, with a script that replays it.

use crate::report::Report;
use crate::scenario::{work_dir, Faults, Scenario};
use crate::script::Step;
use crate::transcript::logical_view;
use crate::world::{run, RunOptions};
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What exploring a script found.
#[derive(Debug)]
pub struct Exploration {
    /// Runs made.
    pub runs: usize,
    /// Runs whose transcripts differ.
    pub distinct_runs: usize,
    /// Distinct logical views among them: 1 for a correct server.
    pub logical_views: usize,
    /// The first run that broke a promise: what was cut, its report, and the script that
    /// replays it.
    pub failure: Option<(String, Box<Report>, PathBuf)>,
    /// The first run whose logical view differs from the merged run's, if any.
    pub differs: Option<String>,
    /// Wall time taken.
    pub elapsed: Duration,
}

impl fmt::Display for Exploration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "explored {} runs in {:.2?}: {} distinct transcripts, {} logical view{}",
            self.runs,
            self.elapsed,
            self.distinct_runs,
            self.logical_views,
            if self.logical_views == 1 { "" } else { "s" }
        )?;
        if let Some(what) = &self.differs {
            write!(f, "\nfirst different logical view: {what}")?;
        }
        if let Some((what, report, path)) = &self.failure {
            let first = report.violations.first().map(|v| v.to_string());
            let first = first.or(report.error.clone()).unwrap_or_default();
            write!(
                f,
                "\nfirst failure: {what}\n{first}\nreplay: cargo run --release -p framesim -- replay --script {}",
                crate::scenario::shown(path)
            )?;
        }
        Ok(())
    }
}

/// A burst: writes of one client with nothing but expectations between them.
struct Burst {
    /// Index of the client's script in the scenario.
    client: usize,
    /// The steps it spans.
    steps: std::ops::Range<usize>,
    /// When its first write was made.
    at: Duration,
    /// Its bytes, every write's in order.
    bytes: Vec<u8>,
}

/// Every burst of every client, in order.
fn bursts(s: &Scenario) -> Vec<Burst> {
    let mut out = Vec::new();
    for (client, script) in s.scripts.iter().enumerate() {
        let mut i = 0;
        while i < script.steps.len() {
            let start = i;
            let mut at = None;
            let mut bytes = Vec::new();
            while let Some(step @ (Step::Write { .. } | Step::Expect(_))) = script.steps.get(i) {
                if let Step::Write { at: t, bytes: b } = step {
                    at.get_or_insert(*t);
                    bytes.extend_from_slice(b);
                }
                i += 1;
            }
            match at {
                Some(at) if !bytes.is_empty() => out.push(Burst {
                    client,
                    steps: start..i,
                    at,
                    bytes,
                }),
                _ => i = i.max(start + 1),
            }
        }
    }
    out
}

/// `s` with every burst written whole, except those of `client`, cut at `cuts` (offsets
/// into that client's bytes, all bursts in order, ascending).
fn variant(s: &Scenario, bursts: &[Burst], client: usize, cuts: &[usize]) -> Scenario {
    let mut v = s.clone();
    v.faults = Faults::none();
    v.connections.clear();
    v.tape = None;
    // Back to front, so earlier step ranges stay valid.
    let mut offsets: Vec<usize> = Vec::with_capacity(bursts.len());
    let mut total = 0;
    for b in bursts {
        if b.client == client {
            offsets.push(total);
            total += b.bytes.len();
        } else {
            offsets.push(0);
        }
    }
    for (b, &offset) in bursts.iter().zip(&offsets).rev() {
        let steps = &mut v.scripts[b.client].steps;
        let mut replaced: Vec<Step> = steps[b.steps.clone()]
            .iter()
            .filter(|s| matches!(s, Step::Expect(_)))
            .cloned()
            .collect();
        let mut from = 0;
        let inside = cuts
            .iter()
            .filter(|_| b.client == client)
            .map(|&c| c.wrapping_sub(offset))
            .filter(|&c| c > 0 && c < b.bytes.len());
        for to in inside.chain([b.bytes.len()]) {
            replaced.push(Step::Write {
                at: b.at,
                bytes: b.bytes[from..to].to_vec().into(),
            });
            from = to;
        }
        steps.splice(b.steps.clone(), replaced);
    }
    v
}

/// `script` with every burst of writes written whole and the stream adapter's faults off.
pub fn whole(script: &Scenario) -> Scenario {
    variant(script, &bursts(script), usize::MAX, &[])
}

/// Runs `script` under every cut of up to `max_cuts` (0, 1 or 2) per client's bytes.
pub fn explore(script: &Scenario, max_cuts: usize) -> Result<Exploration, String> {
    if script.scripts.is_empty() {
        return Err(format!(
            "'{}' has no scripted clients: lift a run into a script first (framesim lift)",
            script.name
        ));
    }
    let started = Instant::now();
    let bursts = bursts(script);
    let hasher = BuildHasherDefault::<DefaultHasher>::default();
    let mut transcripts = HashSet::new();
    let mut views = HashSet::new();
    let mut found = Exploration {
        runs: 0,
        distinct_runs: 0,
        logical_views: 0,
        failure: None,
        differs: None,
        elapsed: Duration::ZERO,
    };
    let mut first_view = None;
    let mut try_cuts = |client: usize, cuts: &[usize], found: &mut Exploration| {
        let v = variant(script, &bursts, client, cuts);
        let report = run(
            &v,
            RunOptions {
                keep_transcript: true,
                ..RunOptions::default()
            },
        );
        found.runs += 1;
        transcripts.insert(report.transcript.hash());
        let view = hasher.hash_one(logical_view(&report.transcript.records()));
        views.insert(view);
        let what = if cuts.is_empty() {
            "every burst whole".to_string()
        } else {
            format!("client {} cut at {cuts:?}", script.scripts[client].id)
        };
        match first_view {
            None => first_view = Some(view),
            Some(first) if first != view && found.differs.is_none() => {
                found.differs = Some(what.clone())
            }
            _ => {}
        }
        if !report.passed() && found.failure.is_none() {
            let path = work_dir().join(format!("{}-explored-{}.toml", v.file_stem(), found.runs));
            // A failure that cannot be written is still reported; the path says where not.
            let _ = v.save(&path);
            found.failure = Some((what, Box::new(report), path));
        }
    };
    try_cuts(0, &[], &mut found);
    // Every cut of every client, in order, until the first failure.
    let mut cut_sets: Vec<(usize, Vec<usize>)> = Vec::new();
    for (client, _) in script.scripts.iter().enumerate() {
        let len: usize = bursts
            .iter()
            .filter(|b| b.client == client)
            .map(|b| b.bytes.len())
            .sum();
        if max_cuts >= 1 {
            cut_sets.extend((1..len).map(|p| (client, vec![p])));
        }
        if max_cuts >= 2 {
            for p in 1..len {
                cut_sets.extend((p + 1..len).map(|q| (client, vec![p, q])));
            }
        }
    }
    for (client, cuts) in cut_sets {
        if found.failure.is_some() {
            break;
        }
        try_cuts(client, &cuts, &mut found);
    }
    found.distinct_runs = transcripts.len();
    found.logical_views = views.len();
    found.elapsed = started.elapsed();
    Ok(found)
}
