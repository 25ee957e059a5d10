//! Key-value requests and replies in RESP as the key-value model's operations and results.

use super::kv::{KvOp, KvResult};
use bytes::{Bytes, BytesMut};
use framesim_server::framing::Decoder;
use framesim_server::protocol::{Framing, ReplyDecoder, RequestDecoder};
use framesim_server::{Command, Limits, Reply};

/// Most bytes of one reply read as a result.
const MAX_REPLY: usize = 1 << 20;

/// The operation a RESP request's bytes ask, if the model knows it.
pub(crate) fn operation(request: &[u8]) -> Option<KvOp> {
    let mut decoder = RequestDecoder::new(&Framing::Resp, &Limits::default());
    let mut buf = BytesMut::from(request);
    let command = decoder.decode_eof(&mut buf).ok().flatten()?;
    command_operation(&command)
}

/// The model's operation for `command`, if the model knows it.
fn command_operation(command: &Command) -> Option<KvOp> {
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let args: Vec<String> = command.args.iter().skip(1).map(text).collect();
    let key = || args.first().cloned();
    Some(match (command.name().as_str(), args.len()) {
        ("GET", 1) => KvOp::Get { key: key()? },
        ("INCR", 1) => KvOp::Incr { key: key()? },
        ("DEL", 1..) => KvOp::Del { keys: args },
        ("EXISTS", 1..) => KvOp::Exists { keys: args },
        ("MGET", 1..) => KvOp::Mget { keys: args },
        ("MSET", n) if n >= 2 && n % 2 == 0 => KvOp::Mset {
            pairs: args
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect(),
        },
        ("SET", 2..) => {
            let (mut nx, mut xx, mut get) = (false, false, false);
            for opt in &args[2..] {
                match opt.to_ascii_uppercase().as_str() {
                    "NX" => nx = true,
                    "XX" => xx = true,
                    "GET" => get = true,
                    _ => return None,
                }
            }
            let value = args[1].clone();
            KvOp::Set {
                key: key()?,
                value,
                nx,
                xx,
                get,
            }
        }
        _ => return None,
    })
}

/// The model's result for a RESP reply's bytes; `None` when they are not one reply.
pub(crate) fn result(reply: &[u8]) -> Option<KvResult> {
    let mut decoder = ReplyDecoder::new(&Framing::Resp, MAX_REPLY);
    let mut buf = BytesMut::from(reply);
    let reply = decoder.decode_eof(&mut buf).ok().flatten()?;
    Some(reply_result(reply))
}

/// The model's result for a decoded reply.
fn reply_result(reply: Reply) -> KvResult {
    let value = |b: Bytes| String::from_utf8_lossy(&b).into_owned();
    match reply {
        Reply::Simple(s) if s == "OK" => KvResult::Ok,
        Reply::Simple(s) => KvResult::Value(s),
        Reply::Null => KvResult::Nil,
        Reply::Bulk(b) => KvResult::Value(value(b)),
        Reply::Integer(n) => KvResult::Int(n),
        Reply::Error(e) => KvResult::Error(e),
        Reply::Array(items) => KvResult::Values(
            items
                .into_iter()
                .map(|item| match item {
                    Reply::Bulk(b) => Some(value(b)),
                    _ => None,
                })
                .collect(),
        ),
    }
}
