//! A scripted client: plays its steps as written, drawing nothing.

use super::KvClient;
use crate::model::satisfies;
use crate::oracle::Oracle;
use crate::script::{close_oracle, Step};
use crate::transcript::{Event, Expected};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::sleep;

impl KvClient {
    /// Plays `steps`: writes at their times, checks each read against the oldest
    /// expectation not yet met, waits for the closes it names. Stops at the first broken
    /// promise, like the role it was lifted from.
    pub(super) async fn play(&mut self, steps: Vec<Step>) {
        let mut expects = VecDeque::new();
        let mut since = Duration::ZERO;
        for step in steps {
            // A read waits from when it starts; a connect or half-close from when it is done.
            let waits = step.starts_a_wait() && step != Step::Read;
            if step == Step::Read {
                since = self.clock.now();
            }
            match step {
                Step::Connect { at } => {
                    sleep_until(at).await;
                    if !self.connect().await {
                        return;
                    }
                }
                Step::Write { at, bytes } => {
                    sleep_until(at).await;
                    let Some(stream) = self.stream.as_mut() else {
                        return;
                    };
                    if let Err(e) = stream.write_all(&bytes).await {
                        self.record(Event::Closed { why: e.to_string() });
                        return;
                    }
                    self.record(Event::Write { bytes });
                }
                Step::Expect(expect) => expects.push_back(expect),
                // A harness script's replies: refused when the scenario is read.
                Step::ExpectBytes(_) | Step::Checked(_) => {}
                Step::Read => match self.reply().await {
                    Ok(reply) => {
                        if let Some(expect) = expects.pop_front() {
                            if !satisfies(&reply, &expect) {
                                let detail = format!("expected {expect:?}, got {reply:?}");
                                // A refusal a misbehaving role waits for is its own promise.
                                let refusal = matches!(expect, Expected::ErrorPrefix(_))
                                    && close_oracle(self.role) == Oracle::ProtocolError;
                                let oracle = if refusal {
                                    Oracle::ProtocolError
                                } else {
                                    Oracle::Reply
                                };
                                return self.fail(oracle, detail);
                            }
                        }
                    }
                    Err(lost) => return self.lost_reply(lost),
                },
                Step::HalfClose => {
                    if let Some(stream) = self.stream.as_mut() {
                        let _ = stream.shutdown().await;
                    }
                    self.record(Event::HalfClose);
                }
                Step::Drop { mid_frame } => {
                    self.stream = None;
                    self.record(Event::Disconnect { mid_frame });
                }
                Step::CloseWithin { within, oracle } => {
                    let now = self.clock.now();
                    let left = (since + within).saturating_sub(now);
                    if !self.expect_close(oracle, left).await {
                        return;
                    }
                }
            }
            if waits {
                since = self.clock.now();
            }
        }
        self.stream = None;
    }
}

/// Sleeps until virtual time `at` of the run (not at all if it has passed).
async fn sleep_until(at: Duration) {
    let now = crate::clock::now();
    if at > now {
        sleep(at - now).await;
    }
}
