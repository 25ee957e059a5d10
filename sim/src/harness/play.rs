//! A scripted harness client ([`Harness::replay_script`](super::Harness::replay_script)):
//! plays its steps as written, and judges each reply by its session when the session draws
//! the very bytes the script writes, else by the bytes the script expects.

use super::client::{cut, Client, Verdict};
use super::shared::Scripted;
use super::workload::Request;
use crate::clock;
use crate::oracle::Oracle;
use crate::role::Role;
use crate::script::Step;
use crate::transcript::Event;
use crate::window::ClientStream;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep, timeout_at, Instant};

impl Client {
    /// Plays `scripted`'s steps: connects and writes at their times, reads and judges each
    /// reply against the oldest expectation not yet met, waits for the closes it names.
    /// Stops at the first broken promise.
    pub(super) async fn play(&mut self, scripted: Scripted) -> Verdict {
        let role = scripted.script.role;
        let mut stream: Option<ClientStream> = None;
        let mut buf = BytesMut::new();
        let mut expects: VecDeque<(Step, Option<Request>)> = VecDeque::new();
        // The client's last connect, read or half-close: what a close is timed from.
        let mut since = Duration::ZERO;
        // Bytes written on the current connection.
        let mut sent = 0;
        let mut leaves_inside = self.leaves_inside(&scripted);
        for step in scripted.script.steps {
            match step {
                Step::Connect { at } => {
                    sleep_until(at).await;
                    stream = Some(self.connect().await.map_err(|e| (Oracle::Connect, e))?);
                    buf.clear();
                    sent = 0;
                    self.framer = self.shared.workload.framer();
                    since = clock::now();
                }
                Step::Write { at, bytes } => {
                    sleep_until(at).await;
                    let Some(s) = stream.as_mut() else {
                        continue;
                    };
                    // Once the server has closed, what is left to write goes nowhere: the
                    // steps after say whether that close was owed.
                    if sent == 0 {
                        if let Some((request, sent)) = leaves_inside.take() {
                            self.give_up_session(s, request, sent);
                        }
                    }
                    if s.server_side().closed_at.is_some() || s.write_all(&bytes).await.is_err() {
                        continue;
                    }
                    sent += bytes.len();
                    self.record(Event::Write { bytes });
                }
                expect @ (Step::ExpectBytes(_) | Step::Checked(_) | Step::Expect(_)) => {
                    let request = match scripted.synced {
                        true => self.session.next_request(&mut self.work),
                        false => None,
                    };
                    if let Some(request) = &request {
                        self.record(Event::Asked {
                            bytes: request.bytes.clone(),
                        });
                    }
                    self.shared.tally(|t| t.requests += 1);
                    expects.push_back((expect, request));
                }
                Step::Read => {
                    since = clock::now();
                    let Some(s) = stream.as_mut() else {
                        return Err((Oracle::Unanswered, "a read with no connection".into()));
                    };
                    let reply = match self.read_reply(s, &mut buf, expects.len().max(1)).await {
                        Ok(reply) => reply,
                        Err((_, lost)) if role == Role::HalfClose => {
                            return Err((Oracle::HalfClose, format!("after a half-close: {lost}")))
                        }
                        Err((Oracle::Unanswered, lost)) if role == Role::BulkLoader => {
                            return Err((Oracle::WrongfulClose, format!("a bulk loader: {lost}")))
                        }
                        Err(lost) => return Err(lost),
                    };
                    if let Some((expect, request)) = expects.pop_front() {
                        self.judge_scripted(&expect, request.as_ref(), &reply)?;
                    }
                }
                Step::HalfClose => {
                    if let Some(s) = stream.as_mut() {
                        let _ = s.shutdown().await;
                    }
                    self.record(Event::HalfClose);
                    since = clock::now();
                }
                Step::Drop { mid_frame } => {
                    stream = None;
                    self.record(Event::Disconnect { mid_frame });
                }
                Step::CloseWithin { within, oracle } => {
                    if let Some(s) = stream.as_mut() {
                        closed_within(s, since, within, oracle).await?;
                        self.record(Event::Closed {
                            why: format!("closed by the server, as {oracle} asks"),
                        });
                        stream = None;
                    }
                }
            }
        }
        if stream.is_some() {
            if !buf.is_empty() {
                return Err((
                    Oracle::Extra,
                    format!("{} byte(s) after the last reply: {}", buf.len(), cut(&buf)),
                ));
            }
            self.record(Event::Closed {
                why: "script done".into(),
            });
        }
        Ok(())
    }

    /// The request a disconnecting client's script writes part of before it leaves, and
    /// how much of it, if its session draws one that begins with all the script writes.
    fn leaves_inside(&mut self, scripted: &Scripted) -> Option<(Request, usize)> {
        let steps = &scripted.script.steps;
        let mid_request = steps
            .iter()
            .any(|step| matches!(step, Step::Drop { mid_frame: true }));
        if scripted.script.role != Role::Disconnect || !mid_request {
            return None;
        }
        let written: Vec<u8> = steps
            .iter()
            .filter_map(|step| match step {
                Step::Write { bytes, .. } => Some(&bytes[..]),
                _ => None,
            })
            .flatten()
            .copied()
            .collect();
        let request = self.session.next_request(&mut self.work)?;
        let sent = written.len();
        (sent > 0 && sent < request.bytes.len() && request.bytes.starts_with(&written))
            .then_some((request, sent))
    }

    /// Judges `reply`: by the session, as the run it was lifted from did, when it drew
    /// `request` in step with the script; and against the bytes the script expects.
    fn judge_scripted(
        &mut self,
        expect: &Step,
        request: Option<&Request>,
        reply: &Bytes,
    ) -> Verdict {
        match request {
            Some(request) => self.judge(request, reply)?,
            None => {
                self.record(Event::Answered {
                    bytes: reply.clone(),
                });
                self.shared.tally(|t| t.replies += 1);
            }
        }
        match expect {
            Step::ExpectBytes(want) if want != reply => Err((
                Oracle::Reply,
                format!("expected {}, got {}", cut(want), cut(reply)),
            )),
            _ => Ok(()),
        }
    }
}

/// Waits for the server to close `stream`: it must, within `within` of `since`; else
/// `oracle` fails.
async fn closed_within(
    stream: &mut ClientStream,
    since: Duration,
    within: Duration,
    oracle: Oracle,
) -> Verdict {
    let deadline = since + within;
    let mut scratch = [0u8; 512];
    loop {
        if let Some(at) = stream.server_side().closed_at {
            if at <= deadline {
                return Ok(());
            }
            return Err((
                oracle,
                format!(
                    "closed {:?} after the client's last connect, read or half-close: later than the {within:?} the script allows",
                    at.saturating_sub(since)
                ),
            ));
        }
        let now = clock::now();
        if now >= deadline {
            return Err((
                oracle,
                format!(
                    "still open {within:?} after the client's last connect, read or half-close"
                ),
            ));
        }
        let until = Instant::now() + (deadline - now);
        match timeout_at(until, stream.read(&mut scratch)).await {
            // Closed: the server side's record says when, on the next turn.
            Ok(Ok(0)) | Ok(Err(_)) => {
                if stream.server_side().closed_at.is_none() {
                    return Ok(());
                }
            }
            // The server may say why it closes.
            Ok(Ok(_)) | Err(_) => {}
        }
    }
}

/// Sleeps until virtual time `at` of the run (not at all if it has passed).
async fn sleep_until(at: Duration) {
    let now = clock::now();
    if at > now {
        sleep(at - now).await;
    }
}
