//! The server's side of a harness run: the listener it accepts from, each connection with
//! the stream faults applied, and the signal to stop.

use crate::net::{Faults, FaultyStream, Wiring, SPIN_LIMIT};
use crate::seeds::{self, Stream};
use crate::transcript::{Actor, Event, Record};
use rand::Rng;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The simulated listener a server under the harness accepts from. Each accepted stream
/// is a [`Connection`]: partial and coalesced reads, short writes and spurious `Pending`s
/// drawn from the run's seed, recorded in the run's transcript.
///
/// It is a [`framesim_listener::Listener`], so a server of yours generic over that trait
/// serves from it unchanged (or calls [`accept`](Listener::accept) directly). It is a
/// [`framesim_server::Listener`] too, with no descriptor policy: framesim's own server and
/// its fixtures serve from it under `framesim run`.
pub struct Listener {
    inner: turmoil::net::TcpListener,
    faults: Faults,
    seed: u64,
    wiring: Wiring,
    open: Arc<AtomicUsize>,
    /// Every connection accepted, for a crash to close those the server left open.
    accepted: Accepted,
    /// Until when descriptors (or memory) are out, and the error that says so.
    exhausted: Option<(Instant, i32)>,
    /// When the last injected error was returned, and how many were returned then.
    last_error: (Option<Instant>, u32),
}

/// The errors of an exhausted resource a failing accept draws from (the same number on
/// Linux and the BSDs): descriptors of the process, of the system, kernel memory.
const EXHAUSTED: [(i32, &str); 3] = [(24, "EMFILE"), (23, "ENFILE"), (12, "ENOMEM")];

impl Listener {
    /// Listens on `inner`; `open` counts the connections accepted and not dropped yet,
    /// `accepted` keeps them for a crash.
    pub(crate) fn new(
        inner: turmoil::net::TcpListener,
        faults: Faults,
        seed: u64,
        wiring: Wiring,
        open: Arc<AtomicUsize>,
        accepted: Accepted,
    ) -> Self {
        Listener {
            inner,
            faults,
            seed,
            wiring,
            open,
            accepted,
            exhausted: None,
            last_error: (None, 0),
        }
    }

    /// Waits for the next client; cancel-safe. With the scenario's accept faults, may fail
    /// instead (see [`Faults::accept_error_chance`]): the client goes on waiting to be
    /// accepted, as in a real backlog.
    pub async fn accept(&mut self) -> io::Result<(Connection, SocketAddr)> {
        if let Some(error) = self.accept_fault() {
            self.spin_guard().await;
            return Err(error);
        }
        let (stream, peer) = self.inner.accept().await?;
        // Connection n has the faults of connection n whichever server is under test.
        let inner = Arc::new(Mutex::new(Some(self.wiring.wrap(
            stream,
            peer,
            self.faults,
            self.seed,
        ))));
        self.accepted.keep(&inner);
        self.open.fetch_add(1, Ordering::Relaxed);
        let open = self.open.clone();
        Ok((Connection { inner, open }, peer))
    }

    /// The address this listener is bound to, in the simulated network.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Listener {
    /// The error this accept fails with, if it does: the exhaustion in force, else a draw
    /// for the connection it would return (one draw per connection).
    fn accept_fault(&mut self) -> Option<io::Error> {
        if let Some((until, errno)) = self.exhausted {
            if Instant::now() < until {
                // Counted, not recorded again: the transcript has the exhaustion's start.
                self.wiring.accepts.errors.fetch_add(1, Ordering::Relaxed);
                return Some(io::Error::from_raw_os_error(errno));
            }
            self.exhausted = None;
        }
        let accepts = &self.wiring.accepts;
        let chance = self.faults.accept_error_chance;
        if chance <= 0.0 || accepts.off.load(Ordering::Relaxed) {
            return None;
        }
        let next = self.wiring.accepted.load(Ordering::Relaxed) + 1;
        if accepts.drawn.swap(next, Ordering::Relaxed) == next {
            return None;
        }
        let mut rng = seeds::rng(self.seed, Stream::Accept(next));
        if !rng.random_bool(chance) {
            return None;
        }
        // One in four: a connection aborted before it was accepted, this call only.
        if rng.random_range(0..4) == 0 {
            return Some(self.failed(io::ErrorKind::ConnectionAborted.into(), "ECONNABORTED"));
        }
        let (errno, name) = EXHAUSTED[rng.random_range(0..EXHAUSTED.len())];
        let lasts = Duration::from_millis(rng.random_range(1..=20));
        self.exhausted = Some((Instant::now() + lasts, errno));
        Some(self.failed(io::Error::from_raw_os_error(errno), name))
    }

    /// Counts and records an injected accept error, `name` (for an exhaustion, its first).
    fn failed(&self, error: io::Error, name: &'static str) -> io::Error {
        self.wiring.accepts.errors.fetch_add(1, Ordering::Relaxed);
        self.wiring.transcript.push(Record {
            at: crate::clock::now(),
            actor: Actor::Server,
            event: Event::AcceptFailed { error: name },
        });
        error
    }

    /// A server that calls accept again and again at one instant while descriptors are out
    /// never gives the run a chance to go on: past [`SPIN_LIMIT`] such calls the spin is
    /// counted (the `[accept]` oracle) and this accept waits out the exhaustion.
    async fn spin_guard(&mut self) {
        let now = Instant::now();
        let (at, calls) = &mut self.last_error;
        if *at == Some(now) {
            *calls += 1;
        } else {
            (*at, *calls) = (Some(now), 1);
        }
        if *calls > SPIN_LIMIT {
            if let Some((until, _)) = self.exhausted {
                self.wiring.accepts.spins.fetch_add(1, Ordering::Relaxed);
                self.last_error = (None, 0);
                tokio::time::sleep_until(until).await;
            }
        }
    }
}

impl framesim_listener::Listener for Listener {
    type Stream = Connection;

    async fn accept(&mut self) -> io::Result<(Connection, SocketAddr)> {
        Listener::accept(self).await
    }
}

impl framesim_server::Listener for Listener {}

/// One accepted connection, as the server sees it: an `AsyncRead + AsyncWrite` whose
/// reads and writes meet the run's stream faults. Dropping it closes the connection; the
/// harness counts the connections not dropped yet, which must be none once the clients
/// have left.
pub struct Connection {
    /// The stream, until the server drops the connection or a crash closes it.
    inner: Slot,
    open: Arc<AtomicUsize>,
}

/// A connection's stream, shared with the [`Accepted`] that may close it.
type Slot = Arc<Held>;

/// A connection's stream, or nothing once dropped by a crash.
type Held = Mutex<Option<SimStream>>;

/// A connection's stream: turmoil's, with the run's faults.
type SimStream = FaultyStream<turmoil::net::TcpStream>;

/// The connections one server host accepted, in accept order. A crash closes every one the
/// server left open (tasks it spawned and never ended), in that order, before the host
/// goes: the runtime dropping them would close them in the order tokio files its tasks, by
/// a process-wide task id that other runs in the same process sway, and a seed would get
/// two transcripts.
#[derive(Clone, Default)]
pub(crate) struct Accepted(Arc<Mutex<Vec<Weak<Held>>>>);

impl Accepted {
    /// Keeps `slot`, last; forgets the connections already dropped as the list doubles.
    fn keep(&self, slot: &Slot) {
        let mut kept = lock(&self.0);
        if kept.len() >= 64 && kept.len().is_power_of_two() {
            kept.retain(|weak| weak.strong_count() > 0);
        }
        kept.push(Arc::downgrade(slot));
    }

    /// Closes every connection still open, first accepted first; the server's reads and
    /// writes on them fail from then on. Called on the server's host, whose network the
    /// closes go out on.
    pub(crate) fn close_all(&self) {
        let kept = std::mem::take(&mut *lock(&self.0));
        for slot in kept.iter().filter_map(Weak::upgrade) {
            let stream = lock(&slot).take();
            drop(stream);
        }
    }
}

/// `mutex` locked; a panic that poisoned it left the stream as usable as any other.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Connection {
    /// Runs `io` on the stream, or fails as a closed connection does once a crash closed it.
    fn with<T>(
        &self,
        io: impl FnOnce(Pin<&mut SimStream>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match lock(&self.inner).as_mut() {
            Some(stream) => io(Pin::new(stream)),
            None => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

/// Names the connection and whether a crash has closed it (a server that derives `Debug`
/// over the stream it holds stays unchanged).
impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("closed_by_crash", &lock(&self.inner).is_none())
            .finish()
    }
}

/// Names the listener's address.
impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("local_addr", &self.inner.local_addr().ok())
            .finish()
    }
}

/// Opaque: the signal to stop.
impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shutdown")
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.with(|stream| stream.poll_read(cx, buf))
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.with(|stream| stream.poll_write(cx, data))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|stream| stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|stream| stream.poll_shutdown(cx))
    }
}

/// Completes when the harness asks the server to stop: once every client has left and the
/// connection checks are done, and at [`Options::restart_at`](super::Options::restart_at)
/// (a graceful restart, or with no grace a crash; the server is then started again). The
/// server should then return, having finished what it began to read within the grace.
pub struct Shutdown(Pin<Box<dyn Future<Output = ()> + Send>>);

impl Shutdown {
    pub(crate) fn new(signal: Arc<tokio::sync::Notify>) -> Self {
        Shutdown(Box::pin(async move { signal.notified().await }))
    }
}

impl Future for Shutdown {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}
