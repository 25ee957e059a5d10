//! The commands about the connection rather than the data: `PING`, `ECHO`, `SELECT` and
//! `QUIT`.

use bytes::Bytes;

use super::errors::{arity, not_an_integer, Outcome};
use crate::protocol::inline::parse_int;
use crate::{Reply, Response};

pub(super) fn ping(args: &[Bytes]) -> Outcome {
    arity(args, "ping", ..=1)?;
    Ok(match args.first() {
        Some(msg) => Reply::Bulk(msg.clone()),
        None => Reply::Simple("PONG".into()),
    })
}

pub(super) fn echo(args: &[Bytes]) -> Outcome {
    arity(args, "echo", 1..=1)?;
    Ok(Reply::Bulk(args[0].clone()))
}

/// `SELECT 0`: there is only database 0.
pub(super) fn select(args: &[Bytes]) -> Outcome {
    arity(args, "select", 1..=1)?;
    let index = parse_int(&args[0]).ok_or_else(not_an_integer)?;
    match index {
        0 => Ok(Reply::ok()),
        // Redis's wording, grammar included.
        _ if i32::try_from(index).is_err() => Err(Reply::error(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        )),
        _ => Err(Reply::error("ERR DB index is out of range")),
    }
}

/// `QUIT`: `+OK`, then the connection closes; any arguments are ignored.
pub(super) fn quit() -> Response {
    Response {
        reply: Reply::ok(),
        close: true,
    }
}

#[cfg(test)]
mod tests {
    use crate::kv::testing::{bulk, err, run, NOT_INT};
    use crate::{Command, Kv, Reply, Service};

    #[test]
    fn ping_and_echo() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["PING"]), Reply::Simple("PONG".into()));
        assert_eq!(run(&kv, &["ping", "hi"]), bulk("hi"));
        assert_eq!(run(&kv, &["ECHO", "a b"]), bulk("a b"));
        assert_eq!(run(&kv, &["echo", ""]), bulk(""));
    }

    #[test]
    fn quit_closes_after_ok() {
        let kv = Kv::new();
        let response = kv.call(Command::new(["QUIT"]));
        assert_eq!(response.reply, Reply::ok());
        assert!(response.close);
        assert!(kv.call(Command::new(["quit", "extra"])).close);
        assert!(!kv.call(Command::new(["PING"])).close);
    }

    #[test]
    fn select_only_database_zero() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["SELECT", "0"]), Reply::ok());
        let out_of_range = err("ERR DB index is out of range");
        assert_eq!(run(&kv, &["SELECT", "1"]), out_of_range);
        assert_eq!(run(&kv, &["SELECT", "-1"]), out_of_range);
        assert_eq!(run(&kv, &["SELECT", "x"]), err(NOT_INT));
        assert_eq!(
            run(&kv, &["SELECT", "4294967296"]),
            err("ERR value is out of range, value must between -2147483648 and 2147483647")
        );
    }
}
