use std::future::Future;
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncWrite};

/// A source of connections for [`serve`](crate::serve): real TCP, a simulated network, or
/// anything else that yields byte streams.
pub trait Listener: Send + 'static {
    /// One accepted connection.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Waits for the next connection. Must be cancel-safe: the accept loop races it against
    /// shutdown.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;

    /// Called when `accept` failed for lack of file descriptors: accept one waiting
    /// connection anyway (with a descriptor kept in reserve), write `reply` to it and close
    /// it, so clients are refused rather than left unanswered in the backlog. Returns
    /// whether one was refused; the default (no descriptors to run out of) refuses none.
    fn shed(&mut self, reply: &[u8]) -> impl Future<Output = bool> + Send {
        let _ = reply;
        std::future::ready(false)
    }
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Stream, SocketAddr)> {
        crate::fd_budget::keep_reserve();
        let (stream, peer) = tokio::net::TcpListener::accept(self).await?;
        // Replies are flushed once per batch; Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }

    async fn shed(&mut self, reply: &[u8]) -> bool {
        if !crate::fd_budget::release_reserve() {
            return false;
        }
        // Only a connection already waiting: never wait here with the reserve given up. Outside
        // tokio's cooperative budget, which would otherwise answer "not ready" after a burst.
        let poll_once = std::future::poll_fn(|cx| std::task::Poll::Ready(self.poll_accept(cx)));
        let waiting = tokio::task::unconstrained(poll_once).await;
        let shed = match waiting {
            std::task::Poll::Ready(Ok((stream, _))) => {
                let _ = stream.try_write(reply);
                drop(stream);
                true
            }
            _ => false,
        };
        crate::fd_budget::keep_reserve();
        shed
    }
}
