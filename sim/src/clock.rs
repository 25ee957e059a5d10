//! The run's time: turmoil's virtual clock inside a simulation; outside one (a run against a
//! real server over loopback), wall time since that run began.

use std::cell::Cell;
use std::sync::OnceLock;
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

/// [`now`] for one client or connection, read from its own runtime's clock.
///
/// turmoil's clock costs a host lookup (a SipHash of the host's address) on every
/// reading; this one reads it once and from then on adds what the task's runtime clock
/// (tokio's, paused and advanced by turmoil a tick at a time) has moved since. Each host
/// is its own runtime, so a `Clock` must be read only on the host where it is first
/// read: make one per task or per connection, never share one between hosts. Debug
/// builds check every reading against [`now`].
#[derive(Debug, Default)]
pub struct Clock {
    /// At the first reading: the runtime's instant and the run's time then, or `None`
    /// outside a simulation.
    base: OnceLock<Option<(tokio::time::Instant, Duration)>>,
}

impl Clock {
    /// Time since the run began, as [`now`] would read it here.
    pub fn now(&self) -> Duration {
        let base = self
            .base
            .get_or_init(|| turmoil::sim_elapsed().map(|t| (tokio::time::Instant::now(), t)));
        match *base {
            Some((at, then)) => {
                let t = then + at.elapsed();
                debug_assert_eq!(t, now(), "a clock read on a host it was not made on");
                t
            }
            // Not in a simulation: wall time is read as it is.
            None => now(),
        }
    }
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
