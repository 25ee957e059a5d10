//! The clients that misbehave on purpose in ways any server must survive, beyond the
//! trickling, leaving and idle ones (`client`): one that half-closes, one that never reads,
//! one whose request is too large.

use super::buffers::READ_SLACK;
use super::client::{cut, Client, Verdict, CLOSE_AFTER_ANSWER};
use super::options::Role;
use super::workload::Request;
use crate::oracle::Oracle;
use crate::transcript::{Actor, Event};
use crate::window::ClientStream;
use bytes::{Bytes, BytesMut};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep, timeout, Instant};

/// Bytes of requests a never-reader writes at once.
const BATCH: usize = 16 * 1024;

/// How long a never-reader's write may wait before it stops writing.
const STUCK: Duration = Duration::from_millis(100);

/// How long a never-reader stays once it has written everything.
const HOLD: Duration = Duration::from_millis(200);

impl Client {
    /// A pipelined batch of requests, then its writing side shut: every reply must still
    /// come, then the server's close.
    pub(super) async fn half_close(&mut self, mut stream: ClientStream) -> Verdict {
        let most = self.shared.options.max_requests.unwrap_or(usize::MAX);
        let count = self.shared.options.delivery.pipeline.clamp(2, 8).min(most);
        let (mut bytes, mut ends, mut seams, mut sent) =
            (BytesMut::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..count {
            let Some(request) = self.session.next_request(&mut self.work) else {
                break;
            };
            self.asked(&request);
            seams.extend(request.boundaries.iter().map(|&b| bytes.len() + b));
            bytes.extend_from_slice(&request.bytes);
            ends.push(bytes.len());
            self.record(Event::Asked {
                bytes: request.bytes.clone(),
            });
            let closes = request.closes;
            sent.push(request);
            if closes {
                break;
            }
        }
        if sent.is_empty() {
            return self.idle(stream).await;
        }
        self.shared.tally(|t| t.requests += sent.len() as u64);
        let len = bytes.len() as u64;
        if self
            .deliver(&mut stream, bytes.freeze(), &ends, &seams, None)
            .await
            < len
        {
            return self.unless_restarted("the server closed before the requests were written");
        }
        if stream.shutdown().await.is_err() {
            return self.unless_restarted("the server reset the connection at its half-close");
        }
        self.record(Event::HalfClose);
        let mut buf = BytesMut::new();
        let owed: Vec<&Request> = sent.iter().filter(|r| !r.no_reply).collect();
        for (i, request) in owed.iter().enumerate() {
            let reply = match self.read_reply(&mut stream, &mut buf, owed.len() - i).await {
                Ok(reply) => reply,
                Err((_, lost)) => return self.unless_restarted(&lost),
            };
            self.judge(request, &reply)?;
        }
        let wait = self.shared.options.reply_timeout;
        loop {
            let read = timeout(wait, stream.read_buf(&mut buf)).await;
            let open = matches!(read, Ok(Ok(1..)));
            if let Some(more) = self.beyond_pushed(&mut buf, open)? {
                return Err((
                    Oracle::Extra,
                    format!(
                        "{} byte(s) after the last reply: {}",
                        more.len(),
                        cut(&more)
                    ),
                ));
            }
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(_) => {
                    return Err((
                        Oracle::HalfClose,
                        format!("every reply came, but no close within {wait:?} of a half-close"),
                    ))
                }
            }
        }
        self.record(Event::Closed {
            why: "closed after a half-close".into(),
        });
        self.shared.tally(|t| t.half_closed += 1);
        Ok(())
    }

    /// A lost reply of a half-closing client: a violation, unless the server's crash
    /// took it.
    fn unless_restarted(&self, lost: &str) -> Verdict {
        if self.crashed() {
            return Ok(());
        }
        Err((Oracle::HalfClose, format!("after a half-close: {lost}")))
    }

    /// Requests, again and again, never a reply read: once its window of replies is full
    /// the server must stop reading from it (the buffer oracle at the stream judges what
    /// it reads on), and must let it go when it leaves.
    pub(super) async fn never_reader(&mut self, mut stream: ClientStream) -> Verdict {
        if self.shared.history.is_some() {
            // Thousands of requests the server runs and no reply read: a history could
            // not hold them (each may have taken effect or not), nor a check search them.
            self.shared.tally(|t| t.mark_unasked(Role::NeverReader));
            return self.idle(stream).await;
        }
        let o = &self.shared.options;
        let target = (o.faults.window + o.max_buffered) as u64 + 2 * READ_SLACK;
        let batch = self.batch();
        if batch.is_empty() {
            return self.idle(stream).await;
        }
        self.note(format!(
            "never-reader: {} bytes of requests, repeated, no reply read",
            batch.len()
        ));
        let local = stream.local_addr();
        let mut written = 0u64;
        while written < target {
            // A write that waits has found the server no longer reading: what it holds
            // now is all it will.
            match timeout(STUCK, stream.write_all(&batch)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => break,
            }
            written += batch.len() as u64;
            // Room for the server to answer into the window before the next batch.
            sleep(Duration::from_millis(1)).await;
        }
        let until = Instant::now() + HOLD;
        while !self.shared.windows.full(local) && Instant::now() < until {
            sleep(Duration::from_millis(5)).await;
        }
        let filled = self.shared.windows.full(local);
        sleep(HOLD).await;
        if let (true, Some(t)) = (filled, self.shared.options.write_timeout) {
            self.cut_within(&stream, t).await?;
        }
        self.record(Event::Closed {
            why: format!(
                "never-reader left after {written} bytes, the server having read {}{}",
                self.shared.buffers.read(local),
                if filled { ", its window full" } else { "" }
            ),
        });
        if filled {
            self.shared.tally(|t| t.windows_filled += 1);
        }
        Ok(())
    }

    /// Waits for the server to close `stream`, whose client reads nothing: it must, within
    /// `write_timeout` and a tenth more of its last write to it.
    async fn cut_within(&mut self, stream: &ClientStream, write_timeout: Duration) -> Verdict {
        let bound = write_timeout + write_timeout / 10;
        loop {
            let side = stream.server_side();
            if side.closed_at.is_some() || self.crashed() {
                return Ok(());
            }
            let now = turmoil::sim_elapsed().unwrap_or_default();
            let waited = now.saturating_sub(side.last_write);
            if waited >= bound {
                return Err((
                    Oracle::StalledReader,
                    format!("the server kept a client that reads nothing open {waited:?} after its last write to it (write_timeout {write_timeout:?})"),
                ));
            }
            sleep((bound - waited).min(Duration::from_millis(50))).await;
        }
    }

    /// About [`BATCH`] bytes of the session's requests (a new session when one ends).
    fn batch(&mut self) -> Bytes {
        let mut batch = BytesMut::new();
        let mut fresh = false;
        while batch.len() < BATCH {
            match self.session.next_request(&mut self.work) {
                Some(request) => {
                    batch.extend_from_slice(&request.bytes);
                    fresh = false;
                }
                None if fresh => break,
                None => {
                    self.session = self.shared.workload.session(self.id);
                    fresh = true;
                }
            }
        }
        batch.freeze()
    }

    /// One request larger than the server's limit, written until the server refuses it
    /// (a reply or a close); a well-behaved client if the session makes none.
    pub(super) async fn oversized(&mut self, stream: ClientStream) -> Verdict {
        let size = self.shared.options.max_request;
        let Some(request) = self
            .session
            .oversized(&mut self.work, size + 2 * READ_SLACK as usize)
        else {
            self.shared.tally(|t| t.mark_unasked(Role::Oversized));
            return self.behave(stream).await;
        };
        self.shared
            .buffers
            .joined(stream.local_addr(), self.id, true);
        self.note(format!(
            "oversized request, {} bytes: {}",
            request.bytes.len(),
            cut(&request.bytes)
        ));
        let refused = self.refused(stream, &request).await?;
        self.record(Event::Closed { why: refused });
        // An answer after the server read past the limit (`[oversized]` at the server's
        // side) is no refusal.
        let me = Actor::Client(self.id);
        let read_past = self
            .shared
            .violations
            .all()
            .iter()
            .any(|v| v.actor == me && v.oracle == Oracle::Oversized);
        if !read_past {
            self.shared.tally(|t| t.oversized_refused += 1);
        }
        Ok(())
    }

    /// Writes `request` in chunks while watching for the server's answer: how it refused.
    /// An answer is a reply the workload's framer cuts (past a greeting, for a framer that
    /// skips one), shown as the framer gives it (which may blank what follows the wall
    /// clock, as `http::framer` does a `Date`), or bytes it cannot frame, shown as a count.
    async fn refused(
        &mut self,
        stream: ClientStream,
        request: &Request,
    ) -> Result<String, (Oracle, String)> {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let bytes = &request.bytes;
        let wait = self.shared.options.reply_timeout;
        let mut got = BytesMut::new();
        let mut at = 0;
        let mut deadline = None;
        loop {
            let chunk = &bytes[at..(at + BATCH).min(bytes.len())];
            tokio::select! {
                biased;
                read = reader.read_buf(&mut got) => {
                    let len = bytes.len();
                    return Ok(match read {
                        Ok(0) | Err(_) => format!("oversized request refused: closed after {at} of {len} bytes"),
                        Ok(_) => {
                            let shown = match self.next_frame(&mut got) {
                                Ok(Some(frame)) => cut(&frame),
                                // A greeting, or an answer not whole yet.
                                Ok(None) => continue,
                                Err(_) => format!("{} byte(s)", got.len()),
                            };
                            let answered = format!("oversized request refused: answered after {at} of {len} bytes: {shown}");
                            self.one_answer(&mut reader, &mut writer, &bytes[at..], got).await?;
                            answered
                        }
                    });
                }
                wrote = writer.write(chunk), if !chunk.is_empty() => match wrote {
                    Ok(n) => at += n,
                    Err(_) => return Ok(format!("oversized request refused: reset after {at} of {} bytes", bytes.len())),
                },
                _ = sleep_until(deadline), if chunk.is_empty() => {
                    if deadline.is_none() {
                        deadline = Some(Instant::now() + wait);
                        continue;
                    }
                    return Err((
                        Oracle::Oversized,
                        format!(
                            "sent a request of {} bytes (max_request {}): neither refused nor closed within {wait:?}",
                            bytes.len(),
                            self.shared.options.max_request
                        ),
                    ));
                }
            }
        }
    }
}

impl Client {
    /// After the server's answer to an oversized request: the `rest` of it written (for as
    /// long as the server reads it), then 100 ms more: any further answer is an
    /// `[oversized]` (a server that read on inside the request, taking its bytes for
    /// requests of their own). A close, or nothing, passes.
    async fn one_answer<R, W>(
        &mut self,
        reader: &mut R,
        writer: &mut W,
        mut rest: &[u8],
        mut got: BytesMut,
    ) -> Verdict
    where
        R: tokio::io::AsyncRead + Unpin,
        W: tokio::io::AsyncWrite + Unpin,
    {
        let stuck = Instant::now() + self.shared.options.reply_timeout;
        let mut quiet = None;
        loop {
            if let Ok(Some(frame)) = self.next_frame(&mut got) {
                return Err((
                    Oracle::Oversized,
                    format!(
                        "a second answer to an oversized request, {} byte(s) of it left unwritten: {} (the server read on inside it, taking its bytes for requests)",
                        rest.len(),
                        cut(&frame)
                    ),
                ));
            }
            let chunk = &rest[..rest.len().min(BATCH)];
            if chunk.is_empty() && quiet.is_none() {
                quiet = Some(Instant::now() + CLOSE_AFTER_ANSWER);
            }
            tokio::select! {
                biased;
                read = reader.read_buf(&mut got) => match read {
                    Ok(0) | Err(_) => return Ok(()),
                    Ok(_) => {}
                },
                wrote = writer.write(chunk), if !chunk.is_empty() => match wrote {
                    Ok(n) => rest = &rest[n..],
                    Err(_) => rest = &[],
                },
                _ = tokio::time::sleep_until(stuck), if !chunk.is_empty() => rest = &[],
                _ = sleep_until(quiet), if chunk.is_empty() => return Ok(()),
            }
        }
    }
}

/// Sleeps until `deadline`, or not at all when there is none yet.
async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}
