//! The checks every run must pass, and what a failure says.

use crate::transcript::{Actor, Event, Transcript};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A broken promise, found by an oracle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Virtual time it was found.
    pub at: Duration,
    /// Who saw it.
    pub actor: Actor,
    /// Which promise: `reply`, `order`, `latency`, `slowloris`, `limit`, `leak`, `panic`...
    pub oracle: &'static str,
    /// What happened instead.
    pub detail: String,
    /// Index of the transcript event at which it was found.
    pub event: u64,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {:?} at {:?} (event {}): {}",
            self.oracle, self.actor, self.at, self.event, self.detail
        )
    }
}

/// Violations of one run, shared by all hosts; the first one found is the one reported.
#[derive(Debug, Clone, Default)]
pub struct Oracles(Arc<Mutex<Vec<Violation>>>);

impl Oracles {
    /// Records a violation (and notes it in the transcript).
    pub fn fail(
        &self,
        transcript: &Transcript,
        actor: Actor,
        oracle: &'static str,
        detail: String,
    ) {
        let event = transcript.len();
        transcript.record(
            actor,
            Event::Note {
                text: format!("VIOLATION [{oracle}] {detail}"),
            },
        );
        self.0.lock().expect("oracle lock").push(Violation {
            at: turmoil::sim_elapsed().unwrap_or_default(),
            actor,
            oracle,
            detail,
            event,
        });
    }

    /// Every violation found, in the order found.
    pub fn all(&self) -> Vec<Violation> {
        self.0.lock().expect("oracle lock").clone()
    }
}
