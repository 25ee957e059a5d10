//! A run that stops making progress — a task polled without ever yielding, a livelock in
//! the server under test — would hang its process without a word. The watchdog ends such a
//! process with one line naming the run, its virtual time and how to replay it.
//!
//! Each simulation step bumps its run's counter; a thread started with the first run looks
//! once a second, and a counter that has not moved for `FRAMESIM_STALL_SECS` (60 unless
//! set) of wall time ends the process with exit code 3.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::{Duration, Instant};

/// What a stalled run is called in the line the watchdog prints (its seed, its replay).
pub(crate) type About = Box<dyn Fn() -> String + Send + Sync>;

/// One run being watched; dropping it ends the watch.
pub(crate) struct WatchedRun(Arc<Slot>);

struct Slot {
    steps: AtomicU64,
    virtual_ms: AtomicU64,
    about: About,
}

/// Runs being watched.
static RUNS: Mutex<Vec<Weak<Slot>>> = Mutex::new(Vec::new());
static START: Once = Once::new();

/// The exit code of a process ended by the watchdog.
pub const STALLED: i32 = 3;

/// Starts watching a run.
pub(crate) fn watch(about: About) -> WatchedRun {
    START.call_once(|| {
        std::thread::Builder::new()
            .name("framesim-watchdog".into())
            .spawn(patrol)
            .expect("watchdog thread");
    });
    let slot = Arc::new(Slot {
        steps: AtomicU64::new(0),
        virtual_ms: AtomicU64::new(0),
        about,
    });
    let mut runs = RUNS.lock().unwrap_or_else(|e| e.into_inner());
    runs.retain(|r| r.strong_count() > 0);
    runs.push(Arc::downgrade(&slot));
    WatchedRun(slot)
}

impl WatchedRun {
    /// The run made a step; it is at `virtual_time`.
    pub(crate) fn stepped(&self, virtual_time: Duration) {
        self.0.steps.fetch_add(1, Ordering::Relaxed);
        self.0
            .virtual_ms
            .store(virtual_time.as_millis() as u64, Ordering::Relaxed);
    }
}

/// How long a run may go without a step.
fn limit() -> Duration {
    let secs = std::env::var("FRAMESIM_STALL_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(60);
    Duration::from_secs(secs)
}

fn patrol() {
    let limit = limit();
    // Per run: the step count last seen and when it last moved.
    let mut seen: HashMap<usize, (u64, Instant)> = HashMap::new();
    loop {
        std::thread::sleep(Duration::from_millis(500).min(limit));
        let live: Vec<Arc<Slot>> = {
            let runs = RUNS.lock().unwrap_or_else(|e| e.into_inner());
            runs.iter().filter_map(Weak::upgrade).collect()
        };
        let now = Instant::now();
        seen.retain(|key, _| live.iter().any(|s| Arc::as_ptr(s) as usize == *key));
        for slot in &live {
            let steps = slot.steps.load(Ordering::Relaxed);
            let entry = seen
                .entry(Arc::as_ptr(slot) as usize)
                .or_insert((steps, now));
            if entry.0 != steps {
                *entry = (steps, now);
            } else if now - entry.1 >= limit {
                eprintln!(
                    "framesim: {} STALLED: no simulation step for {limit:?} of wall time at virtual time {}ms (a task polled without yielding: a livelock?)",
                    (slot.about)(),
                    slot.virtual_ms.load(Ordering::Relaxed)
                );
                std::process::exit(STALLED);
            }
        }
    }
}
