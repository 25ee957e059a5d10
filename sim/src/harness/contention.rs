//! A workload whose clients share a few keys: registers written and read, set if absent,
//! swapped, deleted, read and written together, and counters every client increments. No
//! one client can predict its replies; the run's history is checked linearizable instead.

use super::kv::KvWorkload;
use super::workload::{ReplyFramer, Request, Session, Workload};
use crate::seeds::Draws;
use bytes::BytesMut;
use framesim_server::protocol::{encode_command, Framing};
use framesim_server::Command;
use rand::Rng;

/// Clients over a small shared key space in RESP (`s:k0`.. registers, `s:n0`, `s:n1`
/// counters): `GET`, `SET` (plain, `NX`, `GET`), `DEL`, `EXISTS`, `INCR`, `MGET`, `MSET`.
/// Its runs record a history and check it (`[linearizable]`): each request is called at
/// its own first byte written, and a client's requests take effect in the order it sent
/// them, pipelined or not.
///
/// ```
/// use framesim::harness::{ContentionWorkload, Harness, Options};
/// use framesim_server::{serve, Config, Kv, Stats};
///
/// let harness = Harness::new(
///     |listener, shutdown| async move {
///         serve(listener, Kv::new(), Config::default(), Stats::default(), shutdown).await.unwrap();
///     },
///     ContentionWorkload::new().keys(2),
/// )
/// .with(Options { clients: 6, ..Options::gentle() });
/// let outcome = harness.run(3);
/// assert!(outcome.passed(), "{}", outcome.failure("(doc example)"));
/// ```
#[derive(Debug, Clone)]
pub struct ContentionWorkload {
    keys: usize,
    requests: usize,
    prefix: String,
}

impl Default for ContentionWorkload {
    fn default() -> Self {
        Self::new()
    }
}

impl ContentionWorkload {
    /// Three shared registers, eight requests per client.
    pub fn new() -> Self {
        ContentionWorkload {
            keys: 3,
            requests: 8,
            prefix: String::new(),
        }
    }

    /// The same workload over `n` registers (at least one).
    pub fn keys(mut self, n: usize) -> Self {
        self.keys = n.max(1);
        self
    }

    /// The same workload with `n` requests per client.
    pub fn requests(mut self, n: usize) -> Self {
        self.requests = n;
        self
    }

    /// The same workload with every key behind `prefix` (`r1:s:k0`): runs against one
    /// real server that keeps its keys then start from keys of their own, as the model
    /// does (none set).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

impl Workload for ContentionWorkload {
    fn session(&self, client: usize) -> Box<dyn Session> {
        Box::new(Contending {
            client,
            keys: self.keys,
            left: self.requests,
            asked: 0,
            prefix: self.prefix.clone(),
        })
    }

    fn framer(&self) -> Box<dyn ReplyFramer> {
        KvWorkload::new(Framing::Resp).framer()
    }

    fn linearizable(&self) -> bool {
        true
    }
}

/// One client's requests: drawn, never predicted.
struct Contending {
    client: usize,
    keys: usize,
    left: usize,
    asked: usize,
    prefix: String,
}

impl Session for Contending {
    fn next_request(&mut self, rng: &mut Draws) -> Option<Request> {
        self.left = self.left.checked_sub(1)?;
        self.asked += 1;
        let prefix = &self.prefix;
        let key = |rng: &mut Draws| format!("{prefix}s:k{}", rng.random_range(0..self.keys));
        let value = format!("c{}-{}", self.client, self.asked);
        let k = key(rng);
        let args: Vec<String> = match rng.random_range(0..10) {
            0 | 1 => vec!["GET".into(), k],
            2 => vec!["SET".into(), k, value],
            3 => vec!["SET".into(), k, value, "NX".into()],
            4 => vec!["SET".into(), k, value, "GET".into()],
            5 => vec!["DEL".into(), k],
            6 => vec!["EXISTS".into(), k],
            7 => vec!["MGET".into(), k, key(rng)],
            8 => vec!["MSET".into(), k, value.clone(), key(rng), value],
            _ => vec![
                "INCR".into(),
                format!("{prefix}s:n{}", rng.random_range(0..2)),
            ],
        };
        resp(args)
    }

    /// `QUIT`: a quitting client's batch before it is in the history like any other.
    fn quit(&mut self, _rng: &mut Draws) -> Option<Request> {
        resp(vec!["QUIT".into()])
    }
}

/// `args` as a RESP request.
fn resp(args: Vec<String>) -> Option<Request> {
    let mut bytes = BytesMut::new();
    encode_command(&Framing::Resp, &Command::new(args), &mut bytes).ok()?;
    Some(Request::new(bytes.freeze()))
}
