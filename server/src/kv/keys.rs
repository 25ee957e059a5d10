//! The commands over keys whatever their value: `DEL`, `EXISTS`, `DBSIZE`, `FLUSHALL` and
//! `FLUSHDB`.

use std::sync::Mutex;

use bytes::Bytes;

use super::db::{lock, Db, Now};
use super::errors::{arity, syntax_error, Outcome};
use crate::Reply;

pub(super) fn del(store: &Mutex<Db>, args: &[Bytes]) -> Outcome {
    arity(args, "del", 1..)?;
    let now = Now::default();
    let mut db = lock(store);
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

pub(super) fn exists(store: &Mutex<Db>, args: &[Bytes]) -> Outcome {
    arity(args, "exists", 1..)?;
    let now = Now::default();
    let db = lock(store);
    // Like Redis, a key named twice counts twice.
    let found = args
        .iter()
        .filter(|key| db.get(key, &now).is_some())
        .count();
    Ok(Reply::Integer(found as i64))
}

pub(super) fn dbsize(store: &Mutex<Db>, args: &[Bytes]) -> Outcome {
    arity(args, "dbsize", 0..=0)?;
    let mut db = lock(store);
    db.purge_expired(&Now::default());
    Ok(Reply::Integer(db.entries.len() as i64))
}

/// `FLUSHALL` and `FLUSHDB`: one database, so they are the same.
pub(super) fn flush(store: &Mutex<Db>, args: &[Bytes]) -> Outcome {
    let mode_ok = |m: &Bytes| m.eq_ignore_ascii_case(b"ASYNC") || m.eq_ignore_ascii_case(b"SYNC");
    if args.len() > 1 || !args.iter().all(mode_ok) {
        return Err(syntax_error());
    }
    *lock(store) = Db::default();
    Ok(Reply::ok())
}

#[cfg(test)]
mod tests {
    use crate::kv::testing::{err, int, run, SYNTAX};
    use crate::{Kv, Reply};

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
