//! The built-in workload: framesim's key-value commands in any of its framings, with a model
//! of each client's own keys.

use super::workload::{ReplyFramer, Request, Session, Workload};
use crate::seeds::Draws;
use bytes::{Bytes, BytesMut};
use framesim_server::framing::Decoder;
use framesim_server::protocol::{encode_command, Framing, ReplyDecoder};
use framesim_server::{Command, Reply};
use rand::Rng;
use std::collections::BTreeMap;

/// Largest reply the built-in framer accepts.
const MAX_REPLY: usize = 1024 * 1024;

/// SET, GET and DEL over keys of each client's own (`c<id>:<n>`), in RESP, lines or
/// length-prefixed frames; the model is a map per client, so every reply is predicted
/// whatever the interleaving of clients.
///
/// ```
/// use framesim::harness::{KvWorkload, Workload};
/// use framesim_server::protocol::Framing;
///
/// let workload = KvWorkload::new(Framing::line()).requests(5);
/// let _session = workload.session(0);
/// ```
#[derive(Debug, Clone)]
pub struct KvWorkload {
    framing: Framing,
    requests: usize,
}

impl KvWorkload {
    /// Eight requests per client in `framing`.
    pub fn new(framing: Framing) -> Self {
        KvWorkload {
            framing,
            requests: 8,
        }
    }

    /// The same workload with `n` requests per client.
    pub fn requests(mut self, n: usize) -> Self {
        self.requests = n;
        self
    }
}

impl Workload for KvWorkload {
    fn session(&self, client: usize) -> Box<dyn Session> {
        Box::new(KvSession {
            framing: self.framing.clone(),
            client,
            left: self.requests,
            asked: std::collections::VecDeque::new(),
            model: BTreeMap::new(),
        })
    }

    fn framer(&self) -> Box<dyn ReplyFramer> {
        Box::new(KvFramer {
            decoder: ReplyDecoder::new(&self.framing, MAX_REPLY),
            taken: BytesMut::new(),
        })
    }
}

/// One client's requests and the state of its keys as the server should hold them.
struct KvSession {
    framing: Framing,
    client: usize,
    left: usize,
    /// Commands sent and not answered yet, by request bytes, in order.
    asked: std::collections::VecDeque<(Bytes, Command)>,
    model: BTreeMap<Bytes, Bytes>,
}

impl Session for KvSession {
    fn next_request(&mut self, rng: &mut Draws) -> Option<Request> {
        self.left = self.left.checked_sub(1)?;
        let key = Bytes::from(format!("c{}:{}", self.client, rng.random_range(0..4)));
        let cmd = match rng.random_range(0..10) {
            0..5 => {
                let len = rng.random_range(0..=24);
                let value: String = (0..len)
                    .map(|_| char::from(rng.random_range(b'a'..=b'z')))
                    .collect();
                Command::new([Bytes::from_static(b"SET"), key, Bytes::from(value)])
            }
            5..8 => Command::new([Bytes::from_static(b"GET"), key]),
            _ => Command::new([Bytes::from_static(b"DEL"), key]),
        };
        let mut bytes = BytesMut::new();
        encode_command(&self.framing, &cmd, &mut bytes).ok()?;
        let bytes = bytes.freeze();
        let request =
            Request::new(bytes.clone()).with_boundaries(seams(&self.framing, &cmd, &bytes));
        self.asked.push_back((bytes, cmd));
        Some(request)
    }

    fn check_reply(&mut self, request: &Request, reply: &[u8]) -> Result<(), String> {
        let (bytes, cmd) = self
            .asked
            .pop_front()
            .ok_or("a reply to a request never sent")?;
        if bytes != request.bytes {
            return Err("replies checked out of order".into());
        }
        let want = self.apply(&cmd);
        let mut decoder = ReplyDecoder::new(&self.framing, MAX_REPLY);
        let mut buf = BytesMut::from(reply);
        let got = decoder
            .decode_eof(&mut buf)
            .map_err(|e| format!("{cmd:?}: unreadable reply: {e}"))?
            .ok_or_else(|| format!("{cmd:?}: empty reply"))?;
        if got == want {
            Ok(())
        } else {
            Err(format!("expected {want:?}, got {got:?}"))
        }
    }
}

impl KvSession {
    /// What the server must answer to `cmd`, and its effect on this client's keys.
    fn apply(&mut self, cmd: &Command) -> Reply {
        let key = cmd.args[1].clone();
        match cmd.name().as_str() {
            "SET" => {
                self.model.insert(key, cmd.args[2].clone());
                Reply::ok()
            }
            "GET" => self
                .model
                .get(&key)
                .cloned()
                .map_or(Reply::Null, Reply::Bulk),
            _ => Reply::Integer(i64::from(self.model.remove(&key).is_some())),
        }
    }
}

/// Where `cmd`'s encoding in `framing` has seams: after each line of RESP or a line request;
/// after each length header of a length-prefixed one.
fn seams(framing: &Framing, cmd: &Command, bytes: &[u8]) -> Vec<usize> {
    match framing {
        Framing::Length { header_len, .. } => {
            let mut at = *header_len;
            let mut seams = vec![at];
            for arg in &cmd.args {
                at += header_len;
                seams.push(at);
                at += arg.len();
                seams.push(at);
            }
            seams
        }
        _ => (1..bytes.len())
            .filter(|&i| bytes[i - 1] == b'\n')
            .collect(),
    }
}

/// framesim's reply decoder as a [`ReplyFramer`]: the decoder takes bytes as it goes, so the
/// frame is put back together from what each call took.
struct KvFramer {
    decoder: ReplyDecoder,
    /// Bytes of the reply in progress the decoder has taken already.
    taken: BytesMut,
}

impl ReplyFramer for KvFramer {
    fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, String> {
        let before = buf.clone();
        let decoded = self.decoder.decode(buf).map_err(|e| e.to_string())?;
        self.taken
            .extend_from_slice(&before[..before.len() - buf.len()]);
        Ok(decoded.map(|_| self.taken.split().freeze()))
    }
}
