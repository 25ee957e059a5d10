//! Protocols: a framing plus how a [`Command`] and a [`Reply`] are written inside its frames.
//!
//! - [`Framing::Resp`]: RESP2 exactly as Redis speaks it (inline and multibulk requests).
//! - [`Framing::Line`]: one command per line, arguments split as Redis splits inline commands
//!   (`SET k "a b"`); each reply element is one line (see [`line`](mod@line)).
//! - [`Framing::Length`]: binary; a frame's payload is the arguments, each itself a
//!   length-prefixed frame with the same header; a reply is one frame holding its RESP bytes.
//!
//! The server side is [`RequestDecoder`] + [`ReplyEncoder`]; the client side (tests, virtual
//! clients, benchmarks) is [`encode_command`] + [`ReplyDecoder`].

pub mod inline;
pub mod length;
pub mod line;
pub mod resp;

use crate::framing::{Decoder, Delimited, Endian, FrameError, LengthPrefixed};
use crate::{Command, Limits, Reply};
use bytes::BytesMut;
use std::fmt;

/// How requests and replies are framed on a connection.
///
/// With the `serde` feature, a framing is a table tagged by `kind`: `{ kind = "resp" }`,
/// `{ kind = "line", delimiter = '\r\n' }` (the delimiter with escapes, as `--delimiter`
/// takes it), `{ kind = "length", header_len = 4, endian = "big" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)
)]
pub enum Framing {
    /// RESP2, the Redis protocol.
    Resp,
    /// One command per delimited line.
    Line {
        /// The delimiter, e.g. `b"\n"` (a `\r` before a `\n` is whitespace and ignored).
        #[cfg_attr(feature = "serde", serde(with = "crate::text::escaped"))]
        delimiter: Vec<u8>,
    },
    /// Binary length-prefixed frames.
    Length {
        /// Header size in bytes: 1, 2, 4 or 8.
        header_len: usize,
        /// Byte order of the header.
        endian: Endian,
    },
}

impl Framing {
    /// Line framing with `\n`.
    pub fn line() -> Framing {
        Framing::Line {
            delimiter: b"\n".to_vec(),
        }
    }

    /// Length framing with a 4-byte big-endian header.
    pub fn length() -> Framing {
        Framing::Length {
            header_len: 4,
            endian: Endian::Big,
        }
    }

    /// Checks the settings: a non-empty line delimiter of control or non-ASCII bytes only
    /// (everything printable may appear inside an escaped argument or reply, so a printable
    /// delimiter could be found inside one), a header of 1, 2, 4 or 8 bytes.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Framing::Line { delimiter } if delimiter.is_empty() => {
                Err("the line delimiter must not be empty".into())
            }
            Framing::Line { delimiter } if delimiter.iter().any(|b| b.is_ascii_graphic() || *b == b' ') => {
                Err("the line delimiter must be made of control or non-ASCII bytes (e.g. \\n, \\r\\n, \\0): \
                     printable bytes and spaces appear inside escaped arguments and replies"
                    .into())
            }
            Framing::Length { header_len, .. } if ![1, 2, 4, 8].contains(header_len) => Err(
                format!("a length header has 1, 2, 4 or 8 bytes, not {header_len}"),
            ),
            _ => Ok(()),
        }
    }

    /// The short name used on command lines: `resp`, `line` or `length`.
    pub fn name(&self) -> &'static str {
        match self {
            Framing::Resp => "resp",
            Framing::Line { .. } => "line",
            Framing::Length { .. } => "length",
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Framing {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "resp" => Ok(Framing::Resp),
            "line" => Ok(Framing::line()),
            "length" => Ok(Framing::length()),
            other => Err(format!(
                "unknown framing '{other}' (expected resp, line or length)"
            )),
        }
    }
}

/// Server side: turns a byte stream into [`Command`]s for any [`Framing`].
///
/// ```
/// use bytes::BytesMut;
/// use framesim_server::framing::Decoder;
/// use framesim_server::protocol::{Framing, RequestDecoder};
/// use framesim_server::Limits;
///
/// let mut dec = RequestDecoder::new(&Framing::line(), &Limits::default());
/// let mut buf = BytesMut::from(&b"SET k \"a b\"\nGET k\n"[..]);
/// assert_eq!(dec.decode(&mut buf).unwrap().unwrap().args.len(), 3);
/// assert_eq!(dec.decode(&mut buf).unwrap().unwrap().name(), "GET");
/// ```
#[derive(Debug)]
pub enum RequestDecoder {
    /// RESP2 requests.
    Resp(resp::RequestDecoder),
    /// Line requests.
    Line(line::RequestDecoder),
    /// Length-prefixed requests.
    Length(length::RequestDecoder),
}

impl RequestDecoder {
    /// A decoder for `framing` with `limits`.
    pub fn new(framing: &Framing, limits: &Limits) -> Self {
        match framing {
            Framing::Resp => RequestDecoder::Resp(
                resp::RequestDecoder::new()
                    .max_inline(limits.max_line)
                    .max_bulk(limits.max_frame),
            ),
            Framing::Line { delimiter } => RequestDecoder::Line(line::RequestDecoder::new(
                Delimited::new(delimiter, limits.max_line),
            )),
            Framing::Length { header_len, endian } => RequestDecoder::Length(
                length::RequestDecoder::new(length_codec(*header_len, *endian, limits.max_frame)),
            ),
        }
    }

    /// A fresh decoder taking over a stream between frames: its first byte is at `offset`
    /// (error offsets count from the stream's start, whichever decoder saw the bytes before).
    pub(crate) fn resume_at(&mut self, offset: u64) {
        match self {
            RequestDecoder::Resp(d) => d.resume_at(offset),
            RequestDecoder::Line(d) => d.resume_at(offset),
            RequestDecoder::Length(d) => d.resume_at(offset),
        }
    }
}

impl Decoder for RequestDecoder {
    type Item = Command;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, FrameError> {
        match self {
            RequestDecoder::Resp(d) => d.decode(buf),
            RequestDecoder::Line(d) => d.decode(buf),
            RequestDecoder::Length(d) => d.decode(buf),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, FrameError> {
        match self {
            RequestDecoder::Resp(d) => d.decode_eof(buf),
            RequestDecoder::Line(d) => d.decode_eof(buf),
            RequestDecoder::Length(d) => d.decode_eof(buf),
        }
    }

    fn in_frame(&self) -> bool {
        match self {
            RequestDecoder::Resp(d) => d.in_frame(),
            RequestDecoder::Line(d) => d.in_frame(),
            RequestDecoder::Length(d) => d.in_frame(),
        }
    }

    fn held(&self) -> usize {
        match self {
            RequestDecoder::Resp(d) => d.held(),
            RequestDecoder::Line(d) => d.held(),
            RequestDecoder::Length(d) => d.held(),
        }
    }
}

/// Builds the length codec for a header size; sizes other than 1, 2, 4, 8 fall back to 4
/// (a server refuses such a configuration up front, see [`Framing::validate`]).
pub(crate) fn length_codec(header_len: usize, endian: Endian, max: usize) -> LengthPrefixed {
    LengthPrefixed::new()
        .with_header_len(header_len)
        .unwrap_or_else(|_| LengthPrefixed::new())
        .with_endian(endian)
        .with_max_frame_len(max)
}

/// Server side: writes [`Reply`]s in a framing's encoding; built once per connection, the
/// counterpart of [`RequestDecoder`].
///
/// ```
/// use bytes::BytesMut;
/// use framesim_server::protocol::{Framing, ReplyEncoder};
/// use framesim_server::Reply;
///
/// let mut out = BytesMut::new();
/// ReplyEncoder::new(&Framing::Resp).encode(&Reply::ok(), &mut out);
/// assert_eq!(&out[..], b"+OK\r\n");
/// ```
#[derive(Debug, Clone)]
pub enum ReplyEncoder {
    /// RESP2 replies.
    Resp,
    /// One line per reply element, ending with the delimiter.
    Line(Box<[u8]>),
    /// One length-prefixed frame holding the reply's RESP bytes.
    Length(LengthPrefixed),
}

impl ReplyEncoder {
    /// An encoder for replies in `framing`.
    pub fn new(framing: &Framing) -> Self {
        match framing {
            Framing::Resp => ReplyEncoder::Resp,
            Framing::Line { delimiter } => ReplyEncoder::Line(delimiter.clone().into()),
            Framing::Length { header_len, endian } => {
                ReplyEncoder::Length(length_codec(*header_len, *endian, usize::MAX))
            }
        }
    }

    /// Queues `reply`: like [`ReplyEncoder::encode`], except that a RESP bulk of at least
    /// [`SHARE_MIN`] bytes is queued by reference. Returns whether it was (the server counts
    /// such replies).
    pub fn encode_queued(&self, reply: &Reply, queue: &mut ReplyQueue) -> bool {
        match (self, reply) {
            (ReplyEncoder::Resp, Reply::Bulk(value)) if value.len() >= SHARE_MIN => {
                resp::put_bulk_header(&mut queue.tail, value.len());
                queue.share(value.clone());
                queue.tail.extend_from_slice(b"\r\n");
                true
            }
            _ => {
                self.encode(reply, &mut queue.tail);
                false
            }
        }
    }

    /// Appends `reply` to `dst`.
    pub fn encode(&self, reply: &Reply, dst: &mut BytesMut) {
        match self {
            ReplyEncoder::Resp => resp::encode_reply(reply, dst),
            ReplyEncoder::Line(delimiter) => line::encode_reply(reply, delimiter, dst),
            ReplyEncoder::Length(frames) => length::encode_reply(frames, reply, dst),
        }
    }
}

/// RESP bulk values at least this long are queued by reference ([`ReplyQueue`]), not copied.
pub const SHARE_MIN: usize = 64 * 1024;

/// Replies waiting to be written: encoded bytes, with large values shared with whoever
/// holds them (the store) instead of copied. A 16 MiB `GET` reply costs a header, not
/// another 16 MiB.
#[derive(Debug, Default)]
pub struct ReplyQueue {
    /// Sealed parts, in order, before `tail`.
    parts: Vec<bytes::Bytes>,
    /// Bytes being encoded after the last part.
    tail: BytesMut,
}

impl ReplyQueue {
    /// How many slices [`ReplyQueue::chunk`] may give, at most: the sealed parts and the tail.
    pub fn chunk_count(&self) -> usize {
        self.parts.len() + 1
    }

    /// Bytes queued.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.len()).sum::<usize>() + self.tail.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queued bytes, in order, as a few slices.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.chunk_count()).filter_map(|i| self.chunk(i))
    }

    /// Slice `i` of [`ReplyQueue::chunks`] (`None` past the end or when empty).
    pub fn chunk(&self, i: usize) -> Option<&[u8]> {
        let chunk = match self.parts.get(i) {
            Some(part) => &part[..],
            None if i == self.parts.len() => &self.tail[..],
            None => return None,
        };
        (!chunk.is_empty()).then_some(chunk)
    }

    /// Empties the queue; gives a large encoding buffer back.
    pub fn clear(&mut self, keep: usize) {
        self.parts.clear();
        self.tail.clear();
        if self.tail.capacity() > keep {
            self.tail = BytesMut::new();
        }
    }

    fn share(&mut self, part: bytes::Bytes) {
        if !self.tail.is_empty() {
            self.parts.push(self.tail.split().freeze());
        }
        self.parts.push(part);
    }
}

/// Client side: writes `cmd` as a request in `framing`'s encoding. Fails only when the
/// command does not fit a length header (e.g. over 255 bytes with a 1-byte header).
pub fn encode_command(
    framing: &Framing,
    cmd: &Command,
    dst: &mut BytesMut,
) -> Result<(), FrameError> {
    match framing {
        Framing::Resp => resp::encode_command(cmd, dst),
        Framing::Line { delimiter } => line::encode_command(cmd, delimiter, dst),
        Framing::Length { header_len, endian } => {
            return length::encode_command(
                &length_codec(*header_len, *endian, usize::MAX),
                cmd,
                dst,
            )
        }
    }
    Ok(())
}

/// Client side: turns the server's byte stream back into [`Reply`]s for any [`Framing`].
#[derive(Debug)]
pub enum ReplyDecoder {
    /// RESP2 replies.
    Resp(resp::ReplyDecoder),
    /// Line replies.
    Line(line::ReplyDecoder),
    /// Length-prefixed replies.
    Length(length::ReplyDecoder),
}

impl ReplyDecoder {
    /// A decoder for replies in `framing`, with `max` as the size limit of one reply.
    pub fn new(framing: &Framing, max: usize) -> Self {
        match framing {
            Framing::Resp => ReplyDecoder::Resp(resp::ReplyDecoder::new().max_bulk(max)),
            Framing::Line { delimiter } => {
                ReplyDecoder::Line(line::ReplyDecoder::new(Delimited::new(delimiter, max)))
            }
            Framing::Length { header_len, endian } => ReplyDecoder::Length(
                length::ReplyDecoder::new(length_codec(*header_len, *endian, max)),
            ),
        }
    }
}

impl Decoder for ReplyDecoder {
    type Item = Reply;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, FrameError> {
        match self {
            ReplyDecoder::Resp(d) => d.decode(buf),
            ReplyDecoder::Line(d) => d.decode(buf),
            ReplyDecoder::Length(d) => d.decode(buf),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, FrameError> {
        match self {
            ReplyDecoder::Resp(d) => d.decode_eof(buf),
            ReplyDecoder::Line(d) => d.decode_eof(buf),
            ReplyDecoder::Length(d) => d.decode_eof(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_value_is_queued_by_reference_and_writes_the_same_bytes() {
        let big = bytes::Bytes::from(vec![b'v'; SHARE_MIN]);
        let replies = [Reply::ok(), Reply::Bulk(big.clone()), Reply::Integer(7)];
        for framing in [Framing::Resp, Framing::line(), Framing::length()] {
            let encoder = ReplyEncoder::new(&framing);
            let (mut queue, mut flat) = (ReplyQueue::default(), BytesMut::new());
            let mut said = Vec::new();
            for r in &replies {
                said.push(encoder.encode_queued(r, &mut queue));
                encoder.encode(r, &mut flat);
            }
            assert_eq!(queue.chunks().collect::<Vec<_>>().concat(), &flat[..]);
            assert_eq!(queue.len(), flat.len());
            let shared = queue.chunks().any(|c| c.as_ptr() == big.as_ptr());
            assert_eq!(shared, framing == Framing::Resp, "{framing}");
            assert_eq!(said, [false, shared, false], "{framing}");
        }
    }

    #[test]
    fn a_bulk_one_byte_under_share_min_is_copied() {
        let value = bytes::Bytes::from(vec![b'v'; SHARE_MIN - 1]);
        let mut queue = ReplyQueue::default();
        assert!(!ReplyEncoder::Resp.encode_queued(&Reply::Bulk(value.clone()), &mut queue));
        assert!(queue.chunks().all(|c| c.as_ptr() != value.as_ptr()));
        assert_eq!(queue.chunk_count(), 1);
    }
}
