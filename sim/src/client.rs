//! Virtual clients: each writes its requests in seeded chunks and checks every reply.

use crate::model::{satisfies, Model};
use crate::oracle::Oracles;
use crate::scenario::Scenario;
use crate::transcript::{Actor, Event, Expected, Transcript};
use bytes::{Bytes, BytesMut};
use framesim_server::framing::Decoder;
use framesim_server::protocol::{encode_command, Framing, ReplyDecoder};
use framesim_server::{Command, Reply};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep, timeout, Instant};
use turmoil::net::TcpStream;

/// The port the server listens on.
pub const PORT: u16 = 6379;

/// How long a client waits for any one reply before calling it lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// What a client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends its requests and checks every reply.
    Normal,
    /// Sends one byte every `slowloris_every`, forever; must be cut off.
    Slowloris,
    /// Connects and sends nothing; must be closed after the idle timeout.
    Idle,
    /// Sends half its requests, then part of one, then drops the connection.
    Disconnect,
    /// Sends every request, closes its write side, then reads every reply.
    HalfClose,
    /// Sends a frame over the limit; must get a protocol error and a close.
    Oversized,
    /// Sends a malformed request; must get a protocol error and a close.
    Malformed,
}

/// Role of client `id`: misbehaving clients take the highest ids, in a fixed order.
pub fn role_of(s: &Scenario, id: usize) -> Role {
    let r = &s.roles;
    let count = |share: f64| {
        if share <= 0.0 {
            0
        } else {
            ((s.clients as f64 * share) as usize).max(1)
        }
    };
    let mut from_top = s.clients - 1 - id;
    for (share, role) in [
        (r.slowloris, Role::Slowloris),
        (r.idle, Role::Idle),
        (r.disconnect, Role::Disconnect),
        (r.half_close, Role::HalfClose),
        (r.oversized, Role::Oversized),
        (r.malformed, Role::Malformed),
    ] {
        let n = count(share);
        if from_top < n {
            return role;
        }
        from_top -= n;
    }
    Role::Normal
}

/// What all clients of a run share.
#[derive(Clone)]
pub struct Shared {
    /// The run.
    pub scenario: Arc<Scenario>,
    /// Where events go.
    pub transcript: Transcript,
    /// Where violations go.
    pub oracles: Oracles,
    /// Virtual-time latency of every answered batch, in microseconds.
    pub latencies: Arc<Mutex<Vec<u64>>>,
}

/// One virtual client.
pub struct Client {
    id: usize,
    role: Role,
    shared: Shared,
    /// Draws how bytes are delivered (chunks, gaps, batches).
    rng: SmallRng,
    /// Draws what is asked: independent of delivery, so the logical view of a run is the
    /// same under any delivery.
    work: SmallRng,
    stream: Option<TcpStream>,
    buf: BytesMut,
    decoder: ReplyDecoder,
    model: Model,
}

/// Why a client stopped waiting for a reply.
#[derive(Debug)]
enum Lost {
    Closed(String),
    TimedOut,
}

impl Client {
    /// Client `id` of the run.
    pub fn new(id: usize, shared: Shared) -> Self {
        let s = &shared.scenario;
        Client {
            id,
            role: role_of(s, id),
            rng: SmallRng::seed_from_u64(crate::mix(s.seed, id as u64)),
            work: SmallRng::seed_from_u64(crate::mix(s.seed ^ 0x3030_7761_6b72_6f77, id as u64)),
            stream: None,
            buf: BytesMut::new(),
            decoder: ReplyDecoder::new(&s.framing, 1 << 20),
            model: Model::new(id),
            shared,
        }
    }

    fn actor(&self) -> Actor {
        Actor::Client(self.id)
    }

    fn record(&self, event: Event) {
        self.shared.transcript.record(self.actor(), event);
    }

    fn fail(&self, oracle: &'static str, detail: String) {
        self.shared
            .oracles
            .fail(&self.shared.transcript, self.actor(), oracle, detail);
    }

    fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    /// Runs the client to its end.
    pub async fn run(mut self) {
        let ramp = self.scenario().ramp;
        if !ramp.is_zero() {
            let start = self.rng.random_range(Duration::ZERO..ramp);
            sleep(start).await;
        }
        if !self.connect().await {
            return;
        }
        match self.role {
            Role::Normal | Role::HalfClose | Role::Disconnect => self.requests().await,
            Role::Slowloris => self.slowloris().await,
            Role::Idle => self.idle().await,
            Role::Oversized | Role::Malformed => self.hostile().await,
        }
    }

    async fn connect(&mut self) -> bool {
        self.buf.clear();
        self.decoder = ReplyDecoder::new(&self.scenario().framing, 1 << 20);
        let mut last = String::new();
        for _ in 0..200 {
            match TcpStream::connect(("server", PORT)).await {
                Ok(stream) => {
                    let local = stream
                        .local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    self.record(Event::Connect { local });
                    self.stream = Some(stream);
                    return true;
                }
                Err(e) => last = e.to_string(),
            }
            sleep(Duration::from_millis(10)).await;
        }
        self.record(Event::ConnectFailed {
            error: last.clone(),
        });
        self.fail("connect", format!("could not connect: {last}"));
        false
    }

    /// Writes `bytes` in seeded chunks with seeded gaps; stops quietly if the peer is gone.
    async fn deliver(&mut self, bytes: Bytes) -> bool {
        let d = self.scenario().delivery;
        let one_byte = d.byte_at_a_time > 0.0 && self.rng.random_bool(d.byte_at_a_time);
        let at_boundaries = d.cut_at_boundaries > 0.0 && self.rng.random_bool(d.cut_at_boundaries);
        let mut start = 0;
        while start < bytes.len() {
            let mut end = if one_byte {
                start + 1
            } else {
                start
                    + self
                        .rng
                        .random_range(1..=d.max_chunk)
                        .min(bytes.len() - start)
            };
            if at_boundaries {
                // Cut right after a delimiter or inside a length header, if one is near.
                if let Some(p) = (start + 1..end).find(|&p| bytes[p - 1] == b'\n' || p <= 5) {
                    end = p;
                }
            }
            let chunk = bytes.slice(start..end);
            let Some(stream) = self.stream.as_mut() else {
                return false;
            };
            // A peer that never takes the bytes (e.g. gone in a restart) is a lost connection.
            let written = timeout(REPLY_TIMEOUT, stream.write_all(&chunk)).await;
            if !matches!(written, Ok(Ok(()))) {
                return false;
            }
            self.record(Event::Write { bytes: chunk });
            start = end;
            if start < bytes.len() && !d.max_gap.is_zero() && self.rng.random_bool(0.3) {
                let gap = self.rng.random_range(Duration::ZERO..=d.max_gap);
                sleep(gap).await;
            }
        }
        true
    }

    /// The next reply, or why there is none.
    async fn reply(&mut self) -> Result<Reply, Lost> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(Lost::Closed("not connected".into()));
        };
        let got = timeout(REPLY_TIMEOUT, async {
            loop {
                match self.decoder.decode(&mut self.buf) {
                    Ok(Some(r)) => return Ok(r),
                    Ok(None) => {}
                    Err(e) => return Err(Lost::Closed(format!("undecodable reply: {e}"))),
                }
                match stream.read_buf(&mut self.buf).await {
                    Ok(0) => return Err(Lost::Closed("eof".into())),
                    Ok(_) => {}
                    Err(e) => return Err(Lost::Closed(e.to_string())),
                }
            }
        })
        .await;
        match got {
            Ok(Ok(reply)) => {
                self.record(Event::Reply {
                    reply: reply.clone(),
                });
                Ok(reply)
            }
            Ok(Err(lost)) => Err(lost),
            Err(_) => Err(Lost::TimedOut),
        }
    }

    fn encode(&self, cmd: &Command) -> BytesMut {
        let mut out = BytesMut::new();
        encode_command(&self.scenario().framing, cmd, &mut out).expect("requests fit the header");
        out
    }

    /// Normal, half-closing and disconnecting clients: batches of pipelined requests.
    async fn requests(&mut self) {
        let total = self.scenario().requests;
        let stop_at = match self.role {
            Role::Disconnect => total / 2,
            _ => total,
        };
        let mut sent = 0;
        while sent < stop_at {
            let pipeline = self.scenario().delivery.pipeline.max(1);
            let n = self.rng.random_range(1..=pipeline).min(stop_at - sent);
            let mut bytes = BytesMut::new();
            let mut expects = Vec::with_capacity(n);
            for _ in 0..n {
                let (cmd, expect) = self.model.next(&mut self.work);
                bytes.extend_from_slice(&self.encode(&cmd));
                self.record(Event::Request {
                    cmd,
                    expect: expect.clone(),
                });
                expects.push(expect);
            }
            sent += n;
            let last_batch = sent == total;
            let delivered = self.deliver(bytes.freeze()).await;
            let written = Instant::now();
            if last_batch && self.role == Role::HalfClose && delivered {
                if let Some(s) = self.stream.as_mut() {
                    let _ = s.shutdown().await;
                }
                self.record(Event::HalfClose);
            }
            for expect in expects {
                match self.reply().await {
                    Ok(reply) => {
                        if !satisfies(&reply, &expect) {
                            self.fail("reply", format!("expected {expect:?}, got {reply:?}"));
                            return;
                        }
                    }
                    Err(lost) => {
                        if self.restarted().await {
                            break;
                        }
                        self.fail(
                            "reply",
                            format!("no reply for a complete request: {lost:?}"),
                        );
                        return;
                    }
                }
            }
            let latency = written.elapsed();
            self.shared
                .latencies
                .lock()
                .expect("latency lock")
                .push(latency.as_micros() as u64);
            if latency > self.scenario().latency_bound {
                self.fail(
                    "latency",
                    format!(
                        "a batch waited {latency:?} for its replies (bound {:?})",
                        self.scenario().latency_bound
                    ),
                );
                return;
            }
        }
        match self.role {
            Role::Disconnect => {
                let (cmd, _) = self.model.next(&mut self.work);
                let bytes = self.encode(&cmd);
                let cut = self.rng.random_range(1..bytes.len());
                self.deliver(bytes.freeze().slice(..cut)).await;
                self.stream = None;
                self.record(Event::Disconnect { mid_frame: true });
            }
            Role::HalfClose => self.expect_close("half-close", REPLY_TIMEOUT).await,
            _ => {
                self.stream = None;
                self.record(Event::Disconnect { mid_frame: false });
            }
        }
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
        self.model.reset();
        self.connect().await
    }

    /// Waits for the server to close the connection within `within`.
    async fn expect_close(&mut self, what: &'static str, within: Duration) {
        match timeout(within, self.reply()).await {
            Ok(Err(Lost::Closed(why))) => self.record(Event::Closed { why }),
            Ok(Ok(reply)) => self.fail(
                what,
                format!("unexpected reply {reply:?} instead of a close"),
            ),
            Ok(Err(Lost::TimedOut)) | Err(_) => self.fail(
                what,
                format!("the server kept the connection open past {within:?}"),
            ),
        }
    }

    /// One byte every `slowloris_every` of a frame that never ends.
    async fn slowloris(&mut self) {
        let limits = self.scenario().limits;
        let every = self.scenario().roles.slowloris_every;
        let body: Vec<u8> = match &self.scenario().framing {
            Framing::Length { .. } => {
                let mut b = (limits.max_frame as u32 / 2).to_be_bytes().to_vec();
                b.resize(limits.max_frame, b'a');
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
        for byte in body {
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            if stream.write_all(&[byte]).await.is_err() {
                break;
            }
            let mut probe = [0u8; 64];
            let probed = timeout(every, stream.read(&mut probe)).await;
            self.record(Event::Write {
                bytes: Bytes::copy_from_slice(&[byte]),
            });
            match probed {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => {
                    self.fail("slowloris", "got a reply to an unfinished frame".into());
                    return;
                }
                Err(_) => {}
            }
            if started.elapsed() > give_up {
                self.fail(
                    "slowloris",
                    format!(
                        "trickling connection still open after {:?} (frame deadline {:?})",
                        started.elapsed(),
                        limits.frame_deadline
                    ),
                );
                return;
            }
        }
        let held = started.elapsed();
        self.record(Event::Closed {
            why: format!("cut off after {}ms", held.as_millis()),
        });
        let bound = limits.frame_deadline + every * 2 + Duration::from_millis(50);
        if held > bound {
            self.fail(
                "slowloris",
                format!("cut off after {held:?}, later than the frame deadline allows ({bound:?})"),
            );
        }
    }

    async fn idle(&mut self) {
        let limits = self.scenario().limits;
        let within = limits.idle_timeout + Duration::from_secs(1);
        self.expect_close("idle", within).await;
    }

    /// Oversized and malformed clients: one bad request; a protocol error, then a close.
    async fn hostile(&mut self) {
        let limits = self.scenario().limits;
        let framing = self.scenario().framing.clone();
        let bytes: Vec<u8> = match (self.role, &framing) {
            (Role::Oversized, Framing::Resp) => {
                format!("*2\r\n$3\r\nGET\r\n${}\r\nab", limits.max_frame + 1).into_bytes()
            }
            (Role::Oversized, Framing::Line { .. }) => vec![b'a'; limits.max_line + 1],
            (Role::Oversized, Framing::Length { .. }) => {
                let mut b = ((limits.max_frame + 1) as u32).to_be_bytes().to_vec();
                b.extend_from_slice(b"abc");
                b
            }
            (_, Framing::Resp) => b"*2\r\n$3\r\nGET\r\n:1\r\n".to_vec(),
            (_, Framing::Line { .. }) => b"GET \"unbalanced\n".to_vec(),
            (_, Framing::Length { .. }) => b"\x00\x00\x00\x05\x00\x00\x00\x09a".to_vec(),
        };
        self.record(Event::Note {
            text: format!("sends a {:?} request", self.role),
        });
        // Quickly, in up to three chunks: this client tests limits, not the frame deadline.
        let mut cuts = [
            self.rng.random_range(0..=bytes.len()),
            self.rng.random_range(0..=bytes.len()),
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
                return;
            };
            if stream.write_all(part).await.is_err() {
                break;
            }
            self.record(Event::Write {
                bytes: Bytes::copy_from_slice(part),
            });
        }
        let expect = Expected::ErrorPrefix("ERR Protocol error".into());
        match self.reply().await {
            Ok(reply) if satisfies(&reply, &expect) => {
                self.expect_close("protocol-error", REPLY_TIMEOUT).await
            }
            // A server restart may take the connection (and the reply) first.
            Err(Lost::Closed(why)) if self.scenario().restart_at.is_some() => {
                self.record(Event::Closed { why })
            }
            other => self.fail(
                "protocol-error",
                format!("expected a protocol error reply, got {other:?}"),
            ),
        }
    }
}
