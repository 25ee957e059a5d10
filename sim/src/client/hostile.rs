//! Oversized and malformed clients: good requests, then one the server must refuse, then more
//! it must never answer, all in one pipelined write.
//!
//! The server must answer the good requests before the bad one, in order, then send the
//! protocol error and close, having run nothing after it. So a server that throws away the
//! replies it owed when it meets bad input, answers the error out of turn, or skips the bad
//! request and carries on, fails; and the bytes left unread behind the bad request are the
//! ones that make a careless close reset the connection before the error is read.

use super::KvClient;
use crate::boundary::{header_max, length_header, malformed};
use crate::model::ClientModel;
use crate::scenario::Role;
use crate::transcript::{Event, Expected};
use framesim_server::protocol::Framing;
use framesim_server::Limits;
use rand::Rng;
use std::collections::VecDeque;

/// Most good requests written before the bad one, and after it.
const MOST_AROUND: usize = 3;

impl KvClient {
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
        let mut model = ClientModel::with_prefix(self.id, prefix);
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
