//! The engine: a sweep's seeds on threads, each run by the caller's closure, the results
//! handed out in seed order, stopping at a number of failures or at a time budget in a way
//! that does not depend on the threads' timing.

use super::coverage::Coverage;
use super::in_order::InOrder;
use super::recheck::Recheck;
use super::result::SeedResult;
use super::seeds::Seeds;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a sweep runs and when it stops.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The seeds, in order.
    pub seeds: Seeds,
    /// Threads, each running one seed at a time.
    pub jobs: usize,
    /// Which seeds run twice.
    pub recheck: Recheck,
    /// Stop after this many failures: no seed after the Nth lowest failing one is handed
    /// out, and none after it is started once it is known (1: the lowest failing seed).
    pub max_failures: Option<usize>,
    /// Start no seed once this much time has gone; the ones running finish.
    pub budget: Option<Duration>,
    /// Start no seed once this is set (by Ctrl-C, say); the ones running finish.
    pub stop: Option<Arc<AtomicBool>>,
}

impl Plan {
    /// Every seed of `seeds` on `jobs` threads, the default recheck, no stop.
    pub fn new(seeds: Seeds, jobs: usize) -> Self {
        Plan {
            seeds,
            jobs,
            recheck: Recheck::DEFAULT,
            max_failures: None,
            budget: None,
            stop: None,
        }
    }
}

/// What a sweep tells as it goes. Both are called from the sweep's threads.
pub trait Watch: Sync {
    /// A seed finished, in the order the threads finish them: a failure to print at once.
    /// A seed after a stop may be told here and not in [`Watch::ready`].
    fn finished(&self, _result: &SeedResult) {}

    /// The next seed in seed order: a line of a results file.
    fn ready(&self, _result: &SeedResult) {}
}

impl Watch for () {}

/// Why a sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every seed ran.
    AllRan,
    /// It reached its number of failures.
    Failures,
    /// Its time was up.
    Budget,
    /// It was told to stop ([`Plan::stop`]).
    Stopped,
}

/// What a sweep found.
#[derive(Debug, Clone)]
pub struct Swept {
    /// Seeds handed out, in order: the first `seeds` of the plan's, all run.
    pub seeds: usize,
    /// Seeds run in all, those after a stop included.
    pub ran: usize,
    /// The failing seeds handed out, in seed order.
    pub failures: Vec<SeedResult>,
    /// Seeds handed out that ran twice.
    pub rechecked: usize,
    /// Seeds handed out whose two runs differed.
    pub diverged: usize,
    /// The last seed handed out.
    pub last: Option<u64>,
    /// Why it ended.
    pub ended: Ended,
    /// How long it took.
    pub wall: Duration,
    /// What the seeds handed out exercised.
    pub coverage: Coverage,
    /// What the sweep was required to exercise and never did (`--require-coverage`):
    /// the sweep fails for it.
    pub uncovered: Vec<String>,
}

impl Swept {
    /// Seeds handed out per second.
    pub fn per_second(&self) -> f64 {
        self.seeds as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// What the threads share.
struct State {
    done: InOrder<SeedResult>,
    /// The lowest failing indices so far, at most `max_failures` of them.
    failing: BTreeSet<usize>,
    swept: Swept,
}

impl Plan {
    /// Runs every seed with `one(seed, recheck)`, which runs the seed (twice when `recheck`)
    /// and says what it showed; its wall time is measured here. The results come to
    /// `watch` as they finish and in seed order; the same plan hands out the same seeds,
    /// whatever the number of threads and their timing (up to a time budget, which cuts
    /// the seeds at a point the summary names).
    pub fn run<F, W>(&self, one: F, watch: &W) -> Swept
    where
        F: Fn(u64, bool) -> SeedResult + Sync,
        W: Watch + ?Sized,
    {
        let started = Instant::now();
        let deadline = self.budget.map(|b| started + b);
        let next = AtomicUsize::new(0);
        // No seed at or after this index is started or handed out.
        let stop_at = AtomicUsize::new(usize::MAX);
        let out_of_time = AtomicBool::new(false);
        let told = || {
            self.stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed))
        };
        let state = Mutex::new(State {
            done: InOrder::default(),
            failing: BTreeSet::new(),
            swept: Swept {
                seeds: 0,
                ran: 0,
                failures: Vec::new(),
                rechecked: 0,
                diverged: 0,
                last: None,
                ended: Ended::AllRan,
                wall: Duration::ZERO,
                coverage: Coverage::default(),
                uncovered: Vec::new(),
            },
        });
        let work = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= stop_at.load(Ordering::Relaxed) {
                return;
            }
            let Some(seed) = self.seeds.nth(i) else {
                return;
            };
            if told() {
                stop_at.fetch_min(i, Ordering::Relaxed);
                return;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                out_of_time.store(true, Ordering::Relaxed);
                stop_at.fetch_min(i, Ordering::Relaxed);
                return;
            }
            let began = Instant::now();
            let mut result = one(seed, self.recheck.covers(i));
            result.wall_ms = began.elapsed().as_millis() as u64;
            if i < stop_at.load(Ordering::Relaxed) {
                watch.finished(&result);
            }
            let mut state = state.lock().expect("sweep state");
            let state = &mut *state;
            state.swept.ran += 1;
            if let (false, Some(max)) = (result.passed(), self.max_failures) {
                state.failing.insert(i);
                if state.failing.len() > max {
                    state.failing.pop_last();
                }
                if state.failing.len() == max {
                    let nth = *state.failing.last().expect("max >= 1");
                    stop_at.fetch_min(nth + 1, Ordering::Relaxed);
                }
            }
            state.done.add(i, result);
            while state.done.handed_out() < stop_at.load(Ordering::Relaxed) {
                let Some((_, ready)) = state.done.pop() else {
                    break;
                };
                watch.ready(&ready);
                let swept = &mut state.swept;
                swept.seeds += 1;
                swept.rechecked += usize::from(ready.rechecked);
                swept.diverged += usize::from(ready.diverged());
                swept.last = Some(ready.seed);
                swept.coverage.add(&ready.seen);
                if !ready.passed() {
                    swept.failures.push(ready);
                }
            }
        };
        let jobs = self
            .jobs
            .clamp(1, self.seeds.len().unwrap_or(usize::MAX).max(1));
        std::thread::scope(|scope| {
            for _ in 1..jobs {
                scope.spawn(work);
            }
            work();
        });
        let mut swept = state.into_inner().expect("sweep state").swept;
        let more = self.seeds.nth(swept.seeds).is_some();
        swept.ended = if !more {
            Ended::AllRan
        } else if self
            .max_failures
            .is_some_and(|max| swept.failures.len() >= max)
        {
            Ended::Failures
        } else if out_of_time.load(Ordering::Relaxed) {
            Ended::Budget
        } else if told() {
            Ended::Stopped
        } else {
            Ended::AllRan
        };
        swept.wall = started.elapsed();
        swept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::shard::Shard;

    /// Seeds fail when divisible by 5, and take longer the lower they are, so threads
    /// finish them out of order.
    fn one(seed: u64, recheck: bool) -> SeedResult {
        std::thread::sleep(Duration::from_micros(200 * (40 - seed % 40)));
        let r = SeedResult::pass(seed, 0, seed * 3, format!("run {seed}"));
        let r = if recheck { r.rechecked(seed * 3) } else { r };
        if seed % 5 == 0 {
            r.failing(format!("[five] seed {seed}"))
        } else {
            r
        }
    }

    #[derive(Default)]
    struct Seen(Mutex<Vec<u64>>);

    impl Watch for Seen {
        fn ready(&self, result: &SeedResult) {
            self.0.lock().unwrap().push(result.seed);
        }
    }

    fn range(range: std::ops::Range<u64>) -> Seeds {
        Seeds::Range {
            range,
            shard: Shard::ALL,
        }
    }

    #[test]
    fn every_seed_is_handed_out_in_order_whatever_the_threads() {
        for jobs in [1, 2, 4] {
            let seen = Seen::default();
            let swept = Plan::new(range(1..40), jobs).run(one, &seen);
            assert_eq!(*seen.0.lock().unwrap(), (1..40).collect::<Vec<_>>());
            assert_eq!(
                (swept.seeds, swept.ran, swept.ended),
                (39, 39, Ended::AllRan)
            );
            let failing: Vec<u64> = swept.failures.iter().map(|f| f.seed).collect();
            assert_eq!(failing, [5, 10, 15, 20, 25, 30, 35]);
            assert_eq!((swept.rechecked, swept.diverged), (3, 0), "1, 17, 33");
            assert_eq!(swept.last, Some(39));
        }
    }

    #[test]
    fn a_sweep_stops_at_its_lowest_failures_whatever_the_threads() {
        for jobs in [1, 3] {
            for max in [1, 2] {
                let seen = Seen::default();
                let plan = Plan {
                    max_failures: Some(max),
                    ..Plan::new(range(1..40), jobs)
                };
                let swept = plan.run(one, &seen);
                let want = 5 * max as u64;
                assert_eq!(*seen.0.lock().unwrap(), (1..=want).collect::<Vec<_>>());
                assert_eq!(swept.failures.last().unwrap().seed, want);
                assert_eq!(swept.failures.len(), max);
                assert_eq!(swept.ended, Ended::Failures);
                assert!(swept.ran < 39, "seeds after the stop are not started");
            }
        }
    }

    #[test]
    fn a_stop_ends_a_sweep_after_a_prefix_of_its_seeds() {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Seen::default();
        let plan = Plan {
            stop: Some(stop.clone()),
            ..Plan::new(range(1..1_000_000), 2)
        };
        let swept = plan.run(
            |seed, _| {
                if seed == 30 {
                    stop.store(true, Ordering::Relaxed);
                }
                SeedResult::pass(seed, 0, 0, String::new())
            },
            &seen,
        );
        assert_eq!(swept.ended, Ended::Stopped);
        assert!((30..40).contains(&swept.seeds), "{}", swept.seeds);
        let seen = seen.0.lock().unwrap();
        assert_eq!(*seen, (1..=swept.seeds as u64).collect::<Vec<_>>());
    }

    #[test]
    fn a_budget_stops_a_sweep_without_end_after_a_prefix_of_its_seeds() {
        let seen = Seen::default();
        let plan = Plan {
            budget: Some(Duration::from_millis(60)),
            recheck: Recheck::Off,
            ..Plan::new(
                Seeds::From {
                    root: 41,
                    shard: Shard::ALL,
                },
                2,
            )
        };
        let swept = plan.run(|seed, _| SeedResult::pass(seed, 0, 0, String::new()), &seen);
        let seen = seen.0.lock().unwrap();
        assert!(swept.seeds > 0);
        assert_eq!(*seen, (41..41 + swept.seeds as u64).collect::<Vec<_>>());
        assert_eq!(swept.ended, Ended::Budget);
        assert_eq!(swept.last, seen.last().copied());
    }
}
