//! The key-value [`Service`]: a small, deterministic subset of Redis.
//!
//! Replies and error strings match Redis 7 byte for byte, so `redis-cli` and `redis-benchmark`
//! work against the server and a transcript reads like one taken from Redis. Expiry runs on
//! tokio's clock, so it follows paused and simulated time; nothing here reads the wall clock.

mod db;
mod errors;
#[cfg(test)]
mod testing;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::protocol::inline::parse_int;
use crate::{Command, Reply, Response, Service};
use db::{lock, Db, Entry, Now};
use errors::{
    arity, not_an_integer, subcommand, syntax_error, unknown_command, unknown_subcommand,
    wrong_arity, Outcome,
};

/// An in-memory key-value store that answers a subset of Redis commands.
///
/// Strings only: `PING`, `ECHO`, `GET`, `SET` (with `EX`, `PX`, `NX`, `XX`, `GET`, `KEEPTTL`),
/// `DEL`, `EXISTS`, `INCR`, `MGET`, `MSET`, `DBSIZE`, `FLUSHALL`, `FLUSHDB`, `QUIT`, and the
/// handshake commands `redis-cli` and `redis-benchmark` send (`CONFIG GET`, `COMMAND`,
/// `CLIENT`, `SELECT`, `INFO`). One database, shared by every connection.
///
/// ```
/// use framesim_server::{Command, Kv, Reply, Service};
///
/// let kv = Kv::new();
/// assert_eq!(kv.call(Command::new(["SET", "k", "v"])).reply, Reply::ok());
/// assert_eq!(kv.call(Command::new(["GET", "k"])).reply, Reply::bulk("v"));
/// ```
#[derive(Debug, Default)]
pub struct Kv {
    db: Mutex<Db>,
}

impl Kv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn db(&self) -> MutexGuard<'_, Db> {
        lock(&self.db)
    }
}

impl Service for Kv {
    fn call(&self, cmd: Command) -> Response {
        let Some((name, args)) = cmd.args.split_first() else {
            return unknown_command(&cmd.args).into();
        };
        let mut upper = [0u8; LONGEST_NAME];
        let outcome = match upper_name(name, &mut upper) {
            b"PING" => ping(args),
            b"ECHO" => echo(args),
            b"QUIT" => {
                return Response {
                    reply: Reply::ok(),
                    close: true,
                }
            }
            b"GET" => self.get(args),
            b"SET" => self.set(args),
            b"DEL" => self.del(args),
            b"EXISTS" => self.exists(args),
            b"INCR" => self.incr(args),
            b"MGET" => self.mget(args),
            b"MSET" => self.mset(args),
            b"DBSIZE" => self.dbsize(args),
            b"FLUSHALL" | b"FLUSHDB" => self.flush(args),
            b"INFO" => self.info(args),
            b"SELECT" => select(args),
            b"CONFIG" => config(args),
            b"COMMAND" => command(args),
            b"CLIENT" => client(args),
            _ => Err(unknown_command(&cmd.args)),
        };
        outcome.unwrap_or_else(|err| err).into()
    }
}

/// The longest command name served (`FLUSHALL`); longer names are unknown commands.
const LONGEST_NAME: usize = 8;

/// `name` upper-cased into `buf`, without allocating; empty if it is too long to be known.
fn upper_name<'a>(name: &[u8], buf: &'a mut [u8; LONGEST_NAME]) -> &'a [u8] {
    let Some(upper) = buf.get_mut(..name.len()) else {
        return &[];
    };
    upper.copy_from_slice(name);
    upper.make_ascii_uppercase();
    upper
}
// ---- commands ---------------------------------------------------------------------------

fn ping(args: &[Bytes]) -> Outcome {
    arity(args, "ping", ..=1)?;
    Ok(match args.first() {
        Some(msg) => Reply::Bulk(msg.clone()),
        None => Reply::Simple("PONG".into()),
    })
}

fn echo(args: &[Bytes]) -> Outcome {
    arity(args, "echo", 1..=1)?;
    Ok(Reply::Bulk(args[0].clone()))
}

impl Kv {
    fn get(&self, args: &[Bytes]) -> Outcome {
        arity(args, "get", 1..=1)?;
        let now = Now::default();
        Ok(value_reply(self.db().get(&args[0], &now)))
    }

    fn set(&self, args: &[Bytes]) -> Outcome {
        arity(args, "set", 2..)?;
        let (key, value) = (&args[0], &args[1]);
        let opts = SetOptions::parse(&args[2..])?;
        let now = Now::default();
        // Redis validates the expiry before it looks at the key.
        let deadline = opts.ttl.deadline(&now)?;
        let mut db = self.db();
        db.sweep(&now);
        let old = db.get(key, &now).map(|e| (e.value.clone(), e.expires_at));
        let blocked = (opts.nx && old.is_some()) || (opts.xx && old.is_none());
        if !blocked {
            let expires_at = match opts.ttl {
                Ttl::Keep => old.as_ref().and_then(|(_, at)| *at),
                _ => deadline,
            };
            db.insert(key, Entry::new(value, expires_at));
        }
        Ok(if opts.get {
            old.map_or(Reply::Null, |(value, _)| Reply::Bulk(value))
        } else if blocked {
            Reply::Null
        } else {
            Reply::ok()
        })
    }

    fn del(&self, args: &[Bytes]) -> Outcome {
        arity(args, "del", 1..)?;
        let now = Now::default();
        let mut db = self.db();
        let removed = args
            .iter()
            .filter(|key| {
                db.entries
                    .remove(&key[..])
                    .is_some_and(|e| !e.is_expired(&now))
            })
            .count();
        Ok(Reply::Integer(removed as i64))
    }

    fn exists(&self, args: &[Bytes]) -> Outcome {
        arity(args, "exists", 1..)?;
        let now = Now::default();
        let db = self.db();
        // Like Redis, a key named twice counts twice.
        let found = args
            .iter()
            .filter(|key| db.get(key, &now).is_some())
            .count();
        Ok(Reply::Integer(found as i64))
    }

    fn incr(&self, args: &[Bytes]) -> Outcome {
        arity(args, "incr", 1..=1)?;
        let key = &args[0];
        let now = Now::default();
        let mut db = self.db();
        db.sweep(&now);
        let n = match db.get_mut(key, &now) {
            Some(entry) => {
                let n = parse_int(&entry.value)
                    .ok_or_else(not_an_integer)?
                    .checked_add(1)
                    .ok_or_else(|| Reply::error("ERR increment or decrement would overflow"))?;
                // The key keeps its time to live.
                entry.value = Bytes::from(n.to_string());
                n
            }
            None => {
                db.insert(key, Entry::new(b"1", None));
                1
            }
        };
        Ok(Reply::Integer(n))
    }

    fn mget(&self, args: &[Bytes]) -> Outcome {
        arity(args, "mget", 1..)?;
        let now = Now::default();
        let db = self.db();
        let values = args.iter().map(|key| value_reply(db.get(key, &now)));
        Ok(Reply::Array(values.collect()))
    }

    fn mset(&self, args: &[Bytes]) -> Outcome {
        arity(args, "mset", 2..)?;
        if args.len() % 2 != 0 {
            return Err(wrong_arity("mset"));
        }
        let now = Now::default();
        let mut db = self.db();
        db.sweep(&now);
        for pair in args.chunks_exact(2) {
            db.insert(&pair[0], Entry::new(&pair[1], None));
        }
        Ok(Reply::ok())
    }

    fn dbsize(&self, args: &[Bytes]) -> Outcome {
        arity(args, "dbsize", 0..=0)?;
        let mut db = self.db();
        db.purge_expired(&Now::default());
        Ok(Reply::Integer(db.entries.len() as i64))
    }

    /// `FLUSHALL` and `FLUSHDB`: one database, so they are the same.
    fn flush(&self, args: &[Bytes]) -> Outcome {
        let mode_ok =
            |m: &Bytes| m.eq_ignore_ascii_case(b"ASYNC") || m.eq_ignore_ascii_case(b"SYNC");
        if args.len() > 1 || !args.iter().all(mode_ok) {
            return Err(syntax_error());
        }
        *self.db() = Db::default();
        Ok(Reply::ok())
    }

    /// `INFO [section ...]`: the server and keyspace sections, enough for tools that probe.
    fn info(&self, args: &[Bytes]) -> Outcome {
        let wants = |section: &str| {
            args.is_empty()
                || args.iter().any(|a| {
                    ["all", "everything", "default", section]
                        .iter()
                        .any(|s| a.eq_ignore_ascii_case(s.as_bytes()))
                })
        };
        let mut sections = Vec::new();
        if wants("server") {
            sections.push(
                "# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\nframesim:1\r\n"
                    .to_string(),
            );
        }
        if wants("keyspace") {
            let mut db = self.db();
            db.purge_expired(&Now::default());
            let keys = db.entries.len();
            let mut section = "# Keyspace\r\n".to_string();
            if keys > 0 {
                let expires = db
                    .entries
                    .values()
                    .filter(|e| e.expires_at.is_some())
                    .count();
                section += &format!("db0:keys={keys},expires={expires},avg_ttl=0\r\n");
            }
            sections.push(section);
        }
        Ok(Reply::bulk(sections.join("\r\n")))
    }
}

/// `SELECT 0`: there is only database 0.
fn select(args: &[Bytes]) -> Outcome {
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

/// `CONFIG GET param ...`: the settings `redis-benchmark` reads, as name/value pairs. Like
/// Redis, a name comes back spelled as asked; unlike Redis (hash order), in the order asked.
/// No glob patterns.
fn config(args: &[Bytes]) -> Outcome {
    const SETTINGS: [(&str, &str); 2] = [("save", ""), ("appendonly", "no")];
    match subcommand(args, "config")?.as_str() {
        "GET" => {
            arity(args, "config|get", 2..)?;
            let mut found = Vec::new();
            for param in &args[1..] {
                let setting = SETTINGS
                    .iter()
                    .position(|(name, _)| param.eq_ignore_ascii_case(name.as_bytes()));
                if let Some(i) = setting.filter(|i| !found.iter().any(|(j, _)| j == i)) {
                    found.push((i, param));
                }
            }
            let pairs = found
                .into_iter()
                .flat_map(|(i, param)| [Reply::Bulk(param.clone()), Reply::bulk(SETTINGS[i].1)]);
            Ok(Reply::Array(pairs.collect()))
        }
        _ => Err(unknown_subcommand(&args[0], "CONFIG")),
    }
}

/// `COMMAND [COUNT | DOCS | INFO]`: an empty command table, which clients take as "no hints".
fn command(args: &[Bytes]) -> Outcome {
    if args.is_empty() {
        return Ok(Reply::Array(Vec::new()));
    }
    match subcommand(args, "command")?.as_str() {
        "COUNT" => {
            arity(args, "command|count", 1..=1)?;
            Ok(Reply::Integer(0))
        }
        "DOCS" => Ok(Reply::Array(Vec::new())),
        // One entry per name asked, null for a command it does not know: all of them.
        "INFO" => Ok(Reply::Array(vec![Reply::Null; args.len() - 1])),
        _ => Err(unknown_subcommand(&args[0], "COMMAND")),
    }
}

/// `CLIENT SETNAME | SETINFO | GETNAME`: accepted and forgotten. The store is shared by every
/// connection, so there is nowhere to keep a per-connection name.
fn client(args: &[Bytes]) -> Outcome {
    match subcommand(args, "client")?.as_str() {
        "SETNAME" => {
            arity(args, "client|setname", 2..=2)?;
            if !args[1].iter().all(|b| (b'!'..=b'~').contains(b)) {
                return Err(Reply::error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            Ok(Reply::ok())
        }
        "SETINFO" => {
            arity(args, "client|setinfo", 3..=3)?;
            Ok(Reply::ok())
        }
        "GETNAME" => {
            arity(args, "client|getname", 1..=1)?;
            Ok(Reply::Null)
        }
        _ => Err(unknown_subcommand(&args[0], "CLIENT")),
    }
}

// ---- SET options ------------------------------------------------------------------------

/// What `SET` does with the key's time to live.
#[derive(Debug, Clone, Copy)]
enum Ttl<'a> {
    /// No option: any old deadline goes.
    Clear,
    /// `KEEPTTL`.
    Keep,
    /// `EX seconds`, still unparsed.
    Seconds(&'a [u8]),
    /// `PX milliseconds`, still unparsed.
    Millis(&'a [u8]),
}

impl Ttl<'_> {
    /// The new deadline, checked as Redis checks it (integer, positive, no overflow).
    fn deadline(self, now: &Now) -> Result<Option<Instant>, Reply> {
        let (amount, ms_per_unit) = match self {
            Ttl::Seconds(s) => (s, 1000),
            Ttl::Millis(ms) => (ms, 1),
            Ttl::Clear | Ttl::Keep => return Ok(None),
        };
        let amount = parse_int(amount).ok_or_else(not_an_integer)?;
        let invalid = || Reply::error("ERR invalid expire time in 'set' command");
        let ms = Some(amount)
            .filter(|n| *n > 0)
            .and_then(|n| n.checked_mul(ms_per_unit))
            .ok_or_else(invalid)?;
        let at = now.get().checked_add(Duration::from_millis(ms as u64));
        at.map(Some).ok_or_else(invalid)
    }
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | KEEPTTL]`, in any order.
#[derive(Debug)]
struct SetOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    ttl: Ttl<'a>,
}

impl<'a> SetOptions<'a> {
    /// Redis's rules: NX and XX exclude each other, as do the TTL options, but repeating the
    /// same option is fine (the last `EX` wins). `EXAT`/`PXAT` need the wall clock: not here.
    fn parse(opts: &'a [Bytes]) -> Result<Self, Reply> {
        let mut parsed = SetOptions {
            nx: false,
            xx: false,
            get: false,
            ttl: Ttl::Clear,
        };
        let mut opts = opts.iter();
        while let Some(opt) = opts.next() {
            let opt = opt.to_ascii_uppercase();
            let ttl = parsed.ttl;
            match opt.as_slice() {
                b"NX" if !parsed.xx => parsed.nx = true,
                b"XX" if !parsed.nx => parsed.xx = true,
                b"GET" => parsed.get = true,
                b"KEEPTTL" if matches!(ttl, Ttl::Clear | Ttl::Keep) => parsed.ttl = Ttl::Keep,
                b"EX" if matches!(ttl, Ttl::Clear | Ttl::Seconds(_)) => {
                    parsed.ttl = Ttl::Seconds(opts.next().ok_or_else(syntax_error)?);
                }
                b"PX" if matches!(ttl, Ttl::Clear | Ttl::Millis(_)) => {
                    parsed.ttl = Ttl::Millis(opts.next().ok_or_else(syntax_error)?);
                }
                _ => return Err(syntax_error()),
            }
        }
        Ok(parsed)
    }
}

// ---- shared helpers ---------------------------------------------------------------------

fn value_reply(entry: Option<&Entry>) -> Reply {
    entry.map_or(Reply::Null, |e| Reply::Bulk(e.value.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::testing::{array, bulk, err, int, run, BAD_EXPIRE, NOT_INT, SYNTAX};

    #[test]
    fn ping_and_echo() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["PING"]), Reply::Simple("PONG".into()));
        assert_eq!(run(&kv, &["ping", "hi"]), bulk("hi"));
        assert_eq!(run(&kv, &["ECHO", "a b"]), bulk("a b"));
        assert_eq!(run(&kv, &["echo", ""]), bulk(""));
    }

    #[test]
    fn names_are_case_insensitive() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["sEt", "k", "v", "nX"]), Reply::ok());
        assert_eq!(run(&kv, &["GeT", "k"]), bulk("v"));
    }

    #[test]
    fn get_set_roundtrip_and_missing_key() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["GET", "k"]), Reply::Null);
        assert_eq!(run(&kv, &["SET", "k", "v1"]), Reply::ok());
        assert_eq!(run(&kv, &["SET", "k", "v2"]), Reply::ok());
        assert_eq!(run(&kv, &["GET", "k"]), bulk("v2"));
    }

    #[test]
    fn binary_keys_and_values() {
        let kv = Kv::new();
        let cmd = Command::new([&b"SET"[..], b"\0\xff\r\n", b"\x00v\r\n"].map(Bytes::from_static));
        assert_eq!(kv.call(cmd).reply, Reply::ok());
        let cmd = Command::new([&b"GET"[..], b"\0\xff\r\n"].map(Bytes::from_static));
        assert_eq!(kv.call(cmd).reply, Reply::bulk(&b"\x00v\r\n"[..]));
    }

    #[test]
    fn set_nx_xx() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["SET", "k", "1", "XX"]), Reply::Null);
        assert_eq!(run(&kv, &["GET", "k"]), Reply::Null);
        assert_eq!(run(&kv, &["SET", "k", "1", "NX"]), Reply::ok());
        assert_eq!(run(&kv, &["SET", "k", "2", "NX"]), Reply::Null);
        assert_eq!(run(&kv, &["GET", "k"]), bulk("1"));
        assert_eq!(run(&kv, &["SET", "k", "3", "xx"]), Reply::ok());
        assert_eq!(run(&kv, &["GET", "k"]), bulk("3"));
        assert_eq!(run(&kv, &["SET", "k", "4", "nx", "nx"]), Reply::Null);
    }

    #[test]
    fn set_get_returns_the_old_value() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["SET", "k", "1", "GET"]), Reply::Null);
        assert_eq!(run(&kv, &["SET", "k", "2", "get"]), bulk("1"));
        assert_eq!(run(&kv, &["GET", "k"]), bulk("2"));
        // NX GET on an existing key: the old value, and nothing written.
        assert_eq!(run(&kv, &["SET", "k", "3", "NX", "GET"]), bulk("2"));
        assert_eq!(run(&kv, &["GET", "k"]), bulk("2"));
        // XX GET on a missing key: null, and nothing written.
        assert_eq!(run(&kv, &["SET", "n", "3", "GET", "XX"]), Reply::Null);
        assert_eq!(run(&kv, &["GET", "n"]), Reply::Null);
        assert_eq!(run(&kv, &["SET", "n", "3", "GET", "NX"]), Reply::Null);
        assert_eq!(run(&kv, &["GET", "n"]), bulk("3"));
    }

    #[test]
    fn set_syntax_errors() {
        let kv = Kv::new();
        for bad in [
            &["SET", "k", "v", "NX", "XX"][..],
            &["SET", "k", "v", "XX", "NX"],
            &["SET", "k", "v", "EX"],
            &["SET", "k", "v", "PX"],
            &["SET", "k", "v", "EX", "1", "PX", "1"],
            &["SET", "k", "v", "PX", "1", "EX", "1"],
            &["SET", "k", "v", "EX", "1", "KEEPTTL"],
            &["SET", "k", "v", "KEEPTTL", "PX", "1"],
            &["SET", "k", "v", "FOO"],
            &["SET", "k", "v", "EXAT", "1"],
            // The syntax is checked before the expiry value.
            &["SET", "k", "v", "EX", "abc", "FOO"],
        ] {
            assert_eq!(run(&kv, bad), err(SYNTAX), "{bad:?}");
        }
        assert_eq!(run(&kv, &["GET", "k"]), Reply::Null);
    }

    #[test]
    fn set_expire_errors() {
        let kv = Kv::new();
        for (ttl, expected) in [
            (["EX", "abc"], NOT_INT),
            (["EX", "1.5"], NOT_INT),
            (["EX", "+1"], NOT_INT),
            (["EX", ""], NOT_INT),
            (["PX", "99999999999999999999"], NOT_INT),
            (["EX", "0"], BAD_EXPIRE),
            (["EX", "-1"], BAD_EXPIRE),
            (["PX", "0"], BAD_EXPIRE),
            (["PX", "-5"], BAD_EXPIRE),
            (["EX", "9999999999999999"], BAD_EXPIRE),
        ] {
            let cmd = ["SET", "k", "v", ttl[0], ttl[1]];
            assert_eq!(run(&kv, &cmd), err(expected), "{cmd:?}");
        }
        // The expiry is checked before NX/XX and nothing is written.
        assert_eq!(
            run(&kv, &["SET", "k", "v", "NX", "EX", "0"]),
            err(BAD_EXPIRE)
        );
        assert_eq!(run(&kv, &["GET", "k"]), Reply::Null);
    }

    #[tokio::test(start_paused = true)]
    async fn px_expires_and_last_ex_wins() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["SET", "p", "v", "px", "50"]), Reply::ok());
        assert_eq!(
            run(&kv, &["SET", "e", "v", "EX", "100", "EX", "1"]),
            Reply::ok()
        );
        tokio::time::advance(Duration::from_millis(51)).await;
        assert_eq!(run(&kv, &["GET", "p"]), Reply::Null);
        assert_eq!(run(&kv, &["GET", "e"]), bulk("v"));
        tokio::time::advance(Duration::from_millis(950)).await;
        assert_eq!(run(&kv, &["GET", "e"]), Reply::Null);
    }

    #[tokio::test(start_paused = true)]
    async fn ttl_is_cleared_kept_or_carried() {
        let kv = Kv::new();
        run(&kv, &["SET", "plain", "v", "PX", "10"]);
        run(&kv, &["SET", "keep", "v", "PX", "10"]);
        run(&kv, &["SET", "incr", "1", "PX", "10"]);
        run(&kv, &["SET", "mset", "v", "PX", "10"]);
        assert_eq!(run(&kv, &["SET", "plain", "w"]), Reply::ok());
        assert_eq!(run(&kv, &["SET", "keep", "w", "KEEPTTL"]), Reply::ok());
        assert_eq!(run(&kv, &["INCR", "incr"]), int(2));
        assert_eq!(run(&kv, &["MSET", "mset", "w"]), Reply::ok());
        tokio::time::advance(Duration::from_millis(11)).await;
        assert_eq!(run(&kv, &["GET", "plain"]), bulk("w"));
        assert_eq!(run(&kv, &["GET", "keep"]), Reply::Null);
        assert_eq!(run(&kv, &["GET", "incr"]), Reply::Null);
        assert_eq!(run(&kv, &["GET", "mset"]), bulk("w"));
        // KEEPTTL on a key without one leaves it without one.
        assert_eq!(run(&kv, &["SET", "plain", "x", "KEEPTTL"]), Reply::ok());
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(run(&kv, &["GET", "plain"]), bulk("x"));
    }

    #[test]
    fn del_and_exists() {
        let kv = Kv::new();
        run(&kv, &["MSET", "a", "1", "b", "2"]);
        assert_eq!(run(&kv, &["EXISTS", "a", "a", "b", "nope"]), int(3));
        assert_eq!(run(&kv, &["DEL", "a", "a", "nope"]), int(1));
        assert_eq!(run(&kv, &["EXISTS", "a"]), int(0));
        assert_eq!(run(&kv, &["GET", "a"]), Reply::Null);
        assert_eq!(run(&kv, &["DEL", "b"]), int(1));
        assert_eq!(run(&kv, &["DBSIZE"]), int(0));
    }

    #[test]
    fn incr_counts_up_from_zero() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["INCR", "n"]), int(1));
        assert_eq!(run(&kv, &["INCR", "n"]), int(2));
        assert_eq!(run(&kv, &["GET", "n"]), bulk("2"));
        run(&kv, &["SET", "n", "-1"]);
        assert_eq!(run(&kv, &["INCR", "n"]), int(0));
        assert_eq!(run(&kv, &["GET", "n"]), bulk("0"));
        run(&kv, &["SET", "n", "-9223372036854775808"]);
        assert_eq!(run(&kv, &["INCR", "n"]), int(-9223372036854775807));
    }

    #[test]
    fn incr_rejects_non_canonical_integers() {
        let kv = Kv::new();
        for value in [
            "abc",
            "",
            " 1",
            "1 ",
            "+1",
            "01",
            "-0",
            "-",
            "1.0",
            "9223372036854775808",
        ] {
            run(&kv, &["SET", "n", value]);
            assert_eq!(run(&kv, &["INCR", "n"]), err(NOT_INT), "{value:?}");
            assert_eq!(run(&kv, &["GET", "n"]), bulk(value), "unchanged");
        }
    }

    #[test]
    fn incr_overflow() {
        let kv = Kv::new();
        run(&kv, &["SET", "n", "9223372036854775807"]);
        assert_eq!(
            run(&kv, &["INCR", "n"]),
            err("ERR increment or decrement would overflow")
        );
        assert_eq!(run(&kv, &["GET", "n"]), bulk("9223372036854775807"));
    }

    #[test]
    fn mget_and_mset() {
        let kv = Kv::new();
        assert_eq!(
            run(&kv, &["MSET", "a", "1", "b", "2", "a", "3"]),
            Reply::ok()
        );
        assert_eq!(
            run(&kv, &["MGET", "a", "nope", "b"]),
            array(&[bulk("3"), Reply::Null, bulk("2")])
        );
        let odd = err("ERR wrong number of arguments for 'mset' command");
        assert_eq!(run(&kv, &["MSET", "a"]), odd);
        assert_eq!(run(&kv, &["MSET", "a", "1", "b"]), odd);
        assert_eq!(run(&kv, &["GET", "b"]), bulk("2"), "nothing written");
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
    fn wrong_number_of_arguments() {
        let kv = Kv::new();
        for (cmd, name) in [
            (&["PING", "a", "b"][..], "ping"),
            (&["ECHO"], "echo"),
            (&["echo", "a", "b"], "echo"),
            (&["GET"], "get"),
            (&["GET", "a", "b"], "get"),
            (&["SET"], "set"),
            (&["set", "k"], "set"),
            (&["DEL"], "del"),
            (&["EXISTS"], "exists"),
            (&["INCR"], "incr"),
            (&["INCR", "a", "b"], "incr"),
            (&["MGET"], "mget"),
            (&["MSET"], "mset"),
            (&["DBSIZE", "x"], "dbsize"),
            (&["SELECT"], "select"),
            (&["SELECT", "0", "1"], "select"),
            (&["CONFIG"], "config"),
            (&["CONFIG", "GET"], "config|get"),
            (&["CLIENT"], "client"),
            (&["CLIENT", "SETNAME"], "client|setname"),
            (&["CLIENT", "setinfo", "lib-name"], "client|setinfo"),
            (&["CLIENT", "GETNAME", "x"], "client|getname"),
            (&["COMMAND", "COUNT", "x"], "command|count"),
        ] {
            let expected = format!("ERR wrong number of arguments for '{name}' command");
            assert_eq!(run(&kv, cmd), err(&expected), "{cmd:?}");
        }
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

    #[test]
    fn config_get_answers_what_benchmark_asks() {
        let kv = Kv::new();
        assert_eq!(
            run(&kv, &["CONFIG", "GET", "save"]),
            array(&[bulk("save"), bulk("")])
        );
        assert_eq!(
            run(&kv, &["config", "get", "APPENDONLY"]),
            array(&[bulk("APPENDONLY"), bulk("no")])
        );
        assert_eq!(
            run(
                &kv,
                &["CONFIG", "GET", "appendonly", "maxmemory", "save", "SAVE"]
            ),
            array(&[bulk("appendonly"), bulk("no"), bulk("save"), bulk("")])
        );
        assert_eq!(run(&kv, &["CONFIG", "GET", "maxmemory"]), array(&[]));
        assert_eq!(
            run(&kv, &["CONFIG", "foo"]),
            err("ERR unknown subcommand 'foo'. Try CONFIG HELP.")
        );
    }

    #[test]
    fn command_table_is_empty() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["COMMAND"]), array(&[]));
        assert_eq!(run(&kv, &["COMMAND", "DOCS"]), array(&[]));
        assert_eq!(run(&kv, &["command", "docs", "get"]), array(&[]));
        assert_eq!(run(&kv, &["COMMAND", "COUNT"]), int(0));
        assert_eq!(
            run(&kv, &["COMMAND", "INFO", "get", "set"]),
            array(&[Reply::Null, Reply::Null])
        );
        assert_eq!(
            run(&kv, &["COMMAND", "foo"]),
            err("ERR unknown subcommand 'foo'. Try COMMAND HELP.")
        );
    }

    #[test]
    fn client_names_are_accepted_and_forgotten() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["CLIENT", "SETNAME", "bench"]), Reply::ok());
        assert_eq!(run(&kv, &["CLIENT", "SETNAME", ""]), Reply::ok());
        assert_eq!(
            run(&kv, &["CLIENT", "setname", "a b"]),
            err("ERR Client names cannot contain spaces, newlines or special characters.")
        );
        assert_eq!(
            run(&kv, &["CLIENT", "SETINFO", "lib-name", "redis-rs"]),
            Reply::ok()
        );
        assert_eq!(run(&kv, &["CLIENT", "GETNAME"]), Reply::Null);
        assert_eq!(
            run(&kv, &["client", "Foo"]),
            err("ERR unknown subcommand 'Foo'. Try CLIENT HELP.")
        );
    }

    #[test]
    fn info_sections() {
        let kv = Kv::new();
        let server = "# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\nframesim:1\r\n";
        assert_eq!(
            run(&kv, &["INFO"]),
            bulk(&format!("{server}\r\n# Keyspace\r\n"))
        );
        run(&kv, &["SET", "a", "1", "EX", "10"]);
        run(&kv, &["SET", "b", "1"]);
        assert_eq!(
            run(&kv, &["INFO", "keyspace"]),
            bulk("# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n")
        );
        assert_eq!(run(&kv, &["info", "SERVER"]), bulk(server));
        assert_eq!(run(&kv, &["INFO", "nope"]), bulk(""));
    }

    #[test]
    fn dbsize_and_flush() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["DBSIZE"]), int(0));
        run(&kv, &["MSET", "a", "1", "b", "2"]);
        assert_eq!(run(&kv, &["DBSIZE"]), int(2));
        assert_eq!(run(&kv, &["FLUSHDB"]), Reply::ok());
        assert_eq!(run(&kv, &["DBSIZE"]), int(0));
        run(&kv, &["SET", "a", "1"]);
        assert_eq!(run(&kv, &["FLUSHALL", "async"]), Reply::ok());
        assert_eq!(run(&kv, &["GET", "a"]), Reply::Null);
        assert_eq!(run(&kv, &["FLUSHALL", "SYNC"]), Reply::ok());
        assert_eq!(run(&kv, &["FLUSHALL", "now"]), err(SYNTAX));
        assert_eq!(run(&kv, &["FLUSHDB", "SYNC", "ASYNC"]), err(SYNTAX));
    }
}
