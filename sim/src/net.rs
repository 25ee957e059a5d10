//! The server's side of the simulated network: turmoil's listener, and a stream adapter that
//! makes reads partial or coalesced, writes short and polls spuriously `Pending`.
//!
//! turmoil delivers each client write as one segment and never splits or merges them, so
//! everything a real kernel does to a byte stream beyond that has to happen here. The
//! adapter's writes also wait on the connection's receive window (`window`), and it feeds
//! the boundary oracles (`oracle::backlog`) every byte that crosses it.

use crate::clock::Clock;
use crate::kv::plan::{Fault, FaultSource, Plans};
use crate::seeds::{self, Draws, Stream};
use crate::transcript::{Actor, Event, Peer, Record, Transcript};
use crate::window::{Windows, DEFAULT_WINDOW};
use bytes::{Buf, BytesMut};
use rand::Rng;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The port the server listens on.
pub const PORT: u16 = 6379;

/// Most bytes a partial read returns.
const MAX_PARTIAL: usize = 8;

/// Most client bytes the adapter takes off the network ahead of the server's reads when it
/// coalesces: about what a kernel's receive buffer would hold for a socket.
const MAX_COALESCED: usize = 16 * 1024;

/// What the stream adapter on the server's side does to each read and write: each a chance
/// per poll.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Chance a read returns fewer bytes than are available (at least one).
    pub partial_read_chance: f64,
    /// Chance a write takes fewer bytes than offered (at least one).
    pub short_write_chance: f64,
    /// Chance a read or write returns `Pending` and wakes itself.
    pub spurious_pending_chance: f64,
    /// Chance a read first takes every client segment already arrived (up to 16 KiB) and
    /// returns them together, ending at any byte: several pipelined frames in one read, a
    /// frame boundary inside it. The rest is kept for the next reads.
    pub coalesce_chance: f64,
    /// Bytes the server may have written to a connection that its client has not read yet;
    /// past it the server's writes wait, as with a full TCP window.
    pub window: usize,
    /// Chance the server's accept fails while a connection waits (the connection stays
    /// waiting): `ECONNABORTED` once, or descriptors or memory out (`EMFILE`, `ENFILE`,
    /// `ENOMEM`) for 1–20 ms, every accept in that time failing alike.
    pub accept_error_chance: f64,
}

impl Faults {
    /// No interference (and a window no well-behaved client fills).
    pub fn none() -> Self {
        Faults {
            partial_read_chance: 0.0,
            short_write_chance: 0.0,
            spurious_pending_chance: 0.0,
            coalesce_chance: 0.0,
            window: DEFAULT_WINDOW,
            accept_error_chance: 0.0,
        }
    }
}

impl Faults {
    /// Every kind of fault at a moderate rate: partial reads 0.3, short writes 0.2, spurious
    /// `Pending` 0.05, coalesced reads 0.3 (the harness's default, and hyper's run).
    pub fn every_kind() -> Self {
        Faults {
            partial_read_chance: 0.3,
            short_write_chance: 0.2,
            spurious_pending_chance: 0.05,
            coalesce_chance: 0.3,
            ..Faults::none()
        }
    }
}

impl Faults {
    /// The harness's default ([`Options::default`](crate::harness::Options::default)):
    /// every kind of fault, failing accepts 0.05, a 64 KiB window. Start from this to change
    /// one fault and keep the others (`Faults { window: 1 << 20, ..Faults::hostile() }`).
    pub fn hostile() -> Self {
        Faults {
            accept_error_chance: 0.05,
            window: 64 * 1024,
            ..Faults::every_kind()
        }
    }
}

/// framesim's own scenarios' default, what a scenario file that leaves a field out gets:
/// partial reads only. Not the harness's: see [`Faults::hostile`].
impl Default for Faults {
    fn default() -> Self {
        Faults {
            partial_read_chance: 0.3,
            ..Faults::none()
        }
    }
}

/// What the boundary oracles hear of one server connection: every byte it reads and
/// writes, and when it shuts its side down. Each poll of the stream first `enter`s its tap,
/// so what the server does next in the same task poll (decode, answer) can be put down to
/// this connection.
pub trait Tap: Send + Sync {
    /// This connection's stream is being polled.
    fn enter(&self);
    /// The server read `bytes` of requests.
    fn read(&self, bytes: &[u8]);
    /// The server wrote `bytes` of replies.
    fn wrote(&self, bytes: &[u8]);
    /// The server shut its side down, or dropped the stream.
    fn shut(&self);
}

/// Hands each accepted connection its [`Tap`].
pub trait Taps: Send + Sync {
    /// The tap of the connection accepted from `peer`.
    fn tap(&self, peer: SocketAddr) -> Box<dyn Tap>;
}

/// What every connection of a run shares beyond its own faults.
#[derive(Clone)]
pub struct Wiring {
    /// Connections accepted so far over the whole run. Shared with the listeners of later
    /// incarnations of the server host: a connection after a restart must not replay the
    /// faults of one before it.
    pub accepted: Arc<AtomicU64>,
    /// Where events go.
    pub transcript: Transcript,
    /// The receive windows, shared with the clients.
    pub windows: Windows,
    /// The boundary oracles.
    pub taps: Arc<dyn Taps>,
    /// Whether connections draw their faults, record them, or play a script's.
    pub plans: Plans,
    /// The accept faults injected over the whole run.
    pub accepts: Arc<AcceptFaults>,
}

/// What the listeners of a run (one per incarnation of the server host) injected into
/// accept, and what the server did about it.
#[derive(Debug, Default)]
pub struct AcceptFaults {
    /// The connection (numbered as [`Wiring::accepted`] counts, from 1) whose accept
    /// drew last: each draws once, whatever the calls it takes to accept it.
    pub(crate) drawn: AtomicU64,
    /// No more faults: set before the connection-limit probe at the end of a run.
    pub(crate) off: AtomicBool,
    /// Accept errors returned.
    pub errors: AtomicU64,
    /// Times the server called accept again at the same virtual instant, past
    /// [`SPIN_LIMIT`] calls, while descriptors were out: it never backed off.
    pub spins: AtomicU64,
}

/// Failed accepts at one virtual instant past which a server is spinning: it retries
/// without waiting while descriptors are out.
pub const SPIN_LIMIT: u32 = 1_000;

/// How long a client's connect may wait in the server's backlog: past it the server has
/// stopped accepting.
pub(crate) const ACCEPT_WAIT: Duration = Duration::from_secs(5);

impl AcceptFaults {
    /// What the server did wrong, worded, if it spun on a failing accept.
    pub(crate) fn spun(&self) -> Option<String> {
        let spins = self.spins.load(Ordering::Relaxed);
        (spins > 0).then(|| format!(
            "the server called accept more than {SPIN_LIMIT} times at one instant while descriptors were out ({spins} times): a server out of descriptors must back off, not spin"
        ))
    }
}

impl Wiring {
    /// Wiring that feeds no oracle and never fills a window: every connection draws its
    /// faults, recorded in `transcript`.
    pub fn plain(transcript: Transcript) -> Self {
        Wiring {
            accepted: Arc::default(),
            transcript,
            windows: Windows::new(usize::MAX, usize::MAX),
            taps: Arc::new(Unheard),
            plans: Plans::Draw,
            accepts: Arc::default(),
        }
    }

    /// Wraps `stream`, accepted from `peer`, as the next connection of the run: its own
    /// RNG ([`Stream::Connection`], by accept order), its window, its tap and its plan.
    pub fn wrap<S>(
        &self,
        stream: S,
        peer: SocketAddr,
        faults: Faults,
        seed: u64,
    ) -> FaultyStream<S> {
        let n = self.accepted.fetch_add(1, Ordering::Relaxed) + 1;
        FaultyStream {
            inner: stream,
            faults,
            rng: seeds::rng(seed, Stream::Connection(n)),
            peer: peer.to_string().into(),
            transcript: self.transcript.clone(),
            held: BytesMut::new(),
            eof: false,
            error: None,
            windows: self.windows.clone(),
            key: peer,
            stalled: false,
            tap: self.taps.tap(peer),
            plan: self.plans.plan(n),
            cut: None,
            read_total: 0,
            clock: Clock::default(),
        }
    }
}

/// A stream whose reads and writes are cut short, merged and delayed at the seed's whim,
/// and whose writes wait while the client's window is full.
pub struct FaultyStream<S> {
    inner: S,
    faults: Faults,
    rng: Draws,
    peer: Peer,
    transcript: Transcript,
    /// Client bytes taken off the network by a coalescing read, not yet returned.
    held: BytesMut,
    /// The client ended its side; returned once `held` is empty.
    eof: bool,
    /// A read error met while coalescing; returned once `held` is empty.
    error: Option<io::Error>,
    windows: Windows,
    /// The client's address: this connection's window.
    key: SocketAddr,
    /// The last write found the window full (recorded once per stall).
    stalled: bool,
    tap: Box<dyn Tap>,
    /// Draw each poll's fault, record it too, or play it from a script.
    plan: FaultSource,
    /// The last read this poll was cut short to (what a recorded plan writes down).
    cut: Option<usize>,
    /// Bytes the server has read: what its window learns when it closes.
    read_total: u64,
    /// The run's time, read on the server's host.
    clock: Clock,
}

/// Hears nothing: the tap of a stream wrapped outside a framesim run.
struct Unheard;

impl Tap for Unheard {
    fn enter(&self) {}
    fn read(&self, _: &[u8]) {}
    fn wrote(&self, _: &[u8]) {}
    fn shut(&self) {}
}

impl Taps for Unheard {
    fn tap(&self, _: SocketAddr) -> Box<dyn Tap> {
        Box::new(Unheard)
    }
}

impl<S> FaultyStream<S> {
    /// Wraps `inner`, a stream that another server accepted from `peer` on turmoil's
    /// network, so that its reads and writes meet `faults`, drawn from `seed`: the same
    /// partial and coalesced reads, short writes and spurious `Pending`s a framesim run
    /// gives its own server, for a server framesim does not run itself.
    ///
    /// Give each connection its own seed, so connections do not replay each other's
    /// faults. The stream feeds no oracle, and its faults go into a transcript of its own
    /// that nobody reads, unless [`with_transcript`](Self::with_transcript) names one.
    /// `faults.window` does not apply: the window needs the client to report what it read,
    /// and a plain turmoil client does not, so only turmoil's own flow control holds the
    /// writes back.
    ///
    /// ```
    /// use framesim::kv::{FaultyStream, Faults};
    ///
    /// async fn accept(listener: &turmoil::net::TcpListener, seed: u64) -> std::io::Result<()> {
    ///     let (stream, peer) = listener.accept().await?;
    ///     let faults = Faults { coalesce_chance: 0.2, ..Faults::default() };
    ///     let stream = FaultyStream::new(stream, peer, faults, seed);
    ///     // Serve `stream`: it is `AsyncRead + AsyncWrite` like the one it wraps.
    ///     drop(stream);
    ///     Ok(())
    /// }
    /// ```
    pub fn new(inner: S, peer: SocketAddr, faults: Faults, seed: u64) -> Self {
        FaultyStream {
            inner,
            faults,
            rng: Draws::seeded(seed),
            peer: peer.to_string().into(),
            transcript: Transcript::new(false),
            held: BytesMut::new(),
            eof: false,
            error: None,
            // Never full, and dropped with the stream: see above.
            windows: Windows::new(usize::MAX, usize::MAX),
            key: peer,
            stalled: false,
            tap: Box::new(Unheard),
            plan: FaultSource::Draw,
            cut: None,
            read_total: 0,
            clock: Clock::default(),
        }
    }

    /// Records every fault this stream injects (as [`Event::PartialRead`],
    /// [`Event::ShortWrite`], [`Event::SpuriousPending`] and [`Event::CoalescedRead`] of
    /// [`Actor::Server`], naming the peer) into `transcript`, so that a run's hash and
    /// counts include them.
    pub fn with_transcript(mut self, transcript: Transcript) -> Self {
        self.transcript = transcript;
        self
    }
}

impl<S> Drop for FaultyStream<S> {
    fn drop(&mut self) {
        // Dropped maybe off its host (a host restarting): turmoil's clock says when.
        let now = crate::clock::now();
        self.windows
            .server_closed(self.key, true, self.read_total, now);
        self.tap.shut();
    }
}

impl<S> FaultyStream<S> {
    /// Records a fault this stream injected (or a stall), by the server.
    fn record(&self, event: Event) {
        let at = self.clock.now();
        self.transcript.push(Record {
            at,
            actor: Actor::Server,
            event,
        });
    }

    /// True (and recorded) when this poll should return a spurious `Pending`.
    fn pending(&mut self, cx: &mut Context<'_>) -> bool {
        let chance = self.faults.spurious_pending_chance;
        if chance > 0.0 && self.rng.random_bool(chance) {
            self.spurious(cx);
            return true;
        }
        false
    }

    /// A spurious `Pending`, recorded, its waker woken at once.
    fn spurious(&mut self, cx: &mut Context<'_>) {
        self.record(Event::SpuriousPending {
            peer: self.peer.clone(),
        });
        cx.waker().wake_by_ref();
    }
}

impl<S: AsyncRead + Unpin> FaultyStream<S> {
    /// Takes every client segment already arrived off the network into `held` (up to
    /// [`MAX_COALESCED`] bytes); notes the end of the stream or an error for later. Returns
    /// how many reads it took.
    fn pull(&mut self, cx: &mut Context<'_>) -> usize {
        let mut pulled = 0;
        while self.held.len() < MAX_COALESCED && !self.eof && self.error.is_none() {
            let mut scratch = [0u8; 4096];
            let mut rb = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => self.eof = true,
                Poll::Ready(Ok(())) => {
                    self.held.extend_from_slice(rb.filled());
                    pulled += 1;
                }
                Poll::Ready(Err(e)) => self.error = Some(e),
                // The inner stream holds our waker: more arrives later.
                Poll::Pending => break,
            }
        }
        pulled
    }

    /// Returns bytes from `held`: a coalescing read ends at any byte, and a partial read
    /// applies here as anywhere.
    fn read_held(&mut self, buf: &mut ReadBuf<'_>, coalesce: bool, pulled: usize, had: usize) {
        let mut n = buf.remaining().min(self.held.len());
        if coalesce && n > 1 {
            n = self.rng.random_range(1..=n);
        }
        let partial = n > 1
            && self.faults.partial_read_chance > 0.0
            && self.rng.random_bool(self.faults.partial_read_chance);
        if partial {
            n = self.rng.random_range(1..=n.min(MAX_PARTIAL));
        }
        self.take_held(buf, n, partial, coalesce, pulled, had);
    }

    /// Returns `n` bytes from `held`, recording a partial or coalesced read as such.
    fn take_held(
        &mut self,
        buf: &mut ReadBuf<'_>,
        n: usize,
        partial: bool,
        coalesce: bool,
        pulled: usize,
        had: usize,
    ) {
        let total = self.held.len();
        if partial {
            self.cut = Some(n);
            self.record(Event::PartialRead {
                peer: self.peer.clone(),
                len: n,
            });
        }
        buf.put_slice(&self.held[..n]);
        self.held.advance(n);
        // Recorded when it differs from a plain read: more than one segment, or cut short.
        if coalesce && (pulled + usize::from(had > 0) > 1 || n < total) {
            self.record(Event::CoalescedRead {
                peer: self.peer.clone(),
                len: n,
                held: total,
            });
        }
    }

    /// A read straight from the network, possibly partial.
    fn read_inner(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let room = buf.remaining();
        let partial = room > 1
            && self.faults.partial_read_chance > 0.0
            && self.rng.random_bool(self.faults.partial_read_chance);
        if !partial {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        let limit = self.rng.random_range(1..room.min(MAX_PARTIAL + 1));
        self.read_limited(cx, buf, limit)
    }

    /// A read straight from the network of at most `limit` (up to [`MAX_PARTIAL`]) bytes.
    fn read_limited(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        limit: usize,
    ) -> Poll<io::Result<()>> {
        // At most 8 bytes, through a small buffer of our own: no unsafe bookkeeping on `buf`.
        let limit = limit.min(MAX_PARTIAL);
        self.cut = Some(limit);
        let mut scratch = [0u8; MAX_PARTIAL];
        let mut small = ReadBuf::new(&mut scratch[..limit]);
        let result = Pin::new(&mut self.inner).poll_read(cx, &mut small);
        if let Poll::Ready(Ok(())) = result {
            let n = small.filled().len();
            buf.put_slice(small.filled());
            if n == limit {
                self.record(Event::PartialRead {
                    peer: self.peer.clone(),
                    len: n,
                });
            }
        }
        result
    }

    /// A read poll played from a script: `fault` instead of draws.
    fn play_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        fault: Fault,
    ) -> Poll<io::Result<()>> {
        let (coalesce, limit, cut) = match fault {
            Fault::Pending => {
                self.spurious(cx);
                return Poll::Pending;
            }
            Fault::Coalesce(limit) => (true, limit, false),
            Fault::CoalesceCut(n) => (true, Some(n), true),
            Fault::Cut(n) => (false, Some(n), true),
            Fault::Plain => (false, None, false),
        };
        let had = self.held.len();
        let pulled = if coalesce { self.pull(cx) } else { 0 };
        if !self.held.is_empty() {
            let all = buf.remaining().min(self.held.len());
            let n = limit.map_or(all, |l| l.min(all));
            self.take_held(buf, n, cut, coalesce, pulled, had);
            Poll::Ready(Ok(()))
        } else if let Some(e) = self.error.take() {
            Poll::Ready(Err(e))
        } else if self.eof {
            Poll::Ready(Ok(()))
        } else if coalesce {
            Poll::Pending
        } else {
            match limit {
                Some(n) if n < buf.remaining() => self.read_limited(cx, buf, n),
                _ => Pin::new(&mut self.inner).poll_read(cx, buf),
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FaultyStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.tap.enter();
        let before = buf.filled().len();
        if let Some(fault) = this.plan.next_read() {
            let result = this.play_read(cx, buf, fault);
            if let Poll::Ready(Ok(())) = result {
                let got = &buf.filled()[before..];
                this.read_total += got.len() as u64;
                this.tap.read(got);
            }
            return result;
        }
        if this.pending(cx) {
            this.plan.drew_read(Fault::Pending);
            return Poll::Pending;
        }
        this.cut = None;
        let coalesce = buf.remaining() > 1
            && this.faults.coalesce_chance > 0.0
            && this.rng.random_bool(this.faults.coalesce_chance);
        let had = this.held.len();
        let pulled = if coalesce { this.pull(cx) } else { 0 };
        let result = if !this.held.is_empty() {
            this.read_held(buf, coalesce, pulled, had);
            Poll::Ready(Ok(()))
        } else if let Some(e) = this.error.take() {
            Poll::Ready(Err(e))
        } else if this.eof {
            Poll::Ready(Ok(()))
        } else if coalesce {
            // `pull` found nothing and left our waker with the inner stream.
            Poll::Pending
        } else {
            this.read_inner(cx, buf)
        };
        let got = buf.filled().len() - before;
        if let Poll::Ready(Ok(())) = result {
            this.read_total += got as u64;
            this.tap.read(&buf.filled()[before..]);
        }
        this.plan.drew_read(match (coalesce, this.cut) {
            (true, Some(_)) if got > 0 => Fault::CoalesceCut(got),
            (true, _) if got > 0 => Fault::Coalesce(Some(got)),
            (true, _) => Fault::Coalesce(None),
            (false, Some(n)) => Fault::Cut(n),
            (false, None) => Fault::Plain,
        });
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FaultyStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.tap.enter();
        let planned = this.plan.next_write();
        match planned {
            Some(Fault::Pending) => {
                this.spurious(cx);
                return Poll::Pending;
            }
            None if this.pending(cx) => {
                this.plan.drew_write(Fault::Pending);
                return Poll::Pending;
            }
            _ => {}
        }
        let offered = data.len();
        let data = match this.windows.room(this.key, cx.waker()) {
            Some(0) if offered > 0 => {
                if !this.stalled {
                    this.stalled = true;
                    this.record(Event::WindowFull {
                        peer: this.peer.clone(),
                        unread: this.windows.unread(this.key),
                    });
                }
                this.plan.drew_write(Fault::Plain);
                return Poll::Pending;
            }
            Some(room) => &data[..offered.min(room)],
            None => data,
        };
        let short = match planned {
            Some(Fault::Cut(n)) if n < data.len() => Some(n),
            Some(_) => None,
            None => {
                let short = data.len() > 1
                    && this.faults.short_write_chance > 0.0
                    && this.rng.random_bool(this.faults.short_write_chance);
                let cut = short.then(|| this.rng.random_range(1..data.len()));
                this.plan.drew_write(cut.map_or(Fault::Plain, Fault::Cut));
                cut
            }
        };
        let mut result = if let Some(len) = short {
            let result = Pin::new(&mut this.inner).poll_write(cx, &data[..len]);
            if let Poll::Ready(Ok(n)) = result {
                this.record(Event::ShortWrite {
                    peer: this.peer.clone(),
                    len: n,
                    of: offered,
                });
            }
            result
        } else {
            Pin::new(&mut this.inner).poll_write(cx, data)
        };
        // turmoil's writer waits for send credits its peer gives back as it reads, and is
        // never woken by the reset a peer that left with bytes unread sends: a write that
        // would wait on a client gone for good fails as that reset would.
        if result.is_pending() && this.windows.client_left(this.key) {
            result = Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        if let Poll::Ready(Ok(n)) = result {
            if n > 0 {
                this.stalled = false;
                this.windows.server_wrote(this.key, n, this.clock.now());
                this.tap.wrote(&data[..n]);
            }
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tap.enter();
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.tap.enter();
        let result = Pin::new(&mut this.inner).poll_shutdown(cx);
        if result.is_ready() {
            this.tap.shut();
            this.windows
                .server_closed(this.key, false, this.read_total, this.clock.now());
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::task::Waker;

    /// A peer that hands over one segment per read, as turmoil does, then ends.
    struct Segments(VecDeque<Vec<u8>>);

    impl AsyncRead for Segments {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if let Some(mut segment) = self.0.pop_front() {
                let n = segment.len().min(buf.remaining());
                buf.put_slice(&segment[..n]);
                if n < segment.len() {
                    self.0.push_front(segment.split_off(n));
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    fn stream(segments: Vec<Vec<u8>>, faults: Faults, seed: u64) -> FaultyStream<Segments> {
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        FaultyStream {
            inner: Segments(segments.into()),
            faults,
            rng: Draws::seeded(seed),
            peer: peer.to_string().into(),
            transcript: Transcript::new(true),
            held: BytesMut::new(),
            eof: false,
            error: None,
            windows: Windows::new(DEFAULT_WINDOW, 64),
            key: peer,
            stalled: false,
            tap: Box::new(Unheard),
            plan: FaultSource::Draw,
            cut: None,
            read_total: 0,
            clock: Clock::default(),
        }
    }

    #[test]
    fn coalesced_reads_keep_every_byte_in_order_and_merge_segments() {
        let segments: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 1 + i as usize % 7]).collect();
        let want: Vec<u8> = segments.concat();
        let faults = Faults {
            coalesce_chance: 0.7,
            partial_read_chance: 0.3,
            ..Faults::none()
        };
        for seed in 0..20 {
            let mut s = stream(segments.clone(), faults, seed);
            let mut cx = Context::from_waker(Waker::noop());
            let (mut got, mut merged) = (Vec::new(), false);
            loop {
                let mut scratch = [0u8; 64];
                let mut rb = ReadBuf::new(&mut scratch);
                match Pin::new(&mut s).poll_read(&mut cx, &mut rb) {
                    Poll::Ready(Ok(())) if rb.filled().is_empty() => break,
                    Poll::Ready(Ok(())) => {
                        let read = rb.filled();
                        merged |= read.windows(2).any(|w| w[0] != w[1]);
                        got.extend_from_slice(read);
                    }
                    other => panic!("seed {seed}: {other:?}"),
                }
            }
            assert_eq!(got, want, "seed {seed}");
            assert!(merged, "seed {seed}: some read spans two segments");
        }
    }
}
