//! What the commands' unit tests share: a command run on a store, and the replies they
//! expect.

use bytes::Bytes;

use crate::{Command, Kv, Reply, Service};

pub(super) fn run(kv: &Kv, args: &[&str]) -> Reply {
    let cmd = Command::new(args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())));
    kv.call(cmd).reply
}

pub(super) fn err(msg: &str) -> Reply {
    Reply::error(msg)
}

pub(super) fn bulk(s: &str) -> Reply {
    Reply::bulk(Bytes::copy_from_slice(s.as_bytes()))
}

pub(super) fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

pub(super) fn array(items: &[Reply]) -> Reply {
    Reply::Array(items.to_vec())
}

pub(super) const NOT_INT: &str = "ERR value is not an integer or out of range";
pub(super) const BAD_EXPIRE: &str = "ERR invalid expire time in 'set' command";
pub(super) const SYNTAX: &str = "ERR syntax error";
