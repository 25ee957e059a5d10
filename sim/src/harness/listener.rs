//! The server's side of a harness run: the listener it accepts from, each connection with
//! the stream faults applied, and the signal to stop.

use crate::net::{Faults, FaultyStream, Wiring};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The simulated listener a server under the harness accepts from. Each accepted stream
/// is a [`Connection`]: partial and coalesced reads, short writes and spurious `Pending`s
/// drawn from the run's seed, recorded in the run's transcript.
///
/// It is a [`framesim_server::Listener`], so anything generic over that serves from it; a
/// server of your own calls [`accept`](Listener::accept). framesim's own server and its
/// fixtures serve from this listener too, under `framesim run`.
pub struct Listener {
    inner: turmoil::net::TcpListener,
    faults: Faults,
    seed: u64,
    wiring: Wiring,
    open: Arc<AtomicUsize>,
}

impl Listener {
    /// Listens on `inner`; `open` counts the connections accepted and not dropped yet.
    pub(crate) fn new(
        inner: turmoil::net::TcpListener,
        faults: Faults,
        seed: u64,
        wiring: Wiring,
        open: Arc<AtomicUsize>,
    ) -> Self {
        Listener {
            inner,
            faults,
            seed,
            wiring,
            open,
        }
    }

    /// Waits for the next client; cancel-safe.
    pub async fn accept(&mut self) -> io::Result<(Connection, SocketAddr)> {
        let (stream, peer) = self.inner.accept().await?;
        // Connection n has the faults of connection n whichever server is under test.
        let inner = self.wiring.wrap(stream, peer, self.faults, self.seed);
        self.open.fetch_add(1, Ordering::Relaxed);
        let open = self.open.clone();
        Ok((Connection { inner, open }, peer))
    }
}

impl framesim_server::Listener for Listener {
    type Stream = Connection;

    async fn accept(&mut self) -> io::Result<(Connection, SocketAddr)> {
        Listener::accept(self).await
    }
}

/// One accepted connection, as the server sees it: an `AsyncRead + AsyncWrite` whose
/// reads and writes meet the run's stream faults. Dropping it closes the connection; the
/// harness counts the connections not dropped yet, which must be none once the clients
/// have left.
pub struct Connection {
    inner: FaultyStream<turmoil::net::TcpStream>,
    open: Arc<AtomicUsize>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Completes when the harness asks the server to stop: once every client has left and the
/// connection checks are done. The server should then return.
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
