//! Chunked delivery: how a client's bytes reach the wire.

use super::{Client, REPLY_TIMEOUT};
use crate::transcript::Event;
use bytes::Bytes;
use rand::Rng;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::{sleep, timeout};

impl Client {
    /// Writes `bytes` in seeded chunks with seeded gaps; stops quietly if the peer is gone.
    pub(super) async fn deliver(&mut self, bytes: Bytes) -> bool {
        let d = self.scenario().delivery;
        let one_byte = d.byte_at_a_time > 0.0 && self.delivery_rng.random_bool(d.byte_at_a_time);
        let at_boundaries =
            d.cut_at_boundaries > 0.0 && self.delivery_rng.random_bool(d.cut_at_boundaries);
        let mut start = 0;
        while start < bytes.len() {
            let mut end = if one_byte {
                start + 1
            } else {
                start
                    + self
                        .delivery_rng
                        .random_range(1..=d.max_chunk)
                        .min(bytes.len() - start)
            };
            if at_boundaries {
                // Cut right after a delimiter or inside a length header, if one is near.
                if let Some(p) = (start + 1..end).find(|&p| bytes[p - 1] == b'\n' || p <= 5) {
                    end = p;
                }
            }
            let chunk = bytes.slice(start..end);
            let Some(stream) = self.stream.as_mut() else {
                return false;
            };
            // A peer that never takes the bytes (e.g. gone in a restart) is a lost connection.
            let written = timeout(REPLY_TIMEOUT, stream.write_all(&chunk)).await;
            if !matches!(written, Ok(Ok(()))) {
                return false;
            }
            self.record(Event::Write { bytes: chunk });
            start = end;
            if start < bytes.len() && !d.max_gap.is_zero() && self.delivery_rng.random_bool(0.3) {
                let gap = self.delivery_rng.random_range(Duration::ZERO..=d.max_gap);
                sleep(gap).await;
            }
        }
        true
    }
}
