//! The RESP target: the request and reply decoders with default and with small limits.

use crate::harness::{check_error_shape, decode_whole, Outcome};
use bytes::BytesMut;
use framesim_server::framing::{self, Decoder, FrameError};
use framesim_server::protocol::resp;
use framesim_server::{Command, Reply};
use std::fmt::Debug;

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
            framing::DEFAULT_MAX_LINE,
            framing::DEFAULT_MAX_FRAME,
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
            framing::DEFAULT_MAX_LINE,
            framing::DEFAULT_MAX_FRAME,
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
