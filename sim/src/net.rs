//! The server's side of the simulated network: turmoil's listener, and a stream adapter that
//! makes reads partial, writes short and polls spuriously `Pending`.
//!
//! turmoil delivers each client write as one segment and never splits one, so everything a
//! real kernel does to a byte stream beyond that has to happen here.

use crate::seeds::{self, Stream};
use crate::transcript::{Actor, Event, Transcript};
use rand::rngs::SmallRng;
use rand::Rng;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The port the server listens on.
pub const PORT: u16 = 6379;

/// Most bytes a partial read returns.
const MAX_PARTIAL: usize = 8;

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
}

impl Faults {
    /// No interference.
    pub fn none() -> Self {
        Faults {
            partial_read_chance: 0.0,
            short_write_chance: 0.0,
            spurious_pending_chance: 0.0,
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            partial_read_chance: 0.3,
            ..Faults::none()
        }
    }
}

/// turmoil's listener as a [`framesim_server::Listener`], wrapping each accepted stream in
/// a [`FaultyStream`] with its own RNG ([`Stream::Connection`], by accept order).
pub struct SimListener {
    inner: turmoil::net::TcpListener,
    faults: Faults,
    seed: u64,
    /// Connections accepted so far in the run. Shared with the listeners of later
    /// incarnations of the server host: a connection after a restart must not replay the
    /// faults of one before it.
    accepted: Arc<AtomicU64>,
    transcript: Transcript,
}

impl SimListener {
    /// Wraps a bound turmoil listener; `accepted` counts connections over the whole run.
    pub fn new(
        inner: turmoil::net::TcpListener,
        faults: Faults,
        seed: u64,
        accepted: Arc<AtomicU64>,
        transcript: Transcript,
    ) -> Self {
        SimListener {
            inner,
            faults,
            seed,
            accepted,
            transcript,
        }
    }
}

impl framesim_server::Listener for SimListener {
    type Stream = FaultyStream<turmoil::net::TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Stream, SocketAddr)> {
        let (stream, peer) = self.inner.accept().await?;
        let n = self.accepted.fetch_add(1, Ordering::Relaxed) + 1;
        let rng = seeds::rng(self.seed, Stream::Connection(n));
        let stream = FaultyStream {
            inner: stream,
            faults: self.faults,
            rng,
            peer: peer.to_string(),
            transcript: self.transcript.clone(),
        };
        Ok((stream, peer))
    }
}

/// A stream whose reads and writes are cut short and delayed at the seed's whim.
pub struct FaultyStream<S> {
    inner: S,
    faults: Faults,
    rng: SmallRng,
    peer: String,
    transcript: Transcript,
}

impl<S> FaultyStream<S> {
    /// True (and recorded) when this poll should return a spurious `Pending`.
    fn pending(&mut self, cx: &mut Context<'_>) -> bool {
        let chance = self.faults.spurious_pending_chance;
        if chance > 0.0 && self.rng.random_bool(chance) {
            self.transcript.record(
                Actor::Server,
                Event::SpuriousPending {
                    peer: self.peer.clone(),
                },
            );
            cx.waker().wake_by_ref();
            return true;
        }
        false
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FaultyStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pending(cx) {
            return Poll::Pending;
        }
        let room = buf.remaining();
        let partial = room > 1
            && this.faults.partial_read_chance > 0.0
            && this.rng.random_bool(this.faults.partial_read_chance);
        if !partial {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        // At most 8 bytes, through a small buffer of our own: no unsafe bookkeeping on `buf`.
        let limit = this.rng.random_range(1..room.min(MAX_PARTIAL + 1));
        let mut scratch = [0u8; MAX_PARTIAL];
        let mut small = ReadBuf::new(&mut scratch[..limit]);
        let result = Pin::new(&mut this.inner).poll_read(cx, &mut small);
        if let Poll::Ready(Ok(())) = result {
            let n = small.filled().len();
            buf.put_slice(small.filled());
            if n == limit {
                this.transcript.record(
                    Actor::Server,
                    Event::PartialRead {
                        peer: this.peer.clone(),
                        len: n,
                    },
                );
            }
        }
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
        if this.pending(cx) {
            return Poll::Pending;
        }
        let short = data.len() > 1
            && this.faults.short_write_chance > 0.0
            && this.rng.random_bool(this.faults.short_write_chance);
        if !short {
            return Pin::new(&mut this.inner).poll_write(cx, data);
        }
        let len = this.rng.random_range(1..data.len());
        let result = Pin::new(&mut this.inner).poll_write(cx, &data[..len]);
        if let Poll::Ready(Ok(n)) = result {
            this.transcript.record(
                Actor::Server,
                Event::ShortWrite {
                    peer: this.peer.clone(),
                    len: n,
                    of: data.len(),
                },
            );
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
