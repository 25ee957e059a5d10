//! The fuzz targets' structured inputs: what `arbitrary` builds from the fuzzer's bytes.
//!
//! Each target's input is one type ([`SplitInput`], [`RoundtripInput`], [`ConnectionInput`])
//! made of small pieces drawn from vocabularies (command names, options, usual delimiters)
//! or from arbitrary bytes, so the fuzzer reaches the service's branches as easily as its
//! error paths. Changing a type changes how checked-in seeds decode.

use arbitrary::{Arbitrary, Result as ArbResult, Unstructured};
use bytes::Bytes;
use framesim_server::framing::{Endian, LengthPrefixed};
use framesim_server::{Command, Reply};
use std::fmt::Debug;

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

    pub(crate) fn codec(&self, adjustment: i64, max: usize) -> LengthPrefixed {
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
    /// [`Delimited`](framesim_server::framing::Delimited) frames.
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

/// Input of [`split_invariance`](crate::split_invariance): a decoder, chunk sizes and the bytes.
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
///
/// [`Framing::validate`]: framesim_server::protocol::Framing::validate
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

/// Input of [`roundtrip`](crate::roundtrip): one command, one reply, and the settings of the
/// line and length framings (RESP has none).
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

/// Input of [`connection`](crate::connection): the framing and limits, the client's bytes,
/// and how the stream moves them.
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
