//! Linearizability: whether what many clients saw of shared keys could have come from the
//! operations running one at a time, each at some instant between its call and its return.
//!
//! A [`History`] holds the operations (as JSON lines, the shape Porcupine and Knossos
//! read); a [`Model`] says what a sequence of them answers ([`KvModel`] for key-value
//! servers); [`check`] searches for an order, per group of keys, within a budget of steps.
//! A [`Spec`] is a model with the way a workload's request and reply bytes become its
//! operations: what a harness run records its history with.

mod check;
mod history;
mod kv;
mod model;
mod order;
mod resp;
mod spec;
#[cfg(test)]
mod tests;
mod timeline;

pub use check::{check, Checked, Linearizability, ServerOrder, DEFAULT_BUDGET};
pub use history::{History, HistoryError, Operation};
pub use kv::{KvModel, KvOp, KvResult};
pub use model::Model;
pub(crate) use spec::Recording;
pub use spec::Spec;
