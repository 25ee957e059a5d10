//! The one trait your tokio server accepts connections through, so framesim can run it
//! unchanged under simulation; real TCP in production.
//!
//! Write the accept loop against [`Listener`] instead of [`tokio::net::TcpListener`]:
//!
//! ```
//! use framesim_listener::Listener;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! /// Echoes every connection back: nothing here names a socket type.
//! async fn serve(mut listener: impl Listener) -> std::io::Result<()> {
//!     loop {
//!         let (mut stream, _peer) = listener.accept().await?;
//!         tokio::spawn(async move {
//!             let mut buf = [0; 1024];
//!             while let Ok(n @ 1..) = stream.read(&mut buf).await {
//!                 if stream.write_all(&buf[..n]).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! // In production: real TCP.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(serve(listener));
//!
//! let mut client = tokio::net::TcpStream::connect(addr).await?;
//! client.write_all(b"hello").await?;
//! let mut echo = [0; 5];
//! client.read_exact(&mut echo).await?;
//! assert_eq!(&echo, b"hello");
//! # Ok(())
//! # }
//! ```
//!
//! In tests, framesim's harness hands the same `serve` its simulated listener, whose
//! streams deliver bytes in seeded chunks, write short and fail accepts; the server is the
//! one you ship. This crate depends on tokio (feature `net`) only.

#![deny(missing_docs)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncWrite};

/// A source of connections: real TCP ([`tokio::net::TcpListener`]), a simulated network, or
/// anything else that yields byte streams.
pub trait Listener: Send + 'static {
    /// One accepted connection.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Waits for the next connection and returns it with its peer's address.
    ///
    /// Must be cancel-safe: an accept loop races it against shutdown in `tokio::select!`,
    /// and dropping the future before it completes must lose no connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
}

/// Real TCP: tokio's accept (cancel-safe), with `TCP_NODELAY` set on each stream.
impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Stream, SocketAddr)> {
        let (stream, peer) = tokio::net::TcpListener::accept(self).await?;
        // Servers write replies in batches; Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }
}
