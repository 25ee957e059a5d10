//! The virtual clients: what each role writes, how it cuts its bytes, and what it must get.

use crate::config::PORT;
use crate::model;
use crate::shared::Shared;
use framesim::harness::http::{self, Body, Request, Response};
use framesim::transcript::{Actor, Event};
use rand::rngs::SmallRng;
use rand::Rng;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use turmoil::net::TcpStream;

pub use crate::role::Role;

/// How long a well-behaved client waits for a response before it calls the server stuck.
const PATIENCE: Duration = Duration::from_secs(20);

/// How a client cuts what it writes.
#[derive(Debug, Clone, Copy)]
struct Delivery {
    max_chunk: usize,
    max_gap_ms: u64,
}

/// One virtual client.
pub struct Client {
    id: usize,
    role: Role,
    rng: SmallRng,
    delivery: Delivery,
    shared: Shared,
}

/// How a read for a response ended without one.
#[derive(Debug)]
enum End {
    Closed { unread: usize },
    Reset(String),
    Timeout,
    Malformed(String),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Closed { unread: 0 } => write!(f, "closed"),
            End::Closed { unread } => write!(f, "closed inside a response ({unread} bytes)"),
            End::Reset(e) => write!(f, "reset ({e})"),
            End::Timeout => write!(f, "no response"),
            End::Malformed(e) => write!(f, "malformed response: {e}"),
        }
    }
}

/// A client's connection: the stream and the response bytes not parsed yet.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    eof: bool,
    /// Responses parsed on this connection.
    responses: usize,
}

impl Client {
    /// Client `id` of a run, its randomness drawn from the run's seed.
    pub fn new(id: usize, shared: Shared) -> Self {
        let mut rng = shared.rng_for(id);
        let delivery = Delivery {
            max_chunk: [1, 4, 16, 64, 1024][rng.random_range(0..5)],
            max_gap_ms: [0, 1, 3][rng.random_range(0..3)],
        };
        Client {
            id,
            role: shared.config.only.unwrap_or(Role::of(id)),
            rng,
            delivery,
            shared,
        }
    }

    /// Runs the client to its end; what goes wrong is a violation, never a panic.
    pub async fn run(mut self) {
        // Spread the connects over the first 200 ms.
        let ramp = self.rng.random_range(0..200);
        tokio::time::sleep(Duration::from_millis(ramp)).await;
        let result = match self.role {
            Role::Regular => self.regular().await,
            Role::Pipeliner => self.pipeliner().await,
            Role::Disconnector => self.disconnector().await,
            Role::Slowloris => self.slowloris().await,
            Role::SlowBody => self.slow_body().await,
            Role::Lingerer => self.lingerer().await,
            Role::Oversized => self.oversized().await,
            Role::LargeHead => self.large_head().await,
            Role::Latecomer => self.latecomer().await,
        };
        if let Err(what) = result {
            self.shared
                .violation(format!("client {} ({:?}): {what}", self.id, self.role));
        }
    }

    fn note(&self, event: Event) {
        self.shared.transcript.record(Actor::Client(self.id), event);
    }

    async fn connect(&self) -> Result<Conn, String> {
        let stream = TcpStream::connect(("server", PORT))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let local = stream.local_addr().map_err(|e| e.to_string())?;
        self.note(Event::Connect {
            local: local.to_string(),
        });
        Ok(Conn {
            stream,
            buf: Vec::new(),
            eof: false,
            responses: 0,
        })
    }

    /// Writes `bytes` in chunks cut at random, with small gaps. Large requests are cut in
    /// larger chunks, so that no request takes more than about 64 segments.
    async fn send(&mut self, conn: &mut Conn, bytes: &[u8]) -> Result<(), String> {
        let max = self.delivery.max_chunk.max(bytes.len() / 64).max(1);
        let mut at = 0;
        while at < bytes.len() {
            let n = self.rng.random_range(1..=max.min(bytes.len() - at));
            let chunk = &bytes[at..at + n];
            conn.stream
                .write_all(chunk)
                .await
                .map_err(|e| format!("write after {at} of {} bytes: {e}", bytes.len()))?;
            self.note(Event::Write {
                bytes: bytes::Bytes::copy_from_slice(chunk),
            });
            at += n;
            if self.delivery.max_gap_ms > 0 && at < bytes.len() {
                let gap = self.rng.random_range(0..=self.delivery.max_gap_ms);
                if gap > 0 {
                    tokio::time::sleep(Duration::from_millis(gap)).await;
                }
            }
        }
        Ok(())
    }

    /// The next response, within `within`.
    async fn response(&self, conn: &mut Conn, within: Duration) -> Result<Response, End> {
        let deadline = Instant::now() + within;
        loop {
            match http::parse(&conn.buf, conn.eof) {
                Ok(Some((response, used))) => {
                    conn.buf.drain(..used);
                    conn.responses += 1;
                    self.note(Event::Note {
                        text: format!(
                            "response {} body {} bytes fnv {:016x}{}{}",
                            response.status,
                            response.body.len(),
                            fnv(&response.body),
                            if response.chunked { " chunked" } else { "" },
                            if response.close { " close" } else { "" },
                        ),
                    });
                    return Ok(response);
                }
                Ok(None) if conn.eof => {
                    return Err(End::Closed {
                        unread: conn.buf.len(),
                    })
                }
                Ok(None) => {}
                Err(e) => return Err(End::Malformed(e)),
            }
            self.fill(conn, deadline).await?;
        }
    }

    /// Reads more bytes into `conn.buf`, or notes the end of the stream.
    async fn fill(&self, conn: &mut Conn, deadline: Instant) -> Result<(), End> {
        let mut scratch = vec![0u8; 16 * 1024];
        match tokio::time::timeout_at(deadline, conn.stream.read(&mut scratch)).await {
            Err(_) => Err(End::Timeout),
            Ok(Err(e)) => {
                self.note(Event::Closed {
                    why: format!("reset: {e}"),
                });
                Err(End::Reset(e.to_string()))
            }
            Ok(Ok(0)) => {
                conn.eof = true;
                self.note(Event::Closed { why: "eof".into() });
                Ok(())
            }
            Ok(Ok(n)) => {
                conn.buf.extend_from_slice(&scratch[..n]);
                Ok(())
            }
        }
    }

    /// Waits for the server to close, within `within`: `Ok` when it did, with nothing
    /// more said.
    async fn closed(&self, conn: &mut Conn, within: Duration) -> Result<(), End> {
        let deadline = Instant::now() + within;
        while !conn.eof {
            match self.fill(conn, deadline).await {
                Err(End::Reset(_)) => return Ok(()),
                other => other?,
            }
        }
        if conn.buf.is_empty() {
            Ok(())
        } else {
            Err(End::Malformed(format!(
                "{} bytes after the last response",
                conn.buf.len()
            )))
        }
    }

    /// A request a well-behaved client might send; a body the handler leaves unread only
    /// when `unread` allows it.
    fn request(&mut self, unread: bool) -> Request {
        let rng = &mut self.rng;
        match rng.random_range(0..100) {
            0..40 => {
                let k = match rng.random_range(0..100) {
                    0..80 => rng.random_range(0..=300),
                    80..95 => rng.random_range(301..=5000),
                    _ => rng.random_range(5001..=70_000),
                };
                Request::get(format!("/n/{k}"))
            }
            40..65 => Request::post("/echo", Body::Length(body(rng))),
            65..85 => {
                let bytes = body(rng);
                Request::post("/echo", chunked(rng, bytes))
            }
            // A body the handler never reads.
            95.. if unread => Request::post("/missing", Body::Length(body(rng))),
            _ => Request::get(format!("/nope/{}", rng.random_range(0..1000))),
        }
    }

    /// Checks `got` against the model's answer to `req`.
    fn check(&self, req: &Request, got: &Response) -> Result<(), String> {
        let (status, body) = model::expect(req);
        if got.status != status {
            return Err(format!(
                "{} {}: status {} where the model says {status}",
                req.method, req.path, got.status
            ));
        }
        if got.body != body {
            return Err(format!(
                "{} {}: a body of {} bytes where the model says {} (first difference at {})",
                req.method,
                req.path,
                got.body.len(),
                body.len(),
                got.body
                    .iter()
                    .zip(&body)
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.body.len().min(body.len()))
            ));
        }
        if got.close && !req.close {
            return Err(format!(
                "{} {}: the server closes a connection the client keeps alive",
                req.method, req.path
            ));
        }
        if req.close && !got.close {
            return Err(format!(
                "{} {}: no `connection: close` in answer to one",
                req.method, req.path
            ));
        }
        self.shared.findings(|f| f.responses += 1);
        Ok(())
    }

    /// Asks `req` and checks its answer; closes with the server when it asked to.
    async fn exchange(&mut self, conn: &mut Conn, req: &Request) -> Result<(), String> {
        self.send(conn, &req.encode()).await?;
        let got = self
            .response(conn, PATIENCE)
            .await
            .map_err(|e| format!("{} {}: {e}", req.method, req.path))?;
        self.check(req, &got)?;
        if req.close {
            self.closed(conn, PATIENCE)
                .await
                .map_err(|e| format!("after `Connection: close`: {e}"))?;
        }
        Ok(())
    }

    /// Asks `req`, whose body the handler leaves unread, as the last request of `conn`:
    /// the server may answer and close, or close first.
    async fn unread_body(&mut self, conn: &mut Conn, req: &Request) -> Result<(), String> {
        let wrote = self.send(conn, &req.encode()).await.is_ok();
        let outcome = match self.response(conn, PATIENCE).await {
            Ok(got) if got.status == 404 && got.body == model::NOT_FOUND => {
                match self.closed(conn, PATIENCE).await {
                    Ok(()) if got.close => "404 connection: close, closed",
                    Ok(()) => "404, closed",
                    Err(End::Timeout) => "404, kept open",
                    Err(_) => "404, then garbage",
                }
            }
            Ok(got) => return Err(format!("{} {}: {got:?}", req.method, req.path)),
            Err(End::Timeout) => return Err(format!("{} {}: no response", req.method, req.path)),
            Err(End::Reset(_)) => "reset before a response",
            Err(End::Closed { .. }) => "closed before a response",
            Err(End::Malformed(e)) => return Err(format!("{} {}: {e}", req.method, req.path)),
        };
        let outcome = format!("{outcome}{}", if wrote { "" } else { " (write failed)" });
        self.shared
            .findings(|f| *f.unread_bodies.entry(outcome).or_default() += 1);
        Ok(())
    }

    async fn regular(&mut self) -> Result<(), String> {
        let conns = self.rng.random_range(1..=2);
        for c in 0..conns {
            let mut conn = self.connect().await?;
            let n = self.rng.random_range(1..=4);
            for r in 0..n {
                let mut req = self.request(true);
                if model::leaves_body_unread(&req) {
                    self.unread_body(&mut conn, &req).await?;
                    break;
                }
                req.close = c + 1 == conns && r + 1 == n && self.rng.random_bool(0.3);
                self.exchange(&mut conn, &req).await?;
                let think = self.rng.random_range(0..=20);
                tokio::time::sleep(Duration::from_millis(think)).await;
            }
        }
        Ok(())
    }

    async fn pipeliner(&mut self) -> Result<(), String> {
        let mut conn = self.connect().await?;
        let n = self.rng.random_range(2..=6);
        let mut reqs: Vec<Request> = (0..n).map(|_| self.request(false)).collect();
        reqs[n - 1].close = self.rng.random_bool(0.3);
        let wire: Vec<u8> = reqs.iter().flat_map(Request::encode).collect();
        self.send(&mut conn, &wire).await?;
        for (i, req) in reqs.iter().enumerate() {
            let got = self
                .response(&mut conn, PATIENCE)
                .await
                .map_err(|e| format!("pipelined request {i} of {n}: {e}"))?;
            self.check(req, &got)
                .map_err(|e| format!("pipelined request {i} of {n}: {e}"))?;
        }
        self.shared.findings(|f| f.pipelined += n as u64);
        if reqs[n - 1].close {
            self.closed(&mut conn, PATIENCE)
                .await
                .map_err(|e| format!("after `Connection: close`: {e}"))?;
        }
        Ok(())
    }

    async fn disconnector(&mut self) -> Result<(), String> {
        let mut conn = self.connect().await?;
        for _ in 0..self.rng.random_range(0..=1) {
            let req = self.request(false);
            self.exchange(&mut conn, &req).await?;
        }
        let wire = self.request(true).encode();
        let cut = self.rng.random_range(1..wire.len());
        // A head whose body the handler leaves unread may be answered and closed before
        // the rest of it is written.
        if let Err(e) = self.send(&mut conn, &wire[..cut]).await {
            self.note(Event::Note { text: e });
        }
        self.note(Event::Disconnect { mid_frame: true });
        self.shared.findings(|f| f.disconnects += 1);
        Ok(())
    }

    async fn slowloris(&mut self) -> Result<(), String> {
        let mut conn = self.connect().await?;
        let start = Instant::now();
        let interval = self.shared.config.slowloris_interval;
        let head = b"GET /n/5 HTTP/1.1\r\nHost: server\r\nX-Slow: ";
        let mut sent = 0usize;
        let cut = async {
            if conn.stream.write_all(head).await.is_err() {
                return true;
            }
            sent += head.len();
            for _ in 0..SLOWLORIS_BYTES {
                if conn.stream.write_all(b"s").await.is_err() {
                    return true;
                }
                sent += 1;
                // Listen while waiting for the next byte: the close is seen when it comes.
                let until = Instant::now() + interval;
                while !conn.eof {
                    match self.fill(&mut conn, until).await {
                        Err(End::Timeout) => break,
                        Err(_) => return true,
                        Ok(()) => {}
                    }
                }
                if conn.eof {
                    return true;
                }
            }
            false
        }
        .await;
        let after = start.elapsed();
        let said = match http::parse(&conn.buf, true) {
            Ok(Some((r, _))) => format!("{}", r.status),
            _ if conn.buf.is_empty() => "nothing".to_string(),
            _ => format!("{} unparsed bytes", conn.buf.len()),
        };
        self.note(Event::Note {
            text: format!(
                "slowloris cut {cut} after {} ms, {sent} bytes, said {said}",
                after.as_millis()
            ),
        });
        if !cut {
            return Err(format!(
                "slowloris not cut: {sent} header bytes over {} ms",
                after.as_millis()
            ));
        }
        self.shared.findings(|f| {
            f.slowloris_cut_ms.push(after.as_millis() as u64);
            *f.slowloris_replies.entry(said).or_default() += 1;
        });
        if let Some(timeout) = self.shared.config.header_timeout {
            // The close reaches the client one network latency after it happens.
            let bound = timeout + Duration::from_millis(100);
            if after > bound {
                return Err(format!(
                    "slowloris cut only after {} ms ({} ms allowed)",
                    after.as_millis(),
                    bound.as_millis()
                ));
            }
        }
        Ok(())
    }

    async fn slow_body(&mut self) -> Result<(), String> {
        let mut conn = self.connect().await?;
        let body: Vec<u8> = (0..SLOW_BODY_BYTES).map(|i| b'a' + i as u8).collect();
        let req = Request::post("/echo", Body::Length(body.clone()));
        let interval = self.shared.config.slowloris_interval;
        let start = Instant::now();
        conn.stream
            .write_all(&req.head())
            .await
            .map_err(|e| format!("write head: {e}"))?;
        for (i, byte) in body.iter().enumerate() {
            tokio::time::sleep(interval).await;
            conn.stream
                .write_all(std::slice::from_ref(byte))
                .await
                .map_err(|e| format!("slow body cut after {i} bytes: {e}"))?;
        }
        let got = self
            .response(&mut conn, PATIENCE)
            .await
            .map_err(|e| format!("slow body: {e}"))?;
        self.check(&req, &got)?;
        let took = start.elapsed().as_millis() as u64;
        self.shared.findings(|f| f.slow_body_ms.push(took));
        Ok(())
    }

    async fn lingerer(&mut self) -> Result<(), String> {
        let mut conn = self.connect().await?;
        let req = Request::get("/n/10");
        self.exchange(&mut conn, &req).await?;
        let idle = Instant::now();
        let Some(timeout) = self.shared.config.header_timeout else {
            return Ok(());
        };
        match self.closed(&mut conn, timeout * 3).await {
            Ok(()) => {
                let after = idle.elapsed();
                self.shared
                    .findings(|f| f.idle_cut_ms.push(after.as_millis() as u64));
                let bound = timeout + Duration::from_millis(100);
                if after > bound {
                    return Err(format!(
                        "idle connection cut only after {} ms",
                        after.as_millis()
                    ));
                }
                Ok(())
            }
            Err(End::Timeout) => {
                self.shared.findings(|f| f.idle_kept += 1);
                Ok(())
            }
            Err(e) => Err(format!("while idle: {e}")),
        }
    }

    async fn oversized(&mut self) -> Result<(), String> {
        let mut conn = self.connect().await?;
        let limit = self.shared.config.max_buf_size;
        let mut req = Request::get("/n/1");
        req.pad = limit + self.rng.random_range(1..=4096);
        let wire = req.encode();
        // The server may stop reading and close while this is still being written.
        let wrote = self.send(&mut conn, &wire).await.is_ok();
        let got = self.response(&mut conn, PATIENCE).await;
        let outcome = match &got {
            Ok(r) => {
                let closed = self.closed(&mut conn, PATIENCE).await.is_ok();
                format!(
                    "{}{}{}",
                    r.status,
                    if r.close { " connection: close" } else { "" },
                    if closed { ", closed" } else { ", left open" }
                )
            }
            Err(e) => format!("{e}"),
        };
        let outcome = format!("{outcome}{}", if wrote { "" } else { " (write failed)" });
        self.note(Event::Note {
            text: format!("oversized head of {} bytes: {outcome}", req.head().len()),
        });
        self.shared
            .findings(|f| *f.oversized.entry(outcome.clone()).or_default() += 1);
        // hyper's refusal may be a 431, a close or a reset (see the README): any of them,
        // but never an answer to the request.
        match got {
            Ok(r) if r.status != 431 => Err(format!(
                "a head of {} bytes over a {limit}-byte buffer: {outcome}",
                req.head().len()
            )),
            Err(End::Timeout) => Err(format!(
                "a head of {} bytes over a {limit}-byte buffer: neither refused nor closed",
                req.head().len()
            )),
            _ => Ok(()),
        }
    }

    async fn large_head(&mut self) -> Result<(), String> {
        let mut conn = self.connect().await?;
        let limit = self.shared.config.max_buf_size;
        let mut req = Request::get("/n/7");
        req.pad = self.rng.random_range(limit / 2..=limit - LARGE_HEAD_MARGIN);
        self.exchange(&mut conn, &req).await?;
        self.shared.findings(|f| f.large_heads += 1);
        Ok(())
    }
}

impl Client {
    async fn latecomer(&mut self) -> Result<(), String> {
        let mut conn = self.connect().await?;
        let start = Instant::now();
        let timeout = self
            .shared
            .config
            .header_timeout
            .unwrap_or(Duration::from_secs(1));
        tokio::time::sleep(timeout * 7 / 10).await;
        let req = Request::get("/n/12");
        let wire = req.encode();
        let pieces = 5;
        let (mut sent, mut cut_at) = (0, None);
        for piece in wire.chunks(wire.len().div_ceil(pieces)) {
            if conn.stream.write_all(piece).await.is_err() {
                cut_at = Some(start.elapsed());
                break;
            }
            sent += piece.len();
            tokio::time::sleep(timeout / 10).await;
        }
        let outcome = match (self.response(&mut conn, PATIENCE).await, cut_at) {
            (Ok(got), _) => {
                self.check(&req, &got)?;
                "served".to_string()
            }
            (Err(End::Timeout), _) => return Err("no response, no close".into()),
            (Err(e @ End::Malformed(_)), _) => return Err(e.to_string()),
            // The close is seen by the write that follows it, at most 100 ms later.
            (Err(_), Some(at)) => format!(
                "cut by {} ms, {sent} of {} bytes sent",
                at.as_millis() / 100 * 100,
                wire.len()
            ),
            (Err(e), None) => format!("{e} after all {} bytes", wire.len()),
        };
        self.note(Event::Note {
            text: format!("latecomer: {outcome}"),
        });
        self.shared
            .findings(|f| *f.latecomers.entry(outcome).or_default() += 1);
        Ok(())
    }
}

/// Header bytes a slowloris trickles at most, one per interval.
const SLOWLORIS_BYTES: usize = 60;

/// Body bytes a slow-body client trickles, one per interval.
const SLOW_BODY_BYTES: usize = 12;

/// How far below the buffer limit a large head's padding stays: room for the rest of the
/// head.
pub const LARGE_HEAD_MARGIN: usize = 256;

/// A body: mostly small, some larger than a segment, a few larger than the buffer limit.
fn body(rng: &mut SmallRng) -> Vec<u8> {
    let len = match rng.random_range(0..100) {
        0..80 => rng.random_range(0..=64),
        80..95 => rng.random_range(65..=2000),
        _ => rng.random_range(2001..=40_000),
    };
    (0..len).map(|_| rng.random()).collect()
}

/// `bytes` as one to five non-empty chunks, sometimes with a trailer.
fn chunked(rng: &mut SmallRng, bytes: Vec<u8>) -> Body {
    let pieces = rng.random_range(1..=5).min(bytes.len().max(1));
    let mut cuts: Vec<usize> = (1..pieces)
        .map(|_| rng.random_range(1..bytes.len()))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut chunks = Vec::new();
    let mut at = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        if cut > at {
            chunks.push(bytes[at..cut].to_vec());
            at = cut;
        }
    }
    Body::Chunked {
        chunks,
        trailer: rng.random_bool(0.2),
    }
}

/// FNV-1a of a body: the transcript names a body by it.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
