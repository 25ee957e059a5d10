//! Panics inside a simulation run, kept for its report as one line each
//! (`file:line: message`) and printed nowhere.
//!
//! Without this, every connection task that panics prints its message, and with
//! `RUST_BACKTRACE=1` a whole backtrace, from the middle of a sweep; and a run that tokio
//! already caught the panic of would say only that something panicked, not where.
//!
//! The panic hook is process-wide but runs are not: sweeps and test suites run simulations on
//! several threads at once, next to threads that are no simulation. So one hook is installed
//! while any run is under way, records only the panics of threads that are inside a run
//! (turmoil runs every host of a simulation on the thread that steps it), hands every other
//! panic to the hook it replaced, and puts that hook back when the last run ends.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::panic::{self, PanicHookInfo};
use std::sync::{Arc, Mutex, PoisonError};

/// A panic hook, as `std::panic` holds one.
type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

thread_local! {
    /// The panics of the run under way on this thread, if one is.
    static RECORDED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// How many runs are under way, and the hook that was in place before the first.
struct Installed {
    runs: usize,
    previous: Option<Arc<Hook>>,
}

static INSTALLED: Mutex<Installed> = Mutex::new(Installed {
    runs: 0,
    previous: None,
});

/// Records this thread's panics from [`Capture::start`] until [`Capture::finish`] (or drop).
/// Tied to its thread, as the recording is.
pub(crate) struct Capture {
    /// What this thread recorded for an enclosing capture, put back at the end.
    outer: Option<Vec<String>>,
    _thread: PhantomData<*const ()>,
}

impl Capture {
    /// Starts recording this thread's panics, silently.
    pub(crate) fn start() -> Capture {
        let outer = RECORDED.with(|r| r.borrow_mut().replace(Vec::new()));
        let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
        if installed.runs == 0 {
            let previous: Arc<Hook> = Arc::new(panic::take_hook());
            let fallback = previous.clone();
            panic::set_hook(Box::new(move |info| {
                if !record(info) {
                    fallback(info)
                }
            }));
            installed.previous = Some(previous);
        }
        installed.runs += 1;
        Capture {
            outer,
            _thread: PhantomData,
        }
    }

    /// Every panic recorded, in order, as `file:line: message`.
    pub(crate) fn finish(self) -> Vec<String> {
        RECORDED
            .with(|r| r.borrow_mut().as_mut().map(std::mem::take))
            .unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        RECORDED.with(|r| *r.borrow_mut() = self.outer.take());
        let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
        installed.runs -= 1;
        // Swapping hooks while this thread unwinds would abort the process: leave ours in
        // place (it hands other threads' panics on) and let the next first run wrap it.
        if installed.runs > 0 || std::thread::panicking() {
            return;
        }
        drop(panic::take_hook());
        if let Some(previous) = installed.previous.take() {
            match Arc::try_unwrap(previous) {
                Ok(hook) => panic::set_hook(hook),
                Err(shared) => panic::set_hook(Box::new(move |info| shared(info))),
            }
        }
    }
}

/// Records a panic of a thread inside a run; false if this thread is in none.
fn record(info: &PanicHookInfo<'_>) -> bool {
    let line = describe(info);
    RECORDED
        .try_with(|r| match r.try_borrow_mut() {
            Ok(mut r) => match r.as_mut() {
                Some(panics) => {
                    panics.push(line);
                    true
                }
                None => false,
            },
            Err(_) => false,
        })
        .unwrap_or(false)
}

/// `file:line: message`.
fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic with no message)");
    match info.location() {
        Some(at) => format!("{}:{}: {message}", at.file(), at.line()),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::catch_unwind;

    #[test]
    fn panics_inside_a_capture_are_recorded_with_their_location() {
        let capture = Capture::start();
        let line = line!() + 1;
        let _ = catch_unwind(|| panic!("boom {}", 7));
        let _ = catch_unwind(|| panic!("bang"));
        let panics = capture.finish();
        assert_eq!(
            panics,
            [
                format!("sim/src/panics.rs:{line}: boom 7"),
                format!("sim/src/panics.rs:{}: bang", line + 1)
            ]
        );
    }

    #[test]
    fn a_tokio_task_that_panics_is_recorded_once() {
        let capture = Capture::start();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let joined = rt.block_on(async { tokio::spawn(async { panic!("in a task") }).await });
        assert!(joined.unwrap_err().is_panic());
        let panics = capture.finish();
        assert_eq!(panics.len(), 1, "{panics:?}");
        assert!(
            panics[0].starts_with("sim/src/panics.rs:") && panics[0].ends_with(": in a task"),
            "{panics:?}"
        );
    }

    #[test]
    fn captures_nest_and_other_threads_are_left_alone() {
        let outer = Capture::start();
        let _ = catch_unwind(|| panic!("outer"));
        let inner = Capture::start();
        // A thread inside no run: its panic goes to the previous hook, not into a report.
        let other = std::thread::spawn(|| catch_unwind(|| panic!("elsewhere")).is_err());
        assert!(other.join().unwrap());
        let _ = catch_unwind(|| panic!("inner"));
        let inner = inner.finish();
        let outer = outer.finish();
        assert_eq!(inner.len(), 1, "{inner:?}");
        assert!(inner[0].ends_with("inner"));
        assert_eq!(outer.len(), 1, "{outer:?}");
        assert!(outer[0].ends_with("outer"));
    }
}
