//! RESP2, the Redis protocol: requests as Redis accepts them, replies as Redis writes them.
//!
//! A request is either *inline* (a text line, split like `redis-cli` input) or *multibulk*
//! (`*N\r\n` then N × `$len\r\n<bytes>\r\n`, what clients send). Header lines are found by
//! a resumable delimiter search and bulks by their length; each argument is split off the
//! buffer as soon as it is complete, so nothing is scanned twice. Errors use Redis's words.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::inline::{parse_int, split_args};
use crate::framing::{Decoder, FrameError, Scan, Scanner, DEFAULT_MAX_FRAME, DEFAULT_MAX_LINE};
use crate::{Command, Reply};

/// Default limit on the elements of one reply array.
pub const DEFAULT_MAX_ARRAY: usize = 1024 * 1024;
/// Default limit on the arguments of one multibulk request: Redis 7's (`INT_MAX`). What
/// they cost is bounded by the connection's buffer limit, which counts them
/// ([`Decoder::held`]).
pub const DEFAULT_MAX_ARGS: usize = i32::MAX as usize;
/// Default limit on how deeply [`ReplyDecoder`] lets arrays nest.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// Where a [`RequestDecoder`] is inside the current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between requests: the next byte says inline (`*` not first) or multibulk.
    Idle,
    /// Looking for the end of an inline line.
    Inline,
    /// Looking for the end of `*N`.
    Count,
    /// Expecting `$len\r\n` of the next argument.
    BulkHeader,
    /// Expecting `len` bytes and `\r\n`.
    Bulk(usize),
}

/// Decodes client requests, inline or multibulk, into [`Command`]s.
///
/// Blank inline lines and empty multibulks (`*0`, `*-1`) are skipped, as Redis does.
/// Limits: an inline line or a header line is at most `max_inline` bytes before its `\n`
/// ([`DEFAULT_MAX_LINE`]); a bulk is at most `max_bulk` bytes ([`DEFAULT_MAX_FRAME`],
/// `invalid bulk length` as Redis says past its `proto-max-bulk-len`); a multibulk has at
/// most `max_array` elements ([`DEFAULT_MAX_ARGS`]). The room for a bulk is reserved once its
/// length is known.
///
/// # Example
/// ```
/// use bytes::BytesMut;
/// use framesim_server::{framing::Decoder, protocol::resp::RequestDecoder};
/// use framesim_server::Command;
///
/// let mut dec = RequestDecoder::new();
/// let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\nset a 'b c'\n"[..]);
/// assert_eq!(dec.decode(&mut buf)?, Some(Command::new(["GET", "k"])));
/// assert_eq!(dec.decode(&mut buf)?, Some(Command::new(["PING"])));
/// assert_eq!(dec.decode(&mut buf)?, Some(Command::new(["set", "a", "b c"])));
/// assert_eq!(dec.decode(&mut buf)?, None);
/// # Ok::<(), framesim_server::framing::FrameError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequestDecoder {
    max_bulk: usize,
    max_array: usize,
    /// Finds the `\n` ending inline requests and header lines.
    lines: Scanner,
    state: State,
    args: Vec<Bytes>,
    /// Bytes of the arguments in `args`.
    args_len: usize,
    /// Arguments of the current multibulk still to come.
    remaining: usize,
    /// Stream offset of the buffer's first byte.
    offset: u64,
    /// Stream offset of the current request's first byte.
    start: u64,
    failed: Option<FrameError>,
}

impl Default for RequestDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestDecoder {
    /// A decoder with Redis-like default limits.
    pub fn new() -> Self {
        RequestDecoder {
            max_bulk: DEFAULT_MAX_FRAME,
            max_array: DEFAULT_MAX_ARGS,
            lines: Scanner::new(b"\n", DEFAULT_MAX_LINE),
            state: State::Idle,
            args: Vec::new(),
            args_len: 0,
            remaining: 0,
            offset: 0,
            start: 0,
            failed: None,
        }
    }

    /// Sets the longest inline request or header line, in bytes before its line end.
    pub fn max_inline(mut self, max: usize) -> Self {
        self.lines = Scanner::new(b"\n", max);
        self
    }

    /// Sets the longest bulk argument, in bytes.
    pub fn max_bulk(mut self, max: usize) -> Self {
        self.max_bulk = max;
        self
    }

    /// Sets the most arguments one multibulk request may announce.
    pub fn max_array(mut self, max: usize) -> Self {
        self.max_array = max;
        self
    }

    /// Bytes examined by line searches so far: a measure of the decoder's work.
    #[doc(hidden)]
    pub fn bytes_scanned(&self) -> u64 {
        self.lines.scanned()
    }

    /// A fresh decoder taking over a stream between frames: its first byte is at `offset`.
    pub(crate) fn resume_at(&mut self, offset: u64) {
        self.offset = offset;
    }

    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n);
        self.offset += n as u64;
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, FrameError> {
        loop {
            match self.state {
                State::Idle => {
                    let Some(&first) = buf.first() else {
                        return Ok(None);
                    };
                    self.start = self.offset;
                    self.state = if first == b'*' {
                        State::Count
                    } else {
                        State::Inline
                    };
                }
                State::Inline => {
                    let too_big = "Protocol error: too big inline request";
                    let Some(pos) = line_end(&mut self.lines, buf, self.offset, too_big)? else {
                        return Ok(None);
                    };
                    let line = buf[..pos].strip_suffix(b"\r").unwrap_or(&buf[..pos]);
                    let args = split_args(line).map_err(|what| malformed(what, self.offset))?;
                    self.consume(buf, pos + 1);
                    self.state = State::Idle;
                    if !args.is_empty() {
                        return Ok(Some(Command { args }));
                    }
                }
                State::Count => {
                    let too_big = "Protocol error: too big mbulk count string";
                    let Some(pos) = line_end(&mut self.lines, buf, self.offset, too_big)? else {
                        return Ok(None);
                    };
                    let n = header_digits(&buf[..pos])
                        .and_then(parse_int)
                        .filter(|&n| n <= self.max_array as i64)
                        .ok_or_else(|| {
                            malformed("Protocol error: invalid multibulk length", self.offset)
                        })?;
                    self.consume(buf, pos + 1);
                    if n <= 0 {
                        self.state = State::Idle;
                        continue;
                    }
                    self.remaining = n as usize;
                    self.args = Vec::with_capacity(self.remaining.min(16));
                    self.state = State::BulkHeader;
                }
                State::BulkHeader => {
                    let Some(&first) = buf.first() else {
                        return Ok(None);
                    };
                    if first != b'$' {
                        let what = format!(
                            "Protocol error: expected '$', got '{}'",
                            first.escape_ascii()
                        );
                        return Err(malformed(what, self.offset));
                    }
                    let too_big = "Protocol error: too big bulk count string";
                    let Some(pos) = line_end(&mut self.lines, buf, self.offset, too_big)? else {
                        return Ok(None);
                    };
                    let len = bulk_len(
                        header_digits(&buf[..pos]).unwrap_or_default(),
                        self.max_bulk,
                    )
                    .ok_or_else(|| malformed("Protocol error: invalid bulk length", self.offset))?;
                    self.consume(buf, pos + 1);
                    buf.reserve((len + 2).saturating_sub(buf.len()));
                    self.state = State::Bulk(len);
                }
                State::Bulk(len) => {
                    let Some(arg) = take_bulk(buf, len, self.offset)? else {
                        return Ok(None);
                    };
                    self.offset += len as u64 + 2;
                    self.args_len += arg.len();
                    self.args.push(arg);
                    self.remaining -= 1;
                    if self.remaining > 0 {
                        self.state = State::BulkHeader;
                        continue;
                    }
                    self.state = State::Idle;
                    self.args_len = 0;
                    let args = std::mem::take(&mut self.args);
                    return Ok(Some(Command { args }));
                }
            }
        }
    }
}

impl Decoder for RequestDecoder {
    type Item = Command;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.step(buf)
            .inspect_err(|e| self.failed = Some(e.clone()))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, FrameError> {
        if let Some(cmd) = self.decode(buf)? {
            return Ok(Some(cmd));
        }
        if self.state == State::Idle && buf.is_empty() {
            return Ok(None);
        }
        let e = FrameError::UnexpectedEof { at: self.start };
        self.failed = Some(e.clone());
        Err(e)
    }

    /// True from a request's first byte until it is complete.
    fn in_frame(&self) -> bool {
        self.state != State::Idle
    }

    fn held(&self) -> usize {
        self.args_len + self.args.capacity() * std::mem::size_of::<Bytes>()
    }
}

/// An array of a [`ReplyDecoder`] still missing elements.
#[derive(Debug, Clone)]
struct Partial {
    items: Vec<Reply>,
    want: usize,
}

/// Decodes server replies into [`Reply`] values, for clients and tests.
///
/// Incremental like every decoder here: a reply split anywhere decodes the same. `*-1`
/// decodes to [`Reply::Null`] (RESP2's null array). Limits: a line is at most `max_line`
/// bytes ([`DEFAULT_MAX_LINE`]), a bulk at most `max_bulk` ([`DEFAULT_MAX_FRAME`]), an array
/// at most `max_array` elements ([`DEFAULT_MAX_ARRAY`]) and `max_depth` levels deep
/// ([`DEFAULT_MAX_DEPTH`]).
///
/// # Example
/// ```
/// use bytes::BytesMut;
/// use framesim_server::{framing::Decoder, protocol::resp::ReplyDecoder};
/// use framesim_server::Reply;
///
/// let mut dec = ReplyDecoder::new();
/// let mut buf = BytesMut::from(&b"+OK\r\n*2\r\n:1\r\n$-1\r\n$3\r\nab"[..]);
/// assert_eq!(dec.decode(&mut buf)?, Some(Reply::ok()));
/// assert_eq!(dec.decode(&mut buf)?, Some(Reply::Array(vec![Reply::Integer(1), Reply::Null])));
/// assert_eq!(dec.decode(&mut buf)?, None);
/// buf.extend_from_slice(b"c\r\n");
/// assert_eq!(dec.decode(&mut buf)?, Some(Reply::bulk("abc")));
/// # Ok::<(), framesim_server::framing::FrameError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReplyDecoder {
    max_bulk: usize,
    max_array: usize,
    max_depth: usize,
    /// Finds the `\n` ending each line.
    line: Scanner,
    stack: Vec<Partial>,
    /// Length of the bulk whose header has been consumed.
    bulk: Option<usize>,
    offset: u64,
    /// Stream offset of the current top-level reply's first byte.
    start: u64,
    failed: Option<FrameError>,
}

impl Default for ReplyDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyDecoder {
    /// A decoder with the default limits.
    pub fn new() -> Self {
        ReplyDecoder {
            max_bulk: DEFAULT_MAX_FRAME,
            max_array: DEFAULT_MAX_ARRAY,
            max_depth: DEFAULT_MAX_DEPTH,
            line: Scanner::new(b"\n", DEFAULT_MAX_LINE),
            stack: Vec::new(),
            bulk: None,
            offset: 0,
            start: 0,
            failed: None,
        }
    }

    /// Sets the longest line (`+`, `-`, `:` and headers), in bytes before its `\n`.
    pub fn max_line(mut self, max: usize) -> Self {
        self.line = Scanner::new(b"\n", max);
        self
    }

    /// Sets the longest bulk string, in bytes.
    pub fn max_bulk(mut self, max: usize) -> Self {
        self.max_bulk = max;
        self
    }

    /// Sets the most elements one array may announce.
    pub fn max_array(mut self, max: usize) -> Self {
        self.max_array = max;
        self
    }

    /// Sets how many arrays may nest inside each other.
    pub fn max_depth(mut self, max: usize) -> Self {
        self.max_depth = max;
        self
    }

    /// Bytes examined by line searches so far: a measure of the decoder's work.
    #[doc(hidden)]
    pub fn bytes_scanned(&self) -> u64 {
        self.line.scanned()
    }

    fn idle(&self) -> bool {
        self.stack.is_empty() && self.bulk.is_none()
    }

    /// The next complete value (top-level or nested), or `None` if more bytes are needed.
    fn value(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, FrameError> {
        loop {
            if let Some(len) = self.bulk {
                let Some(b) = take_bulk(buf, len, self.offset)? else {
                    return Ok(None);
                };
                self.offset += len as u64 + 2;
                self.bulk = None;
                return Ok(Some(Reply::Bulk(b)));
            }
            let Some(&kind) = buf.first() else {
                return Ok(None);
            };
            let at = self.offset;
            if self.idle() {
                self.start = at;
            }
            if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
                let what = format!(
                    "Protocol error: unknown reply type '{}'",
                    kind.escape_ascii()
                );
                return Err(malformed(what, at));
            }
            let too_big = "Protocol error: too big reply line";
            let Some(pos) = line_end(&mut self.line, buf, at, too_big)? else {
                return Ok(None);
            };
            let Some(body) = buf[..pos].strip_suffix(b"\r") else {
                let what = "Protocol error: line not terminated by CRLF";
                return Err(malformed(what, at + pos as u64));
            };
            let body = &body[1..];
            let text = || String::from_utf8_lossy(body).into_owned();
            let value = match kind {
                b'+' => Some(Reply::Simple(text())),
                b'-' => Some(Reply::Error(text())),
                b':' => {
                    Some(Reply::Integer(parse_int(body).ok_or_else(|| {
                        malformed("Protocol error: invalid integer", at)
                    })?))
                }
                b'$' if body == b"-1" => Some(Reply::Null),
                b'$' => {
                    let len = bulk_len(body, self.max_bulk)
                        .ok_or_else(|| malformed("Protocol error: invalid bulk length", at))?;
                    self.bulk = Some(len);
                    None
                }
                _ => self.array(body, at)?,
            };
            self.offset += pos as u64 + 1;
            buf.advance(pos + 1);
            if value.is_some() {
                return Ok(value);
            }
            if let Some(len) = self.bulk {
                buf.reserve((len + 2).saturating_sub(buf.len()));
            }
        }
    }

    /// Handles `*N`: a complete value for empty and null arrays, else opens the array.
    fn array(&mut self, count: &[u8], at: u64) -> Result<Option<Reply>, FrameError> {
        let n = parse_int(count)
            .filter(|&n| n >= -1 && n <= self.max_array as i64)
            .ok_or_else(|| malformed("Protocol error: invalid multibulk length", at))?;
        match n {
            -1 => Ok(Some(Reply::Null)),
            0 => Ok(Some(Reply::Array(Vec::new()))),
            _ if self.stack.len() >= self.max_depth => {
                Err(malformed("Protocol error: arrays nested too deeply", at))
            }
            _ => {
                let want = n as usize;
                let items = Vec::with_capacity(want.min(16));
                self.stack.push(Partial { items, want });
                Ok(None)
            }
        }
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, FrameError> {
        while let Some(mut value) = self.value(buf)? {
            loop {
                let Some(top) = self.stack.last_mut() else {
                    return Ok(Some(value));
                };
                top.items.push(value);
                if top.items.len() < top.want {
                    break;
                }
                let done = self.stack.pop().expect("the array just filled");
                value = Reply::Array(done.items);
            }
        }
        Ok(None)
    }
}

impl Decoder for ReplyDecoder {
    type Item = Reply;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.step(buf)
            .inspect_err(|e| self.failed = Some(e.clone()))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, FrameError> {
        if let Some(reply) = self.decode(buf)? {
            return Ok(Some(reply));
        }
        let at = match self.idle() {
            true if buf.is_empty() => return Ok(None),
            true => self.offset,
            false => self.start,
        };
        let e = FrameError::UnexpectedEof { at };
        self.failed = Some(e.clone());
        Err(e)
    }

    /// True while an array or a bulk string has been started but not finished.
    fn in_frame(&self) -> bool {
        !self.idle()
    }
}

/// Writes `reply` as Redis would.
///
/// CR and LF inside [`Reply::Simple`] and [`Reply::Error`] become spaces, so a reply can
/// never break the framing.
///
/// ```
/// use bytes::BytesMut;
/// use framesim_server::{protocol::resp::encode_reply, Reply};
///
/// let mut out = BytesMut::new();
/// encode_reply(&Reply::Array(vec![Reply::ok(), Reply::Integer(-2), Reply::Null]), &mut out);
/// encode_reply(&Reply::error("ERR bad\r\nthing"), &mut out);
/// assert_eq!(&out[..], b"*3\r\n+OK\r\n:-2\r\n$-1\r\n-ERR bad  thing\r\n");
/// ```
pub fn encode_reply(reply: &Reply, dst: &mut BytesMut) {
    match reply {
        Reply::Simple(s) => put_text(dst, b'+', s),
        Reply::Error(s) => put_text(dst, b'-', s),
        Reply::Integer(n) => put_header(dst, b':', *n),
        Reply::Bulk(b) => put_bulk(dst, b),
        Reply::Null => dst.put_slice(b"$-1\r\n"),
        Reply::Array(items) => {
            put_header(dst, b'*', items.len() as i64);
            for item in items {
                encode_reply(item, dst);
            }
        }
    }
}

/// Writes `cmd` as a multibulk request, the way clients send commands.
///
/// ```
/// use bytes::BytesMut;
/// use framesim_server::{protocol::resp::encode_command, Command};
///
/// let mut out = BytesMut::new();
/// encode_command(&Command::new(["GET", "k"]), &mut out);
/// assert_eq!(&out[..], b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
/// ```
pub fn encode_command(cmd: &Command, dst: &mut BytesMut) {
    put_header(dst, b'*', cmd.args.len() as i64);
    for arg in &cmd.args {
        put_bulk(dst, arg);
    }
}

fn malformed(what: impl Into<String>, at: u64) -> FrameError {
    FrameError::Malformed {
        what: what.into(),
        at,
    }
}

/// Finds the end of the line starting at stream offset `at`; `too_big` if it is too long.
fn line_end(
    lines: &mut Scanner,
    buf: &[u8],
    at: u64,
    too_big: &str,
) -> Result<Option<usize>, FrameError> {
    match lines.search(buf) {
        Scan::Found(pos) => Ok(Some(pos)),
        Scan::Pending => Ok(None),
        Scan::TooLong => Err(malformed(too_big, at)),
    }
}

/// The digits of a `*N\r` or `$N\r` line (its `\n` already cut off).
fn header_digits(line: &[u8]) -> Option<&[u8]> {
    line.strip_suffix(b"\r").map(|l| &l[1..])
}

/// Parses a bulk length: `None` if invalid or over `max`.
fn bulk_len(digits: &[u8], max: usize) -> Option<usize> {
    parse_int(digits)
        .filter(|&n| n >= 0 && n as u64 <= max as u64)
        .map(|n| n as usize)
}

/// Takes a `len`-byte bulk and its `\r\n` off `buf` (at stream offset `at`) once complete.
/// A wrong terminator byte is an error as soon as it arrives.
fn take_bulk(buf: &mut BytesMut, len: usize, at: u64) -> Result<Option<Bytes>, FrameError> {
    for (i, &want) in b"\r\n".iter().enumerate() {
        match buf.get(len + i) {
            Some(&b) if b != want => {
                let what = "Protocol error: bulk string not terminated by CRLF";
                return Err(malformed(what, at + (len + i) as u64));
            }
            Some(_) => {}
            None => return Ok(None),
        }
    }
    let bulk = buf.split_to(len).freeze();
    buf.advance(2);
    Ok(Some(bulk))
}

/// Writes `kind`, the decimal `n` and `\r\n`.
fn put_header(dst: &mut BytesMut, kind: u8, n: i64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        digits[i] = b'-';
    }
    dst.reserve(23);
    dst.put_u8(kind);
    dst.put_slice(&digits[i..]);
    dst.put_slice(b"\r\n");
}

/// Writes the `$<len>\r\n` that begins a bulk of `len` bytes.
pub(crate) fn put_bulk_header(dst: &mut BytesMut, len: usize) {
    put_header(dst, b'$', len as i64);
}

fn put_bulk(dst: &mut BytesMut, b: &[u8]) {
    put_header(dst, b'$', b.len() as i64);
    dst.reserve(b.len() + 2);
    dst.put_slice(b);
    dst.put_slice(b"\r\n");
}

fn put_text(dst: &mut BytesMut, kind: u8, text: &str) {
    let text = text.as_bytes();
    dst.reserve(text.len() + 3);
    dst.put_u8(kind);
    if memchr::memchr2(b'\r', b'\n', text).is_none() {
        dst.put_slice(text);
    } else {
        dst.extend(text.iter().map(|&c| match c {
            b'\r' | b'\n' => b' ',
            c => c,
        }));
    }
    dst.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests(input: &[u8]) -> Result<Vec<Command>, FrameError> {
        let mut dec = RequestDecoder::new()
            .max_inline(16)
            .max_bulk(8)
            .max_array(4);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(cmd) = dec.decode_eof(&mut buf)? {
            out.push(cmd);
        }
        Ok(out)
    }

    fn err(what: &str, at: u64) -> Result<Vec<Command>, FrameError> {
        Err(malformed(what, at))
    }

    #[test]
    fn inline_and_multibulk() {
        assert_eq!(
            requests(b"PING\r\n \r\n*0\r\n*-1\r\n*1\r\n$0\r\n\r\necho \"a b\"\n"),
            Ok(vec![
                Command::new(["PING"]),
                Command::new([""]),
                Command::new(["echo", "a b"])
            ])
        );
    }

    #[test]
    fn redis_error_words() {
        assert_eq!(
            requests(b"*x\r\n"),
            err("Protocol error: invalid multibulk length", 0)
        );
        assert_eq!(
            requests(b"*5\r\n"),
            err("Protocol error: invalid multibulk length", 0)
        );
        assert_eq!(
            requests(b"*1\r\n:1\r\n"),
            err("Protocol error: expected '$', got ':'", 4)
        );
        assert_eq!(
            requests(b"*1\r\n$-1\r\n"),
            err("Protocol error: invalid bulk length", 4)
        );
        assert_eq!(
            requests(b"*1\r\n$9\r\n"),
            err("Protocol error: invalid bulk length", 4)
        );
        assert_eq!(
            requests(b"*1\r\n$2\r\nabc"),
            err("Protocol error: bulk string not terminated by CRLF", 10)
        );
        assert_eq!(
            requests(b"x\na 'b\n"),
            err(super::super::inline::UNBALANCED, 2)
        );
        let long = [b'a'; 17];
        assert_eq!(
            requests(&long),
            err("Protocol error: too big inline request", 0)
        );
        assert_eq!(
            requests(b"*11111111111111111"),
            err("Protocol error: too big mbulk count string", 0)
        );
        assert_eq!(
            requests(b"*1\r\n$11111111111111111"),
            err("Protocol error: too big bulk count string", 4)
        );
        assert_eq!(
            requests(b"PING\n*1\r\n$1\r\n"),
            Err(FrameError::UnexpectedEof { at: 5 })
        );
        assert_eq!(
            requests(b"*1\n"),
            err("Protocol error: invalid multibulk length", 0)
        );
        assert_eq!(
            requests(b"*1\r\n$1\n"),
            err("Protocol error: invalid bulk length", 4)
        );
    }

    #[test]
    fn replies_nest_and_fail_cleanly() {
        let mut dec = ReplyDecoder::new().max_depth(2);
        let mut buf = BytesMut::from(&b"*1\r\n*1\r\n*0\r\n*1\r\n*1\r\n*1\r\n"[..]);
        let one = |r| Reply::Array(vec![r]);
        assert_eq!(
            dec.decode(&mut buf),
            Ok(Some(one(one(Reply::Array(vec![])))))
        );
        let e = malformed("Protocol error: arrays nested too deeply", 20);
        assert_eq!(dec.decode(&mut buf), Err(e.clone()));
        assert_eq!(dec.decode_eof(&mut buf), Err(e));
        let mut dec = ReplyDecoder::new();
        let mut buf = BytesMut::from(&b":1\r\n?"[..]);
        assert_eq!(dec.decode(&mut buf), Ok(Some(Reply::Integer(1))));
        let e = malformed("Protocol error: unknown reply type '?'", 4);
        assert_eq!(dec.decode(&mut buf), Err(e));
        let mut buf = BytesMut::from(&b"+OK\n"[..]);
        let e = malformed("Protocol error: line not terminated by CRLF", 3);
        assert_eq!(ReplyDecoder::new().decode(&mut buf), Err(e));
    }
}
