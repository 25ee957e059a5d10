//! hyper's HTTP/1.1 server as a user writes it: an accept loop over any
//! [`framesim_listener::Listener`] (a `tokio::net::TcpListener` in production, framesim's
//! simulated one under test), each connection served by `http1::Builder::serve_connection`
//! with the [`model`]'s handler.

use crate::config::{Config, MIN_BUF_SIZE};
use crate::model;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::time::Duration;

/// Serves every connection `listener` accepts until `shutdown` completes, then drops them
/// all and returns. A failing accept is passed over after 10 ms.
pub async fn serve(
    mut listener: impl framesim_listener::Listener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .pipeline_flush(config.pipeline_flush)
        .half_close(config.half_close)
        .header_read_timeout(config.header_timeout)
        .max_buf_size(config.max_buf_size.max(MIN_BUF_SIZE));
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            // Finished connections are let go of as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let connection =
                        builder.serve_connection(TokioIo::new(stream), service_fn(model::handle));
                    connections.spawn(async move { drop(connection.await) });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    connections.shutdown().await;
}
