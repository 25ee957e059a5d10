//! Linearizability: whether what many clients saw of shared keys could have come from the
//! operations running one at a time, each at some instant between its call and its return.
//!
//! A [`History`] holds the operations (as JSON lines, the shape Porcupine and Knossos
//! read); a [`Model`] says what a sequence of them answers ([`KvModel`] for key-value
//! servers); [`check`] searches for an order, per group of keys, within a budget of steps.

mod check;
mod history;
mod kv;
mod model;
#[cfg(test)]
mod tests;

pub use check::{check, Checked, Verdict, DEFAULT_BUDGET};
pub use history::{History, HistoryError, Operation};
pub use kv::{KvModel, KvOp, KvResult};
pub use model::Model;
