//! A server that takes its connections as a stream (tonic's `serve_with_incoming`, an
//! accept loop over hyper-util written against `Stream`) runs under the harness from
//! `Listener::incoming` (framesim's `stream` feature).

use framesim::harness::http::{self, Response};
use framesim::harness::{Draws, Harness, Options, Request, Session, Workload};
use futures_core::Stream;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// hyper serving `hello` to every request, from any stream of connections.
async fn serve<S, C>(incoming: S, shutdown: impl Future<Output = ()>)
where
    S: Stream<Item = io::Result<C>>,
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let hello = hyper::service::service_fn(|_| async {
        Ok::<_, hyper::Error>(hyper::Response::new(http_body_util::Full::new(
            bytes::Bytes::from_static(b"hello"),
        )))
    });
    let mut incoming = std::pin::pin!(incoming);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let next = std::future::poll_fn(|cx| incoming.as_mut().poll_next(cx));
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = next => match accepted {
                Some(Ok(stream)) => {
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_millis(500))
                        .half_close(true)
                        .serve_connection(TokioIo::new(stream), hello);
                    connections.spawn(async move { drop(connection.await) });
                }
                Some(Err(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
                None => break,
            },
        }
    }
    connections.shutdown().await;
}

struct Hello;

impl Workload for Hello {
    fn session(&self, _client: usize) -> Box<dyn Session> {
        Box::new(Gets(6))
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(http::framer())
    }
}

struct Gets(usize);

impl Session for Gets {
    fn next_request(&mut self, _rng: &mut Draws) -> Option<Request> {
        self.0 = self.0.checked_sub(1)?;
        Some(http::HttpRequest::get("/").to_request())
    }

    fn check_reply(&mut self, _request: &Request, reply: &[u8]) -> Result<(), String> {
        let response = Response::of(reply)?;
        match (response.status, &response.body[..]) {
            (200, b"hello") => Ok(()),
            (status, body) => Err(format!("{status} {}", body.escape_ascii())),
        }
    }
}

#[test]
fn hyper_serves_from_the_listeners_stream_of_connections() {
    let harness = Harness::new(
        |listener, shutdown| serve(listener.incoming(), shutdown),
        Hello,
    )
    .with(Options {
        clients: 12,
        ..Options::default()
    });
    let tally = framesim::sweep!(harness, 0..4);
    assert_eq!(tally.replies, tally.requests);
    assert!(tally.replies > 0 && tally.slowloris_cut > 0);
}

#[test]
fn the_stream_yields_a_failing_accept_and_goes_on() {
    let harness = Harness::new(
        |listener, shutdown| serve(listener.incoming(), shutdown),
        Hello,
    )
    .with(Options {
        clients: 12,
        faults: framesim::harness::Faults {
            accept_error_chance: 0.5,
            ..Options::default().faults
        },
        ..Options::default()
    });
    let outcome = harness.replay(1);
    assert!(outcome.passed(), "{}", outcome.summary());
    assert!(
        outcome.render().contains("accept-failed"),
        "no failing accept"
    );
}
