//! Oversized and malformed clients: good requests, then one the server must refuse, then more
//! it must never answer, all in one pipelined write.
//!
//! The server must answer the good requests before the bad one, in order, then send the
//! protocol error and close, having run nothing after it. So a server that throws away the
//! replies it owed when it meets bad input, answers the error out of turn, or skips the bad
//! request and carries on, fails; and the bytes left unread behind the bad request are the
//! ones that make a careless close reset the connection before the error is read.

use super::Client;
use crate::boundary::{header_max, length_header};
use crate::model::Model;
use crate::scenario::Role;
use crate::transcript::{Event, Expected};
use framesim_server::protocol::Framing;
use framesim_server::Limits;
use rand::Rng;
use std::collections::VecDeque;

/// Most good requests written before the bad one, and after it.
const MOST_AROUND: usize = 3;

impl Client {
    /// Oversized and malformed clients (see the module's documentation).
    pub(super) async fn hostile(&mut self) {
        let limits = self.scenario().limits;
        let framing = self.scenario().framing.clone();
        // A frame over the limit cannot be written when the length header cannot say the
        // limit plus one (1 byte, 255): such a client sends a malformed request instead,
        // which gets the same error and close.
        let role = match framing {
            Framing::Length { header_len, .. }
                if limits.max_frame as u64 >= header_max(header_len) =>
            {
                Role::Malformed
            }
            _ => self.role,
        };
        let (bad, what) = match role {
            Role::Oversized => (oversized(&framing, &limits), "an oversized request"),
            _ => {
                let mut all = malformed(&framing);
                all.swap_remove(self.workload_rng.random_range(0..all.len()))
            }
        };
        let (before, after) = (
            self.workload_rng.random_range(0..=MOST_AROUND),
            self.workload_rng.random_range(0..=MOST_AROUND),
        );
        // The client's own keys, as a well-behaved client's (no other client has its id).
        let prefix = self.shared.against.as_ref().map_or("", |(_, p)| &**p);
        let mut model = Model::with_prefix(self.id, prefix);
        let mut bytes = Vec::new();
        let mut due = VecDeque::with_capacity(before);
        let edge_values = self.scenario().edge_values;
        for _ in 0..before {
            let (cmd, expect) = model.next(&mut self.workload_rng, edge_values);
            let expect = self.fit(expect);
            bytes.extend_from_slice(&self.encode(&cmd));
            self.record(Event::Request {
                cmd,
                expect: expect.clone(),
            });
            due.push_back(expect);
        }
        self.record(Event::Note {
            text: format!(
                "sends {what}{}, then {after} requests that must not run",
                if role == self.role {
                    String::new()
                } else {
                    format!(
                        " (the length header cannot say {})",
                        limits.max_frame as u64 + 1
                    )
                }
            ),
        });
        bytes.extend_from_slice(&bad);
        for _ in 0..after {
            let (cmd, _) = model.next(&mut self.workload_rng, 0.0);
            bytes.extend_from_slice(&self.encode(&cmd));
        }
        // A failed write still leaves the replies (or the close) to read.
        self.write_quickly(&bytes).await;
        if !self.check_replies(&mut due, None).await {
            return;
        }
        let expect = Expected::ErrorPrefix("ERR Protocol error".into());
        self.error_then_close(&expect).await;
    }
}

/// A request over the framing's limit by one byte, cut short: the server must refuse it from
/// its header (or, for a line, from its length) without waiting for the rest.
fn oversized(framing: &Framing, limits: &Limits) -> Vec<u8> {
    match *framing {
        Framing::Resp => format!("*2\r\n$3\r\nGET\r\n${}\r\nab", limits.max_frame + 1).into_bytes(),
        Framing::Line { .. } => vec![b'a'; limits.max_line + 1],
        Framing::Length { header_len, endian } => {
            let mut b = length_header(header_len, endian, limits.max_frame as u64 + 1);
            b.extend_from_slice(b"abc");
            b
        }
    }
}

/// The framing's malformed requests, each with what it is.
fn malformed(framing: &Framing) -> Vec<(Vec<u8>, &'static str)> {
    match framing {
        Framing::Resp => {
            let all: [(&[u8], _); 10] = [
                (
                    b"*2\r\n$3\r\nGET\r\n:1\r\n",
                    "an argument that is not a bulk",
                ),
                (b"*1\r\n$-1\r\n", "a negative bulk length"),
                (
                    b"*2\r\n$3\r\nGET\r\n$1x\r\nk\r\n",
                    "a bulk length with a letter",
                ),
                (b"*x\r\n", "an array length that is not a number"),
                (b"*1\r\n$+4\r\nPING\r\n", "a bulk length with a plus sign"),
                (
                    b"*01\r\n$4\r\nPING\r\n",
                    "an array length with a leading zero",
                ),
                (b"*2147483648\r\n", "an array length past i32"),
                (b"*2\r\n$3\r\nGETxx$1\r\nk\r\n", "a bulk not ended by CRLF"),
                (
                    b"SET k \"unbalanced\r\n",
                    "an inline request with an open quote",
                ),
                (
                    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n*1\r\n$1\r\nv\r\n",
                    "an array inside a request",
                ),
            ];
            all.map(|(bytes, what)| (bytes.to_vec(), what)).to_vec()
        }
        Framing::Line { delimiter } => [
            (&b"GET \"unbalanced"[..], "a line with an open quote"),
            (b"SET k \"a\"b", "a line with a closing quote inside a word"),
            (b"SET k 'a", "a line with an open single quote"),
        ]
        .map(|(line, what)| ([line, delimiter].concat(), what))
        .to_vec(),
        &Framing::Length { header_len, endian } => {
            let header = |n: usize| length_header(header_len, endian, n as u64);
            let frame = |payload: Vec<u8>| [header(payload.len()), payload].concat();
            let mut all = vec![
                (
                    frame([header(9), b"a".to_vec()].concat()),
                    "an argument that claims 9 bytes inside a frame that holds 1",
                ),
                (
                    frame([header(3), b"GET".to_vec(), header(5), b"ab".to_vec()].concat()),
                    "a second argument cut short inside its frame",
                ),
            ];
            // A lone piece of an argument's header needs a header of two bytes or more.
            if header_len > 1 {
                all.push((
                    frame(vec![0; header_len - 1]),
                    "a frame holding part of an argument's header",
                ));
            }
            all
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use framesim_server::framing::{Decoder, FrameError};
    use framesim_server::protocol::RequestDecoder;

    #[test]
    fn every_malformed_request_is_refused_by_the_server_decoder_without_waiting() {
        for framing in crate::boundary::every_framing() {
            for (bytes, what) in malformed(&framing) {
                let mut decoder = RequestDecoder::new(&framing, &Limits::default());
                let mut buf = BytesMut::from(&bytes[..]);
                let got = decoder.decode(&mut buf);
                assert!(
                    matches!(got, Err(FrameError::Malformed { .. })),
                    "{framing:?}, {what}: {got:?}"
                );
            }
        }
    }
}
