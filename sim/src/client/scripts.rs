//! What each role does with its connection, and the promises it checks on the way.

use super::{KvClient, Lost};
use crate::boundary::{header_max, length_header};
use crate::model::satisfies;
use crate::oracle::Oracle;
use crate::scenario::Role;
use crate::script::Step;
use crate::transcript::{Event, Expected};
use bytes::Bytes;
use framesim_server::protocol::Framing;
use framesim_server::{Command, Reply};
use rand::Rng;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{timeout, Instant};

impl KvClient {
    /// Normal, half-closing, disconnecting and quitting clients: batches of pipelined
    /// requests.
    pub(super) async fn requests(&mut self) {
        let total = self.scenario().requests;
        let stop_at = match self.role {
            Role::Disconnect => total / 2,
            _ => total,
        };
        let mut sent = 0;
        // Whether the current connection's write side is closed: only then is a close owed.
        let mut half_closed = false;
        while sent < stop_at {
            let pipeline = self.scenario().delivery.pipeline.max(1);
            let n = self
                .delivery_rng
                .random_range(1..=pipeline)
                .min(stop_at - sent);
            // Nothing awaits from here to the first chunk's write: the batch's requests and
            // the chunks written before any wait share one reading of the clock.
            let now = self.clock.now();
            let mut parts = Vec::with_capacity(n);
            let mut expects = Vec::with_capacity(n);
            let mut frame_ends = Vec::with_capacity(n);
            // Where each request's reply-bearing frame starts (after any empty request).
            let mut starts = Vec::with_capacity(n);
            for _ in 0..n {
                let Some(request) = self.session.next_request(&mut self.workload_rng) else {
                    break;
                };
                let Some(kv) = request.kv else {
                    let detail = "the workload drew a request with no key-value meaning";
                    self.fail(Oracle::Reply, detail.into());
                    return;
                };
                let start = frame_ends.last().copied().unwrap_or(0);
                starts.push(start + request.skipped);
                frame_ends.push(start + request.bytes.len());
                parts.push(request.bytes);
                let event = Event::Request {
                    cmd: kv.command,
                    expect: kv.expect,
                };
                self.record_ref_at(now, &event);
                let Event::Request { expect, .. } = event else {
                    unreachable!("built as a request above")
                };
                expects.push(expect);
            }
            if expects.is_empty() {
                break;
            }
            let n = expects.len();
            sent += n;
            let last_batch = sent == total;
            let quitting = last_batch && self.role == Role::Quit;
            if quitting {
                starts.push(frame_ends.last().copied().unwrap_or(0));
                self.quit_after(now, &mut parts, &mut expects, &mut frame_ends);
            }
            // One request's bytes are sent as they are; a batch's are put together.
            let bytes = match parts.as_slice() {
                [one] => one.clone(),
                _ => Bytes::from(parts.concat()),
            };
            let base = self.sent;
            let delivered = self.deliver(bytes, &frame_ends, Some(now)).await;
            let written = Instant::now();
            if last_batch && self.role == Role::HalfClose && delivered {
                if let Some(s) = self.stream.as_mut() {
                    let _ = s.shutdown().await;
                }
                self.record(Event::HalfClose);
                half_closed = true;
            }
            // A batch cut by a restart has no latency to speak of: its client waited for the
            // server to come back.
            let mut cut = false;
            for (i, expect) in expects.into_iter().enumerate() {
                match self.reply().await {
                    Ok(reply) => {
                        if !satisfies(&reply, &expect) {
                            let oracle = if quitting && i == n {
                                Oracle::Quit
                            } else {
                                Oracle::Reply
                            };
                            self.fail(oracle, format!("expected {expect:?}, got {reply:?}"));
                            return;
                        }
                    }
                    Err(lost) => {
                        let range = base + starts[i] as u64..base + frame_ends[i] as u64;
                        if let Some(why) = self.dropped_in_drain(&lost, range) {
                            self.fail(Oracle::Drain, why);
                            return;
                        }
                        if self.restarted().await {
                            cut = true;
                            half_closed = false;
                            break;
                        }
                        if quitting {
                            let why =
                                format!("closed with replies due, the QUIT's among them: {lost:?}");
                            self.fail(Oracle::Quit, why);
                            return;
                        }
                        self.lost_reply(lost);
                        return;
                    }
                }
            }
            if cut {
                continue;
            }
            let latency = written.elapsed();
            self.shared
                .latencies
                .lock()
                .expect("latency lock")
                .push(latency.as_micros() as u64);
            if latency > self.scenario().latency_bound {
                self.fail(
                    Oracle::Latency,
                    format!(
                        "a batch waited {latency:?} for its replies (bound {:?})",
                        self.scenario().latency_bound
                    ),
                );
                return;
            }
            if quitting {
                self.expect_close(Oracle::Quit, self.prompt_close()).await;
                return;
            }
            self.think().await;
        }
        match self.role {
            Role::Disconnect => {
                if let Some(request) = self.session.next_request(&mut self.workload_rng) {
                    let bytes = request.bytes;
                    // Inside the request proper: an empty one before it is whole anyway.
                    let cut = self
                        .delivery_rng
                        .random_range(request.skipped + 1..bytes.len());
                    self.deliver(bytes.slice(..cut), &[], None).await;
                }
                self.stream = None;
                self.record(Event::Disconnect { mid_frame: true });
            }
            Role::HalfClose if half_closed => {
                self.expect_close(Oracle::HalfClose, self.prompt_close())
                    .await;
            }
            _ => {
                self.stream = None;
                self.record(Event::Disconnect { mid_frame: false });
            }
        }
    }

    /// Ends the last batch of a quitting client: `QUIT` (expecting `+OK`), then up to two
    /// PINGs the server must never run.
    fn quit_after(
        &mut self,
        now: Duration,
        parts: &mut Vec<Bytes>,
        expects: &mut Vec<Expected>,
        frame_ends: &mut Vec<usize>,
    ) {
        let after = self.workload_rng.random_range(0..=2);
        let quit = Command::new(["QUIT"]);
        let mut push = |bytes: Bytes| {
            frame_ends.push(frame_ends.last().copied().unwrap_or(0) + bytes.len());
            parts.push(bytes);
        };
        push(self.encode(&quit).freeze());
        let ping = self.encode(&Command::new(["PING"])).freeze();
        for _ in 0..after {
            push(ping.clone());
        }
        let expect = Expected::Exact(Reply::Simple("OK".into()));
        self.record_ref_at(
            now,
            &Event::Request {
                cmd: quit,
                expect: expect.clone(),
            },
        );
        if after > 0 {
            let text = format!("then {after} PINGs after the QUIT, which must not run");
            self.record_ref_at(now, &Event::Note { text });
        }
        expects.push(expect);
    }

    /// A pause between batches, if the scenario has them ([`Delivery::pause`]).
    ///
    /// [`Delivery::pause`]: crate::scenario::Delivery::pause
    async fn think(&mut self) {
        let delivery = self.scenario().delivery;
        if let Some(pause) = delivery.pause(&mut self.delivery_rng) {
            tokio::time::sleep(pause).await;
        }
    }

    /// A well-behaved client waited in vain for a reply: closed by the server (only
    /// misbehaving clients may be), or not answered.
    pub(super) fn lost_reply(&self, lost: Lost) {
        match lost {
            Lost::Closed(why) => self.fail(
                Oracle::WrongfulClose,
                format!("the server closed a well-behaved connection with replies due: {why}"),
            ),
            other => self.fail(
                Oracle::Reply,
                format!("no reply for a complete request: {other:?}"),
            ),
        }
    }

    /// Whether losing the connection while waiting for the reply to the request at
    /// `request` (its bytes' offsets on the connection) broke a graceful restart's promise
    /// (see [`ServerSide::dropped_in_drain`](crate::window::ServerSide::dropped_in_drain)).
    fn dropped_in_drain(&self, lost: &Lost, request: std::ops::Range<u64>) -> Option<String> {
        let s = self.scenario();
        if !matches!(lost, Lost::Closed(_)) {
            return None;
        }
        let side = self.stream.as_ref()?.server_side();
        side.dropped_in_drain(request, s.restart_at?, s.restart_grace)
    }

    /// After a lost connection: if the scenario restarts the server, reconnect and start
    /// over with an empty model (the server lost its memory). Returns whether it did.
    async fn restarted(&mut self) -> bool {
        if self.scenario().restart_at.is_none() {
            return false;
        }
        self.record(Event::Closed {
            why: "connection lost".into(),
        });
        self.stream = None;
        self.session = self.shared.workload.session(self.id);
        self.connect().await
    }

    /// How soon a close the server owes after its last reply must come: as soon as a reply
    /// (the latency bound). A server that lingers after an error or a `QUIT` without first
    /// closing its side keeps the client waiting for the linger's end.
    pub(super) fn prompt_close(&self) -> Duration {
        self.scenario().latency_bound
    }

    /// Waits for the server to close the connection within `within`; false (and `oracle`
    /// broken) if it does not.
    pub(super) async fn expect_close(&mut self, oracle: Oracle, within: Duration) -> bool {
        if let Some(lifter) = &self.shared.lifter {
            let now = self.clock.now();
            let since = lifter
                .last(self.id, now)
                .map_or(Duration::ZERO, |(_, ago)| ago);
            let within = within + since;
            lifter.push(
                self.id,
                self.role,
                now,
                Step::CloseWithin { within, oracle },
            );
        }
        let why = match timeout(within, self.next_reply()).await {
            Ok(Err(Lost::Closed(why))) => {
                self.record(Event::Closed { why });
                return true;
            }
            Ok(Ok(reply)) => format!("unexpected reply {reply:?} instead of a close"),
            Ok(Err(Lost::Undecodable(e))) => format!("undecodable bytes instead of a close: {e}"),
            Ok(Err(Lost::TimedOut)) | Err(_) => {
                format!("the server kept the connection open past {within:?}")
            }
        };
        self.fail(oracle, why);
        false
    }

    /// One byte every `slowloris_every` of a frame that never ends.
    pub(super) async fn slowloris(&mut self) {
        let limits = self.scenario().limits;
        let every = self.scenario().roles.slowloris_every;
        let body: Vec<u8> = match &self.scenario().framing {
            // A frame of half the limit, all but its last byte.
            &Framing::Length { header_len, endian } => {
                let half = (limits.max_frame as u64 / 2).min(header_max(header_len));
                let mut b = length_header(header_len, endian, half);
                b.resize(header_len + half as usize - 1, b'a');
                b
            }
            _ => {
                let mut b = b"GET ".to_vec();
                b.resize(limits.max_line, b'a');
                b
            }
        };
        let started = Instant::now();
        let give_up = limits.frame_deadline * 4 + Duration::from_secs(1);
        let still_open = |held: Duration| {
            format!(
                "trickling connection still open after {held:?} (frame deadline {:?})",
                limits.frame_deadline
            )
        };
        let mut cut = false;
        for byte in body {
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            if stream.write_all(&[byte]).await.is_err() {
                cut = true;
                break;
            }
            let mut probe = [0u8; 64];
            let probed = timeout(every, stream.read(&mut probe)).await;
            self.record(Event::Write {
                bytes: Bytes::copy_from_slice(&[byte]),
            });
            match probed {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    cut = true;
                    break;
                }
                Ok(Ok(_)) => {
                    self.fail(
                        Oracle::Slowloris,
                        "got a reply to an unfinished frame".into(),
                    );
                    return;
                }
                Err(_) => {}
            }
            if started.elapsed() > give_up {
                self.fail(Oracle::Slowloris, still_open(started.elapsed()));
                return;
            }
        }
        if !cut {
            // Everything but the frame's last byte is out (a small frame can be trickled
            // within the deadline): the deadline must still cut it.
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            let mut probe = [0u8; 64];
            let rest = give_up.saturating_sub(started.elapsed());
            match timeout(rest, stream.read(&mut probe)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {}
                Ok(Ok(_)) => {
                    let text = "got a reply to an unfinished frame".into();
                    return self.fail(Oracle::Slowloris, text);
                }
                Err(_) => return self.fail(Oracle::Slowloris, still_open(started.elapsed())),
            }
        }
        let held = started.elapsed();
        self.record(Event::Closed {
            why: format!("cut off after {}ms", held.as_millis()),
        });
        let bound = limits.frame_deadline + every * 2 + Duration::from_millis(50);
        if held > bound {
            self.fail(
                Oracle::Slowloris,
                format!("cut off after {held:?}, later than the frame deadline allows ({bound:?})"),
            );
        }
    }

    pub(super) async fn idle(&mut self) {
        let limits = self.scenario().limits;
        let within = limits.idle_timeout + Duration::from_secs(1);
        let connected = Instant::now();
        if !self.expect_close(Oracle::Idle, within).await || self.scenario().restart_at.is_some() {
            return;
        }
        // Not before the idle timeout either: the server's clock started at most a round
        // trip before the client's, and its close takes one way to arrive. Against a real
        // server, the client's clock also starts as late as its thread is scheduled after
        // the connect, on a busy machine tens of milliseconds after the server's accept.
        let held = connected.elapsed();
        let scheduling = if self.shared.against.is_some() {
            self.scenario().latency_bound
        } else {
            Duration::ZERO
        };
        let slack = self.scenario().latency.1 * 2 + Duration::from_millis(2) + scheduling;
        if held + slack < limits.idle_timeout {
            self.fail(
                Oracle::Idle,
                format!(
                    "closed after {held:?} of silence, before the idle timeout ({:?})",
                    limits.idle_timeout
                ),
            );
        }
    }

    /// The reply to a request the server must refuse: `expect`, then a close (a server
    /// restart may take the connection, and the reply, first).
    pub(super) async fn error_then_close(&mut self, expect: &Expected) {
        if let Some(lifter) = &self.shared.lifter {
            let now = self.clock.now();
            lifter.push(self.id, self.role, now, Step::Expect(expect.clone()));
        }
        match self.reply().await {
            Ok(reply) if satisfies(&reply, expect) => {
                self.expect_close(Oracle::ProtocolError, self.prompt_close())
                    .await;
            }
            Err(Lost::Closed(why)) if self.scenario().restart_at.is_some() => {
                self.record(Event::Closed { why })
            }
            other => self.fail(
                Oracle::ProtocolError,
                format!("expected {expect:?} and a close, got {other:?}"),
            ),
        }
    }

    /// Writes `bytes` quickly, in up to three chunks cut at seeded places with no pause
    /// between them: for clients that test limits, not the frame deadline. False if the
    /// connection is gone.
    pub(super) async fn write_quickly(&mut self, bytes: &[u8]) -> bool {
        let mut cuts = [
            self.delivery_rng.random_range(0..=bytes.len()),
            self.delivery_rng.random_range(0..=bytes.len()),
        ];
        cuts.sort_unstable();
        for part in [
            &bytes[..cuts[0]],
            &bytes[cuts[0]..cuts[1]],
            &bytes[cuts[1]..],
        ] {
            if part.is_empty() {
                continue;
            }
            let Some(stream) = self.stream.as_mut() else {
                return false;
            };
            if stream.write_all(part).await.is_err() {
                return false;
            }
            self.record(Event::Write {
                bytes: Bytes::copy_from_slice(part),
            });
        }
        true
    }
}
