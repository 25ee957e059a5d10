//! A run's history: each request a client asks, from its first byte written to its
//! reply's last byte read, as the workload's model reads it
//! ([`Workload::model`](super::Workload::model)).

use super::client::Client;
use super::linear::{Checked, Linearizability, ServerOrder};
use super::recorder::Recorder;
use super::shared::Shared;
use super::workload::Request;
use crate::oracle::Oracle;
use crate::transcript::{Actor, Event};
use bytes::Bytes;
use std::ops::Range;

/// Checks the run's history at its end (`end`, the run's time): a note of what was checked; a `[linearizable]`
/// violation when no order gives every result; when the search ran out of its budget,
/// nothing is claimed either way: the run counts it (`Tally::histories_unknown`).
pub(super) fn judge(shared: &Shared, history: &Recorder, end: std::time::Duration) -> Checked {
    let checked = history.check();
    shared.tally(|t| {
        t.histories_checked += 1;
        t.histories_narrowed += u64::from(checked.narrowed);
    });
    let narrowed = if checked.narrowed {
        " (each window narrowed to the server's side of the wire)"
    } else {
        ""
    };
    let mut text = format!(
        "history: {} operation(s) over {} key group(s), {} search step(s){narrowed}: {}",
        checked.ops, checked.partitions, checked.steps, checked.verdict
    );
    match &checked.server_order {
        Some(order @ ServerOrder::Linearization { .. }) => {
            shared.tally(|t| t.orders_linear += 1);
            text = format!(
                "history: {} operation(s), {} command(s) told: {order}",
                checked.ops, checked.steps
            );
        }
        Some(order @ ServerOrder::Broken { .. }) => {
            shared.tally(|t| t.orders_broken += 1);
            text = format!("{text}; {order}");
        }
        None => {}
    }
    shared
        .transcript
        .record(Actor::Sim, Event::Note { text: text.clone() });
    match checked.verdict {
        Linearizability::Linearizable => {}
        Linearizability::Unknown { .. } => shared.tally(|t| t.histories_unknown += 1),
        Linearizability::NotLinearizable { .. } => {
            shared.violation_at_end(end, Oracle::Linearizable, text)
        }
    }
    checked
}

/// The run's time in nanoseconds.
fn now() -> u64 {
    crate::clock::now().as_nanos() as u64
}

impl Client {
    /// `request` is about to be written.
    pub(super) fn invoked(&self, request: &Request) {
        if let Some(recorder) = &self.shared.history {
            let at = recorder.stamp(now());
            recorder.with(|r| r.invoked(self.id, &request.bytes, request.skipped, at));
        }
    }

    /// The bytes `written` of a batch (`bytes`, its requests ending at `ends`) went out:
    /// a request whose first byte is among them is called now, not when its batch began.
    pub(super) fn first_bytes(&self, bytes: &Bytes, ends: &[usize], written: Range<usize>) {
        let Some(recorder) = &self.shared.history else {
            return;
        };
        let starts = std::iter::once(0).chain(ends.iter().copied());
        let firsts: Vec<(usize, usize)> = starts
            .zip(ends.iter().copied())
            .enumerate()
            .filter(|(_, (start, _))| written.contains(start))
            .map(|(k, (start, _))| (k, start))
            .collect();
        if firsts.is_empty() {
            return;
        }
        let at = recorder.stamp(now());
        recorder.with(|r| {
            // The batch's requests are the last ones asked; one answered already, or not
            // recorded, is not found there by its bytes and keeps its call.
            for (k, start) in firsts {
                let back = ends.len() - 1 - k;
                r.called(self.id, back, &bytes[start..ends[k]], at);
            }
        });
    }

    /// `reply` answered `request`, the oldest open one; `served`, the server's side of
    /// its window, when known.
    pub(super) fn completed(&self, request: &Request, reply: &[u8], served: Option<(u64, u64)>) {
        if let Some(recorder) = &self.shared.history {
            let at = recorder.stamp(now());
            recorder.with(|r| r.completed(self.id, &request.bytes, reply, at, served));
        }
    }

    /// The connection is gone: every request still open may have run or not.
    pub(super) fn unanswered(&self) {
        if let Some(recorder) = &self.shared.history {
            recorder.with(|r| r.unanswered(self.id));
        }
    }
}
