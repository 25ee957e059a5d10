//! What one connection must answer: a fresh [`Kv`] answering the requests a
//! [`protocol::RequestDecoder`] finds in the client's bytes, and the check of the replies
//! the connection target read back against it.

use crate::harness::drain;
use bytes::BytesMut;
use framesim_server::framing::FrameError;
use framesim_server::protocol::{self, Framing, ReplyEncoder};
use framesim_server::{Kv, Limits, Reply, Service};

/// What the connection must answer for `data`.
pub(crate) struct Expected {
    /// Replies to the complete requests, as the client decodes them.
    replies: Vec<Reply>,
    /// A protocol error reply comes after them.
    protocol_error: bool,
}

pub(crate) fn expected_replies(
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

pub(crate) fn decode_replies(framing: &Framing, bytes: &[u8]) -> Result<Vec<Reply>, FrameError> {
    let mut dec = protocol::ReplyDecoder::new(framing, 1 << 24);
    let mut buf = BytesMut::from(bytes);
    let mut replies = Vec::new();
    drain(&mut dec, &mut buf, &mut replies, true, bytes.len())?;
    Ok(replies)
}

pub(crate) fn check_replies(got: &[Reply], want: &Expected, frames: u64, timed_out: bool) {
    let is_error = |r: Option<&Reply>, prefix: &str| matches!(r, Some(Reply::Error(e)) if e.starts_with(prefix));
    // Arguments parsed out of an unfinished request count against `max_buffered` too, so
    // any input may fill it, tight or not.
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
