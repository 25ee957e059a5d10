//! What each virtual client asks, and what the server must answer.
//!
//! Each client owns its keys (`c<id>:...`), so a per-client model predicts every reply
//! exactly; the one shared key gets the weaker check "an integer".

use crate::transcript::Expected;
use bytes::Bytes;
use framesim_server::{Command, Reply};
use rand::rngs::SmallRng;
use rand::Rng;
use std::collections::BTreeMap;

/// The key every client increments: only the reply's type is checked.
pub const SHARED_KEY: &str = "shared:counter";

/// One client's view of its own keys.
#[derive(Debug, Default, Clone)]
pub struct Model {
    id: usize,
    data: BTreeMap<Bytes, Bytes>,
}

impl Model {
    /// The model of client `id`, starting from an empty store.
    pub fn new(id: usize) -> Self {
        Model {
            id,
            data: BTreeMap::new(),
        }
    }

    /// Forgets everything (the server restarted and lost its memory).
    pub fn reset(&mut self) {
        self.data.clear();
    }

    fn key(&self, n: usize) -> Bytes {
        Bytes::from(format!("c{}:k{n}", self.id))
    }

    /// Draws the next request and applies it to the model, returning what the server must
    /// answer.
    pub fn next(&mut self, rng: &mut SmallRng) -> (Command, Expected) {
        let k = self.key(rng.random_range(0..4));
        let counter = Bytes::from(format!("c{}:n", self.id));
        match rng.random_range(0..100) {
            0..=29 => {
                let v = value(rng);
                self.data.insert(k.clone(), v.clone());
                (cmd([b"SET".as_ref(), &k, &v]), exact(Reply::ok()))
            }
            30..=54 => {
                let r = self.get(&k);
                (cmd([b"GET".as_ref(), &k]), exact(r))
            }
            55..=64 => {
                let n = self
                    .data
                    .get(&counter)
                    .and_then(|v| std::str::from_utf8(v).ok()?.parse::<i64>().ok())
                    .unwrap_or(0)
                    + 1;
                self.data
                    .insert(counter.clone(), Bytes::from(n.to_string()));
                (cmd([b"INCR".as_ref(), &counter]), exact(Reply::Integer(n)))
            }
            65..=69 => {
                let n = i64::from(self.data.remove(&k).is_some());
                (cmd([b"DEL".as_ref(), &k]), exact(Reply::Integer(n)))
            }
            70..=74 => {
                let k2 = self.key(rng.random_range(0..4));
                let n =
                    i64::from(self.data.contains_key(&k)) + i64::from(self.data.contains_key(&k2));
                (cmd([b"EXISTS".as_ref(), &k, &k2]), exact(Reply::Integer(n)))
            }
            75..=79 => {
                let k2 = self.key(rng.random_range(0..4));
                let r = Reply::Array(vec![self.get(&k), self.get(&k2)]);
                (cmd([b"MGET".as_ref(), &k, &k2]), exact(r))
            }
            80..=84 => {
                let k2 = self.key(rng.random_range(0..4));
                let (v1, v2) = (value(rng), value(rng));
                self.data.insert(k.clone(), v1.clone());
                self.data.insert(k2.clone(), v2.clone());
                (
                    cmd([b"MSET".as_ref(), &k, &v1, &k2, &v2]),
                    exact(Reply::ok()),
                )
            }
            85..=89 => (cmd([b"PING".as_ref()]), exact(Reply::Simple("PONG".into()))),
            90..=94 => {
                let v = value(rng);
                (cmd([b"ECHO".as_ref(), &v]), exact(Reply::Bulk(v)))
            }
            _ => (
                cmd([b"INCR".as_ref(), SHARED_KEY.as_bytes()]),
                Expected::Integer,
            ),
        }
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

fn cmd<'a>(args: impl IntoIterator<Item = &'a [u8]>) -> Command {
    Command {
        args: args.into_iter().map(Bytes::copy_from_slice).collect(),
    }
}

/// A value of 0..=24 bytes; some hold spaces, quotes, CR LF and binary bytes.
fn value(rng: &mut SmallRng) -> Bytes {
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

/// Does `reply` satisfy `expect`?
pub fn satisfies(reply: &Reply, expect: &Expected) -> bool {
    match expect {
        Expected::Exact(want) => reply == want,
        Expected::ErrorPrefix(p) => matches!(reply, Reply::Error(e) if e.starts_with(p.as_str())),
        Expected::Integer => matches!(reply, Reply::Integer(_)),
    }
}
