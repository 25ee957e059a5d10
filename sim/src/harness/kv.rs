//! The built-in workload: framesim's key-value commands in any of its framings, with a model
//! of each client's own keys.

use super::workload::{KvRequest, ReplyFramer, Request, Session, Workload};
use crate::boundary::{malformed, REDIS_TAKES};
use crate::model::{satisfies, ClientModel};
use crate::seeds::Draws;
use crate::transcript::Expected;
use bytes::{Bytes, BytesMut};
use framesim_server::framing::Decoder;
use framesim_server::protocol::{encode_command, Framing, ReplyDecoder};
use framesim_server::{Command, Reply};
use rand::Rng;
use std::sync::Arc;

/// Largest reply the built-in framer accepts.
const MAX_REPLY: usize = 1024 * 1024;

/// framesim's key-value commands (SET, GET, DEL, EXISTS, MGET, MSET, INCR, PING, ECHO) in
/// RESP, lines or length-prefixed frames, with the model of each client's own keys
/// (`c<id>:k0`..`k3`) and one key every client increments (only the reply's type is
/// promised there): every reply is predicted whatever the interleaving of clients. The
/// workload `framesim run` itself gives its clients.
///
/// ```
/// use framesim::harness::{Framing, KvWorkload, Workload};
///
/// let workload = KvWorkload::new(Framing::line()).requests(5).edge_values(0.1);
/// let _session = workload.session(0);
/// ```
#[derive(Debug, Clone)]
pub struct KvWorkload {
    framing: Framing,
    requests: usize,
    edge_values: f64,
    get_set_only: bool,
    prefix: Arc<str>,
    limited: bool,
}

impl KvWorkload {
    /// Eight requests per client in `framing`.
    pub fn new(framing: Framing) -> Self {
        KvWorkload {
            framing,
            requests: 8,
            edge_values: 0.0,
            get_set_only: false,
            prefix: Arc::from(""),
            limited: false,
        }
    }

    /// The same workload for a server that refuses requests larger than
    /// [`Options::max_request`](super::Options::max_request) bytes: oversized clients send
    /// a SET of more than twice that (at least 128 KiB more), which must be refused, and
    /// at-limit clients a SET of exactly that many bytes, which must get `+OK`. Off by
    /// default: declare the limit your server has, or those clients would judge one it
    /// does not.
    pub fn limited(mut self) -> Self {
        self.limited = true;
        self
    }

    /// The same workload with `n` requests per client.
    pub fn requests(mut self, n: usize) -> Self {
        self.requests = n;
        self
    }

    /// The same workload drawing each request from the edge cases with chance `p`:
    /// integers at the ends of `i64` and in forms Redis refuses, empty, binary and
    /// RESP-looking values, INCR on whatever a key holds.
    pub fn edge_values(mut self, p: f64) -> Self {
        self.edge_values = p.clamp(0.0, 1.0);
        self
    }

    /// The same workload drawing GET and SET only (for servers that know no more): its
    /// sessions make no QUIT either, so a quitting client behaves well.
    pub fn get_set_only(mut self) -> Self {
        self.get_set_only = true;
        self
    }

    /// The same workload with every key starting with `prefix`: runs against one
    /// long-lived server then do not see each other's keys.
    pub fn key_prefix(mut self, prefix: &str) -> Self {
        self.prefix = Arc::from(prefix);
        self
    }
}

impl Workload for KvWorkload {
    fn session(&self, client: usize) -> Box<dyn Session> {
        let model = ClientModel::with_prefix(client, &self.prefix);
        Box::new(KvSession {
            framing: self.framing.clone(),
            left: self.requests,
            edge_values: self.edge_values,
            // Apart from the model's keys: what a sized request leaves is never asked for.
            sized: self
                .limited
                .then(|| format!("{}c{client}:sized", self.prefix)),
            quits: !self.get_set_only,
            model: if self.get_set_only {
                model.get_set_only()
            } else {
                model
            },
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
    left: usize,
    edge_values: f64,
    /// The key of its oversized or at-limit SET, if the workload is limited.
    sized: Option<String>,
    /// Whether it may end with QUIT (not for a server that knows GET and SET only).
    quits: bool,
    model: ClientModel,
}

impl Session for KvSession {
    fn next_request(&mut self, rng: &mut Draws) -> Option<Request> {
        self.left = self.left.checked_sub(1)?;
        // With edge values, now and then an empty request first, which gets no reply.
        let empty = (self.edge_values > 0.0 && rng.random_bool(self.edge_values / 2.0))
            .then(|| empty_request(&self.framing, rng));
        let (mut command, expect) = self.model.next(rng, self.edge_values);
        // And now and then a command name in mixed case: names are case-insensitive.
        if self.edge_values > 0.0 && rng.random_bool(self.edge_values / 2.0) {
            let name = command.args[0]
                .iter()
                .map(|&b| {
                    if rng.random_bool(0.5) {
                        b.to_ascii_lowercase()
                    } else {
                        b
                    }
                })
                .collect::<Vec<u8>>();
            command.args[0] = Bytes::from(name);
        }
        let empty = empty.unwrap_or_default();
        // Room for every argument and its framing at once: one allocation per request.
        let room = command.args.iter().map(|a| a.len() + 24).sum::<usize>() + 16 + empty.len();
        let mut bytes = BytesMut::with_capacity(room);
        bytes.extend_from_slice(&empty);
        let skipped = empty.len();
        encode_command(&self.framing, &command, &mut bytes).ok()?;
        let bytes = bytes.freeze();
        let mut boundaries = seams(&self.framing, &command, &bytes[skipped..]);
        if skipped > 0 {
            boundaries.iter_mut().for_each(|seam| *seam += skipped);
            boundaries.push(skipped);
        }
        Some(Request {
            kv: Some(KvRequest { command, expect }),
            skipped,
            ..Request::new(bytes).with_boundaries(boundaries)
        })
    }

    /// One of the framing's malformed requests (an argument that is not a bulk, a length
    /// with a letter, an open quote, an argument cut short inside its frame), but for one
    /// redis-server itself takes (a bulk not ended by CRLF): a Redis-compatible server
    /// must pass.
    fn malformed(&mut self, rng: &mut Draws) -> Option<Request> {
        let mut all = malformed(&self.framing);
        all.retain(|&(_, what)| what != REDIS_TAKES);
        let (bytes, _) = all.get(rng.random_range(0..all.len().max(1)))?;
        Some(Request::new(bytes.clone()))
    }

    /// An error reply: `-ERR Protocol error…` in RESP, its line or frame in the others.
    fn check_error(&mut self, _request: &Request, reply: &[u8]) -> Result<(), String> {
        match decode(&self.framing, reply)? {
            Reply::Error(e) if e.starts_with("ERR") => Ok(()),
            other => Err(format!("expected an error reply, got {other:?}")),
        }
    }

    /// A request of more than twice `size` bytes, at least 128 KiB more (a server must
    /// refuse it before it has read `size` bytes and one read more): a SET of one large
    /// value, or in RESP, half the time, an MSET of many small pairs, whose arguments a
    /// server parses out as they come (and must count against its limit all the same).
    fn oversized(&mut self, rng: &mut Draws, size: usize) -> Option<Request> {
        let key = self.sized.clone()?;
        let len = size.saturating_mul(2).max(size.saturating_add(128 * 1024));
        let pairs = self.framing == Framing::Resp && rng.random_bool(0.5);
        let command = if pairs {
            // A session that makes no QUIT knows GET and SET alone.
            let name = if self.quits { "MSET" } else { "SET" };
            let pair = [Bytes::from(key), Bytes::from_static(b"a")];
            let count = len / (pair[0].len() + 12) + 1;
            let args = std::iter::once(Bytes::from_static(name.as_bytes()))
                .chain(std::iter::repeat_n(pair, count).flatten());
            Command::new(args.collect::<Vec<_>>())
        } else {
            Command::new([
                Bytes::from_static(b"SET"),
                Bytes::from(key),
                Bytes::from(vec![b'a'; len]),
            ])
        };
        let mut bytes = BytesMut::new();
        encode_command(&self.framing, &command, &mut bytes).ok()?;
        Some(Request::new(bytes.freeze()))
    }

    /// A SET of exactly `size` bytes in all, its key padded to make up what its value's
    /// length cannot; `+OK`. `None` when the framing cannot say it in `size` bytes.
    fn at_limit(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        let key = self.sized.clone()?;
        let command = sized_set(&self.framing, &key, size)?;
        let mut bytes = BytesMut::new();
        encode_command(&self.framing, &command, &mut bytes).ok()?;
        let boundaries = seams(&self.framing, &command, &bytes);
        let expect = Expected::Exact(Reply::Simple("OK".into()));
        Some(Request {
            kv: Some(KvRequest { command, expect }),
            ..Request::new(bytes.freeze()).with_boundaries(boundaries)
        })
    }

    /// `QUIT`, which gets `+OK`.
    fn quit(&mut self, _rng: &mut Draws) -> Option<Request> {
        if !self.quits {
            return None;
        }
        let command = Command::new(["QUIT"]);
        let mut bytes = BytesMut::new();
        encode_command(&self.framing, &command, &mut bytes).ok()?;
        let expect = Expected::Exact(Reply::Simple("OK".into()));
        Some(Request {
            kv: Some(KvRequest { command, expect }),
            ..Request::new(bytes.freeze())
        })
    }

    fn check_reply(&mut self, request: &Request, reply: &[u8]) -> Result<(), String> {
        let Some(kv) = &request.kv else {
            return Err("a reply to a request this session never drew".into());
        };
        let got = decode(&self.framing, reply).map_err(|e| format!("{:?}: {e}", kv.command))?;
        if satisfies(&got, &kv.expect) {
            Ok(())
        } else {
            Err(format!("expected {:?}, got {got:?}", kv.expect))
        }
    }
}

/// `SET key value` encoded in `framing` in exactly `size` bytes: the longest value that
/// fits, then the key padded with `_` for the bytes left (a length's digits can skip a
/// size the value alone cannot reach).
fn sized_set(framing: &Framing, key: &str, size: usize) -> Option<Command> {
    let set = |key: &str, len: usize| {
        Command::new([
            Bytes::from_static(b"SET"),
            Bytes::copy_from_slice(key.as_bytes()),
            Bytes::from(vec![b'a'; len]),
        ])
    };
    let encoded = |cmd: &Command| {
        let mut bytes = BytesMut::new();
        encode_command(framing, cmd, &mut bytes)
            .ok()
            .map(|()| bytes.len())
    };
    let empty = encoded(&set(key, 0))?;
    let mut len = size.checked_sub(empty)?;
    // Each step down takes the value's length digits into account; a few at most.
    while len > 0 && encoded(&set(key, len))? > size {
        len -= 1;
    }
    for pad in 0..16 {
        let padded = format!("{key}{}", "_".repeat(pad));
        let cmd = set(&padded, len);
        match encoded(&cmd)? {
            n if n == size => return Some(cmd),
            n if n > size => return None,
            _ => {}
        }
    }
    None
}

/// The one reply that is the whole of `reply`.
pub(super) fn decode(framing: &Framing, reply: &[u8]) -> Result<Reply, String> {
    let mut decoder = ReplyDecoder::new(framing, MAX_REPLY);
    let mut buf = BytesMut::from(reply);
    decoder
        .decode_eof(&mut buf)
        .map_err(|e| format!("unreadable reply: {e}"))?
        .ok_or_else(|| "empty reply".to_string())
}

/// A request every framing skips without a reply: an empty RESP array or inline line, a
/// blank line, a length frame of no bytes.
fn empty_request(framing: &Framing, rng: &mut Draws) -> Vec<u8> {
    match framing {
        Framing::Resp => {
            let all: [&[u8]; 4] = [b"*0\r\n", b"*-1\r\n", b"\r\n", b"\n"];
            all[rng.random_range(0..all.len())].to_vec()
        }
        Framing::Line { delimiter } => delimiter.clone(),
        Framing::Length { header_len, .. } => vec![0; *header_len],
    }
}

/// Where `cmd`'s encoding in `framing` has seams: after each line of RESP or a line request;
/// after each length header of a length-prefixed one.
fn seams(framing: &Framing, cmd: &Command, bytes: &[u8]) -> Vec<usize> {
    match framing {
        Framing::Length { header_len, .. } => {
            let mut at = *header_len;
            let mut seams = Vec::with_capacity(2 * cmd.args.len() + 1);
            seams.push(at);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_malformed_requests_are_ones_redis_refuses_too() {
        let mut session = KvWorkload::new(Framing::Resp).session(0);
        let mut rng = Draws::seeded(7);
        let drawn: std::collections::BTreeSet<Vec<u8>> = (0..200)
            .filter_map(|_| session.malformed(&mut rng))
            .map(|r| r.bytes.to_vec())
            .collect();
        assert_eq!(drawn.len(), malformed(&Framing::Resp).len() - 1);
        assert!(!drawn.contains(&b"*2\r\n$3\r\nGETxx$1\r\nk\r\n"[..]));
    }

    #[test]
    fn a_sized_set_is_exactly_the_size_asked_in_every_framing() {
        for framing in [Framing::Resp, Framing::line(), Framing::length()] {
            for size in (40..300).chain([999, 1000, 1001, 10_000, 65_536, 1 << 20]) {
                let cmd = sized_set(&framing, "c3:sized", size).expect("a sized SET");
                let mut bytes = BytesMut::new();
                encode_command(&framing, &cmd, &mut bytes).unwrap();
                assert_eq!(bytes.len(), size, "{framing} {size}");
            }
            assert!(sized_set(&framing, "c3:sized", 5).is_none(), "{framing}");
        }
    }
}
