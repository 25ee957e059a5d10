//! Clients that reach the server's limits and must be treated exactly as documented there:
//! a bulk loader that is never cut, a client at the exact size limits (then one byte past
//! them), and a client whose request never ends.
//!
//! Where each limit falls is worked out in [`crate::boundary`].

use super::{KvClient, Lost, REPLY_TIMEOUT};
use crate::boundary::{self, Cut};
use crate::model::satisfies;
use crate::oracle::Oracle;
use crate::seeds::Draws;
use crate::transcript::{Event, Expected};
use bytes::{Bytes, BytesMut};
use framesim_server::protocol::{resp, Framing};
use framesim_server::{Command, Limits, Reply};
use rand::Rng;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::{sleep_until, timeout, timeout_at, Instant};

/// Bytes the server takes per read: how far past its buffer limit one read may carry it.
const READ_CHUNK: usize = 4096;

/// Longest argument of an unfinished RESP request of large arguments: bytes that count
/// against `max_buffered` once parsed out of the buffer, beside the argument's slot.
const LARGE_ARG: usize = 256;

/// Most bytes of one piece an unfinished request grows by, beside its argument
/// (RESP: `$256\r\n` and `\r\n`).
const PIECE_FRAMING: usize = 16;

/// Arguments the unfinished RESP request announces: far more than it will ever send.
const ANNOUNCED_ARGS: usize = 1 << 20;

/// What the server says instead of a reply too long for a length header.
const TOO_LONG_FOR_HEADER: &str = "ERR reply too long for the frame header";

/// `len` plain printable bytes: written as they are by every framing (no quoting), so a
/// request's size on the wire is known exactly.
fn plain(rng: &mut Draws, len: usize) -> Bytes {
    (0..len)
        .map(|_| b'a' + rng.random_range(0..26u8))
        .collect::<Vec<u8>>()
        .into()
}

/// Length of the bulk loader's values: about half the largest request the framing accepts,
/// at most a quarter of the buffer limit (a request and the next chunk are buffered
/// together), and small enough that a GET's reply fits a length header.
fn bulk_value_len(framing: &Framing, limits: &Limits, key_len: usize) -> usize {
    let largest = match framing {
        Framing::Resp => limits.max_frame,
        Framing::Line { .. } => limits.max_line.saturating_sub(5 + key_len),
        Framing::Length { header_len, .. } => boundary::largest_length_frame(*header_len, limits)
            .saturating_sub(3 * header_len + 3 + key_len),
    };
    let mut len = (largest / 2).min(limits.max_buffered / 4).max(4);
    while len > 4 && !boundary::reply_fits(framing, boundary::bulk_reply_len(len)) {
        len -= 1;
    }
    len
}

impl KvClient {
    /// What the server must answer `cmd`: the model's reply, or, when that reply is too long
    /// for a length header, the error reply that replaces it.
    fn predict(&mut self, cmd: &Command) -> Expected {
        let expect = self.model.apply(cmd);
        self.fit(expect)
    }

    /// `expect`, or the error reply that replaces it when it is too long for a length header.
    pub(super) fn fit(&self, expect: Expected) -> Expected {
        if let Expected::Exact(reply) = &expect {
            let mut encoded = BytesMut::new();
            resp::encode_reply(reply, &mut encoded);
            if !boundary::reply_fits(&self.scenario().framing, encoded.len()) {
                return Expected::Exact(Reply::Error(TOO_LONG_FOR_HEADER.into()));
            }
        }
        expect
    }

    /// A limit-reaching client that keeps every rule lost its connection: expected in a run
    /// with a restart (noted), else judged like any well-behaved client.
    fn lost_connection(&mut self, lost: Lost) {
        if self.scenario().restart_at.is_some() {
            self.record(Event::Closed {
                why: format!("connection lost: {lost:?}"),
            });
            self.stream = None;
            return;
        }
        self.lost_reply(lost);
    }

    /// Reads and checks the replies `due`, in order, until `until` (or, without it, until
    /// every one came). False after a violation or a lost connection.
    pub(super) async fn check_replies(
        &mut self,
        due: &mut VecDeque<Expected>,
        until: Option<Instant>,
    ) -> bool {
        while let Some(expect) = due.front().cloned() {
            let got = match until {
                Some(at) => match timeout_at(at, self.reply()).await {
                    Ok(got) => got,
                    Err(_) => return true,
                },
                None => self.reply().await,
            };
            match got {
                Ok(reply) if satisfies(&reply, &expect) => {
                    due.pop_front();
                }
                Ok(reply) => {
                    self.fail(Oracle::Reply, format!("expected {expect:?}, got {reply:?}"));
                    return false;
                }
                Err(lost) => {
                    self.lost_connection(lost);
                    return false;
                }
            }
        }
        true
    }

    /// Pipelines 16 to 19 requests, most of them SETs of values about half the largest
    /// request the framing accepts, written back to back in chunks that straddle request
    /// boundaries, with a pause of a tenth of the frame deadline after each chunk. The
    /// upload takes well over the frame deadline while every request arrives within half of
    /// it: a server that times the connection, or a frame from before the read that
    /// completed the previous one, cuts this client. Replies are read during the pauses and
    /// checked against the model.
    pub(super) async fn bulk_loader(&mut self) {
        let (framing, limits) = (self.scenario().framing.clone(), self.scenario().limits);
        let id = self.id;
        let key = |n: u32| Bytes::from(format!("c{id}:b{n}"));
        let size = bulk_value_len(&framing, &limits, key(0).len());
        let requests = 16 + self.workload_rng.random_range(0..4);
        let mut wire = BytesMut::new();
        let mut due = VecDeque::new();
        let mut smallest_set = usize::MAX;
        for i in 0..requests {
            let k = key(self.workload_rng.random_range(0..4));
            let get = i % 4 == 3 && self.workload_rng.random_bool(0.5);
            let cmd = if get {
                boundary::command(&[b"GET", &k])
            } else {
                let len = self.workload_rng.random_range(size - size / 4..=size);
                boundary::command(&[b"SET", &k, &plain(&mut self.workload_rng, len)])
            };
            let expect = self.predict(&cmd);
            let bytes = self.encode(&cmd);
            if !get {
                smallest_set = smallest_set.min(bytes.len());
            }
            wire.extend_from_slice(&bytes);
            self.record(Event::Request {
                cmd,
                expect: expect.clone(),
            });
            due.push_back(expect);
        }
        // Chunks of a third to two thirds of the smallest SET: a request spans at most five
        // chunks (four pauses, 0.4 of the deadline), and the upload at least 18 chunks.
        let wire = wire.freeze();
        let (lo, hi) = ((smallest_set / 3).max(1), (smallest_set * 2 / 3).max(1));
        let pause = limits.frame_deadline / 10;
        self.record(Event::Note {
            text: format!(
                "loads {} bytes in chunks of {lo}..={hi} bytes, {pause:?} apart",
                wire.len()
            ),
        });
        let mut start = 0;
        while start < wire.len() {
            let end = (start + self.delivery_rng.random_range(lo..=hi)).min(wire.len());
            let chunk = wire.slice(start..end);
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            let written = timeout(REPLY_TIMEOUT, stream.write_all(&chunk)).await;
            if !matches!(written, Ok(Ok(()))) {
                // The replies (or why the connection ended) are left to read.
                break;
            }
            self.record(Event::Write { bytes: chunk });
            start = end;
            if start < wire.len() {
                let until = Instant::now() + pause;
                if !self.check_replies(&mut due, Some(until)).await {
                    return;
                }
                sleep_until(until).await;
            }
        }
        if self.check_replies(&mut due, None).await {
            self.stream = None;
            self.record(Event::Disconnect { mid_frame: false });
        }
    }

    /// Sends `bytes` (the request `cmd`) quickly and checks its one reply. False after a
    /// violation or a lost connection.
    async fn exchange(&mut self, cmd: &Command, bytes: &[u8]) -> bool {
        let expect = self.predict(cmd);
        self.record(Event::Request {
            cmd: cmd.clone(),
            expect: expect.clone(),
        });
        // A failed write leaves the reason to read.
        self.write_quickly(bytes).await;
        self.check_replies(&mut VecDeque::from([expect]), None)
            .await
    }

    /// Sends a SET of exactly the largest size each limit of the framing accepts, and a GET
    /// of it, each answered as the model says; then a request one byte larger, which must
    /// get the documented protocol error and a close (when the framing can express one).
    pub(super) async fn at_limit(&mut self) {
        let (framing, limits) = (self.scenario().framing.clone(), self.scenario().limits);
        let key = Bytes::from(format!("c{}:a", self.id));
        let rng = &mut self.workload_rng;
        let edges = boundary::at_limit(&framing, &limits, &key, &mut |n| plain(rng, n));
        for edge in edges {
            self.record(Event::Note {
                text: format!("sends {}", edge.what),
            });
            if !self.exchange(&edge.cmd, &edge.bytes).await {
                return;
            }
            let get = boundary::command(&[b"GET", &key]);
            let bytes = self.encode(&get);
            if !self.exchange(&get, &bytes).await {
                return;
            }
        }
        let rng = &mut self.workload_rng;
        let mut over = boundary::over_limit(&framing, &limits, &key, &mut |n| plain(rng, n));
        if over.is_empty() {
            self.record(Event::Note {
                text: "no request can pass a limit of this framing by one byte".into(),
            });
            self.stream = None;
            self.record(Event::Disconnect { mid_frame: false });
            return;
        }
        let pick = over.swap_remove(self.workload_rng.random_range(0..over.len()));
        let expect = Expected::Exact(Reply::Error(pick.error));
        self.record(Event::Note {
            text: format!("sends {}, one byte over", pick.edge.what),
        });
        self.record(Event::Request {
            cmd: pick.edge.cmd,
            expect: expect.clone(),
        });
        self.write_quickly(&pick.edge.bytes).await;
        self.error_then_close(&expect).await;
    }

    /// Starts a request that never ends and keeps adding small complete pieces to it. RESP:
    /// an MSET announcing a million arguments, then short ones, paced to send `max_buffered`
    /// plus one read within half the frame deadline; line: the words of a line, paced the
    /// same way; length: a frame within every limit, all but its last byte at once. The
    /// server must cut it with the buffer-limit error (a line: the line-length error) and a
    /// close before the bytes sent pass that bound (a round trip allowed for the news), or
    /// by the frame deadline, and never answer it.
    pub(super) async fn unfinished_args(&mut self) {
        let (framing, limits) = (self.scenario().framing.clone(), self.scenario().limits);
        let cut = boundary::unfinished_cut(&framing, &limits);
        let round_trip = self.scenario().latency.1 * 2 + Duration::from_millis(10);
        let started = Instant::now();
        if let Framing::Length { header_len, endian } = framing {
            let len = boundary::unfinished_length_frame(header_len, &limits);
            let mut payload = Vec::with_capacity(len);
            let mut arg = b"MSET".to_vec();
            while payload.len() < len {
                payload.extend(boundary::length_header(
                    header_len,
                    endian,
                    arg.len() as u64,
                ));
                payload.extend_from_slice(&arg);
                arg = plain(&mut self.workload_rng, 4).to_vec();
            }
            payload.truncate(len - 1);
            let mut bytes = boundary::length_header(header_len, endian, len as u64);
            bytes.extend_from_slice(&payload);
            self.record(Event::Note {
                text: format!("starts a frame of {len} bytes and sends all but its last byte"),
            });
            self.write_quickly(&bytes).await;
            let within = limits.frame_deadline + round_trip + Duration::from_millis(50);
            match timeout(within, self.next_reply()).await {
                Ok(got) => self.judge_cut(got, cut, started, bytes.len()).await,
                Err(_) => self.fail(
                    Oracle::Unfinished,
                    format!(
                        "an unfinished frame was still open after {within:?} (frame deadline {:?})",
                        limits.frame_deadline
                    ),
                ),
            }
            return;
        }
        let mut pending = match &framing {
            Framing::Resp => format!("*{ANNOUNCED_ARGS}\r\n$4\r\nMSET\r\n").into_bytes(),
            _ => b"MSET ".to_vec(),
        };
        // Half the RESP clients send large arguments: a server that counts an argument's slot
        // but not its bytes holds far more than it says.
        let longest = match framing {
            Framing::Resp if self.workload_rng.random_bool(0.5) => LARGE_ARG.min(limits.max_frame),
            _ => 4,
        };
        let bound = limits.max_buffered + READ_CHUNK + pending.len() + longest + PIECE_FRAMING;
        // At most one chunk per millisecond (turmoil's tick), over half the frame deadline.
        let budget = limits.frame_deadline / 2;
        let chunk_len = (bound / (budget.as_millis() as usize).max(1)).max(64);
        let pause = budget / (bound / chunk_len + 1) as u32;
        self.record(Event::Note {
            text: format!(
                "starts an endless request: {chunk_len}-byte chunks {pause:?} apart, up to {bound} bytes"
            ),
        });
        let mut sent = 0;
        loop {
            while pending.len() < chunk_len {
                let n = self.workload_rng.random_range(1..=longest);
                let word = plain(&mut self.workload_rng, n);
                match &framing {
                    Framing::Resp => {
                        pending.extend_from_slice(format!("${n}\r\n").as_bytes());
                        pending.extend_from_slice(&word);
                        pending.extend_from_slice(b"\r\n");
                    }
                    _ => {
                        pending.extend_from_slice(&word);
                        pending.push(b' ');
                    }
                }
            }
            let rest = pending.split_off(chunk_len);
            let chunk = Bytes::from(std::mem::replace(&mut pending, rest));
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            if stream.write_all(&chunk).await.is_err() {
                // Cut already: the verdict is left to read.
                let got = self.next_reply().await;
                return self.judge_cut(got, cut, started, sent).await;
            }
            sent += chunk.len();
            self.record(Event::Write { bytes: chunk });
            let wait = if sent >= bound { round_trip } else { pause };
            match timeout(wait, self.next_reply()).await {
                Ok(got) => return self.judge_cut(got, cut, started, sent).await,
                Err(_) if sent >= bound => {
                    return self.fail(
                        Oracle::Unfinished,
                        format!(
                            "an unfinished request was still open after {sent} bytes (max_buffered {}, bound {bound})",
                            limits.max_buffered
                        ),
                    )
                }
                Err(_) => {}
            }
        }
    }

    /// Judges how an unfinished request begun at `started` ended, `sent` bytes in: the
    /// error reply of `cut` then a close, or a close by the frame deadline with no reply.
    async fn judge_cut(
        &mut self,
        got: Result<Reply, Lost>,
        cut: Cut,
        started: Instant,
        sent: usize,
    ) {
        let limits = self.scenario().limits;
        let error = boundary::cut_error(cut, &limits);
        let wanted = error
            .clone()
            .unwrap_or_else(|| "a close by the frame deadline".into());
        match got {
            Ok(Reply::Error(e)) if Some(&e) == error.as_ref() => {
                self.record(Event::Note {
                    text: format!("cut after {sent} bytes"),
                });
                self.expect_close(Oracle::Unfinished, self.prompt_close())
                    .await;
            }
            Ok(reply) => self.fail(
                Oracle::Unfinished,
                format!("expected {wanted:?}, got {reply:?}"),
            ),
            Err(Lost::Closed(why)) if self.scenario().restart_at.is_some() => {
                self.record(Event::Closed { why })
            }
            // With no error reply, only the frame deadline may have cut it.
            Err(Lost::Closed(why)) => {
                let held = started.elapsed();
                self.record(Event::Closed {
                    why: format!("{why} after {}ms", held.as_millis()),
                });
                if held < limits.frame_deadline {
                    self.fail(
                        Oracle::Unfinished,
                        format!(
                            "closed after {held:?} with no error reply, before the frame deadline ({:?})",
                            limits.frame_deadline
                        ),
                    );
                }
            }
            Err(other) => self.fail(
                Oracle::Unfinished,
                format!("expected {wanted:?}, got {other:?}"),
            ),
        }
    }
}
