//! What the clients, the buffer taps and the monitor of one harness run share.

use super::buffers::Buffers;
use super::options::Options;
use super::outcome::Tally;
use super::recorder::Recorder;
use super::workload::Workload;
use crate::kv::plan::Plans;
use crate::oracle::{Oracle, Violations};
use crate::script::{ClientScript, Lifter};
use crate::transcript::Actor;
use crate::transcript::Transcript;
use crate::window::Windows;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A client's script in a scripted run: its steps, and whether its session draws the very
/// bytes the steps write (then the session judges its replies, as in the run it was lifted
/// from).
#[derive(Debug, Clone)]
pub(super) struct Scripted {
    pub(super) script: ClientScript,
    pub(super) synced: bool,
}

/// Whether a run is lifted into a script, played from one, or neither; and how its
/// connections' polls go (drawn, recorded, or played back).
#[derive(Clone, Default)]
pub(super) struct Scripting {
    /// A run being lifted: where its clients put their steps.
    pub(super) lifter: Option<Lifter>,
    /// A scripted run: its clients' scripts, by id.
    pub(super) scripts: Option<Arc<BTreeMap<usize, Scripted>>>,
    pub(super) plans: Plans,
}

/// What the clients and the monitor of a run share.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) seed: u64,
    pub(super) options: Options,
    pub(super) workload: Arc<dyn Workload>,
    pub(super) transcript: Transcript,
    /// What the server's side of each connection did (closed when, having read what).
    pub(super) windows: Windows,
    /// What the server read of each connection.
    pub(super) buffers: Arc<Buffers>,
    pub(super) violations: Violations,
    pub(super) tally: Arc<Mutex<Tally>>,
    /// Lifting the run, or playing a script.
    pub(super) scripting: Scripting,
    /// The history of the clients' key-value requests, when the workload checks it.
    pub(super) history: Option<Arc<Recorder>>,
    /// The run's time (in nanoseconds) the server returned from its restart's shutdown;
    /// zero until it has.
    pub(super) back_at: Arc<std::sync::atomic::AtomicU64>,
}

impl Shared {
    /// Whether the server is down for its restart: told to stop, not returned yet. A
    /// client refused then is not refused by the server.
    pub(super) fn restarting(&self) -> bool {
        let now = crate::clock::now();
        self.options.restart_at.is_some_and(|at| now >= at)
            && self.back_at.load(std::sync::atomic::Ordering::SeqCst) == 0
    }

    /// When the server returned from its restart's shutdown, if it has.
    pub(super) fn back_at(&self) -> Option<std::time::Duration> {
        match self.back_at.load(std::sync::atomic::Ordering::SeqCst) {
            0 => None,
            nanos => Some(std::time::Duration::from_nanos(nanos)),
        }
    }

    /// Records a violation, in the transcript too.
    pub(super) fn violation(&self, oracle: Oracle, client: Option<usize>, detail: String) {
        let actor = client.map_or(Actor::Sim, Actor::Client);
        self.violations
            .fail(&self.transcript, actor, oracle, detail);
    }

    /// A violation found once the simulation stopped, named at its end, `at`.
    pub(super) fn violation_at_end(&self, at: std::time::Duration, oracle: Oracle, detail: String) {
        self.violations
            .fail_at(at, &self.transcript, Actor::Sim, oracle, detail);
    }

    /// No violation so far.
    pub(super) fn passing(&self) -> bool {
        self.violations.all().is_empty()
    }

    pub(super) fn tally(&self, f: impl FnOnce(&mut Tally)) {
        f(&mut self.tally.lock().expect("tally lock"));
    }
}
