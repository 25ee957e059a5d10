//! The bodies of the fuzz targets: plain functions that panic when a property breaks.
//!
//! cargo-fuzz calls them from `fuzz/fuzz_targets/` (one line each), and
//! `tests/fuzz_corpus.rs` replays every checked-in seed and every past crash through them
//! under plain `cargo test` on stable, so a bug found once stays found. Only built with the
//! `fuzzing` feature (it brings `arbitrary`, and paused tokio time for [`connection`]).
//!
//! | function | input | property |
//! | --- | --- | --- |
//! | [`delimited`] | bytes | frames end at the first delimiter and fit the limit; errors are proven |
//! | [`length_prefixed`] | bytes | frames and errors equal a reference model; no allocation past the limit |
//! | [`resp`] | bytes | commands and replies fit the limits; small limits only cut, never change, a parse |
//! | [`split_invariance`] | [`SplitInput`] | chunked decoding equals whole decoding, errors alike |
//! | [`roundtrip`] | [`RoundtripInput`] | encode then decode gives the command / reply back, every framing |
//! | [`connection`] | [`ConnectionInput`] | the real `serve` loop answers each complete request once, in order, and ends |
//!
//! Every decoder is also checked for sticky errors (a failed decoder keeps failing with the
//! same error) and for bounded buffer capacity.

use crate::framing::{Decoder, Delimited, Endian, FrameError, LengthPrefixed};
use crate::protocol::{self, resp, Framing, ReplyEncoder};
use crate::{serve, Command, Config, Kv, Limits, Listener, Reply, Service, Stats};
use arbitrary::{Arbitrary, Result as ArbResult, Unstructured};
use bytes::{Bytes, BytesMut};
use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

// ---- driving a decoder ------------------------------------------------------------------

/// What a decoder made of a stream: its items, then the error that stopped it, if any.
#[derive(Debug, PartialEq)]
struct Outcome<T> {
    items: Vec<T>,
    error: Option<FrameError>,
    /// The error came from `decode_eof` (the only place `UnexpectedEof` may come from).
    at_eof: bool,
}

/// Calls `decode` (or `decode_eof`) until it wants more bytes or fails.
fn drain<D: Decoder>(
    dec: &mut D,
    buf: &mut BytesMut,
    items: &mut Vec<D::Item>,
    eof: bool,
    budget: usize,
) -> Result<(), FrameError> {
    loop {
        let next = if eof {
            dec.decode_eof(buf)?
        } else {
            dec.decode(buf)?
        };
        match next {
            Some(item) => items.push(item),
            None => return Ok(()),
        }
        // Every item takes at least one byte off the stream; more items than bytes means a
        // decoder that yields without consuming (it would loop forever in the server).
        assert!(
            items.len() <= budget,
            "decoder yielded {} items from {budget} bytes",
            items.len()
        );
    }
}

/// Feeds `data` in the given chunks (one chunk: the whole input), then ends the stream.
/// Checks after every step that the buffer's capacity stays below `cap_bound`.
fn decode_chunks<D: Decoder>(
    dec: &mut D,
    data: &[u8],
    chunks: &[usize],
    cap_bound: usize,
) -> (Outcome<D::Item>, BytesMut) {
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut at = 0;
    let mut result = Ok(());
    for &len in chunks {
        let end = (at + len).min(data.len());
        buf.extend_from_slice(&data[at..end]);
        at = end;
        result = drain(dec, &mut buf, &mut items, false, data.len());
        check_capacity(&buf, cap_bound);
        if result.is_err() {
            break;
        }
    }
    let at_eof = result.is_ok();
    if at_eof {
        buf.extend_from_slice(&data[at..]);
        result = drain(dec, &mut buf, &mut items, false, data.len());
        if result.is_ok() {
            result = drain(dec, &mut buf, &mut items, true, data.len());
        }
        check_capacity(&buf, cap_bound);
    }
    let error = result.err();
    let at_eof = at_eof && error.is_some();
    if let Some(e) = &error {
        assert!(
            at_eof || !matches!(e, FrameError::UnexpectedEof { .. }),
            "UnexpectedEof from decode() before the stream ended: {e:?}"
        );
        check_sticky(dec, &mut buf, e);
    }
    (
        Outcome {
            items,
            error,
            at_eof,
        },
        buf,
    )
}

/// The whole input in one buffer, then the end of the stream.
fn decode_whole<D: Decoder>(dec: &mut D, data: &[u8], cap_bound: usize) -> Outcome<D::Item> {
    decode_chunks(dec, data, &[data.len()], cap_bound).0
}

fn check_capacity(buf: &BytesMut, bound: usize) {
    assert!(
        buf.capacity() <= bound,
        "buffer capacity {} exceeds the bound {bound} (limits + input)",
        buf.capacity()
    );
}

/// A failed decoder returns the same error again, whatever arrives after.
fn check_sticky<D: Decoder>(dec: &mut D, buf: &mut BytesMut, e: &FrameError) {
    buf.extend_from_slice(b"PING\r\n*1\r\n$4\r\nPING\r\n\x00\x00\x00\x01a\n");
    let again = dec.decode(buf).err();
    assert_eq!(again.as_ref(), Some(e), "error not sticky (decode)");
    let again = dec.decode_eof(buf).err();
    assert_eq!(again.as_ref(), Some(e), "error not sticky (decode_eof)");
}

/// Offsets point into the input; messages say something.
fn check_error_shape(e: &FrameError, len: usize) {
    let at = match e {
        FrameError::TooLarge { at, .. } | FrameError::UnexpectedEof { at } => *at,
        FrameError::Malformed { what, at } => {
            assert!(!what.is_empty(), "Malformed error without a message");
            *at
        }
    };
    assert!(
        at <= len as u64,
        "error offset {at} is past the input's {len} bytes: {e:?}"
    );
    assert!(!e.to_string().is_empty());
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

// ---- delimited -------------------------------------------------------------------------

/// Settings the byte-level `delimited` target runs every input through.
const DELIMITED: &[(&[u8], usize)] = &[
    (b"\n", 64 * 1024),
    (b"\r\n", 8),
    (b"\n", 0),
    (b"\r\n\r\n", 32),
    (b"aab", 5),
    (b"\0", 1),
];

/// [`Delimited`] on arbitrary bytes, for each of a few settings: every frame is the bytes
/// before the *first* delimiter and fits the limit; `TooLarge` only when the buffer proves
/// no frame can end within the limit; `UnexpectedEof` only for a non-empty tail without a
/// delimiter; `decode_each` agrees with `decode`; every frame re-encodes to its own bytes.
pub fn delimited(data: &[u8]) {
    for &(delim, max) in DELIMITED {
        check_delimited(data, delim, max);
    }
}

fn check_delimited(data: &[u8], delim: &[u8], max: usize) {
    let d = delim.len();
    let out = decode_whole(&mut Delimited::new(delim, max), data, data.len().max(64));
    let mut offset = 0;
    for frame in &out.items {
        let rest = &data[offset..];
        assert!(frame.len() <= max, "frame of {} > max {max}", frame.len());
        assert_eq!(
            find(rest, delim),
            Some(frame.len()),
            "frame does not end at the first delimiter (delimiter {:?}, frame {:?})",
            delim.escape_ascii().to_string(),
            frame.escape_ascii().to_string()
        );
        assert_eq!(&rest[..frame.len()], &frame[..]);
        offset += frame.len() + d;
    }
    let rest = &data[offset..];
    match &out.error {
        None => assert!(rest.is_empty(), "decode_eof left {} bytes", rest.len()),
        Some(FrameError::TooLarge { limit, at }) => {
            assert_eq!((*limit, *at), (max, offset as u64), "TooLarge fields");
            assert!(
                find(rest, delim).is_none_or(|p| p > max) && rest.len() > max,
                "TooLarge although a frame within {max} bytes may still end: {:?}",
                rest.escape_ascii().to_string()
            );
        }
        Some(FrameError::UnexpectedEof { at }) => {
            assert_eq!(*at, offset as u64, "UnexpectedEof offset");
            assert!(!rest.is_empty() && find(rest, delim).is_none());
            assert!(
                rest.len() < max + d,
                "a tail over the limit is TooLarge, not EOF"
            );
        }
        Some(e @ FrameError::Malformed { .. }) => panic!("Delimited cannot be malformed: {e}"),
    }
    if let Some(e) = &out.error {
        check_error_shape(e, data.len());
    }

    // decode_each must give the same frames and the same error.
    let mut dec = Delimited::new(delim, max);
    let mut buf = BytesMut::from(data);
    let mut frames = Vec::new();
    let each = dec.decode_each(&mut buf, |f| frames.push(BytesMut::from(f)));
    let error = match each {
        Err(e) => Some(e),
        Ok(n) => {
            assert_eq!(n, frames.len(), "decode_each's count");
            let eof = drain(&mut dec, &mut buf, &mut frames, true, data.len());
            eof.err()
        }
    };
    assert_eq!(
        (&frames, &error),
        (&out.items, &out.error),
        "decode_each differs from decode"
    );

    // Every decoded frame encodes back to its own bytes.
    let codec = Delimited::new(delim, max);
    let mut offset = 0;
    for frame in &out.items {
        let mut dst = BytesMut::new();
        codec
            .encode(frame, &mut dst)
            .unwrap_or_else(|e| panic!("a decoded frame does not re-encode: {e}"));
        assert_eq!(&dst[..], &data[offset..offset + frame.len() + d]);
        offset += frame.len() + d;
    }
}

// ---- length-prefixed -------------------------------------------------------------------

/// (header bytes, byte order, adjustment, max payload) the byte-level target runs.
const LENGTH: &[(usize, Endian, i64, usize)] = &[
    (4, Endian::Big, 0, 1 << 16),
    (2, Endian::Little, 0, 300),
    (1, Endian::Big, 0, 255),
    (8, Endian::Little, 0, 64),
    (4, Endian::Big, -4, 1024),
    (2, Endian::Big, 3, 16),
    (1, Endian::Little, -1, 0),
];

/// [`LengthPrefixed`] on arbitrary bytes, for each of a few settings: frames and errors
/// equal a plain reference model exactly; the buffer never grows past the limit (the header
/// is checked before anything is reserved); every frame re-encodes to its own bytes.
pub fn length_prefixed(data: &[u8]) {
    for &(h, endian, adj, max) in LENGTH {
        let codec = LengthPrefixed::new()
            .with_header_len(h)
            .expect("valid header length")
            .with_endian(endian)
            .with_adjustment(adj)
            .with_max_frame_len(max);
        let bound = 4 * (data.len() + max) + 64;
        let out = decode_whole(&mut codec.clone(), data, bound);
        let (frames, error) = length_reference(data, h, endian, adj, max);
        let got: Vec<&[u8]> = out.items.iter().map(|f| &f[..]).collect();
        assert_eq!(
            got, frames,
            "frames differ from the model ({h}-byte header)"
        );
        match (&out.error, &error) {
            (Some(FrameError::Malformed { at, .. }), Some(FrameError::Malformed { at: b, .. })) => {
                assert_eq!(at, b, "Malformed offset")
            }
            (got, want) => assert_eq!(got, want, "error differs from the model"),
        }
        if let Some(e) = &out.error {
            check_error_shape(e, data.len());
        }
        let mut offset = 0;
        for frame in &out.items {
            let mut dst = BytesMut::new();
            codec
                .encode(frame, &mut dst)
                .unwrap_or_else(|e| panic!("a decoded frame does not re-encode: {e}"));
            assert_eq!(&dst[..], &data[offset..offset + h + frame.len()]);
            offset += h + frame.len();
        }
    }
}

/// The length-prefixed format, written as plainly as possible.
fn length_reference(
    data: &[u8],
    h: usize,
    endian: Endian,
    adj: i64,
    max: usize,
) -> (Vec<&[u8]>, Option<FrameError>) {
    let mut frames = Vec::new();
    let mut offset = 0;
    loop {
        let rest = &data[offset..];
        let at = offset as u64;
        if rest.is_empty() {
            return (frames, None);
        }
        if rest.len() < h {
            return (frames, Some(FrameError::UnexpectedEof { at }));
        }
        let mut header = [0u8; 8];
        header[..h].copy_from_slice(&rest[..h]);
        if endian == Endian::Big {
            header[..h].reverse();
        }
        let len = i128::from(u64::from_le_bytes(header)) + i128::from(adj);
        if len < 0 {
            let what = "negative".into();
            return (frames, Some(FrameError::Malformed { what, at }));
        }
        if len > max as i128 {
            return (frames, Some(FrameError::TooLarge { limit: max, at }));
        }
        let len = len as usize;
        if rest.len() < h + len {
            return (frames, Some(FrameError::UnexpectedEof { at }));
        }
        frames.push(&rest[h..h + len]);
        offset += h + len;
    }
}

// ---- RESP ------------------------------------------------------------------------------

/// Limits of a RESP request decoder: (max inline, max bulk, max array).
type RequestLimits = (usize, usize, usize);
/// Limits of a RESP reply decoder: (max line, max bulk, max array, max depth).
type ReplyLimits = (usize, usize, usize, usize);

const SMALL_REQUESTS: RequestLimits = (16, 8, 4);
const SMALL_REPLIES: ReplyLimits = (16, 8, 4, 3);

/// The RESP request and reply decoders on arbitrary bytes, with the default limits and with
/// small ones: every command and reply fits the limits; errors are typed, offset into the
/// input and worded as Redis words them; the buffer stays bounded; small limits yield a
/// prefix of what the defaults yield and then a limit error (they cut a parse, never change
/// it); every decoded value re-encodes and decodes to itself.
pub fn resp(data: &[u8]) {
    let default = resp_requests(data, None);
    let small = resp_requests(data, Some(SMALL_REQUESTS));
    check_cut_by_limits(&small, &default, "requests");

    let default = resp_replies(data, None);
    let small = resp_replies(data, Some(SMALL_REPLIES));
    check_cut_by_limits(&small, &default, "replies");
}

fn resp_requests(data: &[u8], limits: Option<RequestLimits>) -> Outcome<Command> {
    let mut dec = resp::RequestDecoder::new();
    let (max_inline, max_bulk, max_array) = match limits {
        Some(l) => {
            dec = dec.max_inline(l.0).max_bulk(l.1).max_array(l.2);
            l
        }
        None => (
            crate::framing::DEFAULT_MAX_LINE,
            crate::framing::DEFAULT_MAX_FRAME,
            resp::DEFAULT_MAX_ARRAY,
        ),
    };
    let bound = 4 * (data.len() + max_bulk + 2) + 64;
    let out = decode_whole(&mut dec, data, bound);
    for cmd in &out.items {
        assert!(!cmd.args.is_empty(), "a decoded command has no arguments");
        assert!(
            cmd.args.len() <= max_array.max(max_inline),
            "{} arguments",
            cmd.args.len()
        );
        for arg in &cmd.args {
            assert!(
                arg.len() <= max_bulk.max(max_inline),
                "argument of {} bytes",
                arg.len()
            );
        }
        let mut buf = BytesMut::new();
        resp::encode_command(cmd, &mut buf);
        let again = resp::RequestDecoder::new().decode(&mut buf);
        assert_eq!(again, Ok(Some(cmd.clone())), "command does not round-trip");
    }
    check_resp_error(&out, data.len(), max_bulk);
    out
}

fn resp_replies(data: &[u8], limits: Option<ReplyLimits>) -> Outcome<Reply> {
    let mut dec = resp::ReplyDecoder::new();
    let (max_line, max_bulk, max_array, max_depth) = match limits {
        Some(l) => {
            dec = dec
                .max_line(l.0)
                .max_bulk(l.1)
                .max_array(l.2)
                .max_depth(l.3);
            l
        }
        None => (
            crate::framing::DEFAULT_MAX_LINE,
            crate::framing::DEFAULT_MAX_FRAME,
            resp::DEFAULT_MAX_ARRAY,
            resp::DEFAULT_MAX_DEPTH,
        ),
    };
    let bound = 4 * (data.len() + max_bulk + 2) + 64;
    let out = decode_whole(&mut dec, data, bound);
    for reply in &out.items {
        check_reply_limits(reply, max_line, max_bulk, max_array, max_depth + 1);
        let mut buf = BytesMut::new();
        resp::encode_reply(reply, &mut buf);
        let again = resp::ReplyDecoder::new().decode(&mut buf);
        assert_eq!(
            again,
            Ok(Some(on_the_wire(reply))),
            "reply does not round-trip"
        );
    }
    check_resp_error(&out, data.len(), max_bulk);
    out
}

fn check_reply_limits(r: &Reply, line: usize, bulk: usize, array: usize, depth: usize) {
    match r {
        // Lossy UTF-8 turns one bad byte into three.
        Reply::Simple(s) | Reply::Error(s) => assert!(s.len() <= 3 * line, "line {}", s.len()),
        Reply::Bulk(b) => assert!(b.len() <= bulk, "bulk of {} bytes", b.len()),
        Reply::Array(items) => {
            assert!(depth > 0, "arrays nested deeper than the limit");
            assert!(items.len() <= array, "array of {}", items.len());
            for item in items {
                check_reply_limits(item, line, bulk, array, depth - 1);
            }
        }
        Reply::Integer(_) | Reply::Null => {}
    }
}

/// What a reply looks like after RESP carried it: CR and LF in status lines become spaces.
fn on_the_wire(r: &Reply) -> Reply {
    let clean = |s: &str| s.replace(['\r', '\n'], " ");
    match r {
        Reply::Simple(s) => Reply::Simple(clean(s)),
        Reply::Error(s) => Reply::Error(clean(s)),
        Reply::Array(items) => Reply::Array(items.iter().map(on_the_wire).collect()),
        other => other.clone(),
    }
}

fn check_resp_error<T>(out: &Outcome<T>, len: usize, max_bulk: usize) {
    match &out.error {
        None => {}
        Some(FrameError::TooLarge { limit, .. }) => assert_eq!(*limit, max_bulk),
        Some(FrameError::Malformed { what, .. }) => assert!(
            what.starts_with("Protocol error: "),
            "not worded as Redis words it: {what}"
        ),
        Some(FrameError::UnexpectedEof { .. }) => {}
    }
    if let Some(e) = &out.error {
        check_error_shape(e, len);
    }
}

/// Smaller limits may only stop a parse earlier, with an error that names a limit.
fn check_cut_by_limits<T: PartialEq + Debug>(small: &Outcome<T>, big: &Outcome<T>, what: &str) {
    assert!(
        small.items.len() <= big.items.len() && small.items[..] == big.items[..small.items.len()],
        "{what}: small limits changed a parse:\n small {:?}\n default {:?}",
        small.items,
        big.items
    );
    if small.error == big.error && small.items.len() == big.items.len() {
        return;
    }
    let limit_error = match &small.error {
        Some(FrameError::TooLarge { .. }) => true,
        Some(FrameError::Malformed { what, .. }) => {
            what.contains("too big")
                || what.contains("invalid multibulk length")
                || what.contains("invalid bulk length")
                || what.contains("nested too deeply")
        }
        _ => false,
    };
    assert!(
        limit_error,
        "{what}: small limits ended with {:?}, the defaults with {:?} after {} items",
        small.error,
        big.error,
        big.items.len()
    );
}

// ---- split invariance -------------------------------------------------------------------

/// Bytes drawn as one run: a length, then the bytes (as the last field of an input: all the
/// bytes left). `Vec<u8>` would interleave a continue-flag with every byte, which breaks up
/// the dictionary's tokens and makes checked-in traffic unreadable as a seed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Raw(pub Vec<u8>);

impl Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl<'a> Arbitrary<'a> for Raw {
    fn arbitrary(u: &mut Unstructured<'a>) -> ArbResult<Self> {
        Ok(Raw(<&[u8]>::arbitrary(u)?.to_vec()))
    }

    fn arbitrary_take_rest(u: Unstructured<'a>) -> ArbResult<Self> {
        Ok(Raw(u.take_rest().to_vec()))
    }
}

/// A delimiter: a usual one or 1 to 4 arbitrary bytes.
#[derive(Debug, Clone, Arbitrary)]
pub enum Delimiter {
    /// `\n`
    Lf,
    /// `\r\n`
    CrLf,
    /// Arbitrary bytes (empty becomes `\n`, longer than 4 is cut).
    Bytes(Raw),
}

impl Delimiter {
    /// The delimiter's bytes: never empty.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Delimiter::Lf => b"\n".to_vec(),
            Delimiter::CrLf => b"\r\n".to_vec(),
            Delimiter::Bytes(Raw(b)) if b.is_empty() => b"\n".to_vec(),
            Delimiter::Bytes(Raw(b)) => b[..b.len().min(4)].to_vec(),
        }
    }
}

/// A length header: 1, 2, 4 or 8 bytes, either byte order.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct Header {
    /// Index into 1, 2, 4, 8.
    pub size: HeaderSize,
    /// Little-endian instead of network order.
    pub little: bool,
}

/// The four header sizes.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum HeaderSize {
    /// 1 byte.
    One,
    /// 2 bytes.
    Two,
    /// 4 bytes.
    Four,
    /// 8 bytes.
    Eight,
}

impl Header {
    /// Header length in bytes.
    pub fn size(&self) -> usize {
        match self.size {
            HeaderSize::One => 1,
            HeaderSize::Two => 2,
            HeaderSize::Four => 4,
            HeaderSize::Eight => 8,
        }
    }

    /// Byte order.
    pub fn endian(&self) -> Endian {
        if self.little {
            Endian::Little
        } else {
            Endian::Big
        }
    }

    fn codec(&self, adjustment: i64, max: usize) -> LengthPrefixed {
        LengthPrefixed::new()
            .with_header_len(self.size())
            .expect("1, 2, 4 or 8")
            .with_endian(self.endian())
            .with_adjustment(adjustment)
            .with_max_frame_len(max)
    }
}

/// Which decoder, with which settings.
#[derive(Debug, Clone, Arbitrary)]
pub enum Codec {
    /// [`Delimited`] frames.
    Delimited {
        /// The delimiter.
        delimiter: Delimiter,
        /// Longest frame.
        max: u16,
    },
    /// [`LengthPrefixed`] frames.
    Length {
        /// Header format.
        header: Header,
        /// Added to the header's value.
        adjustment: i8,
        /// Longest payload.
        max: u16,
    },
    /// RESP requests.
    RespRequests {
        /// Longest inline request or header line.
        max_inline: u16,
        /// Longest bulk.
        max_bulk: u16,
        /// Most arguments.
        max_array: u8,
    },
    /// RESP replies.
    RespReplies {
        /// Longest line.
        max_line: u16,
        /// Longest bulk.
        max_bulk: u16,
        /// Most elements of an array.
        max_array: u8,
        /// Deepest nesting.
        max_depth: u8,
    },
    /// Line-protocol requests.
    LineRequests {
        /// The delimiter.
        delimiter: Delimiter,
        /// Longest line.
        max: u16,
    },
    /// Line-protocol replies.
    LineReplies {
        /// The delimiter.
        delimiter: Delimiter,
        /// Longest line.
        max: u16,
    },
    /// Length-protocol requests.
    LengthRequests {
        /// Header format.
        header: Header,
        /// Longest frame.
        max: u16,
    },
    /// Length-protocol replies.
    LengthReplies {
        /// Header format.
        header: Header,
        /// Longest frame.
        max: u16,
    },
}

/// Input of [`split_invariance`]: a decoder, chunk sizes and the bytes.
#[derive(Debug, Clone, Arbitrary)]
pub struct SplitInput {
    /// The decoder and its settings.
    pub codec: Codec,
    /// Sizes of the first chunks (0 counts as 1).
    pub chunks: Vec<u16>,
    /// After the listed chunks, feed the rest one byte at a time (else in one piece).
    pub then_bytewise: bool,
    /// The stream.
    pub data: Raw,
}

/// Every decoder, fed `data` in the chunks the fuzzer chose, yields exactly what it yields
/// for the whole input at once: the same items, then the same error (or none). Checked for
/// the framers and for the three protocols' request and reply decoders, with sticky errors
/// and bounded buffer capacity on the chunked side too.
pub fn split_invariance(input: SplitInput) {
    let data = &input.data.0;
    let mut chunks: Vec<usize> = input
        .chunks
        .iter()
        .map(|&c| usize::from(c).max(1))
        .collect();
    let listed: usize = chunks.iter().sum();
    if input.then_bytewise {
        chunks.extend(std::iter::repeat_n(1, data.len().saturating_sub(listed)));
    }
    match &input.codec {
        Codec::Delimited { delimiter, max } => {
            let (d, max) = (delimiter.bytes(), usize::from(*max));
            compare_splits(|| Delimited::new(&d, max), data, &chunks, max + 4);
        }
        Codec::Length {
            header,
            adjustment,
            max,
        } => {
            let codec = header.codec(i64::from(*adjustment), usize::from(*max));
            compare_splits(|| codec.clone(), data, &chunks, usize::from(*max) + 8);
        }
        Codec::RespRequests {
            max_inline,
            max_bulk,
            max_array,
        } => {
            let make = || {
                resp::RequestDecoder::new()
                    .max_inline(usize::from(*max_inline))
                    .max_bulk(usize::from(*max_bulk))
                    .max_array(usize::from(*max_array))
            };
            let limit = usize::from(*max_bulk) + usize::from(*max_inline) + 2;
            compare_splits(make, data, &chunks, limit);
        }
        Codec::RespReplies {
            max_line,
            max_bulk,
            max_array,
            max_depth,
        } => {
            let make = || {
                resp::ReplyDecoder::new()
                    .max_line(usize::from(*max_line))
                    .max_bulk(usize::from(*max_bulk))
                    .max_array(usize::from(*max_array))
                    .max_depth(usize::from(*max_depth))
            };
            let limit = usize::from(*max_bulk) + usize::from(*max_line) + 2;
            compare_splits(make, data, &chunks, limit);
        }
        Codec::LineRequests { delimiter, max } => {
            let (d, max) = (delimiter.bytes(), usize::from(*max));
            let make = || protocol::line::RequestDecoder::new(Delimited::new(&d, max));
            compare_splits(make, data, &chunks, max + 4);
        }
        Codec::LineReplies { delimiter, max } => {
            let (d, max) = (delimiter.bytes(), usize::from(*max));
            let make = || protocol::line::ReplyDecoder::new(Delimited::new(&d, max));
            compare_splits(make, data, &chunks, max + 4);
        }
        Codec::LengthRequests { header, max } => {
            let codec = header.codec(0, usize::from(*max));
            let make = || protocol::length::RequestDecoder::new(codec.clone());
            compare_splits(make, data, &chunks, usize::from(*max) + 8);
        }
        Codec::LengthReplies { header, max } => {
            let codec = header.codec(0, usize::from(*max));
            let make = || protocol::length::ReplyDecoder::new(codec.clone());
            compare_splits(make, data, &chunks, usize::from(*max) + 8);
        }
    }
}

fn compare_splits<D, F>(make: F, data: &[u8], chunks: &[usize], limit: usize)
where
    D: Decoder,
    D::Item: PartialEq + Debug,
    F: Fn() -> D,
{
    let bound = 4 * (data.len() + limit) + 64;
    let whole = decode_whole(&mut make(), data, bound);
    let (split, _) = decode_chunks(&mut make(), data, chunks, bound);
    if let Some(e) = &whole.error {
        check_error_shape(e, data.len());
    }
    assert_eq!(
        split.items, whole.items,
        "chunked decoding yields other items (chunks {chunks:?})"
    );
    assert_eq!(
        split.error, whole.error,
        "chunked decoding fails differently (chunks {chunks:?})"
    );
}

// ---- round trip -------------------------------------------------------------------------

/// Command names the generators pick from (plus arbitrary bytes).
const NAMES: &[&str] = &[
    "PING", "ECHO", "GET", "SET", "DEL", "EXISTS", "INCR", "MGET", "MSET", "QUIT", "CONFIG",
    "COMMAND", "CLIENT", "SELECT", "INFO", "DBSIZE", "FLUSHALL", "FLUSHDB", "set", "get",
];

/// Arguments the generators pick from: options, numbers, subcommands.
const WORDS: &[&str] = &[
    "EX",
    "PX",
    "NX",
    "XX",
    "GET",
    "KEEPTTL",
    "1",
    "0",
    "-1",
    "100",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "abc",
    "GET",
    "SAVE",
    "COUNT",
    "DOCS",
    "SETNAME",
    "SETINFO",
    "all",
    "keyspace",
    "",
];

/// A command whose name and arguments come from small vocabularies or arbitrary bytes, so
/// the fuzzer reaches the service's branches as easily as its error paths.
#[derive(Debug, Clone)]
pub struct ArbCommand(pub Command);

impl<'a> Arbitrary<'a> for ArbCommand {
    fn arbitrary(u: &mut Unstructured<'a>) -> ArbResult<Self> {
        let name: Bytes = if u.ratio(7, 8)? {
            Bytes::from_static(u.choose(NAMES)?.as_bytes())
        } else {
            Bytes::copy_from_slice(u.arbitrary::<&[u8]>()?)
        };
        let mut args = vec![name];
        for _ in 0..u.int_in_range(0..=6)? {
            let arg = match u.int_in_range(0..=2)? {
                0 => Bytes::from(format!("k{}", u.int_in_range(0..=3)?)),
                1 => Bytes::from_static(u.choose(WORDS)?.as_bytes()),
                _ => Bytes::copy_from_slice(u.arbitrary::<&[u8]>()?),
            };
            args.push(arg);
        }
        Ok(ArbCommand(Command { args }))
    }
}

/// A reply at most four arrays deep, with status lines free of CR and LF (as [`Reply`]
/// requires).
#[derive(Debug, Clone)]
pub struct ArbReply(pub Reply);

impl<'a> Arbitrary<'a> for ArbReply {
    fn arbitrary(u: &mut Unstructured<'a>) -> ArbResult<Self> {
        arb_reply(u, 4).map(ArbReply)
    }
}

fn arb_reply(u: &mut Unstructured<'_>, depth: usize) -> ArbResult<Reply> {
    let line = |u: &mut Unstructured<'_>| -> ArbResult<String> {
        Ok(u.arbitrary::<String>()?.replace(['\r', '\n'], " "))
    };
    let top = if depth == 0 { 4 } else { 5 };
    Ok(match u.int_in_range(0..=top)? {
        0 => Reply::Simple(line(u)?),
        1 => Reply::Error(line(u)?),
        2 => Reply::Integer(u.arbitrary()?),
        3 => Reply::Bulk(Bytes::copy_from_slice(u.arbitrary::<&[u8]>()?)),
        4 => Reply::Null,
        _ => {
            let n = u.int_in_range(0..=4)?;
            let items = (0..n)
                .map(|_| arb_reply(u, depth - 1))
                .collect::<ArbResult<_>>()?;
            Reply::Array(items)
        }
    })
}

/// A line delimiter: a usual one, a printable word, or 1 to 4 arbitrary bytes. Every
/// delimiter that [`Framing::validate`] accepts must carry any command and reply; the targets
/// skip the ones it refuses (as `serve` refuses them).
#[derive(Debug, Clone, Arbitrary)]
pub enum LineDelimiter {
    /// `\n`
    Lf,
    /// `\r\n`
    CrLf,
    /// `\0`
    Nul,
    /// A printable delimiter: `;`, `END`, `|` or `~~` (refused by `Framing::validate` today;
    /// checked again should it ever accept them).
    Word(u8),
    /// Up to 4 arbitrary bytes (none: `\n`).
    Bytes(Raw),
}

impl LineDelimiter {
    /// The delimiter's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            LineDelimiter::Lf => b"\n".to_vec(),
            LineDelimiter::CrLf => b"\r\n".to_vec(),
            LineDelimiter::Nul => b"\0".to_vec(),
            LineDelimiter::Word(i) => {
                let words: [&[u8]; 4] = [b";", b"END", b"|", b"~~"];
                words[usize::from(*i) % words.len()].to_vec()
            }
            LineDelimiter::Bytes(Raw(b)) if b.is_empty() => b"\n".to_vec(),
            LineDelimiter::Bytes(Raw(b)) => b[..b.len().min(4)].to_vec(),
        }
    }
}

/// Input of [`roundtrip`]: one command, one reply, and the settings of the line and length
/// framings (RESP has none).
#[derive(Debug, Clone, Arbitrary)]
pub struct RoundtripInput {
    /// The command.
    pub command: ArbCommand,
    /// The reply.
    pub reply: ArbReply,
    /// Line framing's delimiter.
    pub delimiter: LineDelimiter,
    /// Length framing's header.
    pub header: Header,
}

/// For each framing (RESP, line, length): `encode_command` then the server's request
/// decoder gives the command back, and `encode_reply` then the client's reply decoder gives
/// the reply back; nothing is left over and the end of the stream is clean. (A length header
/// too small for the command is an encoding error; for the reply, the documented error reply.)
pub fn roundtrip(input: RoundtripInput) {
    let framings = [
        Framing::Resp,
        Framing::Line {
            delimiter: input.delimiter.bytes(),
        },
        Framing::Length {
            header_len: input.header.size(),
            endian: input.header.endian(),
        },
    ];
    let limits = Limits {
        max_line: 1 << 20,
        max_frame: 1 << 20,
        ..Limits::default()
    };
    for framing in framings.iter().filter(|f| f.validate().is_ok()) {
        let cmd = &input.command.0;
        let mut buf = BytesMut::new();
        match protocol::encode_command(framing, cmd, &mut buf) {
            Ok(()) => {
                let mut dec = protocol::RequestDecoder::new(framing, &limits);
                let got = dec.decode(&mut buf);
                assert_eq!(got, Ok(Some(cmd.clone())), "{framing:?}: command");
                assert_eq!(dec.decode_eof(&mut buf), Ok(None), "{framing:?}: leftovers");
            }
            Err(e) => {
                let fits = 1u128 << (8 * input.header.size());
                let longest = cmd.args.iter().map(|a| a.len()).max().unwrap_or(0);
                assert!(
                    matches!(framing, Framing::Length { .. })
                        && (longest as u128 >= fits || cmd_payload(cmd, &input.header) >= fits),
                    "{framing:?}: encode_command failed for a command that fits: {e}"
                );
            }
        }

        let reply = &input.reply.0;
        let mut buf = BytesMut::new();
        ReplyEncoder::new(framing).encode(reply, &mut buf);
        let want = match framing {
            Framing::Length { header_len, .. }
                if resp_len(reply) as u128 >= 1 << (8 * header_len) =>
            {
                Reply::error("ERR reply too long for the frame header")
            }
            _ => reply.clone(),
        };
        let mut dec = protocol::ReplyDecoder::new(framing, 1 << 20);
        assert_eq!(dec.decode(&mut buf), Ok(Some(want)), "{framing:?}: reply");
        assert_eq!(dec.decode_eof(&mut buf), Ok(None), "{framing:?}: leftovers");
    }
}

/// Payload size of a length-framed command: each argument with its own header.
fn cmd_payload(cmd: &Command, header: &Header) -> u128 {
    cmd.args
        .iter()
        .map(|a| (header.size() + a.len()) as u128)
        .sum()
}

fn resp_len(reply: &Reply) -> usize {
    let mut buf = BytesMut::new();
    resp::encode_reply(reply, &mut buf);
    buf.len()
}

// ---- the connection loop ----------------------------------------------------------------

/// One read or write of the scripted stream.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct Step {
    /// Return `Pending` once first (and wake at once).
    pub pending: bool,
    /// Bytes to move (0: as many as fit).
    pub len: u8,
}

/// A piece of the client's byte stream.
#[derive(Debug, Clone, Arbitrary)]
pub enum Piece {
    /// A well-formed request in the connection's framing.
    Command(ArbCommand),
    /// Raw bytes.
    Raw(Raw),
}

/// The framing the connection speaks.
#[derive(Debug, Clone, Arbitrary)]
pub enum FramingChoice {
    /// RESP.
    Resp,
    /// The line protocol.
    Line(LineDelimiter),
    /// The length protocol.
    Length(Header),
}

/// Request size limits of the connection.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum LimitsChoice {
    /// 1 KiB lines, 4 KiB frames.
    Moderate,
    /// Tiny limits (each at least 1).
    Small {
        /// Longest line.
        max_line: u8,
        /// Longest frame.
        max_frame: u8,
    },
}

/// Input of [`connection`]: the framing and limits, the client's bytes, and how the stream
/// moves them.
#[derive(Debug, Clone, Arbitrary)]
pub struct ConnectionInput {
    /// Framing of the connection.
    pub framing: FramingChoice,
    /// Size limits.
    pub limits: LimitsChoice,
    /// `max_buffered` at its smallest valid value, where overflows happen (else room for
    /// any frame within the limits, where none may).
    pub tight_buffer: bool,
    /// Reads fail with a reset once this many bytes were read (else the stream ends cleanly).
    pub reset_after: Option<u16>,
    /// Sizes and `Pending`s of the server's reads, in a cycle.
    pub reads: Vec<Step>,
    /// Sizes and `Pending`s of the server's writes (short writes), in a cycle.
    pub writes: Vec<Step>,
    /// Virtual milliseconds the peer pauses before each read, in a cycle (0: none); long
    /// pauses reach the frame deadline (10 s) or the idle timeout (60 s).
    pub pauses: Vec<u16>,
    /// What the client sends first.
    pub pieces: Vec<Piece>,
    /// What the client sends after the pieces (a seed's recorded traffic goes here).
    pub tail: Raw,
}

/// The server side of one in-memory connection: reads and writes follow the script.
struct ScriptStream {
    input: Vec<u8>,
    read: usize,
    /// Reads fail after this many bytes; the stream ends cleanly if `None`.
    reset_after: Option<usize>,
    reads: Vec<Step>,
    next_read: usize,
    read_pended: bool,
    pauses: Vec<u16>,
    /// The pause before the current read step is over (or there is none).
    paused: bool,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    writes: Vec<Step>,
    next_write: usize,
    write_pended: bool,
    output: Arc<Mutex<Vec<u8>>>,
    /// Dropped with the stream: tells the harness the connection is over.
    _closed: tokio::sync::oneshot::Sender<()>,
}

/// Picks the next step of a cycling script; a `Pending` is returned at most once in a row,
/// so every script makes progress.
fn next_step(steps: &[Step], next: &mut usize, pended: &mut bool) -> Option<usize> {
    let step = if steps.is_empty() {
        Step {
            pending: false,
            len: 0,
        }
    } else {
        steps[*next % steps.len()]
    };
    if step.pending && !*pended {
        *pended = true;
        return None;
    }
    *pended = false;
    *next += 1;
    Some(if step.len == 0 {
        usize::MAX
    } else {
        usize::from(step.len)
    })
}

impl AsyncRead for ScriptStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if !me.paused && !me.pauses.is_empty() {
            let ms = me.pauses[me.next_read % me.pauses.len()];
            if ms > 0 {
                let pause = me.pause.get_or_insert_with(|| {
                    Box::pin(tokio::time::sleep(Duration::from_millis(ms.into())))
                });
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                me.pause = None;
            }
            me.paused = true;
        }
        let Some(len) = next_step(&me.reads, &mut me.next_read, &mut me.read_pended) else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        me.paused = false;
        let end = me.reset_after.unwrap_or(usize::MAX).min(me.input.len());
        if me.read >= end && me.reset_after.is_some_and(|r| r < me.input.len()) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let n = len.min(end - me.read).min(buf.remaining());
        buf.put_slice(&me.input[me.read..me.read + n]);
        me.read += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ScriptStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Some(len) = next_step(&me.writes, &mut me.next_write, &mut me.write_pended) else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        let n = len.min(data.len());
        me.output
            .lock()
            .expect("output")
            .extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A listener with one connection; later accepts wait forever.
struct OneConnection(Option<ScriptStream>);

impl Listener for OneConnection {
    type Stream = ScriptStream;

    async fn accept(&mut self) -> io::Result<(ScriptStream, SocketAddr)> {
        match self.0.take() {
            Some(stream) => Ok((stream, SocketAddr::from(([127, 0, 0, 1], 40000)))),
            None => std::future::pending().await,
        }
    }
}

/// The real connection loop (`serve` over a one-connection listener, on a current-thread
/// runtime with paused time) reading the client's bytes in the sizes the fuzzer chose, with
/// `Pending`s and short writes: it answers every complete request exactly once and in order
/// (the replies equal a fresh [`Kv`] answering the requests a [`protocol::RequestDecoder`]
/// finds in the same bytes), stops at `QUIT`, adds one protocol error reply for bad input,
/// never panics, never buffers past `max_buffered`, and ends. With pauses, a connection cut
/// by the frame deadline or the idle timeout must have answered a prefix of those requests;
/// without them (no virtual time passes) no timeout may fire.
pub fn connection(input: ConnectionInput) {
    let framing = match &input.framing {
        FramingChoice::Resp => Framing::Resp,
        FramingChoice::Line(d) => Framing::Line {
            delimiter: d.bytes(),
        },
        FramingChoice::Length(h) => Framing::Length {
            header_len: h.size(),
            endian: h.endian(),
        },
    };
    if framing.validate().is_err() {
        return; // serve refuses it
    }
    let limits = match input.limits {
        LimitsChoice::Moderate => Limits {
            max_line: 1024,
            max_frame: 4096,
            ..Limits::default()
        },
        LimitsChoice::Small {
            max_line,
            max_frame,
        } => Limits {
            max_line: usize::from(max_line.max(1)),
            max_frame: usize::from(max_frame.max(1)),
            ..Limits::default()
        },
    };
    let max_buffered = if input.tight_buffer {
        limits.max_line.min(limits.max_frame)
    } else {
        // Room for any incomplete frame the limits allow, delimiter and header included.
        limits.max_line + limits.max_frame + 8
    };
    let mut bytes = BytesMut::new();
    for piece in &input.pieces {
        match piece {
            Piece::Raw(Raw(raw)) => bytes.extend_from_slice(raw),
            Piece::Command(cmd) => {
                // A command too long for a small length header is simply left out.
                let mut one = BytesMut::new();
                if protocol::encode_command(&framing, &cmd.0, &mut one).is_ok() {
                    bytes.extend_from_slice(&one);
                }
            }
        }
    }
    bytes.extend_from_slice(&input.tail.0);
    let data = bytes.to_vec();
    let reset_after = input.reset_after.map(usize::from);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    rt.block_on(async {
        let expected = expected_replies(&framing, limits, &data, reset_after);
        let output = Arc::new(Mutex::new(Vec::new()));
        let (closed, on_close) = tokio::sync::oneshot::channel();
        let stream = ScriptStream {
            input: data.clone(),
            read: 0,
            reset_after,
            reads: input.reads.clone(),
            next_read: 0,
            read_pended: false,
            pauses: input.pauses.clone(),
            paused: false,
            pause: None,
            writes: input.writes.clone(),
            next_write: 0,
            write_pended: false,
            output: output.clone(),
            _closed: closed,
        };
        let config = Config {
            framing: framing.clone(),
            limits: Limits {
                max_buffered,
                frame_deadline: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(60),
                ..limits
            },
            ..Config::default()
        };
        let stats = Stats::default();
        let served = tokio::time::timeout(
            Duration::from_secs(24 * 3600),
            serve(
                OneConnection(Some(stream)),
                Kv::new(),
                config,
                stats.clone(),
                async {
                    let _ = on_close.await;
                },
            ),
        )
        .await;
        let served = served.expect("the connection loop did not end");
        served.expect("serve refused a valid config");

        let snap = stats.snapshot();
        assert_eq!(snap.panics, 0, "a connection task panicked");
        let timeouts = snap.frame_timeouts + snap.idle_timeouts + snap.write_timeouts;
        assert!(timeouts <= 1, "{timeouts} timeouts on one connection");
        assert!(
            timeouts == 0 || input.pauses.iter().any(|&ms| ms > 0),
            "a timeout although no virtual time passed: {snap:?}"
        );
        assert_eq!(
            snap.connections_open, 0,
            "the connection is still counted open"
        );
        assert!(
            snap.max_buffered <= max_buffered as u64,
            "buffered {} bytes, max {max_buffered}",
            snap.max_buffered
        );

        let out = output.lock().expect("output").clone();
        let got = decode_replies(&framing, &out).unwrap_or_else(|e| {
            panic!(
                "the server wrote undecodable replies ({e}): {:?}",
                out.escape_ascii().to_string()
            )
        });
        check_replies(
            &got,
            &expected,
            snap.frames,
            input.tight_buffer,
            timeouts > 0,
        );
    });
}

/// What the connection must answer for `data`.
struct Expected {
    /// Replies to the complete requests, as the client decodes them.
    replies: Vec<Reply>,
    /// A protocol error reply comes after them.
    protocol_error: bool,
}

fn expected_replies(
    framing: &Framing,
    limits: Limits,
    data: &[u8],
    reset_after: Option<usize>,
) -> Expected {
    let mut dec = protocol::RequestDecoder::new(framing, &limits);
    let reset = reset_after.filter(|&r| r < data.len());
    let seen = &data[..reset.unwrap_or(data.len())];
    let mut buf = BytesMut::from(seen);
    let mut cmds = Vec::new();
    let mut result = drain(&mut dec, &mut buf, &mut cmds, false, seen.len());
    if result.is_ok() && reset.is_none() {
        result = drain(&mut dec, &mut buf, &mut cmds, true, seen.len());
    }
    let kv = Kv::new();
    let mut wire = BytesMut::new();
    let mut quit = false;
    for cmd in cmds {
        let response = kv.call(cmd);
        ReplyEncoder::new(framing).encode(&response.reply, &mut wire);
        if response.close {
            quit = true;
            break;
        }
    }
    let replies = decode_replies(framing, &wire).expect("the server's own replies decode");
    let protocol_error =
        !quit && matches!(result, Err(ref e) if !matches!(e, FrameError::UnexpectedEof { .. }));
    Expected {
        replies,
        protocol_error,
    }
}

fn decode_replies(framing: &Framing, bytes: &[u8]) -> Result<Vec<Reply>, FrameError> {
    let mut dec = protocol::ReplyDecoder::new(framing, 1 << 24);
    let mut buf = BytesMut::from(bytes);
    let mut replies = Vec::new();
    drain(&mut dec, &mut buf, &mut replies, true, bytes.len())?;
    Ok(replies)
}

fn check_replies(got: &[Reply], want: &Expected, frames: u64, tight: bool, timed_out: bool) {
    let is_error = |r: Option<&Reply>, prefix: &str| matches!(r, Some(Reply::Error(e)) if e.starts_with(prefix));
    // Arguments parsed out of an unfinished request count against `max_buffered` too, so
    // any input may fill it, tight or not.
    let _ = tight;
    let overflow = is_error(got.last(), "ERR Protocol error: more than");
    if overflow || timed_out {
        // The buffer filled up before a request was complete, or the peer paused past a
        // deadline: the connection was cut, and the replies so far are the first expected.
        let answered = &got[..got.len() - usize::from(overflow)];
        assert!(
            answered.len() <= want.replies.len() && answered == &want.replies[..answered.len()],
            "replies before the cut (overflow {overflow}, timeout {timed_out}) differ:\n got  {answered:?}\n want {:?}",
            want.replies
        );
        assert_eq!(frames, answered.len() as u64, "frames counted");
        return;
    }
    let n = want.replies.len();
    assert!(
        got.len() >= n && got[..n] == want.replies[..],
        "one reply per complete request, in order:\n got  {got:?}\n want {:?}",
        want.replies
    );
    let rest = &got[n..];
    if want.protocol_error {
        assert!(
            rest.len() == 1 && is_error(rest.first(), "ERR Protocol error"),
            "expected one protocol error reply after the answers, got {rest:?}"
        );
    } else {
        assert!(rest.is_empty(), "replies to no request: {rest:?}");
    }
    assert_eq!(frames, n as u64, "frames counted");
}
