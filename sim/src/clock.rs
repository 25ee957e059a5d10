//! The run's time: turmoil's virtual clock inside a simulation; outside one (a run against a
//! real server over loopback), wall time since that run began.

use std::cell::Cell;
use std::time::{Duration, Instant};

thread_local! {
    /// When the wall-clock run on this thread began (its clients all run on this thread).
    static WALL_START: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Time since the run began: virtual inside a simulation, else wall time of a run begun by
/// [`on_wall_clock`], else zero.
pub fn now() -> Duration {
    turmoil::sim_elapsed()
        .or_else(|| WALL_START.with(Cell::get).map(|start| start.elapsed()))
        .unwrap_or_default()
}

/// Runs `f` (one whole run outside a simulation) with [`now`] counting wall time from here.
pub fn on_wall_clock<R>(f: impl FnOnce() -> R) -> R {
    /// Puts the outer start back, even if `f` unwinds.
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            WALL_START.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(WALL_START.with(|s| s.replace(Some(Instant::now()))));
    f()
}
