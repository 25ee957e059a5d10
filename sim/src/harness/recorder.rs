//! Where the clients of a run put the history of their key-value requests (see
//! `record.rs`), and its check at the run's end.

use super::linear::{check, Checked, History, KvModel, KvOp, KvResult};
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// Steps the check of one run's history may take per group of keys.
const BUDGET: u64 = 200_000;

/// The history of one run as its clients record it.
#[derive(Default)]
pub(super) struct Recorder(Mutex<Recording>);

#[derive(Default)]
pub(super) struct Recording {
    pub(super) history: History<KvOp, KvResult>,
    /// Each client's requests asked and not yet answered: their bytes, the operation, when.
    pub(super) open: BTreeMap<usize, VecDeque<(Bytes, KvOp, u64)>>,
}

impl Recorder {
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Recording) -> T) -> T {
        f(&mut self.0.lock().expect("history lock"))
    }

    /// Every operation recorded, ordered by call time (then client).
    pub(super) fn history(&self) -> History<KvOp, KvResult> {
        self.with(|r| {
            let mut ops = r.history.ops.clone();
            ops.sort_by_key(|o| (o.call, o.client));
            History::new(ops)
        })
    }

    /// Checks the history: the verdict, and what it cost.
    pub(super) fn check(&self) -> Checked {
        check(&KvModel, &self.history(), BUDGET)
    }
}
