//! The bytes of HTTP/1.1 on the clients' side: requests as they are written, and a small
//! response parser (status line, headers, a `Content-Length`, chunked or read-to-close body).

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The request target.
    pub path: String,
    /// Its body.
    pub body: Body,
    /// Ask the server to close after answering (`Connection: close`).
    pub close: bool,
    /// An extra header of this many value bytes (`X-Pad`), to reach the header limits.
    pub pad: usize,
}

impl Request {
    /// A `GET` without a body.
    pub fn get(path: impl Into<String>) -> Self {
        Request {
            method: "GET",
            path: path.into(),
            body: Body::Empty,
            close: false,
            pad: 0,
        }
    }

    /// A `POST` with `body`.
    pub fn post(path: impl Into<String>, body: Body) -> Self {
        Request {
            method: "POST",
            path: path.into(),
            body,
            close: false,
            pad: 0,
        }
    }

    /// The request head alone, up to and including its blank line.
    pub fn head(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\nHost: server\r\n", self.method, self.path);
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
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, unchunked.
    pub body: Vec<u8>,
    /// The server said `Connection: close`.
    pub close: bool,
    /// The body came chunked.
    pub chunked: bool,
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
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        let value = value.trim();
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
    haystack.windows(needle.len()).position(|w| w == needle)
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
    fn a_chunked_request_says_what_its_body_is() {
        let r = Request::post(
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
