//! The key-value [`Service`]: a small, deterministic subset of Redis.
//!
//! Replies and error strings match Redis 7 byte for byte, so `redis-cli` and `redis-benchmark`
//! work against the server and a transcript reads like one taken from Redis. Expiry runs on
//! tokio's clock, so it follows paused and simulated time; nothing here reads the wall clock.
//!
//! [`db`] holds the data and its expiry; one file per family answers the commands
//! ([`strings`], [`keys`], [`connection`], [`admin`]), and [`errors`] words their errors.

mod admin;
mod connection;
mod db;
mod errors;
mod keys;
mod strings;
#[cfg(test)]
mod testing;

use std::sync::Mutex;

use db::Db;
use errors::unknown_command;

use crate::{Command, Response, Service};

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
}

impl Service for Kv {
    fn call(&self, cmd: Command) -> Response {
        let Some((name, args)) = cmd.args.split_first() else {
            return unknown_command(&cmd.args).into();
        };
        let store = &self.db;
        let mut upper = [0u8; LONGEST_NAME];
        let outcome = match upper_name(name, &mut upper) {
            b"PING" => connection::ping(args),
            b"ECHO" => connection::echo(args),
            b"QUIT" => return connection::quit(),
            b"GET" => strings::get(store, args),
            b"SET" => strings::set(store, args),
            b"DEL" => keys::del(store, args),
            b"EXISTS" => keys::exists(store, args),
            b"INCR" => strings::incr(store, args),
            b"MGET" => strings::mget(store, args),
            b"MSET" => strings::mset(store, args),
            b"DBSIZE" => keys::dbsize(store, args),
            b"FLUSHALL" | b"FLUSHDB" => keys::flush(store, args),
            b"INFO" => admin::info(store, args),
            b"SELECT" => connection::select(args),
            b"CONFIG" => admin::config(args),
            b"COMMAND" => admin::command(args),
            b"CLIENT" => admin::client(args),
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

#[cfg(test)]
mod tests {
    use crate::kv::testing::{bulk, err, run};
    use crate::{Kv, Reply};

    #[test]
    fn names_are_case_insensitive() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["sEt", "k", "v", "nX"]), Reply::ok());
        assert_eq!(run(&kv, &["GeT", "k"]), bulk("v"));
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
}
