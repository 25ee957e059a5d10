use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Live counters of a running server, shared by every connection; cheap to clone.
///
/// Tests and the simulation's oracles read them with [`Stats::snapshot`].
#[derive(Debug, Clone, Default)]
pub struct Stats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    connections_open: AtomicU64,
    connections_parked: AtomicU64,
    parks: AtomicU64,
    connections_total: AtomicU64,
    connections_refused: AtomicU64,
    accept_errors: AtomicU64,
    frames: AtomicU64,
    shared_replies: AtomicU64,
    woken_mid_frame: AtomicU64,
    protocol_errors: AtomicU64,
    eof_mid_frame: AtomicU64,
    frame_timeouts: AtomicU64,
    idle_timeouts: AtomicU64,
    write_timeouts: AtomicU64,
    overflows: AtomicU64,
    panics: AtomicU64,
    max_buffered: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
}

/// The counters at one moment, as plain numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Connections being served now, parked ones included.
    pub connections_open: u64,
    /// Open connections parked: idle, held by the server's parking lot rather than a task.
    pub connections_parked: u64,
    /// Times a connection was parked (a new connection until its first bytes, then after
    /// each quiet spell of `park_after`).
    pub parks: u64,
    /// Connections accepted and served since start.
    pub connections_total: u64,
    /// Connections refused because `max_connections` were open.
    pub connections_refused: u64,
    /// Failed `accept` calls (the loop backs off and goes on).
    pub accept_errors: u64,
    /// Requests decoded and answered.
    pub frames: u64,
    /// Replies queued by reference rather than copied: RESP bulk values of at least
    /// [`SHARE_MIN`](crate::protocol::SHARE_MIN) bytes, written from the bytes the store
    /// holds.
    pub shared_replies: u64,
    /// Connections woken from the parking lot by part of a frame, the rest to come: the
    /// bytes the lot read left a request unfinished, on a connection parked after a quiet
    /// spell (not one parked since its accept). A connection is never parked with part of
    /// a frame buffered (mid-frame, the frame deadline applies and it keeps its task), so
    /// this is how a frame meets the parking lot: its first bytes wake the connection, its
    /// decoder starts where the stream was left, and the rest reaches the task.
    pub woken_mid_frame: u64,
    /// Connections closed for a framing error, after an error reply.
    pub protocol_errors: u64,
    /// Connections whose peer ended the stream inside a frame.
    pub eof_mid_frame: u64,
    /// Connections cut off because a frame took longer than the frame deadline.
    pub frame_timeouts: u64,
    /// Connections closed after the idle timeout with no frame begun.
    pub idle_timeouts: u64,
    /// Connections closed because the peer did not take its replies in time.
    pub write_timeouts: u64,
    /// Connections closed for buffering more than `max_buffered` bytes.
    pub overflows: u64,
    /// Connection tasks that panicked (always a bug).
    pub panics: u64,
    /// The most bytes any one connection held buffered at once.
    pub max_buffered: u64,
    /// Bytes read from all connections.
    pub bytes_read: u64,
    /// Bytes written to all connections.
    pub bytes_written: u64,
}

/// Which counter an event bumps.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    Refused,
    AcceptError,
    ProtocolError,
    EofMidFrame,
    WokenMidFrame,
    FrameTimeout,
    IdleTimeout,
    WriteTimeout,
    Overflow,
    Panic,
}

impl Stats {
    /// Reads every counter.
    pub fn snapshot(&self) -> Snapshot {
        let c = &self.0;
        Snapshot {
            connections_open: c.connections_open.load(Relaxed),
            connections_parked: c.connections_parked.load(Relaxed),
            parks: c.parks.load(Relaxed),
            connections_total: c.connections_total.load(Relaxed),
            connections_refused: c.connections_refused.load(Relaxed),
            accept_errors: c.accept_errors.load(Relaxed),
            frames: c.frames.load(Relaxed),
            shared_replies: c.shared_replies.load(Relaxed),
            woken_mid_frame: c.woken_mid_frame.load(Relaxed),
            protocol_errors: c.protocol_errors.load(Relaxed),
            eof_mid_frame: c.eof_mid_frame.load(Relaxed),
            frame_timeouts: c.frame_timeouts.load(Relaxed),
            idle_timeouts: c.idle_timeouts.load(Relaxed),
            write_timeouts: c.write_timeouts.load(Relaxed),
            overflows: c.overflows.load(Relaxed),
            panics: c.panics.load(Relaxed),
            max_buffered: c.max_buffered.load(Relaxed),
            bytes_read: c.bytes_read.load(Relaxed),
            bytes_written: c.bytes_written.load(Relaxed),
        }
    }

    pub(crate) fn count(&self, event: Event) {
        let c = &self.0;
        let counter = match event {
            Event::Refused => &c.connections_refused,
            Event::AcceptError => &c.accept_errors,
            Event::ProtocolError => &c.protocol_errors,
            Event::EofMidFrame => &c.eof_mid_frame,
            Event::WokenMidFrame => &c.woken_mid_frame,
            Event::FrameTimeout => &c.frame_timeouts,
            Event::IdleTimeout => &c.idle_timeouts,
            Event::WriteTimeout => &c.write_timeouts,
            Event::Overflow => &c.overflows,
            Event::Panic => &c.panics,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// Counts `n` requests answered: once per batch, not per request, as every connection
    /// shares these counters.
    pub(crate) fn frames(&self, n: u64) {
        if n > 0 {
            self.0.frames.fetch_add(n, Relaxed);
        }
    }

    /// Counts `n` replies queued by reference, once per batch.
    pub(crate) fn shared_replies(&self, n: u64) {
        if n > 0 {
            self.0.shared_replies.fetch_add(n, Relaxed);
        }
    }

    pub(crate) fn read(&self, n: usize, buffered: usize) {
        self.0.bytes_read.fetch_add(n as u64, Relaxed);
        self.0.max_buffered.fetch_max(buffered as u64, Relaxed);
    }

    pub(crate) fn written(&self, n: usize) {
        self.0.bytes_written.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn parked(&self, n: usize) {
        self.0.connections_parked.fetch_add(n as u64, Relaxed);
        self.0.parks.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn unparked(&self, n: usize) {
        self.0.connections_parked.fetch_sub(n as u64, Relaxed);
    }

    pub(crate) fn open(&self) -> usize {
        self.0.connections_open.load(Relaxed) as usize
    }

    /// Counts a connection as open until the returned guard drops (even on a panic).
    pub(crate) fn opened(&self) -> OpenGuard {
        self.0.connections_open.fetch_add(1, Relaxed);
        self.0.connections_total.fetch_add(1, Relaxed);
        OpenGuard(self.clone())
    }
}

/// Decrements `connections_open` when dropped.
pub(crate) struct OpenGuard(Stats);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        (self.0).0.connections_open.fetch_sub(1, Relaxed);
    }
}
