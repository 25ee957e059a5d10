//! Clients at the edges of a protocol, for any server whose session says how to reach
//! them: a request the server cannot parse, one of exactly the declared limit, replies
//! taken slowly, a request to close.

use super::client::{cut, lost_to_reset, unread_at_close, Client, Verdict, CLOSE_AFTER_ANSWER};
use super::options::Role;
use super::pushed::Unframed;
use super::workload::{AfterError, Request};
use crate::oracle::Oracle;
use crate::transcript::Event;
use crate::window::ClientStream;
use bytes::{Bytes, BytesMut};
use rand::Rng;
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

impl Client {
    /// A few of the session's requests and a malformed one, pipelined: the server must
    /// answer each of the good ones as a well-behaved client's, then the malformed one
    /// with at most one reply its session accepts as an error, then close, or keep the
    /// connection and answer what follows as a well-behaved client's requests.
    pub(super) async fn malformed(&mut self, mut stream: ClientStream) -> Verdict {
        // The batch first: the session makes its malformed request after those it follows.
        let asked = self.pipeline_head();
        let Some(request) = self.session.malformed(&mut self.work) else {
            self.shared.tally(|t| t.mark_unasked(Role::Malformed));
            self.queued.extend(asked);
            return self.behave(stream).await;
        };
        // A server that reads on after an error answers a request right behind it.
        let after = self.session.after_error();
        let behind = if after == AfterError::ReadsOn {
            self.session.next_request(&mut self.work)
        } else {
            None
        };
        // One after which the server closes, or one it answers nothing, waits for the
        // well-behaved stretch.
        let behind = match behind {
            Some(request) if request.closes || request.no_reply => {
                self.queued.push_back(request);
                None
            }
            behind => behind,
        };
        // The request behind is asked with the others, before its bytes go out: the
        // server may run it the moment they arrive.
        for good in asked.iter().chain(&behind) {
            self.asking(good);
        }
        let count = asked.len() + usize::from(behind.is_some());
        self.shared.tally(|t| t.requests += count as u64);
        self.note(format!(
            "malformed request after {} request(s){}: {}",
            asked.len(),
            if behind.is_some() {
                ", one behind it"
            } else {
                ""
            },
            cut(&request.bytes)
        ));
        let (bytes, ends, seams) = pipelined(asked.iter().chain([&request]).chain(&behind));
        let len = bytes.len() as u64;
        let written = self.deliver(&mut stream, bytes, &ends, &seams, None).await;
        let mut buf = BytesMut::new();
        let owed: Vec<&Request> = asked.iter().filter(|r| !r.no_reply).collect();
        for (i, good) in owed.iter().enumerate() {
            match self.read_reply(&mut stream, &mut buf, owed.len() - i).await {
                Ok(reply) => self.judge(good, &reply)?,
                Err(_) if self.crashed() => return Ok(()),
                // Closed with bytes it never read: a reset, which takes the replies in
                // flight with it, in real TCP too. Only a server that read every byte
                // and still owed replies dropped them.
                Err(_) if unread_at_close(&stream) > 0 => {
                    return self
                        .refused_malformed("closed with the request unread (a reset)", false)
                }
                Err((_, lost)) => {
                    return Err((
                        Oracle::Reply,
                        format!(
                            "{i} of the {} replies owed before a malformed request: {lost}",
                            asked.len()
                        ),
                    ))
                }
            }
        }
        if written < len {
            return self.refused_malformed("closed before the request was written whole", false);
        }
        let wait = self.shared.options.reply_timeout;
        let error = loop {
            match self.frame(&mut buf) {
                Ok(Some(frame)) => break frame,
                Ok(None) => {}
                Err(Unframed::Unreadable(e)) => {
                    return Err((
                        Oracle::ProtocolError,
                        format!("its answer to a malformed request cannot be framed: {e}"),
                    ));
                }
                Err(Unframed::Pushed(violation)) => return Err(violation),
            }
            match timeout(wait, stream.read_buf(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    let how = format!("closed, no answer{}", lost_to_reset(&stream));
                    return self.refused_malformed(&how, false);
                }
                Ok(Ok(_)) => {}
                Err(_) if self.crashed() => return Ok(()),
                Err(_) => {
                    return Err((
                        Oracle::ProtocolError,
                        format!(
                            "neither an answer nor a close within {wait:?} of a malformed request{}: the connection hangs",
                            if buf.is_empty() { String::new() } else { format!(" (holding {})", cut(&buf)) }
                        ),
                    ))
                }
            }
        };
        self.note(format!("error reply {}", error.escape_ascii()));
        self.session.check_error(&request, &error).map_err(|e| {
            (
                Oracle::ProtocolError,
                format!("its answer to a malformed request: {e}"),
            )
        })?;
        if let Some(behind) = behind {
            match self.read_reply(&mut stream, &mut buf, 1).await {
                Ok(reply) => self.judge(&behind, &reply)?,
                Err(_) if self.crashed() => return Ok(()),
                Err((_, why)) => {
                    return Err((
                        Oracle::ProtocolError,
                        format!(
                            "the request behind a malformed one, after its error reply (the session says the server reads on): {why}"
                        ),
                    ))
                }
            }
            self.shared.tally(|t| t.malformed_refused += 1);
            return self.behave(stream).await.map_err(|(oracle, detail)| {
                (
                    oracle,
                    format!("after a malformed request, on the same connection: {detail}"),
                )
            });
        }
        match timeout(CLOSE_AFTER_ANSWER, stream.read_buf(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) if buf.is_empty() => {
                return self.refused_malformed("an error reply, then a close", true)
            }
            Ok(_) => {
                return Err((
                    Oracle::ProtocolError,
                    format!("more than one answer to a malformed request: {}", cut(&buf)),
                ))
            }
            Err(_) if after == AfterError::Closes && !self.crashed() => {
                return Err((
                    Oracle::ProtocolError,
                    format!("the connection stayed open {CLOSE_AFTER_ANSWER:?} after the error reply, though the session says the server closes after an error"),
                ))
            }
            Err(_) => {}
        }
        // Kept open: what follows must be answered as if nothing had happened.
        self.shared.tally(|t| t.malformed_refused += 1);
        self.note("the connection stays open after the error reply".into());
        self.behave(stream).await.map_err(|(oracle, detail)| {
            (
                oracle,
                format!(
                    "after an error reply to a malformed request, on the same connection: {detail}"
                ),
            )
        })
    }

    /// The end of a malformed client whose server refused its request (`answered` it with
    /// an error first, or not): a `[protocol-error]` if its session says the server reads
    /// on after an error, or answers it before it closes and did not. A restart may close
    /// the connection anywhere.
    fn refused_malformed(&mut self, how: &str, answered: bool) -> Verdict {
        let broken = match self.session.after_error() {
            _ if self.crashed() => None,
            AfterError::ReadsOn => Some("answers a malformed request and reads on"),
            AfterError::Closes if !answered => Some("answers a malformed request before it closes (a close with the request's last bytes unread sends a reset, which may take the answer with it: read the request whole first)"),
            AfterError::Closes | AfterError::Either => None,
        };
        if let Some(promise) = broken {
            return Err((
                Oracle::ProtocolError,
                format!("{how}, though the session says the server {promise}"),
            ));
        }
        self.record(Event::Closed {
            why: format!("malformed request refused: {how}"),
        });
        self.shared.tally(|t| t.malformed_refused += 1);
        Ok(())
    }

    /// A request of exactly the declared limit first, which must be answered; then a
    /// well-behaved client.
    pub(super) async fn at_limit(&mut self, stream: ClientStream) -> Verdict {
        let size = self.shared.options.max_request;
        let Some(request) = self.session.at_limit(&mut self.work, size) else {
            self.shared.tally(|t| t.mark_unasked(Role::AtLimit));
            return self.behave(stream).await;
        };
        self.note(format!(
            "at-limit request, {} bytes (max_request {size})",
            request.bytes.len()
        ));
        self.queued.push_back(request);
        match self.behave(stream).await {
            Err((Oracle::Unanswered, detail)) if self.answered == 0 && !self.crashed() => Err((
                Oracle::WrongfulClose,
                format!("a request of {size} bytes, the declared max_request, was not answered: {detail}"),
            )),
            // Its one reply was not the one it should get: refused with an error.
            Err((Oracle::Reply, detail)) if self.answered == 1 => Err((
                Oracle::WrongfulClose,
                format!("a request of {size} bytes, the declared max_request, was refused: {detail}"),
            )),
            Ok(()) => {
                self.shared.tally(|t| t.at_limit_served += 1);
                Ok(())
            }
            verdict => verdict,
        }
    }

    /// A well-behaved client that takes its replies slowly, a large one first.
    pub(super) async fn slow_reader(&mut self, stream: ClientStream) -> Verdict {
        let large = self.session.large_reply(&mut self.work);
        self.queued.extend(large);
        self.slow = true;
        self.note("slow reader".into());
        self.behave(stream).await?;
        self.shared.tally(|t| t.slow_reads += 1);
        Ok(())
    }

    /// A batch of the session's requests and its request to close (the session's quit, or
    /// else a request after which the server closes), pipelined, in half the seeds with one
    /// more request behind it: every reply, the quit's last, then a close and nothing
    /// more. A server that answers the request behind the quit did not stop where it was
    /// asked to. A server that closes with it unread sends a reset, which in real TCP too
    /// may take the replies with it: then a reply that did not come is not judged.
    pub(super) async fn quitter(&mut self, mut stream: ClientStream) -> Verdict {
        // The batch first: the session makes its quit after the requests it follows.
        let asked = self.pipeline_head();
        let closing = self.queued.back().is_some_and(|r| r.closes);
        let quit = if closing {
            self.queued.pop_back()
        } else {
            self.session.quit(&mut self.work)
        };
        let Some(quit) = quit else {
            self.shared.tally(|t| t.mark_unasked(Role::Quit));
            self.queued.extend(asked);
            return self.behave(stream).await;
        };
        // Half the quitters send one more request behind the quit: asked for the history
        // (a request that may or may not run), never answered. A server that closes with
        // it unread resets the connection, which may take the replies with it: those
        // quitters judge the close, the others every reply.
        let behind = if self.delivery.random_bool(0.5) {
            self.session.next_request(&mut self.work)
        } else {
            None
        };
        for request in asked.iter().chain([&quit]) {
            self.asking(request);
        }
        if let Some(behind) = &behind {
            self.invoked(behind);
            self.announce(behind);
        }
        self.note(format!(
            "quitting after {} request(s){}",
            asked.len(),
            if behind.is_some() {
                ", one behind it"
            } else {
                ""
            }
        ));
        self.shared.tally(|t| t.requests += asked.len() as u64 + 1);
        let (bytes, ends, seams) = pipelined(asked.iter().chain([&quit]).chain(&behind));
        self.deliver(&mut stream, bytes, &ends, &seams, None).await;
        let mut buf = BytesMut::new();
        let answered = (closing || self.session.quit_answered()).then_some(&quit);
        let replied: Vec<&Request> = asked
            .iter()
            .chain(answered)
            .filter(|r| !r.no_reply)
            .collect();
        let owed = replied.len();
        for (i, request) in replied.into_iter().enumerate() {
            match self.read_reply(&mut stream, &mut buf, owed - i).await {
                Ok(reply) => self.judge(request, &reply)?,
                Err(_) if self.crashed() => return Ok(()),
                Err(_) if behind.is_some() && unread_at_close(&stream) > 0 => {
                    self.note(format!(
                        "{i} of {owed} replies before a reset: the request behind the quit unread"
                    ));
                    // Those the reset took count as neither asked nor answered: a run's
                    // requests and replies stay equal.
                    let lost = (owed - i) as u64;
                    self.shared.tally(|t| {
                        t.quits += 1;
                        t.requests = t.requests.saturating_sub(lost);
                    });
                    return Ok(());
                }
                Err((_, lost)) => {
                    return Err((
                        Oracle::Quit,
                        format!("{} of {owed} replies before the close: {lost}", i),
                    ))
                }
            }
        }
        let what = if behind.is_some() {
            "the quit (a request sent behind it must not be answered)"
        } else {
            "the quit"
        };
        if !self
            .closed_after_answer(&mut stream, &mut buf, what)
            .await?
        {
            return Ok(());
        }
        self.record(Event::Closed {
            why: "closed after the quit".into(),
        });
        self.shared.tally(|t| t.quits += 1);
        Ok(())
    }

    /// The session's next requests, as many as the options pipeline (1 to 4): those a
    /// quitting or malformed client sends before its last request, in one batch.
    /// A request after which the server closes ends the head unsent: it waits in the
    /// queue for the well-behaved stretch, if any.
    fn pipeline_head(&mut self) -> Vec<Request> {
        let count = self.shared.options.delivery.pipeline.clamp(1, 4);
        let mut head = Vec::new();
        while head.len() < count {
            match self.session.next_request(&mut self.work) {
                Some(request) if request.closes => {
                    self.queued.push_back(request);
                    break;
                }
                Some(request) => head.push(request),
                None => break,
            }
        }
        head
    }
}

/// `requests` back to back: their bytes, where each ends, and their seams.
fn pipelined<'a>(requests: impl Iterator<Item = &'a Request>) -> (Bytes, Vec<usize>, Vec<usize>) {
    let (mut bytes, mut ends, mut seams) = (BytesMut::new(), Vec::new(), Vec::new());
    for request in requests {
        seams.extend(request.boundaries.iter().map(|&b| bytes.len() + b));
        bytes.extend_from_slice(&request.bytes);
        ends.push(bytes.len());
    }
    (bytes.freeze(), ends, seams)
}
