//! Clients that hold the server's replies back: one never reads them, one reads them a
//! small chunk at a time. Both set one large value, then pipeline reads of it worth at
//! least four times the server's `max_output` and more than their receive window, so the
//! server's writes must stall and what it holds must stay bounded (the reply-backlog
//! oracle watches that on the server's side).
//!
//! Their reads are recorded as notes, not as requests: how many replies a slow reader
//! gets before it is cut depends on timing, and the logical view of a run must not.

use super::{KvClient, Lost, REPLY_TIMEOUT};
use crate::oracle::Oracle;
use crate::transcript::{Event, Expected};
use bytes::{Bytes, BytesMut};
use framesim_server::framing::Decoder;
use framesim_server::protocol::{Framing, ReplyEncoder};
use framesim_server::{Command, Reply};
use rand::Rng;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep, timeout};

/// How long past the idle timeout a server may take to cut a client that stopped reading:
/// the network's latency and a few ticks.
const CUT_SLACK: Duration = Duration::from_millis(100);

/// How often a never-reader looks whether the server gave up on it.
const LOOK_EVERY: Duration = Duration::from_millis(5);

/// Virtual time now.
fn now() -> Duration {
    crate::clock::now()
}

impl KvClient {
    /// Sets `c<id>:big` to a value half the frame limit, waits for `+OK`, then writes the
    /// pipelined reads of it. Returns the value and how many reads were sent, or `None`
    /// when the connection was lost first (recorded or reported already).
    async fn hold_back(&mut self) -> Option<(Bytes, usize)> {
        let limits = self.scenario().limits;
        let framing = self.scenario().framing.clone();
        // A line holds the whole command; other framings hold the value as one argument.
        let limit = match framing {
            Framing::Line { .. } => limits.max_line,
            _ => limits.max_frame,
        };
        let value: Bytes = (0..(limit / 2).max(1))
            .map(|_| self.workload_rng.random_range(b'a'..=b'z'))
            .collect::<Vec<u8>>()
            .into();
        let key = Bytes::from(format!("c{}:big", self.id));
        let mut reply = BytesMut::new();
        ReplyEncoder::new(&framing).encode(&Reply::Bulk(value.clone()), &mut reply);
        let total = (4 * limits.max_output).max(self.scenario().faults.window + limits.max_output);
        let gets = total.div_ceil(reply.len());

        let set = Command::new([Bytes::from_static(b"SET"), key.clone(), value.clone()]);
        self.record(Event::Request {
            cmd: set.clone(),
            expect: Expected::Exact(Reply::ok()),
        });
        // Written whole: these clients test how replies leave, not how requests arrive.
        let bytes = self.encode(&set).freeze();
        if !self.send(bytes).await {
            return self.lost(Lost::Closed("could not write".into()));
        }
        match self.reply().await {
            Ok(r) if r == Reply::ok() => {}
            Ok(r) => {
                self.fail(Oracle::Reply, format!("expected +OK, got {r:?}"));
                return None;
            }
            Err(lost) => return self.lost(lost),
        }

        let get = self.encode(&Command::new([Bytes::from_static(b"GET"), key.clone()]));
        let mut pipeline = BytesMut::with_capacity(get.len() * gets);
        for _ in 0..gets {
            pipeline.extend_from_slice(&get);
        }
        self.record(Event::Note {
            text: format!(
                "pipelines {gets} reads of {}: {} bytes of replies",
                key.escape_ascii(),
                gets * reply.len()
            ),
        });
        self.send(pipeline.freeze()).await;
        Some((value, gets))
    }

    /// Writes `bytes` at once; false if the connection is gone.
    async fn send(&mut self, bytes: Bytes) -> bool {
        let Some(stream) = self.stream.as_mut() else {
            return false;
        };
        let written = timeout(REPLY_TIMEOUT, stream.write_all(&bytes)).await;
        if !matches!(written, Ok(Ok(()))) {
            return false;
        }
        self.record(Event::Write { bytes });
        true
    }

    /// The connection was lost before the pipeline: only a server restart excuses it.
    fn lost(&mut self, lost: Lost) -> Option<(Bytes, usize)> {
        if self.scenario().restart_at.is_some() {
            self.record(Event::Closed {
                why: format!("{lost:?}"),
            });
        } else {
            self.fail(
                Oracle::Reply,
                format!("no reply for a complete request: {lost:?}"),
            );
        }
        self.stream = None;
        None
    }

    /// Pipelines the reads and never reads a reply: the server must cut the connection
    /// within the idle timeout of its last write to it (or of the last request, if it
    /// never wrote again), seen through the window it writes into.
    pub(super) async fn never_reader(&mut self) {
        if self.hold_back().await.is_none() {
            return;
        }
        let sent = now();
        let idle = self.scenario().limits.idle_timeout;
        let bound = idle + CUT_SLACK;
        loop {
            let Some(stream) = self.stream.as_ref() else {
                return;
            };
            let side = stream.server_side();
            let since = side.last_write.max(sent);
            if let Some(closed) = side.closed_at {
                let held = closed.saturating_sub(since);
                if held > bound {
                    self.fail(
                        Oracle::StalledReader,
                        format!("cut {held:?} after the server's last write to it (idle timeout {idle:?})"),
                    );
                    return;
                }
                self.record(Event::Closed {
                    why: format!("cut {}ms after the server's last write", held.as_millis()),
                });
                break;
            }
            if now() - since > bound {
                self.fail(
                    Oracle::StalledReader,
                    format!(
                        "a connection that reads nothing still open {:?} after the server's last write to it (idle timeout {idle:?})",
                        now() - since
                    ),
                );
                return;
            }
            sleep(LOOK_EVERY).await;
        }
        self.stream = None;
    }

    /// Pipelines the reads, then reads the replies a small chunk every few milliseconds:
    /// each must be the value; the server may instead cut the connection.
    pub(super) async fn slow_reader(&mut self) {
        let Some((value, gets)) = self.hold_back().await else {
            return;
        };
        let want = Reply::Bulk(value);
        // Each slow reader its own pace: from a few bytes a millisecond to a few thousand.
        let most = self.delivery_rng.random_range(64..=4096);
        let gap = Duration::from_millis(self.delivery_rng.random_range(1..=8));
        let mut scratch = vec![0u8; most];
        let mut got = 0;
        loop {
            loop {
                match self.decoder.decode(&mut self.buf) {
                    Ok(Some(reply)) if reply == want => got += 1,
                    Ok(Some(reply)) => {
                        self.fail(
                            Oracle::Reply,
                            format!(
                                "reply {} of {gets}: expected the value, got {reply:?}",
                                got + 1
                            ),
                        );
                        return;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.fail(Oracle::Reply, format!("undecodable reply: {e}"));
                        return;
                    }
                }
            }
            if got >= gets {
                break;
            }
            sleep(gap).await;
            let len = self.delivery_rng.random_range(1..=most);
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            match timeout(REPLY_TIMEOUT, stream.read(&mut scratch[..len])).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.record(Event::Closed {
                        why: format!("cut after {got} of {gets} replies"),
                    });
                    self.stream = None;
                    return;
                }
                Ok(Ok(n)) => self.buf.extend_from_slice(&scratch[..n]),
                Err(_) => {
                    self.fail(
                        Oracle::Reply,
                        format!("no reply and no close for {REPLY_TIMEOUT:?} after {got} of {gets} replies"),
                    );
                    return;
                }
            }
        }
        self.record(Event::Note {
            text: format!("read all {gets} replies"),
        });
        self.stream = None;
        self.record(Event::Disconnect { mid_frame: false });
    }
}
