//! A harness run's virtual clients: the well-behaved ones deliver their session's requests
//! in seeded chunks, pipelined, and judge every reply; the others trickle, leave or idle.

use super::shared::Shared;
use super::workload::{ReplyFramer, Request, Session};
use super::Role;
use crate::net::ACCEPT_WAIT;
use crate::oracle::Oracle;
use crate::scenario::Delivery;
use crate::seeds::{self, Draws, Stream};
use crate::transcript::{Actor, Event};
use crate::window::ClientStream;
use bytes::{Bytes, BytesMut};
use rand::Rng;
use std::collections::VecDeque;
use std::ops::Range;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep, timeout, timeout_at, Instant};
use turmoil::net::TcpStream;

/// Bytes past which a write is delivered in larger chunks.
const LARGE_WRITE: usize = 16 * 1024;

/// The largest write a client may deliver a byte at a time.
const BYTE_AT_A_TIME_MOST: usize = 1024;

/// Most bytes a slow reader takes at once, and its pause before each read.
const SLOW_READ: usize = 256;
const SLOW_PAUSE: Duration = Duration::from_millis(2);
/// How long a well-behaved client's write waits before the client takes the replies that
/// have come meanwhile (see `Client::write_chunk`).
const ABSORB_AFTER: Duration = Duration::from_millis(10);

/// How long a client tries to connect to a server that refuses it, from when it began or
/// the server came back from its restart, whichever is later (while the server is down
/// for its restart, draining however long it takes, a client waits, up to
/// `RESTART_PATIENCE`), and how far apart its tries are.
const CONNECT_PATIENCE: Duration = Duration::from_secs(1);
const RESTART_PATIENCE: Duration = Duration::from_secs(30);
const CONNECT_PAUSE: Duration = Duration::from_millis(20);

/// How long after the answer that ends a connection (an error reply to a malformed
/// request, the replies up to a quit or a request after which the server closes) a client waits for the server's close: a malformed
/// client then takes the connection as kept open, a quitting one fails `[quit]` (a server
/// that closes only when its idle timer fires).
pub(super) const CLOSE_AFTER_ANSWER: Duration = Duration::from_millis(100);

/// A request sent and not answered yet: its bytes, for the session's check, and where they
/// are in what the connection carried.
type Pending = std::collections::VecDeque<(Request, Range<u64>)>;

/// One virtual client.
pub(super) struct Client {
    pub(super) id: usize,
    pub(super) role: Role,
    pub(super) shared: Shared,
    /// How its bytes reach the wire: chunks, gaps, batches, cuts.
    pub(super) delivery: Draws,
    /// What it asks: apart from delivery, so what is asked never depends on how.
    pub(super) work: Draws,
    pub(super) session: Box<dyn Session>,
    pub(super) framer: Box<dyn ReplyFramer>,
    /// Requests to send before the session's next ones: an at-limit or large-reply one, or
    /// those a quitting or malformed client drew for a session that then made no request
    /// of its role.
    pub(super) queued: VecDeque<Request>,
    /// Takes replies a few hundred bytes at a time (a slow reader).
    pub(super) slow: bool,
    /// Replies judged so far.
    pub(super) answered: usize,
    /// Frames the server pushed that it took out of its replies.
    pub(super) pushes: usize,
    /// When its last connect began (a lifted script connects then).
    pub(super) connecting_since: Duration,
    /// When its session began (a restart after it empties a server's memory).
    pub(super) session_at: Duration,
    /// In a run being lifted: requests waiting for their reply, and where their
    /// expectations are in the script.
    pub(super) expecting: std::collections::VecDeque<(usize, Request)>,
    /// Where the request about to be judged and its reply lie on its connection, when
    /// the client knows: the server's side of its window in the history
    /// ([`Buffers::served`]).
    ///
    /// [`Buffers::served`]: super::buffers::Buffers::served
    pub(super) on_wire: Option<(std::net::SocketAddr, Range<u64>, Range<u64>)>,
}

/// Why a client stopped: the oracle it broke and what happened; `None` is a pass.
pub(super) type Verdict = Result<(), (Oracle, String)>;

impl Client {
    pub(super) fn new(id: usize, shared: Shared) -> Self {
        let seed = shared.seed;
        Client {
            id,
            role: shared.options.roles.of(id),
            delivery: seeds::rng(seed, Stream::Delivery(id)),
            work: seeds::rng(seed, Stream::Workload(id)),
            session: shared.workload.session(id),
            framer: shared.workload.framer(),
            queued: VecDeque::new(),
            slow: false,
            answered: 0,
            pushes: 0,
            connecting_since: Duration::ZERO,
            session_at: Duration::ZERO,
            expecting: Default::default(),
            on_wire: None,
            shared,
        }
    }

    pub(super) fn record(&self, event: Event) {
        if self.shared.scripting.lifter.is_some() {
            self.lift(&event);
        }
        self.shared.transcript.record(Actor::Client(self.id), event);
    }

    pub(super) fn note(&self, text: String) {
        self.record(Event::Note { text });
    }

    /// Runs this client to its end; any violation is reported to the run.
    pub(super) async fn run(mut self) {
        let scripted = self.shared.scripting.scripts.as_ref();
        if let Some(scripted) = scripted.and_then(|all| all.get(&self.id)).cloned() {
            if let Err((oracle, detail)) = self.play(scripted).await {
                self.shared.violation(oracle, Some(self.id), detail);
            }
            self.shared.tally(|t| t.clients_finished += 1);
            return;
        }
        let ramp = self.shared.options.ramp;
        if !ramp.is_zero() {
            let start = self.delivery.random_range(Duration::ZERO..=ramp);
            sleep(start).await;
        }
        // However a server wedges it, a client ends: past ten reply timeouts it is stuck.
        let limit = self.shared.options.reply_timeout * 10;
        let verdict = match timeout(limit, self.play_role()).await {
            Ok(verdict) => verdict,
            Err(_) => Err((
                Oracle::Finished,
                format!("still running {limit:?} after it began: stuck"),
            )),
        };
        if let Err((oracle, detail)) = verdict {
            self.shared.violation(oracle, Some(self.id), detail);
        }
        self.unanswered();
        self.lifted();
        self.shared.tally(|t| t.clients_finished += 1);
    }

    /// This client's role, played on a new connection.
    async fn play_role(&mut self) -> Verdict {
        match self.connect().await {
            Err(e) => Err((Oracle::Connect, e)),
            Ok(stream) => match self.role {
                // framesim's RESP world only: a RoleMix never draws it.
                Role::Normal | Role::UnfinishedArgs => self.behave(stream).await,
                Role::Slowloris => self.slowloris(stream).await,
                Role::Disconnect => self.disconnect(stream).await,
                Role::Idle => self.idle(stream).await,
                Role::HalfClose => self.half_close(stream).await,
                Role::NeverReader => self.never_reader(stream).await,
                Role::Oversized => self.oversized(stream).await,
                Role::Malformed => self.malformed(stream).await,
                Role::AtLimit => self.at_limit(stream).await,
                Role::SlowReader => self.slow_reader(stream).await,
                Role::Quit => self.quitter(stream).await,
                Role::BulkLoader => self.bulk_loader(stream).await,
            },
        }
    }

    /// The well-behaved client's whole life: its session on `stream`, and a new one on a
    /// new connection if the server's crash took the first.
    pub(super) async fn behave(&mut self, stream: ClientStream) -> Verdict {
        match self.well_behaved(stream).await {
            Err((Oracle::Unanswered, _)) if self.crashed() => self.after_restart().await,
            verdict => verdict,
        }
    }

    /// Whether the server host has crashed by now (see [`Options::restart_at`]).
    ///
    /// [`Options::restart_at`]: super::Options::restart_at
    pub(super) fn crashed(&self) -> bool {
        let now = turmoil::sim_elapsed().unwrap_or_default();
        self.shared.options.restart_at.is_some_and(|at| now >= at)
    }

    /// Up to `batch` requests, the queued ones first, ending at one after which the server
    /// closes.
    fn draw(&mut self, batch: usize) -> Vec<Request> {
        let mut requests = Vec::new();
        while requests.len() < batch {
            let request = match self.queued.pop_front() {
                Some(queued) => Some(queued),
                None => self.session.next_request(&mut self.work),
            };
            let Some(request) = request else {
                break;
            };
            let closes = request.closes;
            requests.push(request);
            if closes {
                break;
            }
        }
        requests
    }

    /// The server restarted (`why`): the requests still open may have run or not, and the
    /// client starts a new session, the model's knowledge gone with the server's.
    fn new_session(&mut self, why: &str) {
        self.note(why.into());
        self.shared.tally(|t| t.restarted += 1);
        self.unanswered();
        self.session = self.shared.workload.session(self.id);
        self.framer = self.shared.workload.framer();
        self.session_at = crate::clock::now();
    }

    /// Whether the server host restarted after this client's session began.
    fn restarted_since_session(&self) -> bool {
        let now = crate::clock::now();
        let at = self.shared.options.restart_at;
        at.is_some_and(|at| now >= at && self.session_at < at)
    }

    /// The server's crash took the connection and what it knew: the requests in flight are
    /// not judged; the client connects again and starts a new session.
    async fn after_restart(&mut self) -> Verdict {
        self.new_session("connection lost to the server's restart: a new session");
        match self.connect().await {
            Err(e) => Err((Oracle::Connect, e)),
            Ok(stream) => self.well_behaved(stream).await,
        }
    }

    pub(super) async fn connect(&mut self) -> Result<ClientStream, String> {
        let addr = ("server", self.shared.options.port);
        self.connecting_since = crate::clock::now();
        let mut last = String::new();
        let mut tries = 0;
        let patient = |shared: &super::shared::Shared, since: Duration| {
            let now = crate::clock::now();
            if shared.restarting() {
                return now - since < RESTART_PATIENCE;
            }
            let from = shared.back_at().map_or(since, |back| back.max(since));
            now.saturating_sub(from) < CONNECT_PATIENCE
        };
        while tries == 0 || patient(&self.shared, self.connecting_since) {
            tries += 1;
            let Ok(connected) = timeout(ACCEPT_WAIT, TcpStream::connect(addr)).await else {
                let failed = self.shared.transcript.counts().accept_errors;
                last = format!("not accepted within {ACCEPT_WAIT:?} ({failed} accept failure(s) injected in the run by then, as its faults draw them): a server that stopped accepting, or that waits after a failed accept (a second in axum::serve and mini-redis) and falls behind; retry an aborted connection at once, and back off only while descriptors are out, for a few milliseconds");
                break;
            };
            match connected {
                Ok(stream) => {
                    let stream = ClientStream::new(stream, self.shared.windows.clone());
                    let local = stream.local_addr();
                    self.shared.buffers.joined(local, self.id, false);
                    self.record(Event::Connect {
                        local: local.to_string(),
                    });
                    return Ok(stream);
                }
                Err(e) => last = e.to_string(),
            }
            sleep(CONNECT_PAUSE).await;
        }
        self.record(Event::ConnectFailed {
            error: last.clone(),
        });
        Err(format!(
            "could not connect ({tries} tries in {:?}): {last}",
            crate::clock::now() - self.connecting_since
        ))
    }

    /// Batches of 1..=`pipeline` requests, each batch written in chunks, then every reply
    /// of the batch read, framed and judged in order. A batch ends at a request after which
    /// the server closes ([`Request::closing`]): its close awaited, the client goes on
    /// on a new connection.
    async fn well_behaved(&mut self, mut stream: ClientStream) -> Verdict {
        let pipeline = self.shared.options.delivery.pipeline.max(1);
        let mut buf = BytesMut::new();
        let mut pending = Pending::new();
        let most = self.shared.options.max_requests.unwrap_or(usize::MAX);
        let mut sent = 0;
        let mut patience = self.patience();
        let mut closed = false;
        loop {
            let batch = self.delivery.random_range(1..=pipeline).min(most - sent);
            let mut requests = self.draw(batch);
            if requests.is_empty() {
                break;
            }
            if std::mem::take(&mut closed) {
                stream = self.connect().await.map_err(|e| (Oracle::Connect, e))?;
                if self.restarted_since_session() {
                    // The server restarted between two connections: what it knew may be
                    // gone, and the requests drawn from before are a session's it lost.
                    self.new_session("the server restarted between its connections: a new session");
                    self.queued.clear();
                    requests = self.draw(batch);
                    if requests.is_empty() {
                        break;
                    }
                }
            }
            // Bytes written on this connection, those of a role's requests before these
            // among them (a malformed client's kept-open connection, an at-limit client's).
            let carried = stream.written();
            let (mut bytes, mut ends, mut seams) = (BytesMut::new(), Vec::new(), Vec::new());
            for request in requests {
                let base = bytes.len();
                seams.extend(request.boundaries.iter().map(|&b| base + b));
                bytes.extend_from_slice(&request.bytes);
                ends.push(bytes.len());
                let at = carried + (base + request.skipped) as u64..carried + bytes.len() as u64;
                closed = request.closes;
                self.asking(&request);
                pending.push_back((request, at));
            }
            sent += pending.len();
            self.shared.tally(|t| t.requests += pending.len() as u64);
            let local = stream.local_addr();
            for (_, at) in &pending {
                // The batch's seams inside this request, as offsets on the connection.
                let inside = seams
                    .iter()
                    .map(|&s| carried + s as u64)
                    .filter(|s| at.contains(s));
                self.shared.buffers.sent(local, at.clone(), inside);
            }
            // A write that broke leaves the replies that came before it to be read and
            // judged: the first request with none is the one lost. Replies that come while
            // a write waits are taken into `buf` meanwhile (a slow reader's at its pace).
            self.deliver(&mut stream, bytes.freeze(), &ends, &seams, Some(&mut buf))
                .await;
            let wrote_at = crate::clock::now();
            while let Some((request, _)) = pending.front() {
                if request.no_reply {
                    pending.pop_front();
                    continue;
                }
                let reply = match self.read_reply(&mut stream, &mut buf, pending.len()).await {
                    Ok(reply) => reply,
                    Err(lost) => return Err(self.drained(&stream, &pending).unwrap_or(lost)),
                };
                let end = stream.bytes_read().saturating_sub(buf.len() as u64);
                let sent = end.saturating_sub(reply.len() as u64)..end;
                self.on_wire = pending.front().map(|(_, at)| (local, at.clone(), sent));
                self.judge(request, &reply)?;
                pending.pop_front();
            }
            if closed {
                if !self
                    .closed_after_answer(&mut stream, &mut buf, "the request after which it closes")
                    .await?
                {
                    return Ok(());
                }
                self.push_step(crate::script::Step::CloseWithin {
                    within: CLOSE_AFTER_ANSWER,
                    oracle: Oracle::Quit,
                });
                self.record(Event::Closed {
                    why: "closed after the request that closes".into(),
                });
                continue;
            }
            if let Some(quiet) = patience.pop() {
                self.quiet_under_idle_timeout(&mut stream, &mut buf, wrote_at, quiet)
                    .await?;
            }
            if let Some(pause) = self.shared.options.delivery.pause(&mut self.delivery) {
                sleep(pause).await;
            }
        }
        if let Some(more) = self.beyond_pushed_at_end(&mut stream, &mut buf).await? {
            return Err((
                Oracle::Extra,
                format!(
                    "{} byte(s) after the last reply: {}",
                    more.len(),
                    cut(&more)
                ),
            ));
        }
        if !closed {
            self.record(Event::Closed {
                why: "client done".into(),
            });
        }
        Ok(())
    }

    /// Waits for the server to close `stream` after the reply to the request after which
    /// it closes (`what`): nothing more may come, and the close within
    /// [`CLOSE_AFTER_ANSWER`] (`[quit]`): `true` once closed, `false` when the server's
    /// crash excuses a close that did not come.
    pub(super) async fn closed_after_answer(
        &mut self,
        stream: &mut ClientStream,
        buf: &mut BytesMut,
        what: &str,
    ) -> Result<bool, (Oracle, String)> {
        let wait = CLOSE_AFTER_ANSWER;
        loop {
            if let Some(more) = self.beyond_pushed(buf, true)? {
                return Err((
                    Oracle::Quit,
                    format!(
                        "after the replies up to {what}, {} byte(s) more: {}",
                        more.len(),
                        cut(&more)
                    ),
                ));
            }
            match timeout(wait, stream.read_buf(buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => match self.beyond_pushed(buf, false)? {
                    None => return Ok(true),
                    Some(more) => {
                        return Err((
                            Oracle::Quit,
                            format!(
                            "after the replies up to {what}, {} byte(s) more, then the close: {}",
                            more.len(),
                            cut(&more)
                        ),
                        ))
                    }
                },
                Ok(Ok(_)) => {}
                Err(_) if self.crashed() => return Ok(false),
                Err(_) => {
                    return Err((
                        Oracle::Quit,
                        format!("the replies up to {what} came, but no close within {wait:?}"),
                    ))
                }
            }
        }
    }

    /// When the options declare an idle timeout, one well-behaved client in four stays
    /// quiet twice: after its first batch four fifths of it, after its second two fifths,
    /// when the connection is older than the timeout. A server whose idle timer is shorter
    /// than it promises cuts the first quiet; one that times idleness from the accept, not
    /// the last request, cuts the second. Nothing is drawn without one. Taken from the end:
    /// four fifths first.
    fn patience(&mut self) -> Vec<Duration> {
        let Some(idle) = self.shared.options.idle_timeout else {
            return Vec::new();
        };
        if self.delivery.random_bool(0.25) {
            vec![idle * 2 / 5, idle * 4 / 5]
        } else {
            Vec::new()
        }
    }

    /// Stays quiet until `quiet` after the client's last write (at `wrote_at`), under the
    /// declared idle timeout: the server must not close the connection meanwhile
    /// (`wrongful-close`), unless it restarted. A slow reader may have taken that long to read
    /// its replies already: then nothing is left to wait.
    async fn quiet_under_idle_timeout(
        &mut self,
        stream: &mut ClientStream,
        buf: &mut BytesMut,
        wrote_at: Duration,
        quiet: Duration,
    ) -> Verdict {
        let Some(wait) = (wrote_at + quiet).checked_sub(crate::clock::now()) else {
            return Ok(());
        };
        self.note(format!(
            "quiet {quiet:?} after its last write, under the idle timeout"
        ));
        // Quiet, but reading: what the server pushes meanwhile is taken; a reply to no
        // request is `[extra]`.
        let until = Instant::now() + wait;
        loop {
            match timeout_at(until, stream.read_buf(buf)).await {
                Ok(Ok(1..)) => {
                    if let Some(frame) = self.next_frame(buf)? {
                        return Err((
                            Oracle::Extra,
                            format!(
                                "a reply to no request, while the client was quiet: {}",
                                cut(&frame)
                            ),
                        ));
                    }
                }
                Ok(_) => {
                    tokio::time::sleep_until(until).await;
                    break;
                }
                Err(_) => break,
            }
        }
        let Some(closed) = stream.server_side().closed_at else {
            self.shared.tally(|t| t.quiet_kept += 1);
            return Ok(());
        };
        if self.crashed() {
            return Ok(());
        }
        let idle = self.shared.options.idle_timeout.unwrap_or_default();
        Err((
            Oracle::WrongfulClose,
            format!(
                "closed {:?} after the client's last write, while it stayed quiet for {quiet:?}, under the declared idle_timeout {idle:?}: the server's idle timer is shorter than it promises",
                closed.saturating_sub(wrote_at)
            ),
        ))
    }

    /// `request` is about to be sent: asked of the session, in the transcript.
    pub(super) fn asking(&mut self, request: &Request) {
        self.asked(request);
        self.announce(request);
    }

    /// Records that `request` is about to be written, as its command or its bytes.
    pub(super) fn announce(&self, request: &Request) {
        match &request.kv {
            Some(kv) => self.record(Event::Request {
                cmd: kv.command.clone(),
                expect: kv.expect.clone(),
            }),
            None => self.record(Event::Asked {
                bytes: request.bytes.clone(),
            }),
        }
    }

    /// Whether the server broke its graceful shutdown's promise ([`Options::restart_grace`])
    /// in closing `stream` with `pending` unanswered: closed after the restart began and
    /// before the grace ran out, having read at least the first byte of the oldest.
    ///
    /// [`Options::restart_grace`]: super::Options::restart_grace
    fn drained(&self, stream: &ClientStream, pending: &Pending) -> Option<(Oracle, String)> {
        let o = &self.shared.options;
        let (_, request) = pending.front()?;
        let side = stream.server_side();
        let mut broken = side.dropped_in_drain(request.clone(), o.restart_at?, o.restart_grace)?;
        // Read whole, and the connection closed with later bytes unread: a reset, which
        // takes the replies in flight with it, the one to this request perhaps among them.
        let unread = unread_at_close(stream);
        if side.read_at_close >= request.end && unread > 0 {
            broken.push_str(&format!(
                " (or answered it and closed with {unread} byte(s) of later requests unread: a reset, which takes the replies in flight; close lingering, the write side shut first and the rest read and dropped)"
            ));
        }
        Some((Oracle::Drain, broken))
    }

    /// The next reply frame, reading as needed.
    pub(super) async fn read_reply(
        &mut self,
        stream: &mut ClientStream,
        buf: &mut BytesMut,
        waiting: usize,
    ) -> Result<Bytes, (Oracle, String)> {
        let wait = self.shared.options.reply_timeout;
        self.reading();
        loop {
            if let Some(frame) = self.next_frame(buf)? {
                return Ok(frame);
            }
            match timeout(wait, self.read_some(stream, buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.record(Event::Closed {
                        why: "closed by the server".into(),
                    });
                    return Err((
                        Oracle::Unanswered,
                        format!(
                            "the server closed the connection with {waiting} request(s) unanswered{}{}",
                            held(buf),
                            lost_to_reset(stream)
                        ),
                    ));
                }
                Ok(Ok(_)) => {}
                Err(_) => {
                    return Err((
                        Oracle::Unanswered,
                        format!(
                            "no reply within {wait:?}, {waiting} request(s) unanswered{}",
                            held(buf)
                        ),
                    ))
                }
            }
        }
    }

    /// Reads what has come into `buf`: all of it, or for a slow reader a few hundred bytes
    /// after a pause.
    async fn read_some(
        &mut self,
        stream: &mut ClientStream,
        buf: &mut BytesMut,
    ) -> std::io::Result<usize> {
        if !self.slow {
            return stream.read_buf(buf).await;
        }
        sleep(SLOW_PAUSE).await;
        let mut chunk = [0u8; SLOW_READ];
        let n = stream.read(&mut chunk).await?;
        buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The model's prediction, then the session's own check.
    pub(super) fn judge(&mut self, request: &Request, reply: &Bytes) -> Verdict {
        self.record(Event::Answered {
            bytes: reply.clone(),
        });
        let served = self
            .on_wire
            .take()
            .and_then(|(local, request, reply)| self.shared.buffers.served(local, request, reply));
        self.completed(request, reply, served);
        self.shared.tally(|t| t.replies += 1);
        self.answered += 1;
        let what = || format!("request {}", cut(&request.bytes));
        let want = self.session.expect(request);
        self.answered(want.as_ref(), reply);
        if let Some(want) = want {
            if want != reply {
                return Err((
                    Oracle::Reply,
                    format!("{}: expected {}, got {}", what(), cut(&want), cut(reply)),
                ));
            }
        }
        self.session
            .check_reply(request, reply)
            .map_err(|e| (Oracle::Reply, format!("{}: {e}", what())))
    }

    /// Writes `bytes` (requests ending at `ends`, seams at `seams`) in seeded chunks with
    /// seeded gaps; how many were written (fewer if the connection broke). The gaps inside
    /// one request add up to at most the run's request budget, so a well-behaved request
    /// always arrives in time.
    pub(super) async fn deliver(
        &mut self,
        stream: &mut ClientStream,
        bytes: Bytes,
        ends: &[usize],
        seams: &[usize],
        mut absorb: Option<&mut BytesMut>,
    ) -> u64 {
        let d: Delivery = self.shared.options.delivery;
        let budget = self.shared.options.request_budget;
        // A large write (an at-limit request, a bulk payload) goes in at most about 256
        // chunks, and only a small one a byte at a time: each chunk is a segment, which
        // turmoil delivers in virtual time of its own (8 KiB a byte at a time outlasts a
        // 500 ms deadline with no gap at all). Its seams are cut all the same.
        let large = bytes.len() > LARGE_WRITE;
        let one_byte = d.byte_at_a_time > 0.0
            && self.delivery.random_bool(d.byte_at_a_time)
            && bytes.len() <= BYTE_AT_A_TIME_MOST;
        let max_chunk = if large {
            d.max_chunk.max(bytes.len() / 256)
        } else {
            d.max_chunk
        };
        let at_seams = d.cut_at_boundaries > 0.0 && self.delivery.random_bool(d.cut_at_boundaries);
        let mut request_started = Instant::now();
        let mut start = 0;
        while start < bytes.len() {
            let left = bytes.len() - start;
            let mut end = if one_byte {
                start + 1
            } else {
                start + self.delivery.random_range(1..=max_chunk.max(1)).min(left)
            };
            if at_seams {
                // At a seam, or a byte either side of it: inside a header, just before a
                // delimiter's end.
                let near = seams
                    .iter()
                    .chain(ends)
                    .find(|&&s| s > start && s <= end + 1);
                if let Some(&s) = near {
                    let shift = self.delivery.random_range(0..3);
                    end = (s + shift).saturating_sub(1).clamp(start + 1, bytes.len());
                }
            }
            let chunk = bytes.slice(start..end);
            self.first_bytes(&bytes, ends, start..end);
            match self
                .write_chunk(stream, &chunk, absorb.as_deref_mut())
                .await
            {
                Ok(()) => {}
                Err(None) => return start as u64,
                Err(Some(blocked)) => {
                    self.note(format!(
                        "write blocked {blocked:?} after {start} of {} bytes: the server stopped reading",
                        bytes.len()
                    ));
                    return start as u64;
                }
            }
            self.record(Event::Write { bytes: chunk });
            if start == 0 || ends.iter().any(|&e| (start..end).contains(&e)) {
                request_started = Instant::now();
            }
            start = end;
            if start < bytes.len() && !d.max_gap.is_zero() && self.delivery.random_bool(0.3) {
                let gap = self.delivery.random_range(Duration::ZERO..=d.max_gap);
                let mid_request = !ends.contains(&start);
                let room = budget.saturating_sub(request_started.elapsed());
                sleep(if mid_request { gap.min(room) } else { gap }).await;
            }
        }
        bytes.len() as u64
    }

    /// Writes `chunk`. A write that waits has found the server not reading: it may be
    /// writing replies into this client's window while this client writes. After
    /// [`ABSORB_AFTER`] the client takes what has come into `absorb` (its replies, judged
    /// later), as a real connection's receive buffer takes them while its application
    /// writes, and writes on. Err(None): the connection broke; Err(Some(waited)): the
    /// write waited the reply timeout with no reply coming either, the server having
    /// stopped reading.
    async fn write_chunk(
        &mut self,
        stream: &mut ClientStream,
        chunk: &[u8],
        mut absorb: Option<&mut BytesMut>,
    ) -> Result<(), Option<Duration>> {
        let wait = self.shared.options.reply_timeout;
        let (mut written, mut waited) = (0, Duration::ZERO);
        while written < chunk.len() {
            let step = if absorb.is_some() { ABSORB_AFTER } else { wait };
            match timeout(step, stream.write(&chunk[written..])).await {
                Ok(Ok(0) | Err(_)) => return Err(None),
                Ok(Ok(n)) => written += n,
                Err(_) => {
                    waited += step;
                    if waited >= wait {
                        return Err(Some(waited));
                    }
                    if let Some(buf) = absorb.as_deref_mut() {
                        // What has come, if anything: the read waits for nothing. A server
                        // still writing replies is busy, not stuck: the wait starts over.
                        let took = timeout(Duration::ZERO, take_replies(stream, buf, self.slow));
                        if let Ok(Ok(1..)) = took.await {
                            waited = Duration::ZERO;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// All but the last byte of a request, one every `slowloris_interval`; the server must
    /// close the connection within `slowloris_bound` of the first. The request is the
    /// session's first, or, when that one would be trickled before the bound, its request
    /// of exactly `max_request` bytes (if it makes one): still coming at the bound, so that
    /// a server whose deadline starts over at every read cannot keep up with it.
    async fn slowloris(&mut self, mut stream: ClientStream) -> Verdict {
        let roles = self.shared.options.roles;
        let Some(mut request) = self.session.next_request(&mut self.work) else {
            return self.idle(stream).await;
        };
        let bytes_in_bound =
            roles.slowloris_bound.as_micros() / roles.slowloris_interval.as_micros().max(1) + 2;
        if (request.bytes.len() as u128) < bytes_in_bound {
            let size = self.shared.options.max_request;
            if let Some(long) = self.session.at_limit(&mut self.work, size) {
                if long.bytes.len() > request.bytes.len() {
                    request = long;
                }
            }
        }
        let trickle = request.bytes.slice(..request.bytes.len().saturating_sub(1));
        let first = Instant::now();
        let deadline = first + roles.slowloris_bound;
        let mut sent = 0;
        let mut scratch = [0u8; 512];
        loop {
            let next = if sent < trickle.len() {
                first + roles.slowloris_interval * sent as u32
            } else {
                deadline
            };
            tokio::select! {
                biased;
                read = stream.read(&mut scratch) => match read {
                    Ok(0) | Err(_) => break,
                    // The server may say why it cuts the connection.
                    Ok(_) => continue,
                },
                _ = tokio::time::sleep_until(next.min(deadline)) => {}
            }
            if Instant::now() >= deadline {
                return Err((
                    Oracle::Slowloris,
                    format!(
                        "still open {:?} after its first byte ({sent} of {} bytes trickled; a server with a longer deadline for a request's bytes declares it in roles.slowloris_bound)",
                        roles.slowloris_bound,
                        request.bytes.len()
                    ),
                ));
            }
            if sent < trickle.len() {
                let byte = trickle.slice(sent..sent + 1);
                if stream.write_all(&byte).await.is_err() {
                    break;
                }
                self.record(Event::Write { bytes: byte });
                sent += 1;
            }
        }
        let after = first.elapsed();
        self.record(Event::Closed {
            why: format!("slowloris cut after {after:?}"),
        });
        self.shared.tally(|t| t.slowloris_cut += 1);
        Ok(())
    }

    /// Gone without a word, in one of two ways, evenly: a random part of the first
    /// request, which the server must not answer as the whole request (`executed`); or
    /// one to three whole requests at once, their replies never read, which the server
    /// runs (or not: each is indeterminate in a history) and answers into a closed
    /// connection, whose reset it must survive.
    async fn disconnect(&mut self, mut stream: ClientStream) -> Verdict {
        if self.delivery.random_bool(0.5) {
            return self.leave_unread(stream).await;
        }
        if let Some(request) = self.session.next_request(&mut self.work) {
            let (len, from) = (request.bytes.len(), request.skipped + 1);
            let cut = if len > from {
                self.delivery.random_range(from..len)
            } else {
                0
            };
            let (bytes, seams) = (request.bytes.slice(..cut), request.boundaries.clone());
            if cut > 0 {
                self.give_up_session(&stream, request, cut);
            }
            self.deliver(&mut stream, bytes, &[], &seams, None).await;
        }
        self.record(Event::Disconnect { mid_frame: true });
        self.shared.tally(|t| t.disconnects += 1);
        Ok(())
    }

    /// This client is done with its session: the run keeps it to judge what the server
    /// answers to the first `sent` bytes of `request`, which the client is about to send
    /// on `stream` and leave (`executed`).
    pub(super) fn give_up_session(&mut self, stream: &ClientStream, request: Request, sent: usize) {
        let session = std::mem::replace(&mut self.session, self.shared.workload.session(self.id));
        let framer = std::mem::replace(&mut self.framer, self.shared.workload.framer());
        self.shared.buffers.leaving_mid_request(
            stream.local_addr(),
            request,
            sent,
            session,
            framer,
        );
    }

    /// One to three whole requests written at once, then gone before any reply.
    async fn leave_unread(&mut self, mut stream: ClientStream) -> Verdict {
        let (mut bytes, mut ends, mut seams) = (BytesMut::new(), Vec::new(), Vec::new());
        for _ in 0..self.delivery.random_range(1..=3) {
            let Some(request) = self.session.next_request(&mut self.work) else {
                break;
            };
            self.note(format!(
                "request {}, its reply left unread",
                cut(&request.bytes)
            ));
            self.invoked(&request);
            let base = bytes.len();
            seams.extend(request.boundaries.iter().map(|&b| base + b));
            bytes.extend_from_slice(&request.bytes);
            ends.push(bytes.len());
            if request.closes {
                break;
            }
        }
        self.deliver(&mut stream, bytes.freeze(), &ends, &seams, None)
            .await;
        self.record(Event::Disconnect { mid_frame: false });
        self.shared.tally(|t| {
            t.disconnects += 1;
            t.left_unread += 1;
        });
        Ok(())
    }

    /// Connected, silent for `idle_for` (or until the server closes), then gone.
    pub(super) async fn idle(&mut self, mut stream: ClientStream) -> Verdict {
        let promised = self.shared.options.idle_timeout;
        let stay = match promised {
            Some(t) => t + t / 10,
            None => self.shared.options.roles.idle_for,
        };
        let mut scratch = [0u8; 512];
        let until = Instant::now() + stay;
        let why = loop {
            match timeout_at(until, stream.read(&mut scratch)).await {
                Err(_) => match promised {
                    Some(t) if !self.crashed() => {
                        return Err((
                            Oracle::Idle,
                            format!("still open {stay:?} after it connected and said nothing (idle_timeout {t:?})"),
                        ))
                    }
                    _ => break "idle client left",
                },
                Ok(Ok(0)) | Ok(Err(_)) => break "idle client closed by the server",
                Ok(Ok(_)) => {}
            }
        };
        self.record(Event::Closed { why: why.into() });
        self.shared.tally(|t| t.idle += 1);
        Ok(())
    }
}

/// Why replies a server wrote may not have come, for a violation's or a note's text: it
/// closed `stream` with bytes of the client's unread, a reset, which in real TCP too
/// takes the replies in flight with it.
pub(super) fn lost_to_reset(stream: &ClientStream) -> String {
    let unread = unread_at_close(stream);
    if unread == 0 {
        return String::new();
    }
    format!(" (it closed with {unread} byte(s) of the client's unread: a reset, which takes the replies in flight with it; read a request whole, or linger, before closing)")
}

/// Bytes the client wrote on `stream` that the server had not read when it closed it
/// (more than none: a reset); none while it is open.
pub(super) fn unread_at_close(stream: &ClientStream) -> u64 {
    let side = stream.server_side();
    match side.closed_at {
        Some(_) => stream.written().saturating_sub(side.read_at_close),
        None => 0,
    }
}

/// ", holding <bytes>" when part of a reply was read, for a violation's text.
fn held(buf: &BytesMut) -> String {
    if buf.is_empty() {
        String::new()
    } else {
        format!(", holding {}", cut(buf))
    }
}

/// Most bytes of a request or reply a violation shows.
const SHOWN: usize = 96;

/// `bytes` escaped for a violation's one line: the first 96 bytes and the whole length of
/// a longer one (`...` then `(4700 bytes)`), an HTTP `Date` blanked (a server's raw bytes
/// follow the wall clock there, and a transcript must not).
pub(super) fn cut(bytes: &[u8]) -> String {
    // Room past the bytes shown for a `Date` line they cut into.
    let mut shown = bytes[..bytes.len().min(SHOWN + 64)].to_vec();
    super::http::blank_dates(&mut shown);
    if bytes.len() <= SHOWN {
        shown.escape_ascii().to_string()
    } else {
        format!(
            "{}... ({} bytes)",
            shown[..SHOWN].escape_ascii(),
            bytes.len()
        )
    }
}

/// Takes what has come into `buf` while a write waits: all of it, or for a slow reader as
/// much as it reads in [`ABSORB_AFTER`] at its pace.
async fn take_replies(
    stream: &mut ClientStream,
    buf: &mut BytesMut,
    slow: bool,
) -> std::io::Result<usize> {
    if !slow {
        return stream.read_buf(buf).await;
    }
    let most = SLOW_READ * (ABSORB_AFTER.as_micros() / SLOW_PAUSE.as_micros()) as usize;
    let mut chunk = vec![0u8; most];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}
