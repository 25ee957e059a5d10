//! The simulated [`Listener`] as a stream of connections (feature `stream`), for servers
//! that take one: tonic's `Server::serve_with_incoming`, or an accept loop over
//! hyper-util's connection builders written against a `Stream`.

use super::listener::{Connection, Listener};
use futures_core::Stream;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The connections a [`Listener`] accepts, as a [`Stream`] of `io::Result<Connection>`
/// (a failing accept is an `Err` item, and the stream goes on); from
/// [`Listener::incoming`]. It never ends: the server stops taking from it on its shutdown.
pub struct Incoming {
    accept: Pin<Box<dyn Future<Output = (Listener, io::Result<Connection>)> + Send>>,
}

impl Listener {
    /// This listener as a stream of accepted connections.
    pub fn incoming(self) -> Incoming {
        Incoming {
            accept: Box::pin(next(self)),
        }
    }
}

/// Accepts one connection, handing the listener back for the next.
async fn next(mut listener: Listener) -> (Listener, io::Result<Connection>) {
    let accepted = listener.accept().await.map(|(connection, _)| connection);
    (listener, accepted)
}

impl Stream for Incoming {
    type Item = io::Result<Connection>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let (listener, accepted) = std::task::ready!(self.accept.as_mut().poll(cx));
        self.accept = Box::pin(next(listener));
        Poll::Ready(Some(accepted))
    }
}
