//! Where each framing's limits fall, worked out from the server's decoders: the largest
//! request it must accept, what a request one byte larger must get, and how a request that
//! never ends must be cut.
//!
//! The limit-reaching clients send these requests and check the answers; the counters
//! oracle asks the same functions which close each client causes, so the two never
//! disagree about a boundary.
//!
//! | framing | largest accepted | one byte more |
//! | --- | --- | --- |
//! | RESP inline | `max_line` bytes before the `\n` | `too big inline request` |
//! | RESP multibulk | a bulk of `max_frame` bytes | `invalid bulk length` (at the `$` line) |
//! | line | `max_line` bytes before the delimiter | `frame longer than {max_line} bytes` |
//! | length | a payload of `min(max_frame, header max)` bytes | `frame longer than {max_frame} bytes` (at the header; none when the header cannot say `max_frame + 1`) |
//!
//! Each is reachable only while `max_buffered` can hold it: the connection counts the bytes
//! of an unfinished request and the arguments already parsed out of it.

use bytes::{Bytes, BytesMut};
use framesim_server::framing::Endian;
use framesim_server::protocol::{encode_command, Framing};
use framesim_server::{Command, Limits};

/// Bytes the server holds per parsed argument of an unfinished RESP request, besides the
/// argument itself (its `Bytes` handle in the argument vector).
const PER_ARG: usize = std::mem::size_of::<Bytes>();

/// Largest value a length header of `header_len` bytes holds.
pub fn header_max(header_len: usize) -> u64 {
    if header_len >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * header_len)) - 1
    }
}

/// A length header of `header_len` bytes in `endian` order holding `value` (which must fit).
pub fn length_header(header_len: usize, endian: Endian, value: u64) -> Vec<u8> {
    debug_assert!(value <= header_max(header_len));
    match endian {
        Endian::Big => value.to_be_bytes()[8 - header_len..].to_vec(),
        Endian::Little => value.to_le_bytes()[..header_len].to_vec(),
    }
}

/// Longest payload a length framing accepts: the frame limit, or what the header can say.
pub fn largest_length_frame(header_len: usize, limits: &Limits) -> usize {
    (limits.max_frame as u64).min(header_max(header_len)) as usize
}

/// True when a reply with `len` bytes of RESP fits one frame of `framing` (only a length
/// header limits replies; a longer one is replaced by an error reply).
pub fn reply_fits(framing: &Framing, len: usize) -> bool {
    match framing {
        Framing::Length { header_len, .. } => len as u64 <= header_max(*header_len),
        _ => true,
    }
}

/// RESP bytes of a bulk reply of `len` bytes: `$<len>\r\n<bytes>\r\n`.
pub fn bulk_reply_len(len: usize) -> usize {
    len.to_string().len() + len + 5
}

/// A request written exactly at (or one byte past) a limit.
#[derive(Debug, Clone)]
pub struct Edge {
    /// Which limit, for the transcript.
    pub what: String,
    /// What goes on the wire.
    pub bytes: Vec<u8>,
    /// The command the server must decode from it (a `SET` of the key).
    pub cmd: Command,
}

/// A request one byte past a limit, and the error it must get before the close.
#[derive(Debug, Clone)]
pub struct OverLimit {
    /// The request.
    pub edge: Edge,
    /// The error reply, exactly.
    pub error: String,
}

/// A command of `args`, copied.
pub fn command(args: &[&[u8]]) -> Command {
    Command {
        args: args.iter().map(|a| Bytes::copy_from_slice(a)).collect(),
    }
}

fn set(key: &[u8], value: &[u8]) -> Command {
    command(&[b"SET", key, value])
}

fn encoded(framing: &Framing, cmd: &Command) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_command(framing, cmd, &mut out).expect("sized to fit the header");
    out.to_vec()
}

/// Length of the value that makes `SET key <value>` exactly `target` long by the measure
/// the framing's limit uses, if there is room for a value at all.
fn value_len(framing: &Framing, key: &[u8], target: usize) -> Option<usize> {
    let overhead = match framing {
        // `SET key value` on one line, or inline.
        Framing::Resp | Framing::Line { .. } => 5 + key.len(),
        // Three argument frames inside the payload.
        Framing::Length { header_len, .. } => 3 * header_len + 3 + key.len(),
    };
    target.checked_sub(overhead).filter(|&n| n > 0)
}

/// The requests of exactly the largest size each limit of `framing` accepts, as a `SET` of
/// `key` to a value drawn by `value(len)` (plain printable bytes, no quoting needed). Limits
/// that `max_buffered` leaves unreachable are left out.
pub fn at_limit(
    framing: &Framing,
    limits: &Limits,
    key: &[u8],
    value: &mut impl FnMut(usize) -> Bytes,
) -> Vec<Edge> {
    let mut edges = Vec::new();
    match framing {
        Framing::Resp => {
            // Inline: the line and its `\n` are buffered whole before it is parsed.
            if let Some(n) = value_len(framing, key, limits.max_line)
                .filter(|_| limits.max_buffered > limits.max_line)
            {
                let v = value(n);
                let cmd = set(key, &v);
                let mut bytes = [&b"SET "[..], key, b" ", &v].concat();
                bytes.push(b'\n');
                edges.push(Edge {
                    what: format!("an inline request of {} bytes (max_line)", limits.max_line),
                    bytes,
                    cmd,
                });
            }
            // Multibulk: the bulk and its CRLF are buffered next to the arguments parsed
            // before it; before any is parsed, the whole request may sit in the buffer.
            let v = value(limits.max_frame);
            let cmd = set(key, &v);
            let bytes = encoded(framing, &cmd);
            let held = (limits.max_frame + 2 + 3 + key.len() + 3 * PER_ARG).max(bytes.len());
            if held <= limits.max_buffered {
                edges.push(Edge {
                    what: format!("a bulk of {} bytes (max_frame)", limits.max_frame),
                    bytes,
                    cmd,
                });
            }
        }
        Framing::Line { delimiter } => {
            if let Some(n) = value_len(framing, key, limits.max_line)
                .filter(|_| limits.max_buffered >= limits.max_line + delimiter.len())
            {
                let cmd = set(key, &value(n));
                let bytes = encoded(framing, &cmd);
                debug_assert_eq!(bytes.len(), limits.max_line + delimiter.len());
                edges.push(Edge {
                    what: format!("a line of {} bytes (max_line)", limits.max_line),
                    bytes,
                    cmd,
                });
            }
        }
        Framing::Length { header_len, .. } => {
            let largest = largest_length_frame(*header_len, limits);
            if let Some(n) = value_len(framing, key, largest)
                .filter(|_| limits.max_buffered >= header_len + largest)
            {
                let cmd = set(key, &value(n));
                let bytes = encoded(framing, &cmd);
                debug_assert_eq!(bytes.len(), header_len + largest);
                edges.push(Edge {
                    what: format!("a frame of {largest} bytes (the largest accepted)"),
                    bytes,
                    cmd,
                });
            }
        }
    }
    edges
}

/// The requests one byte past a limit of `framing`, each with the error it must get (the
/// client picks one: the connection closes after it). Empty when no limit can be passed by
/// one byte (a 1-byte length header cannot say more than 255).
pub fn over_limit(
    framing: &Framing,
    limits: &Limits,
    key: &[u8],
    value: &mut impl FnMut(usize) -> Bytes,
) -> Vec<OverLimit> {
    let mut over = Vec::new();
    match framing {
        Framing::Resp => {
            // Refused once `max_line + 1` bytes without a `\n` are buffered.
            if let Some(n) = value_len(framing, key, limits.max_line + 1)
                .filter(|_| limits.max_buffered > limits.max_line)
            {
                let v = value(n);
                let mut bytes = [&b"SET "[..], key, b" ", &v].concat();
                bytes.push(b'\n');
                over.push(OverLimit {
                    edge: Edge {
                        what: format!("an inline request of {} bytes", limits.max_line + 1),
                        bytes,
                        cmd: set(key, &v),
                    },
                    error: "ERR Protocol error: too big inline request".into(),
                });
            }
            // Refused at the `$` line, before any of the bulk is buffered.
            let v = value(limits.max_frame + 1);
            let cmd = set(key, &v);
            over.push(OverLimit {
                edge: Edge {
                    what: format!("a bulk of {} bytes", limits.max_frame + 1),
                    bytes: encoded(framing, &cmd),
                    cmd,
                },
                error: "ERR Protocol error: invalid bulk length".into(),
            });
        }
        Framing::Line { delimiter } => {
            // Refused once `max_line + 1` bytes that cannot start a delimiter are buffered.
            if let Some(n) = value_len(framing, key, limits.max_line + 1)
                .filter(|_| limits.max_buffered > limits.max_line)
            {
                let cmd = set(key, &value(n));
                let bytes = encoded(framing, &cmd);
                debug_assert_eq!(bytes.len(), limits.max_line + 1 + delimiter.len());
                over.push(OverLimit {
                    edge: Edge {
                        what: format!("a line of {} bytes", limits.max_line + 1),
                        bytes,
                        cmd,
                    },
                    error: format!(
                        "ERR Protocol error: frame longer than {} bytes",
                        limits.max_line
                    ),
                });
            }
        }
        Framing::Length { header_len, endian } => {
            // Refused at the header, before anything is reserved for the payload.
            let len = limits.max_frame + 1;
            if len as u64 <= header_max(*header_len) {
                let v = value(value_len(framing, key, len).unwrap_or(1));
                let cmd = set(key, &v);
                let inner = Framing::Length {
                    header_len: *header_len,
                    endian: *endian,
                };
                let mut payload = encoded(&inner, &cmd)[*header_len..].to_vec();
                payload.resize(len, b'a');
                let mut bytes = length_header(*header_len, *endian, len as u64);
                bytes.extend_from_slice(&payload);
                over.push(OverLimit {
                    edge: Edge {
                        what: format!("a frame of {len} bytes"),
                        bytes,
                        cmd,
                    },
                    error: format!(
                        "ERR Protocol error: frame longer than {} bytes",
                        limits.max_frame
                    ),
                });
            }
        }
    }
    over
}

/// True when `framing` has a limit a request can pass by one byte (see [`over_limit`]).
pub fn over_limit_possible(framing: &Framing, limits: &Limits) -> bool {
    !over_limit(framing, limits, b"c0:a", &mut |n| {
        Bytes::from(vec![b'a'; n])
    })
    .is_empty()
}

/// How the server must end a request that never ends while its client keeps adding to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The connection holds `max_buffered` bytes of it (buffer and parsed arguments): an
    /// error reply, then a close.
    Buffered,
    /// A line passes `max_line`: a protocol error, then a close.
    TooLong,
    /// A frame that is within its limit but never completes: the frame deadline.
    Deadline,
}

/// How an unfinished request in `framing` is cut: RESP arguments pile up until the buffer
/// limit; a line outgrows `max_line` (or, if `max_buffered` is smaller, the buffer); a length
/// frame sized to fit the buffer can only run out of time.
pub fn unfinished_cut(framing: &Framing, limits: &Limits) -> Cut {
    match framing {
        Framing::Resp => Cut::Buffered,
        Framing::Line { .. } if limits.max_buffered > limits.max_line => Cut::TooLong,
        Framing::Line { .. } => Cut::Buffered,
        Framing::Length { .. } => Cut::Deadline,
    }
}

/// The error reply that comes with `cut`, if any.
pub fn cut_error(cut: Cut, limits: &Limits) -> Option<String> {
    match cut {
        Cut::Buffered => Some(format!(
            "ERR Protocol error: more than {} bytes buffered",
            limits.max_buffered
        )),
        Cut::TooLong => Some(format!(
            "ERR Protocol error: frame longer than {} bytes",
            limits.max_line
        )),
        Cut::Deadline => None,
    }
}

/// Payload length of the length frame an unfinished-request client starts: as large as the
/// framing accepts and the buffer holds with its header, so only the deadline can cut it.
pub fn unfinished_length_frame(header_len: usize, limits: &Limits) -> usize {
    largest_length_frame(header_len, limits)
        .min(limits.max_buffered.saturating_sub(header_len))
        .max(2)
}

/// Every framing variant the swarm draws: RESP, four delimiters, four header sizes in both
/// byte orders. For tests that hold a rule to all of them.
/// The framing's malformed requests, each with what it is.
/// The one malformed RESP form redis-server 7 takes as a request (it skips the two bytes
/// after a bulk without looking at them): framesim's own server refuses it, a server held
/// to Redis's behaviour need not.
pub(crate) const REDIS_TAKES: &str = "a bulk not ended by CRLF";

pub(crate) fn malformed(framing: &Framing) -> Vec<(Vec<u8>, &'static str)> {
    match framing {
        Framing::Resp => {
            let all: [(&[u8], _); 10] = [
                (
                    b"*2\r\n$3\r\nGET\r\n:1\r\n",
                    "an argument that is not a bulk",
                ),
                (b"*1\r\n$-1\r\n", "a negative bulk length"),
                (
                    b"*2\r\n$3\r\nGET\r\n$1x\r\nk\r\n",
                    "a bulk length with a letter",
                ),
                (b"*x\r\n", "an array length that is not a number"),
                (b"*1\r\n$+4\r\nPING\r\n", "a bulk length with a plus sign"),
                (
                    b"*01\r\n$4\r\nPING\r\n",
                    "an array length with a leading zero",
                ),
                (b"*2147483648\r\n", "an array length past i32"),
                (b"*2\r\n$3\r\nGETxx$1\r\nk\r\n", REDIS_TAKES),
                (
                    b"SET k \"unbalanced\r\n",
                    "an inline request with an open quote",
                ),
                (
                    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n*1\r\n$1\r\nv\r\n",
                    "an array inside a request",
                ),
            ];
            all.map(|(bytes, what)| (bytes.to_vec(), what)).to_vec()
        }
        Framing::Line { delimiter } => [
            (&b"GET \"unbalanced"[..], "a line with an open quote"),
            (b"SET k \"a\"b", "a line with a closing quote inside a word"),
            (b"SET k 'a", "a line with an open single quote"),
        ]
        .map(|(line, what)| ([line, delimiter].concat(), what))
        .to_vec(),
        &Framing::Length { header_len, endian } => {
            let header = |n: usize| length_header(header_len, endian, n as u64);
            let frame = |payload: Vec<u8>| [header(payload.len()), payload].concat();
            let mut all = vec![
                (
                    frame([header(9), b"a".to_vec()].concat()),
                    "an argument that claims 9 bytes inside a frame that holds 1",
                ),
                (
                    frame([header(3), b"GET".to_vec(), header(5), b"ab".to_vec()].concat()),
                    "a second argument cut short inside its frame",
                ),
            ];
            // A lone piece of an argument's header needs a header of two bytes or more.
            if header_len > 1 {
                all.push((
                    frame(vec![0; header_len - 1]),
                    "a frame holding part of an argument's header",
                ));
            }
            all
        }
    }
}

#[cfg(test)]
pub(crate) fn every_framing() -> Vec<Framing> {
    let mut all = vec![Framing::Resp];
    for d in [&b"\n"[..], b"\r\n", b"\r\n\0", b"\x00\xff"] {
        all.push(Framing::Line {
            delimiter: d.to_vec(),
        });
    }
    for header_len in [1, 2, 4, 8] {
        for endian in [Endian::Big, Endian::Little] {
            all.push(Framing::Length { header_len, endian });
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::sim_limits;
    use framesim_server::framing::Decoder;
    use framesim_server::framing::FrameError;
    use framesim_server::protocol::RequestDecoder;

    fn fill(n: usize) -> Bytes {
        Bytes::from(vec![b'v'; n])
    }

    /// Feeds `bytes` to the server's own decoder in one piece.
    fn decode(framing: &Framing, limits: &Limits, bytes: &[u8]) -> Result<Command, FrameError> {
        let mut dec = RequestDecoder::new(framing, limits);
        let mut buf = BytesMut::from(bytes);
        dec.decode(&mut buf).map(|c| c.expect("a whole request"))
    }

    #[test]
    fn at_limit_requests_decode_and_one_byte_more_does_not() {
        for framing in every_framing() {
            for max_frame in [200, 4096] {
                let limits = Limits {
                    max_frame,
                    ..sim_limits()
                };
                let edges = at_limit(&framing, &limits, b"c1:a", &mut fill);
                assert!(!edges.is_empty(), "{framing:?}");
                for edge in edges {
                    let got = decode(&framing, &limits, &edge.bytes);
                    assert_eq!(got, Ok(edge.cmd), "{framing:?}: {}", edge.what);
                }
                for over in over_limit(&framing, &limits, b"c1:a", &mut fill) {
                    // Worded as the connection words a framing error.
                    let said = match decode(&framing, &limits, &over.edge.bytes) {
                        Err(FrameError::TooLarge { limit, .. }) => {
                            format!("ERR Protocol error: frame longer than {limit} bytes")
                        }
                        Err(FrameError::Malformed { what, .. }) => format!("ERR {what}"),
                        other => panic!("{framing:?}: {} got {other:?}", over.edge.what),
                    };
                    assert_eq!(said, over.error, "{framing:?}: {}", over.edge.what);
                }
                let possible =
                    !(matches!(framing, Framing::Length { header_len: 1, .. }) && max_frame >= 255);
                assert_eq!(
                    over_limit_possible(&framing, &limits),
                    possible,
                    "{framing:?}"
                );
            }
        }
    }

    #[test]
    fn every_malformed_request_is_refused_by_the_server_decoder_without_waiting() {
        for framing in every_framing() {
            for (bytes, what) in malformed(&framing) {
                let mut decoder = RequestDecoder::new(&framing, &Limits::default());
                let mut buf = BytesMut::from(&bytes[..]);
                let got = decoder.decode(&mut buf);
                assert!(
                    matches!(got, Err(FrameError::Malformed { .. })),
                    "{framing:?}, {what}: {got:?}"
                );
            }
        }
    }
}
