//! One connection's life, whatever does its I/O.
//!
//! ```text
//!            accept
//!              │
//!              ▼                first byte of a request                 last byte of it
//!   ┌──────► idle ───────────────────────────────────────► mid-frame ───────────────┐
//!   │    (idle timer:  ▲   │                           (frame timer: from the       │
//!   │     idle_timeout │   │ park_after with            request's first byte,     │
//!   │     since the    │   │ nothing in progress        frame_deadline)           │
//!   │     last read    │   ▼ (and at once on accept)                              │
//!   │     or write)   parked ── bytes or end of stream: a task again, with them     │
//!   │                  (no task: the parking lot holds the stream; same idle        │
//!   │                   deadline; shutdown or the deadline closes it)               ▼
//!   └──────────────────────────────────────── replies written ◄─────────────── draining
//!                                                       (write timer: idle_timeout
//!                                                        for the whole batch)
//!   any state ── error reply (protocol error, over max_buffered), or QUIT's +OK ──► lingering
//!                (reads and discards for min(frame_deadline, 1 s)) ──► closed
//!   any state ── timer fires / peer ends the stream / shutdown while idle ──► closed
//! ```
//!
//! [`session::Session`] is the sans-IO part (decode → call → encode, the room left, every
//! deadline); [`task`] drives it on an async stream, [`threads`] on a blocking socket, and
//! [`park`] holds idle connections of [`task`] without a task.

pub(crate) mod park;
pub(crate) mod session;
pub(crate) mod task;
pub mod threads;

/// Bytes taken per read. They pass through a scratch buffer that lives only inside one poll,
/// so an idle connection holds no read buffer at all. Shared by [`task`] and [`park`].
pub(crate) const READ_CHUNK: usize = 4096;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// The peer ended the stream between frames, or the server shut down.
    Clean,
    /// The peer asked to quit; what it pipelined behind the `QUIT` is never run.
    Quit,
    /// An error reply was sent; the connection cannot continue.
    ProtocolError,
    /// The peer ended the stream inside a frame.
    EofMidFrame,
    /// A frame's bytes took longer than the frame deadline.
    FrameTimeout,
    /// No request began within the idle timeout.
    IdleTimeout,
    /// The peer did not take its replies within the idle timeout.
    WriteTimeout,
    /// The read buffer grew past `max_buffered`.
    Overflow,
    /// Reading or writing failed (reset, broken pipe).
    Io,
}
