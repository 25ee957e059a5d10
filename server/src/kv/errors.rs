//! The error replies the commands share, worded as Redis 7 words them, and the argument
//! checks that give them.

use std::ops::RangeBounds;

use bytes::Bytes;

use crate::Reply;

/// Redis cuts user input quoted in error messages to this many bytes.
const QUOTE_LIMIT: usize = 128;

/// A command's answer; errors return early through `?`.
pub(super) type Outcome = Result<Reply, Reply>;

/// Checks the argument count (not counting the command name) against `allowed`.
pub(super) fn arity(
    args: &[Bytes],
    name: &str,
    allowed: impl RangeBounds<usize>,
) -> Result<(), Reply> {
    if allowed.contains(&args.len()) {
        Ok(())
    } else {
        Err(wrong_arity(name))
    }
}

/// The upper-cased subcommand of a container command such as `CONFIG`; none is an arity error.
pub(super) fn subcommand(args: &[Bytes], container: &str) -> Result<String, Reply> {
    let sub = args.first().ok_or_else(|| wrong_arity(container))?;
    Ok(String::from_utf8_lossy(sub).to_ascii_uppercase())
}

pub(super) fn wrong_arity(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

pub(super) fn syntax_error() -> Reply {
    Reply::error("ERR syntax error")
}

pub(super) fn not_an_integer() -> Reply {
    Reply::error("ERR value is not an integer or out of range")
}

/// Redis 7's message, quoting the name and the first arguments up to 128 bytes, each
/// followed by a space.
pub(super) fn unknown_command(cmd: &[Bytes]) -> Reply {
    let (name, args) = cmd
        .split_first()
        .map_or((&[][..], &[][..]), |(n, a)| (&n[..], a));
    let mut quoted = Vec::new();
    for arg in args {
        if quoted.len() >= QUOTE_LIMIT {
            break;
        }
        let room = QUOTE_LIMIT - quoted.len();
        quoted.push(b'\'');
        quoted.extend_from_slice(clip(arg, room));
        quoted.extend_from_slice(b"' ");
    }
    Reply::error(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        quote(clip(name, QUOTE_LIMIT)),
        quote(&quoted),
    ))
}

pub(super) fn unknown_subcommand(sub: &[u8], container: &str) -> Reply {
    Reply::error(format!(
        "ERR unknown subcommand '{}'. Try {container} HELP.",
        quote(clip(sub, QUOTE_LIMIT)),
    ))
}

/// At most `limit` bytes, stopping at a NUL as Redis's `%s` formatting does.
fn clip(bytes: &[u8], limit: usize) -> &[u8] {
    let end = memchr::memchr(0, bytes).unwrap_or(bytes.len()).min(limit);
    &bytes[..end]
}

/// User bytes made safe for an error line: text, with CR and LF turned into spaces.
fn quote(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use crate::kv::testing::{err, run};
    use crate::{Command, Kv, Service};

    #[test]
    fn unknown_command_quotes_name_and_args() {
        let kv = Kv::new();
        assert_eq!(
            run(&kv, &["foo", "a", "b"]),
            err("ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
        );
        assert_eq!(
            run(&kv, &["FOO"]),
            err("ERR unknown command 'FOO', with args beginning with: ")
        );
        assert_eq!(
            run(&kv, &["HELLO", "3"]),
            err("ERR unknown command 'HELLO', with args beginning with: '3' ")
        );
        assert_eq!(
            run(&kv, &["x\r\ny", "a\nb"]),
            err("ERR unknown command 'x  y', with args beginning with: 'a b' ")
        );
        assert_eq!(
            kv.call(Command::default()).reply,
            err("ERR unknown command '', with args beginning with: ")
        );
    }

    #[test]
    fn unknown_command_clips_long_input_like_redis() {
        let kv = Kv::new();
        let long = "n".repeat(200);
        let a = "a".repeat(100);
        let b = "b".repeat(100);
        // 'aaa…' takes 103 bytes, leaving room for 25 bytes of the second argument; the
        // third is not reached.
        let expected = format!(
            "ERR unknown command '{}', with args beginning with: '{a}' '{}' ",
            "n".repeat(128),
            "b".repeat(25)
        );
        assert_eq!(run(&kv, &[&long, &a, &b, "c"]), err(&expected));
    }
}
