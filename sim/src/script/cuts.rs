//! Exhaustive split points: a small script under every way its clients' bytes can be cut,
//! for framesim's own world (`kv::explore`) and a server of your own
//! ([`Harness::explore`](crate::Harness::explore)) alike.
//!
//! Each client's writes come in bursts (writes with no read, connect or close between
//! them). [`explore`] runs the script with every burst merged into one write (the server
//! reads it whole: every coalescing of adjacent writes at once), then, one client at a
//! time, with one cut at every byte of its bytes and two cuts at every pair of bytes, the
//! other clients' bursts whole. The caller turns the server's stream adapter off, so each
//! write is exactly one server read: the cuts are the server's read boundaries. It counts
//! the distinct runs and the distinct logical views (one, for a correct server) and keeps
//! the first run that fails, with a script that replays it.

use super::{ClientScript, Step};
use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What exploring a script found; `R` is what one run gives (framesim's own world's
/// `Report`, a harness's [`Outcome`](crate::Outcome)).
#[derive(Debug)]
pub struct Exploration<R> {
    /// Runs made.
    pub runs: usize,
    /// Runs whose transcripts differ.
    pub distinct_runs: usize,
    /// Distinct logical views among them: 1 for a correct server.
    pub logical_views: usize,
    /// The first run that broke a promise.
    pub failure: Option<Explored<R>>,
    /// The first run whose logical view differs from the merged run's, if any.
    pub differs: Option<String>,
    /// Wall time taken.
    pub elapsed: Duration,
}

/// The first failing run of an exploration.
#[derive(Debug)]
pub struct Explored<R> {
    /// What was cut: `every burst whole`, or `client 3 cut at [17]`.
    pub what: String,
    /// Its first failure on one line.
    pub first: String,
    /// The run itself.
    pub run: Box<R>,
    /// Where the script that replays it was written.
    pub path: PathBuf,
    /// The command that replays it.
    pub replay: String,
}

impl<R> fmt::Display for Exploration<R> {
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
        if let Some(x) = &self.failure {
            write!(
                f,
                "\nfirst failure: {}\n{}\nreplay: {}",
                x.what, x.first, x.replay
            )?;
        }
        Ok(())
    }
}

/// What one run of a variant gave.
pub struct Tried<R> {
    /// Its transcript's hash.
    pub transcript: u64,
    /// A hash of its logical view (what was asked and answered, not how it was cut).
    pub view: u64,
    /// Its first failure on one line, if it failed.
    pub failed: Option<String>,
    /// The run.
    pub run: R,
}

/// A burst: writes of one client with nothing but expectations between them.
struct Burst {
    /// Index of the client's script.
    client: usize,
    /// The steps it spans.
    steps: std::ops::Range<usize>,
    /// When its first write was made.
    at: Duration,
    /// Its bytes, every write's in order.
    bytes: Vec<u8>,
}

/// Every burst of every client, in order.
fn bursts(scripts: &[ClientScript]) -> Vec<Burst> {
    let mut out = Vec::new();
    for (client, script) in scripts.iter().enumerate() {
        let mut i = 0;
        while i < script.steps.len() {
            let start = i;
            let mut at = None;
            let mut bytes = Vec::new();
            while let Some(step) = script.steps.get(i) {
                match step {
                    Step::Write { at: t, bytes: b } => {
                        at.get_or_insert(*t);
                        bytes.extend_from_slice(b);
                    }
                    step if step.is_expectation() => {}
                    _ => break,
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

/// `scripts` with every burst written whole, except those of `client`, cut at `cuts`
/// (offsets into that client's bytes, all bursts in order, ascending).
fn variant(
    scripts: &[ClientScript],
    bursts: &[Burst],
    client: usize,
    cuts: &[usize],
) -> Vec<ClientScript> {
    let mut v = scripts.to_vec();
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
    // Back to front, so earlier step ranges stay valid.
    for (b, &offset) in bursts.iter().zip(&offsets).rev() {
        let steps = &mut v[b.client].steps;
        let mut replaced: Vec<Step> = steps[b.steps.clone()]
            .iter()
            .filter(|s| s.is_expectation())
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

/// `scripts` with every burst of writes written whole.
pub fn whole(scripts: &[ClientScript]) -> Vec<ClientScript> {
    variant(scripts, &bursts(scripts), usize::MAX, &[])
}

/// Runs `scripts` under every cut of up to `max_cuts` (0, 1 or 2) per client's bytes:
/// `run` plays one variant (with the stream adapter's faults off); `save` writes the first
/// failing one down, given how many runs it took, and says where and the command that
/// replays it. Stops at the first failure.
pub fn explore<R>(
    scripts: &[ClientScript],
    max_cuts: usize,
    mut run: impl FnMut(&[ClientScript]) -> Tried<R>,
    mut save: impl FnMut(&[ClientScript], usize) -> (PathBuf, String),
) -> Exploration<R> {
    let started = Instant::now();
    let bursts = bursts(scripts);
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
    let mut cut_sets: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new())];
    for client in 0..scripts.len() {
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
        let v = variant(scripts, &bursts, client, &cuts);
        let tried = run(&v);
        found.runs += 1;
        transcripts.insert(tried.transcript);
        views.insert(tried.view);
        let what = if cuts.is_empty() {
            "every burst whole".to_string()
        } else {
            format!("client {} cut at {cuts:?}", scripts[client].id)
        };
        match first_view {
            None => first_view = Some(tried.view),
            Some(first) if first != tried.view && found.differs.is_none() => {
                found.differs = Some(what.clone())
            }
            _ => {}
        }
        if let Some(first) = tried.failed {
            let (path, replay) = save(&v, found.runs);
            found.failure = Some(Explored {
                what,
                first,
                run: Box::new(tried.run),
                path,
                replay,
            });
            break;
        }
    }
    found.distinct_runs = transcripts.len();
    found.logical_views = views.len();
    found.elapsed = started.elapsed();
    found
}
