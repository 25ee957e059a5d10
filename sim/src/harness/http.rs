//! HTTP/1.1 on the clients' side, for a [`Workload`](super::Workload) of an HTTP server
//! (hyper, axum, or your own): requests as they are written, with their seams marked
//! ([`HttpRequest::to_request`]), a response parser ([`parse`]: status line, headers, a
//! `Content-Length`, chunked or read-to-close body) and a [`framer`] that cuts responses
//! apart and blanks the one header whose bytes follow the wall clock (`Date`).
//!
//! ```
//! use bytes::BytesMut;
//! use framesim::harness::http::{self, Body, HttpRequest};
//! use framesim::harness::ReplyFramer;
//!
//! let put = HttpRequest::post("/kv/a", Body::Length(b"1".to_vec())).to_request();
//! assert!(put.bytes.starts_with(b"POST /kv/a HTTP/1.1\r\n"));
//! let mut framer = http::framer();
//! let mut wire = BytesMut::from(
//!     &b"HTTP/1.1 200 OK\r\ndate: Mon, 07 Dec 2026 04:33:00 GMT\r\ncontent-length: 2\r\n\r\nokHTTP"[..],
//! );
//! let frame = framer.next_frame(&mut wire).unwrap().unwrap();
//! assert!(frame.starts_with(b"HTTP/1.1 200 OK\r\ndate: ###"));
//! assert_eq!(http::Response::of(&frame).unwrap().body, b"ok");
//! assert_eq!(&wire[..], b"HTTP");
//! ```

use super::workload::{self, ReplyFramer};
use bytes::{Bytes, BytesMut};

/// How a request carries its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// No body and no framing header.
    Empty,
    /// `Content-Length` framing.
    Length(Vec<u8>),
    /// `Transfer-Encoding: chunked`, one entry per chunk (none empty), with a chunk
    /// extension on some and a trailer field when `trailer` is set.
    Chunked {
        /// The chunks, in order.
        chunks: Vec<Vec<u8>>,
        /// Write a trailer field after the last chunk.
        trailer: bool,
    },
}

impl Body {
    /// The body's bytes as the server should see them.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Empty => Vec::new(),
            Body::Length(b) => b.clone(),
            Body::Chunked { chunks, .. } => chunks.concat(),
        }
    }
}

/// One request a client writes.
///
/// ```
/// use framesim::harness::http::{Body, HttpRequest};
///
/// let put = HttpRequest {
///     method: "PUT",
///     ..HttpRequest::post("/kv/a", Body::Length(br#"{"v":1}"#.to_vec()))
/// }
/// .header("Content-Type", "application/json");
/// assert!(put.encode().starts_with(
///     b"PUT /kv/a HTTP/1.1\r\nHost: server\r\nContent-Type: application/json\r\n"
/// ));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, or any other method (`PUT`, `DELETE`, …).
    pub method: &'static str,
    /// The request target.
    pub path: String,
    /// Its body.
    pub body: Body,
    /// Ask the server to close after answering (`Connection: close`).
    pub close: bool,
    /// An extra header of this many value bytes (`X-Pad`), to reach the header limits.
    pub pad: usize,
    /// Headers of its own (`Content-Type`, `Authorization`, …), written in order after
    /// `Host`; the framing headers (`Content-Length`, `Transfer-Encoding`, `Connection`)
    /// come from `body` and `close`.
    pub headers: Vec<(String, String)>,
}

impl HttpRequest {
    /// A `GET` without a body.
    pub fn get(path: impl Into<String>) -> Self {
        HttpRequest {
            method: "GET",
            path: path.into(),
            body: Body::Empty,
            close: false,
            pad: 0,
            headers: Vec::new(),
        }
    }

    /// A `POST` with `body`.
    pub fn post(path: impl Into<String>, body: Body) -> Self {
        HttpRequest {
            method: "POST",
            path: path.into(),
            body,
            close: false,
            pad: 0,
            headers: Vec::new(),
        }
    }

    /// The same request with one more header of its own, `name: value`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The request head alone, up to and including its blank line.
    pub fn head(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\nHost: server\r\n", self.method, self.path);
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        if self.pad > 0 {
            out.push_str("X-Pad: ");
            out.extend(std::iter::repeat_n('p', self.pad));
            out.push_str("\r\n");
        }
        match &self.body {
            Body::Empty => {}
            Body::Length(b) => out.push_str(&format!("Content-Length: {}\r\n", b.len())),
            Body::Chunked { .. } => out.push_str("Transfer-Encoding: chunked\r\n"),
        }
        if self.close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// The body as it goes on the wire.
    pub fn wire_body(&self) -> Vec<u8> {
        match &self.body {
            Body::Empty => Vec::new(),
            Body::Length(b) => b.clone(),
            Body::Chunked { chunks, trailer } => {
                let mut out = Vec::new();
                for (i, chunk) in chunks.iter().enumerate() {
                    // Both hex cases, and an extension now and then: all valid HTTP/1.1.
                    let size = if i % 2 == 0 {
                        format!("{:x}", chunk.len())
                    } else {
                        format!("{:X}", chunk.len())
                    };
                    out.extend_from_slice(size.as_bytes());
                    if i % 3 == 1 {
                        out.extend_from_slice(b";ext=1");
                    }
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(chunk);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n");
                if *trailer {
                    out.extend_from_slice(b"X-Trailer: t\r\n");
                }
                out.extend_from_slice(b"\r\n");
                out
            }
        }
    }

    /// The whole request on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.head();
        out.extend_from_slice(&self.wire_body());
        out
    }

    /// The request for a [`Session`](super::Session): its bytes, with a seam after every
    /// line of the head and of a chunked body, so that chunked delivery cuts inside the
    /// request line, between headers, in the blank line and between chunks. One that asks
    /// the server to close (`close`, or a `Connection: close` header of its own) is
    /// [`closing`](workload::Request::closing): the server closes once it has answered it.
    pub fn to_request(&self) -> workload::Request {
        let bytes = self.encode();
        let seams: Vec<usize> = bytes
            .windows(2)
            .enumerate()
            .filter(|(_, w)| *w == b"\r\n")
            .flat_map(|(at, _)| [at + 1, at + 2])
            .collect();
        let request = workload::Request::new(bytes).with_boundaries(seams);
        let closes = self.close
            || self.headers.iter().any(|(name, value)| {
                name.eq_ignore_ascii_case("connection")
                    && value
                        .split(',')
                        .any(|token| token.trim().eq_ignore_ascii_case("close"))
            });
        if closes {
            request.closing()
        } else {
            request
        }
    }

    /// A `GET` whose head is larger than `size` bytes (an `X-Pad` header fills it): for
    /// [`Session::oversized`](super::Session::oversized), a request a server with a head
    /// limit of `size` or less must refuse before it has read it all.
    pub fn oversized(size: usize) -> Self {
        HttpRequest {
            pad: size + 1,
            ..HttpRequest::get("/")
        }
    }

    /// A `POST` to `path` whose `Content-Length` body is larger than `size` bytes: for a
    /// server whose limit is on the body (axum's `DefaultBodyLimit`), a request it must
    /// refuse (`413`, or a close) before it has read it all. Add the headers the route
    /// needs to reach its limit (`Content-Type`).
    ///
    /// ```
    /// use framesim::harness::http::HttpRequest;
    ///
    /// let big = HttpRequest::oversized_body("/items/1", 4096).header("Content-Type", "application/json");
    /// assert_eq!(big.body.bytes().len(), 4097);
    /// assert!(big.to_request().bytes.len() > 4097);
    /// ```
    pub fn oversized_body(path: impl Into<String>, size: usize) -> Self {
        HttpRequest::post(path, Body::Length(vec![b'x'; size + 1]))
    }
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Every header as it came (names as written, values trimmed), in order.
    pub headers: Vec<(String, String)>,
    /// The body, unchunked.
    pub body: Vec<u8>,
    /// The server said `Connection: close`.
    pub close: bool,
    /// The body came chunked.
    pub chunked: bool,
}

impl Response {
    /// The value of the first header named `name` (any case), if any.
    ///
    /// ```
    /// use framesim::harness::http::Response;
    ///
    /// let frame = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 2\r\n\r\nok";
    /// let response = Response::of(frame).unwrap();
    /// assert_eq!(response.header("content-type"), Some("text/plain"));
    /// assert_eq!(response.header("x-missing"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The response that is the whole of `frame` (as [`framer`] cut it), for a session's
    /// [`check_reply`](super::Session::check_reply).
    pub fn of(frame: &[u8]) -> Result<Response, String> {
        match parse(frame, true)? {
            Some((response, used)) if used == frame.len() => Ok(response),
            Some((_, used)) => Err(format!("{} byte(s) after the response", frame.len() - used)),
            None => Err("an incomplete response".into()),
        }
    }
}

/// A [`ReplyFramer`] of HTTP/1.1 responses: each frame one whole response, its `Date`
/// header's value replaced by `#`s of the same length. hyper (and so axum) writes the wall
/// clock there, which would make the transcript differ from run to run; blanked, the same
/// seed gives the same bytes. A response whose body ends only with the connection (no
/// length, not chunked) cannot be framed on a connection kept alive: a `[framing]` failure.
pub fn framer() -> impl ReplyFramer {
    |buf: &mut BytesMut| -> Result<Option<Bytes>, String> {
        let Some((_, used)) = parse(buf, false)? else {
            if parse(buf, true)?.is_some() {
                return Err(
                    "a response with neither a content-length nor a chunked body: its end is the connection's"
                        .into(),
                );
            }
            return Ok(None);
        };
        let mut frame = buf.split_to(used);
        blank_date(&mut frame);
        Ok(Some(frame.freeze()))
    }
}

/// Replaces the value of the `Date` header in `frame`'s head by `#`s.
fn blank_date(frame: &mut [u8]) {
    let end = find(frame, b"\r\n\r\n").unwrap_or(frame.len());
    blank_dates(&mut frame[..end]);
}

/// Replaces the value of every line of `bytes` that starts `Date:` after a line's end by
/// `#`s, wherever it is (a response's head, or bytes shown in a violation, which may hold
/// responses in part): what follows the wall clock never reaches a transcript.
pub(super) fn blank_dates(bytes: &mut [u8]) {
    let mut at = 0;
    while let Some(eol) = find(&bytes[at..], b"\r\n") {
        let line = at + eol + 2;
        let rest = &bytes[line..];
        if rest.len() >= 5 && rest[..5].eq_ignore_ascii_case(b"date:") {
            let stop = find(rest, b"\r\n").map_or(bytes.len(), |e| line + e);
            let mut from = line + 5;
            while from < stop && bytes[from] == b' ' {
                from += 1;
            }
            bytes[from..stop].fill(b'#');
        }
        at = line;
    }
}

/// The response at the start of `buf` and how many bytes it took; `None` while incomplete.
/// `eof`: no more bytes come, so a body without a length ends here.
pub fn parse(buf: &[u8], eof: bool) -> Result<Option<(Response, usize)>, String> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| "head is not UTF-8".to_string())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    if parts.next() != Some("HTTP/1.1") {
        return Err(format!("bad status line {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| format!("bad status in {status_line:?}"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        let value = value.trim();
        headers.push((name.to_string(), value.to_string()));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| format!("bad content-length {value:?}"))?;
                if length.replace(n).is_some_and(|m| m != n) {
                    return Err("two content-lengths".into());
                }
            }
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => close |= value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    if chunked && length.is_some() {
        return Err("both content-length and chunked".into());
    }
    let start = end + 4;
    let rest = &buf[start..];
    let bodiless = status < 200 || status == 204 || status == 304;
    let (body, used) = if bodiless {
        (Vec::new(), 0)
    } else if chunked {
        match unchunk(rest)? {
            Some(done) => done,
            None => return Ok(None),
        }
    } else if let Some(n) = length {
        if rest.len() < n {
            return Ok(None);
        }
        (rest[..n].to_vec(), n)
    } else if eof {
        (rest.to_vec(), rest.len())
    } else {
        return Ok(None);
    };
    let response = Response {
        status,
        headers,
        body,
        close,
        chunked,
    };
    Ok(Some((response, start + used)))
}

/// A chunked body at the start of `buf`: its bytes and the wire bytes it took.
fn unchunk(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, String> {
    let (mut body, mut at) = (Vec::new(), 0);
    loop {
        let Some(eol) = find(&buf[at..], b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[at..at + eol]).map_err(|_| "chunk size line")?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size, 16).map_err(|_| format!("bad chunk size {line:?}"))?;
        at += eol + 2;
        if size == 0 {
            // Trailer fields, then a blank line.
            loop {
                let Some(eol) = find(&buf[at..], b"\r\n") else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, at)));
                }
            }
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[at..at + size]);
        if &buf[at + size..at + size + 2] != b"\r\n" {
            return Err("chunk not followed by CRLF".into());
        }
        at += size + 2;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_length_chunked_and_read_to_close_bodies_and_waits_for_more() {
        let wire = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ndate: x\r\n\r\nabcHTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n2;x=y\r\nno\r\n1\r\n!\r\n0\r\nT: v\r\n\r\n";
        let (first, used) = parse(wire, false).unwrap().unwrap();
        assert_eq!(
            (first.status, &first.body[..], first.close),
            (200, &b"abc"[..], false)
        );
        let (second, used2) = parse(&wire[used..], false).unwrap().unwrap();
        assert_eq!(
            (
                second.status,
                &second.body[..],
                second.close,
                second.chunked
            ),
            (404, &b"no!"[..], true, true)
        );
        assert_eq!(used + used2, wire.len());
        for cut in 0..used {
            assert_eq!(parse(&wire[..cut], false).unwrap(), None, "cut {cut}");
        }
        let (third, _) = parse(b"HTTP/1.1 408 Request Timeout\r\n\r\nlate", true)
            .unwrap()
            .unwrap();
        assert_eq!((third.status, &third.body[..]), (408, &b"late"[..]));
    }

    #[test]
    fn refuses_what_is_not_http_1_1() {
        assert!(parse(b"HTTP/1.0 200 OK\r\n\r\n", true).is_err());
        assert!(parse(b"HTTP/1.1 2x0 OK\r\n\r\n", true).is_err());
        assert!(parse(
            b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            true
        )
        .is_err());
        assert!(parse(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            true
        )
        .is_err());
    }

    #[test]
    fn bytes_shown_in_part_have_every_date_blanked() {
        let mut held =
            b"x\r\nHTTP/1.1 200 OK\r\nDate: Mon, 07 Dec\r\n\r\nHTTP/1.1 200 OK\r\ndate:Tue"
                .to_vec();
        super::blank_dates(&mut held);
        assert_eq!(
            held,
            b"x\r\nHTTP/1.1 200 OK\r\nDate: ###########\r\n\r\nHTTP/1.1 200 OK\r\ndate:###"
        );
    }

    #[test]
    fn the_framer_blanks_the_date_and_refuses_a_body_ended_by_the_close() {
        let mut framer = framer();
        let mut wire = BytesMut::from(
            &b"HTTP/1.1 204 No Content\r\nDate:Tue, 08 Dec 2026 00:00:00 GMT\r\nx-date: 1\r\n\r\n"
                [..],
        );
        let frame = framer.next_frame(&mut wire).unwrap().unwrap();
        assert_eq!(
            &frame[..],
            b"HTTP/1.1 204 No Content\r\nDate:#############################\r\nx-date: 1\r\n\r\n"
        );
        let mut open = BytesMut::from(&b"HTTP/1.1 200 OK\r\n\r\nbody"[..]);
        assert!(framer
            .next_frame(&mut open)
            .unwrap_err()
            .contains("content-length"));
        let mut partial = BytesMut::from(&b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nbod"[..]);
        assert_eq!(framer.next_frame(&mut partial).unwrap(), None);
    }

    #[test]
    fn a_request_has_a_seam_on_each_side_of_every_line_end() {
        let r = HttpRequest::get("/").to_request();
        assert_eq!(r.bytes, &b"GET / HTTP/1.1\r\nHost: server\r\n\r\n"[..]);
        assert_eq!(r.boundaries, vec![15, 16, 29, 30, 31]);
        assert!(HttpRequest::oversized(100).encode().len() > 100);
    }

    #[test]
    fn a_request_that_asks_the_server_to_close_is_closing() {
        assert!(!HttpRequest::get("/").to_request().closes);
        let asked = HttpRequest {
            close: true,
            ..HttpRequest::get("/")
        };
        assert!(asked.to_request().closes);
        let own = HttpRequest::get("/").header("connection", "Upgrade, Close");
        assert!(own.to_request().closes);
        let kept = HttpRequest::get("/").header("Connection", "keep-alive");
        assert!(!kept.to_request().closes);
    }

    #[test]
    fn a_chunked_request_says_what_its_body_is() {
        let r = HttpRequest::post(
            "/echo",
            Body::Chunked {
                chunks: vec![b"ab".to_vec(), vec![b'c'; 11]],
                trailer: true,
            },
        );
        let wire = String::from_utf8(r.encode()).unwrap();
        assert!(wire.ends_with("2\r\nab\r\nB;ext=1\r\nccccccccccc\r\n0\r\nX-Trailer: t\r\n\r\n"));
        assert_eq!(r.body.bytes(), b"abccccccccccc");
    }
}
