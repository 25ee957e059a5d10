//! What each virtual client asks, and what the server must answer.
//!
//! Each client owns its keys (`c<id>:...`), so a per-client model predicts every reply
//! exactly; the one shared key gets the weaker check "an integer".

use crate::seeds::Draws;
use crate::transcript::Expected;
use bytes::Bytes;
use framesim_server::{Command, Reply};
use rand::Rng;
use std::collections::BTreeMap;

/// The key every client increments: only the reply's type is checked.
pub const SHARED_KEY: &str = "shared:counter";

/// One client's view of its own keys.
#[derive(Debug, Default, Clone)]
pub struct ClientModel {
    /// Draw GET and SET only.
    get_set_only: bool,
    data: BTreeMap<Bytes, Bytes>,
    /// `c<id>:k0` .. `c<id>:k3`, and `c<id>:n`: made once, not on every request.
    keys: [Bytes; 4],
    counter: Bytes,
    /// The key the last edge case set to an integer-looking value: the next edge INCR goes
    /// there, so a value at the end of i64 is incremented past it.
    last_integer_key: Option<Bytes>,
}

impl ClientModel {
    /// The model of client `id`, its keys starting with `prefix` (a run against a real
    /// server, whose store outlives runs, gives each run its own).
    pub fn with_prefix(id: usize, prefix: &str) -> Self {
        // Ten thousand clients make five names each: one `format!` apiece, not five.
        let prefix = format!("{prefix}c{id}:");
        ClientModel {
            get_set_only: false,
            data: BTreeMap::new(),
            keys: ["k0", "k1", "k2", "k3"].map(|k| named(&prefix, k)),
            counter: named(&prefix, "n"),
            last_integer_key: None,
        }
    }

    /// The same model, drawing GET and SET only.
    pub fn get_set_only(self) -> Self {
        ClientModel {
            get_set_only: true,
            ..self
        }
    }

    fn key(&self, n: usize) -> Bytes {
        self.keys[n].clone()
    }

    /// Draws the next request and applies it to the model, returning what the server must
    /// answer. With chance `edge_values` the request is drawn from the edge cases instead
    /// (nothing extra is drawn when it is 0, so older workloads keep their requests).
    pub fn next(&mut self, rng: &mut Draws, edge_values: f64) -> (Command, Expected) {
        if edge_values > 0.0 && rng.random_bool(edge_values) {
            let cmd = self.edge(rng);
            let expect = self.apply(&cmd);
            return (cmd, expect);
        }
        let k = self.key(rng.random_range(0..4));
        let counter = self.counter.clone();
        // GET and SET are the first 55 of the 100 shares: drawing below 55 keeps their mix.
        let shares = if self.get_set_only { 55 } else { 100 };
        let cmd = match rng.random_range(0..shares) {
            0..=29 => cmd([name(b"SET"), k, value(rng)]),
            30..=54 => cmd([name(b"GET"), k]),
            55..=64 => cmd([name(b"INCR"), counter]),
            65..=69 => cmd([name(b"DEL"), k]),
            70..=74 => cmd([name(b"EXISTS"), k, self.key(rng.random_range(0..4))]),
            75..=79 => cmd([name(b"MGET"), k, self.key(rng.random_range(0..4))]),
            80..=84 => {
                let k2 = self.key(rng.random_range(0..4));
                let (v1, v2) = (value(rng), value(rng));
                cmd([name(b"MSET"), k, v1, k2, v2])
            }
            85..=89 => cmd([name(b"PING")]),
            90..=94 => cmd([name(b"ECHO"), value(rng)]),
            _ => cmd([name(b"INCR"), Bytes::from_static(SHARED_KEY.as_bytes())]),
        };
        let expect = self.apply(&cmd);
        (cmd, expect)
    }

    /// An edge case: integers at the ends of i64 and in forms Redis refuses, empty values,
    /// binary and RESP-looking values, values with quotes, backslashes and spaces, and
    /// INCR on whatever a key holds.
    fn edge(&mut self, rng: &mut Draws) -> Command {
        let k = self.key(rng.random_range(0..4));
        match rng.random_range(0..100) {
            0..=24 => {
                self.last_integer_key = Some(k.clone());
                cmd([name(b"SET"), k, edge_integer(rng)])
            }
            25..=49 => cmd([name(b"INCR"), self.last_integer_key.clone().unwrap_or(k)]),
            50..=64 => cmd([name(b"SET"), k, edge_value(rng)]),
            65..=79 => cmd([name(b"GET"), k]),
            80..=89 => cmd([name(b"ECHO"), edge_value(rng)]),
            _ => {
                let k2 = self.key(rng.random_range(0..4));
                let (v1, v2) = (edge_value(rng), edge_integer(rng));
                cmd([name(b"MSET"), k, v1, k2, v2])
            }
        }
    }

    /// Applies `cmd` to the model and returns what the server must answer: the commands
    /// virtual clients send (PING, ECHO, GET, SET without options, DEL, EXISTS, MGET, MSET,
    /// INCR), with Redis's rules.
    ///
    /// # Panics
    /// On any other command: a client asked something the model cannot predict.
    pub fn apply(&mut self, cmd: &Command) -> Expected {
        let args = &cmd.args;
        let reply = match (&args[0][..], &args[1..]) {
            (b"PING", []) => Reply::Simple("PONG".into()),
            (b"ECHO", [v]) => Reply::Bulk(v.clone()),
            (b"GET", [k]) => self.get(k),
            (b"SET", [k, v]) => {
                self.data.insert(k.clone(), v.clone());
                Reply::ok()
            }
            (b"DEL", keys) => Reply::Integer(
                keys.iter()
                    .filter(|k| self.data.remove(&k[..]).is_some())
                    .count() as i64,
            ),
            (b"EXISTS", keys) => Reply::Integer(
                keys.iter()
                    .filter(|k| self.data.contains_key(&k[..]))
                    .count() as i64,
            ),
            (b"MGET", keys) => Reply::Array(keys.iter().map(|k| self.get(k)).collect()),
            (b"MSET", pairs) if !pairs.is_empty() && pairs.len() % 2 == 0 => {
                for pair in pairs.chunks_exact(2) {
                    self.data.insert(pair[0].clone(), pair[1].clone());
                }
                Reply::ok()
            }
            // Every client increments it: only the type of its reply is known.
            (b"INCR", [k]) if &k[..] == SHARED_KEY.as_bytes() => return Expected::Integer,
            (b"INCR", [k]) => self.incr(k),
            _ => panic!("the model cannot predict {cmd:?}"),
        };
        exact(reply)
    }

    /// INCR as Redis does it: a missing key counts from 0; the value must be an integer in
    /// canonical form; the result must fit an i64. A refused INCR changes nothing.
    fn incr(&mut self, k: &Bytes) -> Reply {
        let n = match self.data.get(k) {
            None => Some(1),
            Some(v) => match redis_integer(v) {
                None => return Reply::Error("ERR value is not an integer or out of range".into()),
                Some(n) => n.checked_add(1),
            },
        };
        let Some(n) = n else {
            return Reply::Error("ERR increment or decrement would overflow".into());
        };
        self.data.insert(k.clone(), Bytes::from(n.to_string()));
        Reply::Integer(n)
    }

    fn get(&self, k: &Bytes) -> Reply {
        self.data
            .get(k)
            .map(|v| Reply::Bulk(v.clone()))
            .unwrap_or(Reply::Null)
    }
}

fn exact(r: Reply) -> Expected {
    Expected::Exact(r)
}

/// Requests are built from parts the model already holds as `Bytes` (its keys, drawn
/// values) and static names: sharing them costs no copy per argument.
fn cmd(args: impl IntoIterator<Item = Bytes>) -> Command {
    Command {
        args: args.into_iter().collect(),
    }
}

/// `prefix` followed by `rest`, as one key.
fn named(prefix: &str, rest: &str) -> Bytes {
    Bytes::from([prefix, rest].concat())
}

fn name(text: &'static [u8]) -> Bytes {
    Bytes::from_static(text)
}

/// A value of 0..=24 bytes; some hold spaces, quotes, CR LF and binary bytes.
fn value(rng: &mut Draws) -> Bytes {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 \r\n\"'\\\x00\xff*$:+-";
    let len = rng.random_range(0..=24);
    let plain = rng.random_bool(0.7);
    (0..len)
        .map(|_| {
            let top = if plain { 36 } else { ALPHABET.len() };
            ALPHABET[rng.random_range(0..top)]
        })
        .collect::<Vec<u8>>()
        .into()
}

/// The integer `v` stands for, if Redis reads it as one: an i64 written the way Rust
/// writes it back (no sign but `-`, no leading zeros, no spaces, no `-0`).
fn redis_integer(v: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(v).ok()?;
    let n: i64 = text.parse().ok()?;
    (n.to_string() == text).then_some(n)
}

/// An integer-looking value: the ends of i64 (for overflow), small ones, and forms INCR
/// refuses (sign, leading zeros, spaces, decimals, one past the ends).
fn edge_integer(rng: &mut Draws) -> Bytes {
    // The ends of i64 weigh more: they are where INCR breaks.
    const FORMS: &[&str] = &[
        "9223372036854775807",
        "9223372036854775807",
        "9223372036854775807",
        "9223372036854775806",
        "-9223372036854775808",
        "-9223372036854775807",
        "9223372036854775808",
        "-9223372036854775809",
        "0",
        "-1",
        "+1",
        "01",
        "-0",
        "00",
        " 1",
        "1 ",
        "1.0",
        "1e3",
        "0x10",
        "",
        "-",
        "12345678901234567890123",
    ];
    Bytes::from_static(FORMS[rng.random_range(0..FORMS.len())].as_bytes())
}

/// A value at the edges of what the framings carry: empty, CR, LF, NUL, bytes >= 0x80,
/// RESP-looking, line delimiters, quotes, backslashes and spaces (the line protocol quotes
/// and escapes them), or random bytes of any value.
fn edge_value(rng: &mut Draws) -> Bytes {
    const FORMS: &[&[u8]] = &[
        b"",
        b"\r\n",
        b"\n",
        b"\r",
        b"\0",
        b"a\0b",
        b"\x80\xfe\xff",
        "caf\u{e9}".as_bytes(),
        b"*1\r\n$3\r\n",
        b"$-1\r\n",
        b"+OK\r\n",
        b"-ERR x\r\n",
        b":1\r\n",
        b"PING\r\n",
        b"\r\n\0",
        b"\x00\xff",
        b"\"",
        b"'",
        b"\\",
        b"\\x41",
        b"\\\"",
        b"\"a b\"",
        b"'it''s'",
        b" ",
        b"  lead",
        b"trail  ",
        b"a \"b\" 'c' \\d",
        b"\t\x0b\x0c",
    ];
    if rng.random_bool(0.2) {
        let len = rng.random_range(1..=16);
        return (0..len)
            .map(|_| rng.random::<u8>())
            .collect::<Vec<u8>>()
            .into();
    }
    Bytes::from_static(FORMS[rng.random_range(0..FORMS.len())])
}

/// Does `reply` satisfy `expect`?
pub fn satisfies(reply: &Reply, expect: &Expected) -> bool {
    match expect {
        Expected::Exact(want) => reply == want,
        Expected::ErrorPrefix(p) => matches!(reply, Reply::Error(e) if e.starts_with(p.as_str())),
        Expected::Integer => matches!(reply, Reply::Integer(_)),
    }
}
