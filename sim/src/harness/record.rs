//! A run's history: each key-value request a client asks, from its first byte written to
//! its reply's last byte read, for a workload that asks for the linearizability check
//! ([`Workload::linearizable`](super::Workload::linearizable)).

use super::client::Client;
use super::kv::decode;
use super::linear::{KvOp, KvResult, Operation, Verdict};
use super::recorder::Recorder;
use super::shared::Shared;
use super::workload::Request;
use crate::oracle::Oracle;
use crate::transcript::{Actor, Event};
use bytes::{Bytes, BytesMut};
use framesim_server::framing::Decoder;
use framesim_server::protocol::{Framing, RequestDecoder};
use framesim_server::{Command, Limits, Reply};
use std::ops::Range;

/// Checks the run's history at its end: a note of what was checked; a `[linearizable]`
/// violation when no order gives every result; when the search ran out of its budget,
/// nothing is claimed either way: the run counts it (`Tally::histories_unknown`).
pub(super) fn judge(shared: &Shared, history: &Recorder) {
    let checked = history.check();
    let text = format!(
        "history: {} operation(s) over {} key group(s), {} search step(s): {}",
        checked.ops, checked.partitions, checked.steps, checked.verdict
    );
    shared
        .transcript
        .record(Actor::Sim, Event::Note { text: text.clone() });
    match checked.verdict {
        Verdict::Linearizable => {}
        Verdict::Unknown { .. } => shared.tally(|t| t.histories_unknown += 1),
        Verdict::NotLinearizable { .. } => shared.violation(Oracle::Linearizable, None, text),
    }
}

/// The run's time in nanoseconds.
fn now() -> u64 {
    crate::clock::now().as_nanos() as u64
}

impl Client {
    /// `request` is about to be written.
    pub(super) fn invoked(&self, request: &Request) {
        let Some(recorder) = &self.shared.history else {
            return;
        };
        if let Some(op) = command(request).as_ref().and_then(operation) {
            let entry = (request.bytes.clone(), op, now());
            recorder.with(|r| r.open.entry(self.id).or_default().push_back(entry));
        }
    }

    /// The bytes `written` of a batch (`bytes`, its requests ending at `ends`) went out:
    /// a request whose first byte is among them is called now, not when its batch began.
    pub(super) fn first_bytes(&self, bytes: &Bytes, ends: &[usize], written: Range<usize>) {
        let Some(recorder) = &self.shared.history else {
            return;
        };
        let starts = std::iter::once(0).chain(ends.iter().copied());
        let firsts: Vec<usize> = starts
            .zip(ends)
            .enumerate()
            .filter(|(_, (start, _))| written.contains(start))
            .map(|(k, _)| k)
            .collect();
        if firsts.is_empty() {
            return;
        }
        recorder.with(|r| {
            let Some(open) = r.open.get_mut(&self.id) else {
                return;
            };
            // The batch's requests are the last ones asked, if every one was recorded.
            let Some(base) = open.len().checked_sub(ends.len()) else {
                return;
            };
            for k in firsts {
                let start = if k == 0 { 0 } else { ends[k - 1] };
                let entry = &mut open[base + k];
                if entry.0 == bytes.slice(start..ends[k]) {
                    entry.2 = now();
                }
            }
        });
    }

    /// `reply` answered `request`, the oldest open one.
    pub(super) fn completed(&self, request: &Request, reply: &[u8]) {
        let Some(recorder) = &self.shared.history else {
            return;
        };
        recorder.with(|r| {
            let open = r.open.entry(self.id).or_default();
            if open
                .front()
                .is_none_or(|(bytes, _, _)| *bytes != request.bytes)
            {
                return;
            }
            let Some((_, op, call)) = open.pop_front() else {
                return;
            };
            let op = match decode(&Framing::Resp, reply) {
                Ok(got) => Operation::done(self.id, call, now(), op, result(got)),
                Err(_) => Operation::pending(self.id, call, op),
            };
            r.history.push(op);
        });
    }

    /// The connection is gone: every request still open may have run or not.
    pub(super) fn unanswered(&self) {
        let Some(recorder) = &self.shared.history else {
            return;
        };
        recorder.with(|r| {
            let open = r.open.remove(&self.id).unwrap_or_default();
            for (_, op, call) in open {
                r.history.push(Operation::pending(self.id, call, op));
            }
        });
    }
}

/// The command `request` carries: its own, or its bytes read as RESP.
fn command(request: &Request) -> Option<Command> {
    if let Some(kv) = &request.kv {
        return Some(kv.command.clone());
    }
    let mut decoder = RequestDecoder::new(&Framing::Resp, &Limits::default());
    let mut buf = BytesMut::from(&request.bytes[request.skipped..]);
    decoder.decode_eof(&mut buf).ok().flatten()
}

/// The model's operation for `command`, if the model knows it.
pub(super) fn operation(command: &Command) -> Option<KvOp> {
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let args: Vec<String> = command.args.iter().skip(1).map(text).collect();
    let key = || args.first().cloned();
    Some(match (command.name().as_str(), args.len()) {
        ("GET", 1) => KvOp::Get { key: key()? },
        ("INCR", 1) => KvOp::Incr { key: key()? },
        ("DEL", 1..) => KvOp::Del { keys: args },
        ("EXISTS", 1..) => KvOp::Exists { keys: args },
        ("MGET", 1..) => KvOp::Mget { keys: args },
        ("MSET", n) if n >= 2 && n % 2 == 0 => KvOp::Mset {
            pairs: args
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect(),
        },
        ("SET", 2..) => {
            let (mut nx, mut xx, mut get) = (false, false, false);
            for opt in &args[2..] {
                match opt.to_ascii_uppercase().as_str() {
                    "NX" => nx = true,
                    "XX" => xx = true,
                    "GET" => get = true,
                    _ => return None,
                }
            }
            let value = args[1].clone();
            KvOp::Set {
                key: key()?,
                value,
                nx,
                xx,
                get,
            }
        }
        _ => return None,
    })
}

/// The model's result for a decoded reply.
fn result(reply: Reply) -> KvResult {
    let value = |b: Bytes| String::from_utf8_lossy(&b).into_owned();
    match reply {
        Reply::Simple(s) if s == "OK" => KvResult::Ok,
        Reply::Simple(s) => KvResult::Value(s),
        Reply::Null => KvResult::Nil,
        Reply::Bulk(b) => KvResult::Value(value(b)),
        Reply::Integer(n) => KvResult::Int(n),
        Reply::Error(e) => KvResult::Error(e),
        Reply::Array(items) => KvResult::Values(
            items
                .into_iter()
                .map(|item| match item {
                    Reply::Bulk(b) => Some(value(b)),
                    _ => None,
                })
                .collect(),
        ),
    }
}
