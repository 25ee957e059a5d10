//! From a failing seed to the smallest [`Options`] that still fail the same way: fewer
//! clients, fewer requests, no misbehaving client that the failure does not need, no
//! stream fault or delivery trick it does not need.

use super::options::{Options, ROLES};
use super::outcome::Outcome;
use super::run::Harness;
use std::time::Duration;

/// Most runs one shrink makes.
const BUDGET: usize = 300;

/// Other seeds a shrink tries, each with two and with three clients, looking for one
/// that fails the same way with fewer clients.
const OTHER_SEEDS: u64 = 48;

/// What shrinking a failing seed left.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The seed that fails with [`options`](Self::options): the seed shrunk, or another
    /// at which fewer clients fail the same way (a race that needed every client the first
    /// seed kept). Replay, lift and run the shrunk options at this seed.
    pub seed: u64,
    /// The smallest options found that still fail as the original did.
    pub options: Options,
    /// Their run of the seed (transcript kept).
    pub outcome: Outcome,
    /// Runs it took.
    pub runs: usize,
}

impl Shrunk {
    /// The shrunk options as TOML over [`Options::default`] (see [`Options::toml_over`] for
    /// a file to lay over other options).
    pub fn toml(&self) -> String {
        self.options.toml_over(&Options::default())
    }

    /// One line: how many runs it took, what is left, and the failure it still shows.
    pub fn summary(&self) -> String {
        format!(
            "shrunk in {} runs to seed {}, {} client(s), {} request(s), {} events: {}",
            self.runs,
            self.seed,
            self.options.client_ids().len(),
            self.outcome.tally.requests,
            self.outcome.transcript.len(),
            self.outcome.first_failure()
        )
    }
}

impl Harness {
    /// Shrinks failing `seed`: tries smaller options one change at a time, keeping each
    /// change under which the seed still fails with the same oracle, until no change helps
    /// (or 300 runs). `None` if the seed passes.
    ///
    /// Every change changes what the seed draws, so the smaller run is another run that
    /// fails the same way, not a slice of the first one.
    pub fn shrink(&self, seed: u64) -> Option<Shrunk> {
        if self.options().swarm {
            // From the options the seed drew.
            return self
                .clone()
                .with(self.options().for_seed(seed))
                .shrink(seed);
        }
        let first = self.run(seed);
        let oracle = first.oracle();
        if first.passed() {
            return None;
        }
        let mut runs = 1;
        // The run of `options` at `seed`, if it fails as the first did.
        let fails_at = |seed: u64, options: &Options, runs: &mut usize| {
            *runs += 1;
            let outcome = self.clone().with(options.clone()).run(seed);
            let same = !outcome.passed() && outcome.oracle() == oracle;
            same.then_some(outcome)
        };
        let mut best = self.smallest(seed, self.options(), &first, &fails_at, &mut runs);
        let mut at = seed;
        if best.client_ids().len() > 2 {
            // At other seeds, fewer clients may meet the same way, with as many requests
            // as the test asks: a race needs its chances.
            let fewer = |clients| Options {
                clients,
                only_clients: None,
                max_requests: self.options().max_requests,
                ..best.clone()
            };
            let found = (1..=OTHER_SEEDS)
                .map(|k| seed.wrapping_add(k))
                .flat_map(|other| [2, 3].map(|clients| (other, fewer(clients))))
                .find_map(|(other, options)| {
                    let failed = fails_at(other, &options, &mut runs)?;
                    Some((other, options, failed))
                });
            if let Some((other, options, failed)) = found {
                best = self.smallest(other, &options, &failed, &fails_at, &mut runs);
                at = other;
            }
        }
        let outcome = self.clone().with(best.clone()).replay(at);
        Some(Shrunk {
            seed: at,
            options: best,
            outcome,
            runs,
        })
    }

    /// From `start`, failing `seed` as `first` did: one smaller change at a time, each
    /// kept while the seed still fails the same way, until none helps or the budget is out.
    fn smallest(
        &self,
        seed: u64,
        start: &Options,
        first: &Outcome,
        fails_at: &dyn Fn(u64, &Options, &mut usize) -> Option<Outcome>,
        runs: &mut usize,
    ) -> Options {
        let mut fails =
            |options: &Options, runs: &mut usize| fails_at(seed, options, runs).is_some();
        let mut best = self.fewer_clients(start, first, &mut fails, runs);
        let mut changed = true;
        while changed && *runs < BUDGET {
            changed = false;
            for candidate in smaller(&best, first.tally.requests) {
                if *runs >= BUDGET {
                    break;
                }
                if fails(&candidate, runs) {
                    best = candidate;
                    changed = true;
                    break;
                }
            }
            if !changed && *runs < BUDGET {
                // Smaller options change the clients' timing: some may no longer be needed.
                let fewer = self.fewer_clients(&best, first, &mut fails, runs);
                changed = fewer.client_ids().len() < best.client_ids().len();
                best = fewer;
            }
        }
        best
    }

    /// `o` with only the clients the failure needs: the client that saw it alone
    /// if that fails the same way, else ddmin over the ids (each keeping its id, role and
    /// draws, so what it does does not change with the others gone).
    fn fewer_clients(
        &self,
        o: &Options,
        first: &Outcome,
        fails: &mut dyn FnMut(&Options, &mut usize) -> bool,
        runs: &mut usize,
    ) -> Options {
        let ids = o.client_ids();
        let only = |ids: Vec<usize>| Options {
            only_clients: Some(ids),
            ..o.clone()
        };
        if ids.len() <= 1 {
            return o.clone();
        }
        if let Some(client) = first.violations.first().and_then(|v| v.client()) {
            let alone = only(vec![client]);
            if fails(&alone, runs) {
                return alone;
            }
        }
        let kept = crate::ddmin::ddmin(ids.clone(), |part| {
            *runs < BUDGET && fails(&only(part), runs)
        });
        if kept.len() < ids.len() {
            only(kept)
        } else {
            o.clone()
        }
    }
}

/// Options one step smaller than `o`, most promising first. `requests` is how many the
/// original run's clients sent (a bound for `max_requests`).
fn smaller(o: &Options, requests: u64) -> Vec<Options> {
    let mut out = Vec::new();
    let mut push = |f: &dyn Fn(&mut Options)| {
        let mut c = o.clone();
        f(&mut c);
        if c != *o {
            out.push(c);
        }
    };
    for clients in [
        1,
        2,
        o.clients / 4,
        o.clients / 2,
        o.clients.saturating_sub(1),
    ] {
        if clients >= 1 && clients < o.clients && o.only_clients.is_none() {
            // Misbehaving clients are the first ids: they stay as long as they fit.
            push(&|c| c.clients = clients);
        }
    }
    // Each role gone, then each down to one client.
    for role in 0..ROLES {
        push(&|c| *c.roles.counts_mut()[role] = 0);
    }
    for role in 0..ROLES {
        push(&|c| {
            let count = &mut c.roles.counts_mut()[role];
            **count = (**count).min(1);
        });
    }
    let most = o.max_requests.unwrap_or(requests as usize);
    for n in [1, 2, most / 2, most.saturating_sub(1)] {
        if n >= 1 && n < most {
            push(&|c| c.max_requests = Some(n));
        }
    }
    push(&|c| c.restart_at = None);
    push(&|c| c.faults.partial_read_chance = 0.0);
    push(&|c| c.faults.coalesce_chance = 0.0);
    push(&|c| c.faults.short_write_chance = 0.0);
    push(&|c| c.faults.spurious_pending_chance = 0.0);
    push(&|c| c.delivery.pipeline = 1);
    push(&|c| c.delivery.byte_at_a_time = 0.0);
    push(&|c| c.delivery.max_gap = Duration::ZERO);
    push(&|c| c.delivery.cut_at_boundaries = 0.0);
    push(&|c| c.ramp = Duration::ZERO);
    // One latency for every message: a client's messages then keep their timing whoever
    // else is in the run.
    push(&|c| c.latency.1 = c.latency.0);
    push(&|c| c.hosts = 1);
    out
}
