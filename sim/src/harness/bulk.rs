//! A bulk loader: a client that pipelines its session's requests as one long upload, in
//! small chunks with pauses, every request arriving within the request budget of its first
//! byte and the upload as a whole lasting several request deadlines. A server that times a
//! request from the connection's start, or does not restart its deadline when a request ends
//! with the next one already begun, cuts it (`wrongful-close`).

use super::client::{cut, Client, Verdict};
use super::workload::Request;
use crate::oracle::Oracle;
use crate::script::Step;
use crate::transcript::Event;
use crate::window::ClientStream;
use bytes::{Bytes, BytesMut};
use rand::Rng;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep_until, timeout, timeout_at, Instant};

/// Most requests one upload holds.
const MOST: usize = 64;

/// Most cuts inside one request: it arrives in at most this many chunks and one more.
const CUTS: usize = 3;

impl Client {
    /// Uploads requests in chunks a third of the request budget apart, cut only inside
    /// requests (so every chunk but the last ends inside one, and the server's buffer is
    /// never empty between two requests), reading and judging replies in the pauses.
    pub(super) async fn bulk_loader(&mut self, mut stream: ClientStream) -> Verdict {
        let o = &self.shared.options;
        let (wait, most) = (o.reply_timeout, o.max_requests.unwrap_or(MOST));
        let budget = o.request_budget;
        let pause = (budget / (CUTS as u32)).max(Duration::from_millis(1));
        // Requests until the pauses add up to a fifth more than the deadline.
        let upload = o.roles.slowloris_bound + o.roles.slowloris_bound / 5;
        let mut pending = VecDeque::new();
        let (mut wire, mut ends, mut cuts) = (BytesMut::new(), Vec::new(), Vec::new());
        let mut asked = 0;
        while asked < most.min(MOST) && pause * (cuts.len() as u32) < upload {
            let Some(request) = self.session.next_request(&mut self.work) else {
                break;
            };
            self.asking(&request);
            let start = wire.len();
            wire.extend_from_slice(&request.bytes);
            ends.push(wire.len());
            self.cut_inside(start..wire.len(), &mut cuts);
            asked += 1;
            let closes = request.closes;
            // Replies are owed to those that get one.
            if !request.no_reply {
                pending.push_back(request);
            }
            if closes {
                break;
            }
        }
        if asked == 0 {
            return self.idle(stream).await;
        }
        self.shared.tally(|t| t.requests += asked as u64);
        let wire = wire.freeze();
        let span = pause * cuts.len() as u32;
        self.note(format!(
            "bulk loader: {} request(s), {} bytes in {} chunks, {pause:?} apart ({span:?} in all, each request within {budget:?} of its first byte)",
            asked,
            wire.len(),
            cuts.len() + 1,
        ));
        let began = Instant::now();
        let mut buf = BytesMut::new();
        let ends_at: Vec<usize> = cuts.into_iter().chain([wire.len()]).collect();
        let mut start = 0;
        for (i, &end) in ends_at.iter().enumerate() {
            let chunk = wire.slice(start..end);
            self.first_bytes(&wire, &ends, start..end);
            if !matches!(timeout(wait, stream.write_all(&chunk)).await, Ok(Ok(()))) {
                self.lift_rest(&wire, start, &ends_at[i..], pause, pending.len());
                return self.cut_off(began, "its write failed");
            }
            self.record(Event::Write { bytes: chunk });
            start = end;
            if start < wire.len() {
                let until = Instant::now() + pause;
                let closed = self
                    .replies_until(&mut stream, &mut buf, &mut pending, until)
                    .await?;
                if let Some(closed) = closed {
                    self.lift_rest(&wire, start, &ends_at[i + 1..], pause, pending.len());
                    return self.cut_off(began, &closed);
                }
                sleep_until(until).await;
            }
        }
        let owed = pending.len();
        while let Some(request) = pending.front().cloned() {
            match self.read_reply(&mut stream, &mut buf, pending.len()).await {
                Ok(reply) => self.judge(&request, &reply)?,
                Err((Oracle::Unanswered, lost)) => {
                    self.lift_rest(&wire, wire.len(), &[], pause, pending.len() - 1);
                    return self.cut_off(began, &lost);
                }
                Err(other) => return Err(other),
            }
            pending.pop_front();
        }
        if let Some(more) = self.beyond_pushed_at_end(&mut stream, &mut buf).await? {
            return Err(extra(&more));
        }
        self.note(format!(
            "bulk load done in {:?}, {owed} replies after the last chunk",
            began.elapsed()
        ));
        self.record(Event::Closed {
            why: "client done".into(),
        });
        self.shared.tally(|t| t.bulk_loads += 1);
        Ok(())
    }

    /// In a run being lifted, the upload's chunks the server's close kept from going out
    /// (from `start`, ending at `ends_at`), at the times they were due, and a read for each
    /// of the `owed` replies: the script then holds the whole upload, which a fixed server
    /// answers and the one that cut it cuts again.
    fn lift_rest(
        &self,
        wire: &Bytes,
        mut start: usize,
        ends_at: &[usize],
        pause: Duration,
        owed: usize,
    ) {
        if self.shared.scripting.lifter.is_none() {
            return;
        }
        let mut at = crate::clock::now();
        for &end in ends_at {
            let bytes = wire.slice(start..end);
            self.push_step(Step::Write { at, bytes });
            (start, at) = (end, at + pause);
        }
        for _ in 0..owed {
            self.push_step(Step::Read);
        }
    }

    /// Where the request at `span` of the upload is cut: 1..=[`CUTS`] places inside it if it
    /// has two bytes or more, never at its ends; added to `cuts`.
    fn cut_inside(&mut self, span: std::ops::Range<usize>, cuts: &mut Vec<usize>) {
        let inside = span.len().saturating_sub(1);
        if inside == 0 {
            return;
        }
        let mut here: Vec<usize> = (0..self.delivery.random_range(1..=CUTS.min(inside)))
            .map(|_| span.start + 1 + self.delivery.random_range(0..inside))
            .collect();
        here.sort_unstable();
        here.dedup();
        cuts.extend(here);
    }

    /// Reads and judges the replies that come before `until`; `Some` with why when the
    /// server closed the connection.
    async fn replies_until(
        &mut self,
        stream: &mut ClientStream,
        buf: &mut BytesMut,
        pending: &mut VecDeque<Request>,
        until: Instant,
    ) -> Result<Option<String>, (Oracle, String)> {
        loop {
            while let Some(frame) = self.next_frame(buf)? {
                let Some(request) = pending.pop_front() else {
                    return Err(extra(&frame));
                };
                self.reading();
                self.judge(&request, &frame)?;
            }
            match timeout_at(until, stream.read_buf(buf)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.record(Event::Closed {
                        why: "closed by the server".into(),
                    });
                    return Ok(Some(format!(
                        "the server closed the connection with {} request(s) unanswered",
                        pending.len()
                    )));
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    /// The server closed the bulk loader's connection: a violation unless its crash did.
    fn cut_off(&mut self, began: Instant, why: &str) -> Verdict {
        if self.crashed() {
            self.note("connection lost to the server's restart: not judged".into());
            return Ok(());
        }
        Err((
            Oracle::WrongfulClose,
            format!(
                "cut {:?} into an upload whose every request came within the request budget ({:?}) of its first byte ({why}): the server may time a request from the connection's start, or not restart its deadline when a request ends with the next one begun (a server whose deadline for one request is shorter than request_budget declares a smaller one)",
                began.elapsed(),
                self.shared.options.request_budget
            ),
        ))
    }
}

/// A reply with no request waiting for it.
fn extra(frame: &Bytes) -> (Oracle, String) {
    (
        Oracle::Extra,
        format!("a reply no request asked for: {}", cut(frame)),
    )
}
