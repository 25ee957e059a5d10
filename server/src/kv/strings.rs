//! The string commands: `GET`, `SET` with its options, `INCR`, `MGET` and `MSET`.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::db::{lock, Db, Entry, Now};
use super::errors::{arity, not_an_integer, syntax_error, wrong_arity, Outcome};
use crate::protocol::inline::parse_int;
use crate::Reply;

pub(super) fn get(store: &Mutex<Db>, args: &[Bytes]) -> Outcome {
    arity(args, "get", 1..=1)?;
    let now = Now::default();
    Ok(value_reply(lock(store).get(&args[0], &now)))
}

pub(super) fn set(store: &Mutex<Db>, args: &[Bytes]) -> Outcome {
    arity(args, "set", 2..)?;
    let (key, value) = (&args[0], &args[1]);
    let opts = SetOptions::parse(&args[2..])?;
    let now = Now::default();
    // Redis validates the expiry before it looks at the key.
    let deadline = opts.ttl.deadline(&now)?;
    let mut db = lock(store);
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

pub(super) fn incr(store: &Mutex<Db>, args: &[Bytes]) -> Outcome {
    arity(args, "incr", 1..=1)?;
    let key = &args[0];
    let now = Now::default();
    let mut db = lock(store);
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

pub(super) fn mget(store: &Mutex<Db>, args: &[Bytes]) -> Outcome {
    arity(args, "mget", 1..)?;
    let now = Now::default();
    let db = lock(store);
    let values = args.iter().map(|key| value_reply(db.get(key, &now)));
    Ok(Reply::Array(values.collect()))
}

pub(super) fn mset(store: &Mutex<Db>, args: &[Bytes]) -> Outcome {
    arity(args, "mset", 2..)?;
    if args.len() % 2 != 0 {
        return Err(wrong_arity("mset"));
    }
    let now = Now::default();
    let mut db = lock(store);
    db.sweep(&now);
    for pair in args.chunks_exact(2) {
        db.insert(&pair[0], Entry::new(&pair[1], None));
    }
    Ok(Reply::ok())
}

fn value_reply(entry: Option<&Entry>) -> Reply {
    entry.map_or(Reply::Null, |e| Reply::Bulk(e.value.clone()))
}

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

#[cfg(test)]
mod tests {
    use crate::kv::testing::{array, bulk, err, int, run, BAD_EXPIRE, NOT_INT, SYNTAX};
    use crate::{Command, Kv, Reply, Service};
    use bytes::Bytes;
    use std::time::Duration;

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
}
