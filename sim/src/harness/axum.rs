//! The simulated [`Listener`] as an [`axum::serve::Listener`] (feature `axum`): an axum app
//! served by `axum::serve(listener, app)` runs under the harness unchanged.

use super::listener::{Connection, Listener};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Accepts as axum's own `TcpListener` does: an error that belongs to one connection
/// (aborted, reset, refused) is passed over at once; any other (descriptors or memory out)
/// waits a second before the next accept. The harness's failing accepts therefore meet
/// axum's own policy, as they would in production.
impl axum::serve::Listener for Listener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        loop {
            match Listener::accept(self).await {
                Ok(accepted) => return accepted,
                Err(e) if one_connection(&e) => {}
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Listener::local_addr(self)
    }
}

/// Whether `e` is the failure of one connection rather than of the listener.
fn one_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}
