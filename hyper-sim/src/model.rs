//! The service hyper runs, and the model that predicts its replies.
//!
//! `POST /echo` answers the request body; `GET /n/{k}` answers `k` bytes of a fixed pattern;
//! anything else is a 404. The model is written apart from the handler: it reads the
//! request as the client built it, the handler reads what hyper parsed.

use bytes::Bytes;
use framesim::harness::http::HttpRequest;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, StatusCode};

/// What the 404 says.
pub const NOT_FOUND: &[u8] = b"not found\n";

const PATTERN: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// The `k` bytes `GET /n/{k}` answers.
pub fn numbered(k: usize) -> Vec<u8> {
    (0..k)
        .map(|i| PATTERN[(i * 7 + k) % PATTERN.len()])
        .collect()
}

/// The handler hyper calls for every request.
pub async fn handle(
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, hyper::Error> {
    let n = req
        .uri()
        .path()
        .strip_prefix("/n/")
        .and_then(|k| k.parse::<usize>().ok());
    let (status, body) = match (req.method(), req.uri().path(), n) {
        (&Method::POST, "/echo", _) => {
            // A client that leaves mid-body makes this an error: hyper then drops the
            // connection.
            let body = req.into_body().collect().await?.to_bytes();
            (StatusCode::OK, body)
        }
        (&Method::GET, _, Some(k)) => (StatusCode::OK, Bytes::from(numbered(k))),
        _ => (StatusCode::NOT_FOUND, Bytes::from_static(NOT_FOUND)),
    };
    let mut response = hyper::Response::new(Full::new(body));
    *response.status_mut() = status;
    Ok(response)
}

/// The response the model predicts: status and body.
pub fn expect(req: &HttpRequest) -> (u16, Vec<u8>) {
    if req.method == "POST" && req.path == "/echo" {
        return (200, req.body.bytes());
    }
    if req.method == "GET" {
        if let Some(k) = req.path.strip_prefix("/n/").and_then(|k| k.parse().ok()) {
            return (200, numbered(k));
        }
    }
    (404, NOT_FOUND.to_vec())
}
