//! Where the clients of a run put the history of their requests (see `record.rs`), as
//! the workload's [`Spec`] reads them, and its check at the run's end.

use super::linear::{Checked, Recording, Spec};
use crate::output::write_file;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Steps the check of one run's history may take per group of keys.
const BUDGET: u64 = 200_000;

thread_local! {
    /// The history of the run playing on this thread (a run plays on one thread, its
    /// server too), for the server to tell what it ran.
    static PLAYING: std::cell::RefCell<Option<Arc<Recorder>>> = const { std::cell::RefCell::new(None) };
}

/// Tells the history of the run under way that the server ran `request` (the bytes of one
/// request, as a client sends it) and answered `reply` (its reply's bytes), now. Outside a
/// run, or in a run whose workload has no model ([`Workload::model`](super::Workload::model)),
/// it does nothing.
///
/// A server that tells each command it runs, where it runs it (an instant at which the
/// command takes effect whole, such as a call on the store under its lock), gets the
/// white-box check: the order it ran them in must be a linearization of the clients'
/// history, each command run between its client's write and read with the reply that
/// client read, the model giving each reply in that order. It takes one pass where the
/// search may take many steps; when that order is none, the search decides, and the run's
/// history note says why the order failed
/// ([`Checked::server_order`](super::linear::Checked::server_order)).
///
/// ```
/// // In a server's store, under test only:
/// fn incr(counter: &mut i64) -> i64 {
///     *counter += 1;
///     framesim::harness::ran(b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n", format!(":{counter}\r\n").as_bytes());
///     *counter
/// }
/// assert_eq!(incr(&mut 0), 1);
/// ```
pub fn ran(request: &[u8], reply: &[u8]) {
    PLAYING.with(|playing| {
        if let Some(recorder) = &*playing.borrow() {
            let at = recorder.stamp(crate::clock::now().as_nanos() as u64);
            recorder.with(|r| r.ran(request, reply, at));
        }
    });
}

/// While it lives, the server's [`ran`] goes into `history` (the run's, if it has one).
pub(super) struct Playing(Option<Arc<Recorder>>);

impl Playing {
    pub(super) fn start(history: Option<Arc<Recorder>>) -> Self {
        Playing(PLAYING.with(|playing| playing.replace(history)))
    }
}

impl Drop for Playing {
    fn drop(&mut self) {
        let before = self.0.take();
        PLAYING.with(|playing| playing.replace(before));
    }
}

/// The history of one run as its clients record it.
pub(super) struct Recorder {
    recording: Mutex<Box<dyn Recording>>,
    /// The latest stamp given.
    last: AtomicU64,
}

impl Recorder {
    /// An empty history read with `spec`.
    pub(super) fn new(spec: &Spec) -> Self {
        Recorder {
            recording: Mutex::new(spec.recording()),
            last: AtomicU64::new(0),
        }
    }

    pub(super) fn with<T>(&self, f: impl FnOnce(&mut dyn Recording) -> T) -> T {
        f(&mut **self.recording.lock().expect("history lock"))
    }

    /// When an event of the history happens, `at` on the run's clock (in nanoseconds): at
    /// least `at`, and after every stamp given before. The clock moves a whole tick at a
    /// time while the simulation runs one event at a time, so the order events are
    /// stamped in is the order they happened in: a request asked after another's reply
    /// was read, in the same tick, is called after that return, not beside it.
    pub(super) fn stamp(&self, at: u64) -> u64 {
        let next = |last: u64| at.max(last + 1);
        let last = self
            .last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(next(last))
            });
        next(last.unwrap_or_else(|last| last))
    }

    /// Checks the history: the verdict, and what it cost.
    pub(super) fn check(&self) -> Checked {
        self.check_within(BUDGET)
    }

    /// Checks the history within `budget` steps per group of keys.
    pub(super) fn check_within(&self, budget: u64) -> Checked {
        self.with(|r| r.check(budget))
    }
}

/// The history a run recorded, for a workload with a model
/// ([`Workload::model`](super::Workload::model)), and what its check found.
#[derive(Clone)]
pub struct RunHistory {
    recorder: Arc<Recorder>,
    /// What the check of the history found.
    pub checked: Checked,
}

impl std::fmt::Debug for RunHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunHistory")
            .field("checked", &self.checked)
            .finish()
    }
}

impl RunHistory {
    pub(super) fn new(recorder: Arc<Recorder>, checked: Checked) -> Self {
        RunHistory { recorder, checked }
    }

    /// The history as JSON lines, ordered by call time: the operation indices the check
    /// names are line numbers from 0.
    pub fn json_lines(&self) -> String {
        self.recorder.with(|r| r.json_lines())
    }

    /// The history drawn as one self-contained HTML page (inline SVG): a lane per client,
    /// each operation a bar from its call to its return labelled with what it asked and
    /// what came back, indeterminate ones dashed, the key group that cannot be linearized
    /// marked. The same history gives the same bytes.
    pub fn timeline(&self, title: &str) -> String {
        self.recorder.with(|r| r.timeline(&self.checked, title))
    }

    /// Writes the history and its timeline beside `transcript` (`x.txt`:
    /// `x-history.jsonl` and `x-timeline.html`); their paths.
    pub fn write_beside(&self, transcript: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
        let stem = transcript
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        let history = transcript.with_file_name(format!("{stem}-history.jsonl"));
        let timeline = transcript.with_file_name(format!("{stem}-timeline.html"));
        write_file(&history, self.json_lines())?;
        write_file(&timeline, self.timeline(&stem))?;
        Ok((history, timeline))
    }
}
