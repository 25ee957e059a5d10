//! The receive window both ends of a simulated connection share.
//!
//! turmoil's own flow control counts segments, and its capacity is also the accept backlog
//! (sized to the clients), so a client that never reads would absorb every reply. Here the
//! server's stream adapter asks [`Windows`] how much it may write, and each client's
//! [`ClientStream`] tells it what the client read: a client that stops reading makes the
//! server's writes wait, as a full TCP window does.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes the server may write to a connection that its client has not read yet, unless the
/// scenario says otherwise: large enough that no well-behaved client ever fills it.
pub const DEFAULT_WINDOW: usize = 256 * 1024;

/// The receive windows of a run's connections, shared by the server's streams and the
/// clients, keyed by the client's address (the server's peer address). One per run; every
/// host runs on one thread. Nothing ever walks the table, so its order cannot leak into a
/// run; it is looked up on every read and write, hence a hash table with a cheap hasher
/// (a search tree of ten thousand addresses showed in profiles).
#[derive(Clone)]
pub struct Windows(Arc<Mutex<WindowTable>>);

struct WindowTable {
    limits: WindowLimits,
    connections: HashMap<SocketAddr, Window, BuildHasherDefault<AddrHasher>>,
}

/// A multiply-rotate hash (FxHash's) for socket addresses: keys come from turmoil, not
/// from anyone choosing collisions, and SipHash would cost more than the lookup.
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// What a client may leave unread before the server's writes wait.
#[derive(Clone, Copy)]
struct WindowLimits {
    bytes: usize,
    segments: usize,
}

/// One connection's window.
#[derive(Default)]
struct Window {
    /// Bytes the server wrote.
    written: u64,
    /// Bytes the client read.
    read: u64,
    /// Bytes of each segment the server wrote that the client has not read to its end,
    /// oldest first.
    unread: VecDeque<usize>,
    /// The server's writer, waiting for the client to read.
    writer: Option<Waker>,
    /// Virtual time of the server's last write.
    last_write: Duration,
    /// Virtual time the server shut its side down or dropped it.
    closed_at: Option<Duration>,
    /// Request bytes the server had read when it first shut its side down or dropped it
    /// (what it reads after its shutdown it cannot answer: a linger discarding them).
    read_at_close: u64,
    server_gone: bool,
    client_gone: bool,
}

/// What a client can learn of the server's side of its connection from the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSide {
    /// Virtual time the server last wrote to the connection (zero if never).
    pub last_write: Duration,
    /// Virtual time the server shut its side down or dropped it, if it has.
    pub closed_at: Option<Duration>,
    /// Bytes of the client's requests the server had read by then (zero while open).
    pub read_at_close: u64,
}

impl ServerSide {
    /// Whether the server broke a graceful shutdown's promise on this connection, the
    /// shutdown begun at `at` with `grace` (zero: a crash, which promises nothing): closed
    /// after `at` and before the grace ran out, having read at least the first byte of the
    /// unanswered request at `request` (its offsets on the connection). The broken promise,
    /// worded, if it did.
    pub(crate) fn dropped_in_drain(
        &self,
        request: std::ops::Range<u64>,
        at: Duration,
        grace: Duration,
    ) -> Option<String> {
        let closed = self.closed_at?;
        if grace.is_zero()
            || self.read_at_close <= request.start
            || closed < at
            || closed >= at + grace
        {
            return None;
        }
        let read = self.read_at_close.min(request.end) - request.start;
        Some(format!(
            "the server closed the connection {:?} into a graceful shutdown with {grace:?} of grace, having read {read} of the {} bytes of a request it never answered",
            closed - at,
            request.end - request.start
        ))
    }
}

impl Windows {
    /// Windows of `size` bytes, on streams whose turmoil capacity is `capacity` segments.
    ///
    /// turmoil hands a stream's segments to its reader through a channel of `capacity`
    /// segments, and a FIN that finds it full waits in a reorder buffer that is only looked
    /// at again when another segment arrives: a server that fills the channel and then
    /// closes would leave its client waiting forever. Each window also holds the server to
    /// one segment less than that, so its writes never block in turmoil and its FIN always
    /// gets through.
    pub fn new(size: usize, capacity: usize) -> Self {
        Windows(Arc::new(Mutex::new(WindowTable {
            limits: WindowLimits {
                bytes: size.max(1),
                segments: capacity.saturating_sub(1).max(1),
            },
            connections: HashMap::default(),
        })))
    }

    fn with<T>(&self, key: SocketAddr, f: impl FnOnce(&mut Window, WindowLimits) -> T) -> T {
        let mut table = self.0.lock().expect("window lock");
        let limits = table.limits;
        let window = table.connections.entry(key).or_default();
        let out = f(window, limits);
        // Gone from both ends: a later connection from the same address starts afresh.
        if window.server_gone && window.client_gone {
            table.connections.remove(&key);
        }
        out
    }

    /// The client of `key` read `n` bytes: room for the server's writer.
    fn client_read(&self, key: SocketAddr, n: usize) {
        let writer = self.with(key, |w, _| {
            w.read += n as u64;
            let mut left = n;
            while left > 0 {
                let Some(front) = w.unread.front_mut() else {
                    break;
                };
                let taken = left.min(*front);
                *front -= taken;
                left -= taken;
                if *front == 0 {
                    w.unread.pop_front();
                }
            }
            w.writer.take()
        });
        if let Some(writer) = writer {
            writer.wake();
        }
    }

    /// The client of `key` dropped its stream.
    fn client_gone(&self, key: SocketAddr) {
        let writer = self.with(key, |w, _| {
            w.client_gone = true;
            w.writer.take()
        });
        // A writer waiting on a client that left goes on to find the connection reset.
        if let Some(writer) = writer {
            writer.wake();
        }
    }

    /// Bytes the server may write now (waker stored when none); `None` once the client is
    /// gone, so the writer learns of the reset from the network.
    pub(crate) fn room(&self, key: SocketAddr, waker: &Waker) -> Option<usize> {
        self.with(key, |w, limits| {
            if w.client_gone {
                return None;
            }
            let room = if w.unread.len() >= limits.segments {
                0
            } else {
                (limits.bytes as u64).saturating_sub(w.written - w.read) as usize
            };
            if room == 0 {
                w.writer = Some(waker.clone());
            }
            Some(room)
        })
    }

    /// Whether the server's writes to the client of `key` wait now: its window is full.
    pub(crate) fn full(&self, key: SocketAddr) -> bool {
        self.with(key, |w, limits| {
            !w.client_gone
                && (w.unread.len() >= limits.segments || w.written - w.read >= limits.bytes as u64)
        })
    }

    /// Whether the client of `key` dropped its stream.
    pub(crate) fn client_left(&self, key: SocketAddr) -> bool {
        self.with(key, |w, _| w.client_gone)
    }

    /// Bytes the server wrote that the client of `key` has not read.
    pub(crate) fn unread(&self, key: SocketAddr) -> u64 {
        self.with(key, |w, _| w.written - w.read)
    }

    /// Whether the server has written more than `greeting` bytes to the client of `key`,
    /// or shut its side.
    pub(crate) fn answered(&self, key: SocketAddr, greeting: u64) -> bool {
        self.with(key, |w, _| w.written > greeting || w.closed_at.is_some())
    }

    /// Bytes the server has written to the client of `key`.
    pub(crate) fn written(&self, key: SocketAddr) -> u64 {
        self.with(key, |w, _| w.written)
    }

    /// The server wrote `n` bytes to the client of `key`, as one segment, at `now`.
    pub(crate) fn server_wrote(&self, key: SocketAddr, n: usize, now: Duration) {
        self.with(key, |w, _| {
            w.written += n as u64;
            w.unread.push_back(n);
            w.last_write = now;
        });
    }

    /// The server shut its side of `key` down, or dropped it (`gone`), having read `read`
    /// bytes from it, at `now`.
    pub(crate) fn server_closed(&self, key: SocketAddr, gone: bool, read: u64, now: Duration) {
        self.with(key, |w, _| {
            if w.closed_at.is_none() {
                w.closed_at = Some(now);
                w.read_at_close = read;
            }
            w.server_gone |= gone;
        });
    }

    /// What the client of `key` can know of the server's side.
    pub(crate) fn server_side(&self, key: SocketAddr) -> ServerSide {
        self.with(key, |w, _| ServerSide {
            last_write: w.last_write,
            closed_at: w.closed_at,
            read_at_close: w.read_at_close,
        })
    }
}

/// A client's connection: turmoil's stream, reporting every byte read to the window so the
/// server's writes can go on (or a real TCP stream, in a run against a real server).
pub struct ClientStream {
    inner: Wire,
    windows: Windows,
    local: SocketAddr,
    /// Bytes written on it so far.
    written: u64,
    /// Bytes read from it so far.
    read: u64,
}

/// The stream under a [`ClientStream`].
enum Wire {
    /// turmoil's simulated network.
    Sim(turmoil::net::TcpStream),
    /// A real socket (`framesim run --against`).
    Real(tokio::net::TcpStream),
}

impl ClientStream {
    /// Wraps a connected stream; its local address keys its window.
    pub fn new(inner: turmoil::net::TcpStream, windows: Windows) -> Self {
        let local = inner
            .local_addr()
            .expect("a connected turmoil stream knows its address");
        ClientStream {
            inner: Wire::Sim(inner),
            windows,
            local,
            written: 0,
            read: 0,
        }
    }

    /// Wraps a real connected socket. Nothing on the server's side reports to `windows`
    /// over a real network: its view of the server stays empty.
    pub fn real(inner: tokio::net::TcpStream, windows: Windows) -> std::io::Result<Self> {
        let local = inner.local_addr()?;
        Ok(ClientStream {
            inner: Wire::Real(inner),
            windows,
            local,
            written: 0,
            read: 0,
        })
    }

    /// The local address (the server's peer address for this connection).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Bytes the client has written on this connection: where its next request starts.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes the client has read from this connection.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// What the window knows of the server's side: when it last wrote, whether it closed.
    /// Lets a client that reads nothing see the server give up on it.
    pub fn server_side(&self) -> ServerSide {
        self.windows.server_side(self.local)
    }
}

impl Drop for ClientStream {
    fn drop(&mut self) {
        self.windows.client_gone(self.local);
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = match &mut self.inner {
            Wire::Sim(s) => Pin::new(s).poll_read(cx, buf),
            Wire::Real(s) => Pin::new(s).poll_read(cx, buf),
        };
        let n = buf.filled().len() - before;
        if n > 0 {
            self.read += n as u64;
            self.windows.client_read(self.local, n);
        }
        result
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = match &mut self.inner {
            Wire::Sim(s) => Pin::new(s).poll_write(cx, data),
            Wire::Real(s) => Pin::new(s).poll_write(cx, data),
        };
        if let Poll::Ready(Ok(n)) = result {
            self.written += n as u64;
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Wire::Sim(s) => Pin::new(s).poll_flush(cx),
            Wire::Real(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Wire::Sim(s) => Pin::new(s).poll_shutdown(cx),
            Wire::Real(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_follows_unread_bytes_and_segments() {
        let windows = Windows::new(10, 4);
        let key: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let waker = Waker::noop();
        assert_eq!(windows.room(key, waker), Some(10));
        windows.server_wrote(key, 6, Duration::ZERO);
        assert_eq!(windows.room(key, waker), Some(4));
        windows.client_read(key, 3);
        assert_eq!(windows.room(key, waker), Some(7));
        // Three unread segments (the rest of the first and two more) fill turmoil's channel
        // but one, however few their bytes.
        windows.server_wrote(key, 1, Duration::ZERO);
        windows.server_wrote(key, 1, Duration::ZERO);
        assert_eq!(windows.room(key, waker), Some(0));
        windows.client_read(key, 3);
        assert_eq!(windows.room(key, waker), Some(8));
        windows.client_gone(key);
        assert_eq!(windows.room(key, waker), None);
    }
}
