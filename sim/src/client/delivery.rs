//! Chunked delivery: how a client's bytes reach the wire.

use super::{KvClient, REPLY_TIMEOUT};
use crate::transcript::Event;
use bytes::Bytes;
use rand::Rng;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::{sleep, timeout, Instant};

impl KvClient {
    /// Writes `bytes` (requests ending at the offsets `frame_ends`) in seeded chunks with
    /// seeded gaps; stops quietly if the peer is gone.
    ///
    /// The gaps inside one request add up to at most half the frame deadline: a
    /// well-behaved client sends each request in time, however slow the drawn delivery.
    ///
    /// `now` is the virtual time if the caller read it in the same task poll; chunks
    /// written before the first wait are recorded at it.
    pub(super) async fn deliver(
        &mut self,
        bytes: Bytes,
        frame_ends: &[usize],
        mut now: Option<Duration>,
    ) -> bool {
        let d = self.scenario().delivery;
        let budget = self.scenario().limits.frame_deadline / 2;
        // When the chunk holding the first byte of the request in progress was written.
        let mut frame_started = Instant::now();
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
            // turmoil takes a write at once unless its channel is full, so the write is
            // polled once before a timer is armed for it: a timeout per chunk, made and
            // dropped unused, cost more than the write. The timeout's deadline is the same,
            // as no time passes between the two.
            let mut write = pin!(stream.write_all(&chunk));
            let written = match poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
                Poll::Ready(written) => written.is_ok(),
                Poll::Pending => {
                    now = None;
                    matches!(timeout(REPLY_TIMEOUT, write).await, Ok(Ok(())))
                }
            };
            if !written {
                return false;
            }
            self.sent += chunk.len() as u64;
            let at = *now.get_or_insert_with(|| self.clock.now());
            self.record_ref_at(at, &Event::Write { bytes: chunk });
            let begins_here = start == 0 || frame_ends.iter().any(|&e| (start..end).contains(&e));
            if begins_here {
                frame_started = Instant::now();
            }
            start = end;
            if start < bytes.len() && !d.max_gap.is_zero() && self.delivery_rng.random_bool(0.3) {
                let gap = self.delivery_rng.random_range(Duration::ZERO..=d.max_gap);
                let mid_frame = !frame_ends.contains(&start);
                let left = budget.saturating_sub(frame_started.elapsed());
                sleep(if mid_frame { gap.min(left) } else { gap }).await;
                now = None;
            }
        }
        true
    }
}
