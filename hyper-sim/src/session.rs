//! The clients' side: a [`Workload`] of HTTP/1.1 requests for the [`model`]'s handler, and
//! the [`Session`] that draws them and judges every reply with the model.

use crate::model;
use bytes::Bytes;
use framesim::harness::http::{self, Body, Response};
use framesim::harness::Rng;
use framesim::harness::{Draws, ReplyFramer, Request, Session, Workload};
use std::collections::{BTreeMap, VecDeque};

/// The path of the large reply a slow reader asks for first: 40,000 bytes.
pub const LARGE_REPLY: &str = "/n/40000";

/// The most reply bytes four requests drawn in a row ask for. The harness's clients write
/// a pipelined batch (up to four requests) whole before they read; a server that stops
/// reading while its writes wait, as it should, would never read the end of a batch whose
/// replies overflow the client's 64 KiB window. A request that would pass the budget is
/// drawn again as a small `GET`.
pub const BATCH_REPLY_BUDGET: usize = 48 * 1024;

/// Reply bytes over the body: the status line and hyper's headers, at most.
const HEAD_ROOM: usize = 128;

/// HTTP/1.1 clients of the model's handler: keep-alive `GET /n/{k}`, `POST /echo` with
/// `Content-Length` and chunked bodies (extensions, trailers), and paths that are not
/// found; every hook a misbehaving role needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Http {
    /// Also draw requests with a body the handler leaves unread (`POST /missing`), which
    /// hyper answers and then may close the connection after: off by default, since a
    /// well-behaved client does not expect that close.
    pub unread_bodies: bool,
}

impl Workload for Http {
    fn session(&self, _client: usize) -> Box<dyn Session> {
        Box::new(Client {
            left: None,
            unread_bodies: self.unread_bodies,
            drawn: BTreeMap::new(),
            recent: VecDeque::new(),
        })
    }

    fn framer(&self) -> Box<dyn ReplyFramer> {
        Box::new(http::framer())
    }
}

/// One client: the requests it drew, by their bytes, for the model to judge their replies.
struct Client {
    left: Option<usize>,
    unread_bodies: bool,
    drawn: BTreeMap<Bytes, http::HttpRequest>,
    /// The reply sizes of the last three requests drawn.
    recent: VecDeque<usize>,
}

impl Client {
    /// `request` on the wire, remembered for its reply's judgement.
    fn send(&mut self, request: http::HttpRequest) -> Request {
        self.recent.push_back(reply_size(&request));
        if self.recent.len() > 3 {
            self.recent.pop_front();
        }
        let wire = request.to_request();
        self.drawn.insert(wire.bytes.clone(), request);
        wire
    }

    /// Whether `request`'s reply keeps the last four within [`BATCH_REPLY_BUDGET`].
    fn fits(&self, request: &http::HttpRequest) -> bool {
        self.recent.iter().sum::<usize>() + reply_size(request) <= BATCH_REPLY_BUDGET
    }

    /// A request a well-behaved client sends.
    fn draw(&self, rng: &mut Draws) -> http::HttpRequest {
        match rng.random_range(0..100) {
            0..40 => {
                let k = match rng.random_range(0..100) {
                    0..80 => rng.random_range(0..=300),
                    80..95 => rng.random_range(301..=5000),
                    _ => rng.random_range(5001..=30_000),
                };
                http::HttpRequest::get(format!("/n/{k}"))
            }
            40..65 => http::HttpRequest::post("/echo", Body::Length(body(rng))),
            65..85 => {
                let bytes = body(rng);
                http::HttpRequest::post("/echo", chunked(rng, bytes))
            }
            95.. if self.unread_bodies => {
                http::HttpRequest::post("/missing", Body::Length(body(rng)))
            }
            _ => http::HttpRequest::get(format!("/nope/{}", rng.random_range(0..1000))),
        }
    }
}

impl Session for Client {
    fn next_request(&mut self, rng: &mut Draws) -> Option<Request> {
        let left = self.left.get_or_insert_with(|| rng.random_range(1..=8));
        *left = left.checked_sub(1)?;
        let mut request = self.draw(rng);
        if !self.fits(&request) {
            request = http::HttpRequest::get(format!("/n/{}", rng.random_range(0..=300)));
        }
        Some(self.send(request))
    }

    /// The status and body the model says, and `connection: close` exactly when the
    /// request asked for it.
    fn check_reply(&mut self, request: &Request, reply: &[u8]) -> Result<(), String> {
        let Some(asked) = self.drawn.get(&request.bytes) else {
            return Err("a reply to a request this session did not make".into());
        };
        let got = Response::of(reply)?;
        let (status, body) = model::expect(asked);
        let what = format!("{} {}", asked.method, asked.path);
        if got.status != status {
            return Err(format!(
                "{what}: status {} where the model says {status}",
                got.status
            ));
        }
        if got.body != body {
            return Err(format!(
                "{what}: a body of {} byte(s) where the model says {}",
                got.body.len(),
                body.len()
            ));
        }
        if got.close != asked.close {
            return Err(format!(
                "{what}: connection: close {} where the request asked {}",
                got.close, asked.close
            ));
        }
        Ok(())
    }

    /// A head larger than `size`, an `X-Pad` header filling it.
    fn oversized(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        Some(http::HttpRequest::oversized(size).to_request())
    }

    /// A `GET /n/{k}` whose head, an `X-Pad` header filling it, is exactly `size` bytes.
    fn at_limit(&mut self, rng: &mut Draws, size: usize) -> Option<Request> {
        let request = http::HttpRequest::get(format!("/n/{}", rng.random_range(0..=300)));
        let bare = request.encode().len() + "X-Pad: \r\n".len();
        let pad = size.checked_sub(bare).filter(|&p| p > 0)?;
        Some(self.send(http::HttpRequest { pad, ..request }))
    }

    /// A header line without its colon.
    fn malformed(&mut self, _rng: &mut Draws) -> Option<Request> {
        let bytes = &b"GET /n/1 HTTP/1.1\r\nHost server\r\n\r\n"[..];
        Some(Request::new(bytes).with_boundaries([19]))
    }

    /// `400 Bad Request`.
    fn check_error(&mut self, _request: &Request, reply: &[u8]) -> Result<(), String> {
        match Response::of(reply)?.status {
            400 => Ok(()),
            status => Err(format!("a header line without a colon: {status}, not 400")),
        }
    }

    fn large_reply(&mut self, _rng: &mut Draws) -> Option<Request> {
        Some(self.send(http::HttpRequest::get(LARGE_REPLY)))
    }

    /// A `GET /n/{k}` with `Connection: close`.
    fn quit(&mut self, rng: &mut Draws) -> Option<Request> {
        let request = http::HttpRequest::get(format!("/n/{}", rng.random_range(0..=300)));
        Some(self.send(http::HttpRequest {
            close: true,
            ..request
        }))
    }
}

/// The most bytes the model's reply to `request` takes on the wire.
fn reply_size(request: &http::HttpRequest) -> usize {
    model::expect(request).1.len() + HEAD_ROOM
}

/// A body: mostly small, some larger than a segment, a few larger than hyper's buffer.
fn body(rng: &mut Draws) -> Vec<u8> {
    let len = match rng.random_range(0..100) {
        0..80 => rng.random_range(0..=64),
        80..95 => rng.random_range(65..=2000),
        _ => rng.random_range(2001..=20_000),
    };
    (0..len).map(|_| rng.random()).collect()
}

/// `bytes` as one to five non-empty chunks, sometimes with a trailer.
fn chunked(rng: &mut Draws, bytes: Vec<u8>) -> Body {
    let pieces = rng.random_range(1..=5).min(bytes.len().max(1));
    let mut cuts: Vec<usize> = (1..pieces)
        .map(|_| rng.random_range(1..bytes.len()))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut chunks = Vec::new();
    let mut at = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        if cut > at {
            chunks.push(bytes[at..cut].to_vec());
            at = cut;
        }
    }
    Body::Chunked {
        chunks,
        trailer: rng.random_bool(0.2),
    }
}
