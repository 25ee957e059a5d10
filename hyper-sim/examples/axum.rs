//! An axum 0.8 app under the harness, unchanged: a key-value store over HTTP/1.1
//! (`PUT /kv/{key}` stores the body, `GET /kv/{key}` answers it or 404), its state an
//! `Arc<Mutex<HashMap>>`.
//!
//! Served the way axum's guide serves it, `axum::serve(listener, app)`, it has no
//! deadline on a request's head: a client that trickles one holds its connection (and
//! its task and buffers) as long as it likes, and the default sweep's slowloris client
//! catches it. Served by hyper's own connection builder with a header-read timeout, the
//! same app passes.
//!
//! `cargo run -p framesim-hyper --example axum -- sweep --jobs 2` sweeps it from
//! its own command line (`AXUM_SERVE=1` for the `axum::serve` variant);
//! `cargo test -p framesim-hyper --example axum` runs the tests below.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use framesim::harness::http::{self, Body, Response};
use framesim::harness::Rng;
use framesim::harness::{Draws, Harness, Options, Request, Session, Workload};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the server waits for a request's head.
const HEAD_TIMEOUT: Duration = Duration::from_millis(500);

type Db = Arc<Mutex<HashMap<String, Bytes>>>;

/// The app: what a user writes, with no framesim in it.
fn app() -> Router {
    async fn put(State(db): State<Db>, Path(key): Path<String>, body: Bytes) -> StatusCode {
        db.lock().expect("db").insert(key, body);
        StatusCode::NO_CONTENT
    }
    async fn read(State(db): State<Db>, Path(key): Path<String>) -> Result<Bytes, StatusCode> {
        let value = db.lock().expect("db").get(&key).cloned();
        value.ok_or(StatusCode::NOT_FOUND)
    }
    Router::new()
        .route("/kv/{key}", get(read).put(put))
        .with_state(Db::default())
}

/// The app served by `axum::serve`, from any `axum::serve::Listener` (a
/// `tokio::net::TcpListener` in production, framesim's simulated one under test).
pub async fn serve_axum(
    listener: impl axum::serve::Listener<Addr = std::net::SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    axum::serve(listener, app())
        .with_graceful_shutdown(shutdown)
        .await
        .expect("axum::serve");
}

/// The same app served by hyper's HTTP/1.1 builder, with a deadline on each request's
/// head, from any `framesim_listener::Listener`.
pub async fn serve_with_head_timeout(
    mut listener: impl framesim_listener::Listener,
    shutdown: impl Future<Output = ()>,
) {
    let app = app();
    let graceful = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEAD_TIMEOUT)
                        // Answer a client that shut its writing side after its request.
                        .half_close(true)
                        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
                    let connection = graceful.watch(connection);
                    connections.spawn(async move { drop(connection.await) });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    graceful.shutdown().await;
    connections.shutdown().await;
}

/// Each client PUTs and GETs keys of its own; its model is its own map.
struct Kv;

impl Workload for Kv {
    fn session(&self, client: usize) -> Box<dyn Session> {
        Box::new(Client {
            id: client,
            left: 12,
            mine: HashMap::new(),
        })
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(http::framer())
    }
}

struct Client {
    id: usize,
    left: usize,
    mine: HashMap<String, Vec<u8>>,
}

impl Session for Client {
    fn next_request(&mut self, rng: &mut Draws) -> Option<Request> {
        self.left = self.left.checked_sub(1)?;
        let path = format!("/kv/c{}-{}", self.id, rng.random_range(0..4));
        let request = if rng.random_bool(0.5) {
            let value: Vec<u8> = (0..rng.random_range(0..600))
                .map(|_| rng.random_range(b'a'..=b'z'))
                .collect();
            http::HttpRequest {
                method: "PUT",
                ..http::HttpRequest::post(path, Body::Length(value))
            }
        } else {
            http::HttpRequest::get(path)
        };
        Some(request.to_request())
    }

    fn check_reply(&mut self, request: &Request, reply: &[u8]) -> Result<(), String> {
        let response = Response::of(reply)?;
        let wire = &request.bytes[..];
        let line = wire.split(|&b| b == b'\r').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let mut words = line.split(' ');
        let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let (status, body) = if method == "PUT" {
            let head = wire
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |at| at + 4);
            self.mine.insert(path.to_string(), wire[head..].to_vec());
            (204, Vec::new())
        } else {
            match self.mine.get(path) {
                Some(value) => (200, value.clone()),
                None => (404, Vec::new()),
            }
        };
        if (response.status, &response.body) != (status, &body) {
            return Err(format!(
                "{method} {path}: expected {status} with {} body byte(s), got {} with {}",
                body.len(),
                response.status,
                response.body.len()
            ));
        }
        Ok(())
    }

    /// A head with a header line that is not one.
    fn malformed(&mut self, _rng: &mut Draws) -> Option<Request> {
        Some(Request::new(&b"GET /kv/a HTTP/1.1\r\nHost server\r\n\r\n"[..]).with_boundaries([20]))
    }

    /// `400 Bad Request`.
    fn check_error(&mut self, _request: &Request, reply: &[u8]) -> Result<(), String> {
        match Response::of(reply)?.status {
            400 => Ok(()),
            status => Err(format!("expected 400, got {status}")),
        }
    }

    /// A head larger than the limit.
    fn oversized(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        Some(http::HttpRequest::oversized(size).to_request())
    }
}

/// The app under the harness, hostile by default, served by `axum::serve` or with a head
/// timeout.
fn harness(axum_serve: bool) -> Harness {
    let options = Options {
        // hyper refuses a head past its read buffer (about 400 KiB).
        max_request: 400 * 1024,
        ..Options::default()
    };
    let harness = if axum_serve {
        Harness::new(serve_axum, Kv)
    } else {
        Harness::new(serve_with_head_timeout, Kv)
    };
    harness.with(options)
}

fn main() -> std::process::ExitCode {
    framesim::harness::cli::main(harness(std::env::var_os("AXUM_SERVE").is_some()))
}

#[test]
fn the_app_with_a_head_timeout_passes_a_hostile_sweep() {
    let tally = framesim::sweep!(harness(false));
    assert_eq!(tally.requests, tally.replies);
    assert!(tally.slowloris_cut > 0 && tally.oversized_refused > 0 && tally.half_closed > 0);
}

/// What a default sweep finds in `axum::serve`: it cannot be given a deadline on a request's
/// head (`[slowloris]`), nor told to answer a client that half-closes after its request
/// (`[half-close]`: hyper's default, which `axum::serve` does not expose).
#[test]
fn served_by_axum_serve_a_default_sweep_finds_the_slowloris_and_the_half_close() {
    let sweep = std::panic::AssertUnwindSafe(|| framesim::sweep!(harness(true)));
    let panic = std::panic::catch_unwind(sweep).expect_err("axum::serve passed");
    let message = panic.downcast_ref::<String>().expect("a message");
    assert!(message.contains("| replay: "), "{message}");
    let mut found = std::collections::BTreeSet::new();
    for seed in framesim::harness::DEFAULT_SEEDS {
        let outcome = harness(true).run(seed);
        found.extend(outcome.violations.iter().map(|v| v.oracle.name()));
    }
    assert!(
        found.contains("slowloris") && found.contains("half-close"),
        "{found:?}"
    );
}

/// What a graceful restart finds in hyper's own shutdown: `graceful_shutdown` closes a
/// connection whose request it has begun to read, at once, rather than answering it within
/// the grace (`[drain]`), however the app is served.
#[test]
fn a_graceful_restart_finds_hyper_closing_a_request_half_read() {
    let options = Options {
        restart_at: Some(Duration::from_millis(100)),
        restart_grace: Duration::from_secs(1),
        ..harness(false).options().clone()
    };
    let drained = (0..8).any(|seed| {
        let outcome = harness(false).with(options.clone()).run(seed);
        outcome
            .violations
            .iter()
            .any(|v| v.oracle.name() == "drain")
    });
    assert!(drained, "no [drain] in 8 seeds");
}
