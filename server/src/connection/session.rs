//! What one connection does between its reads and writes, whatever does the I/O: decode
//! every complete frame, answer each, encode the replies, and keep the connection's
//! deadlines. The async loop ([`super::task`]) and the thread-per-connection loop
//! ([`super::threads`]) both drive a [`Session`]; every limit is enforced here, once.

use super::Close;
use crate::framing::{Decoder, FrameError};
use crate::protocol::{ReplyEncoder, ReplyQueue, RequestDecoder};
use crate::stats::Event;
use crate::{Config, Reply, Service, Stats};
use bytes::BytesMut;
use tokio::time::Instant;

/// Output capacity kept between batches; a larger buffer is given back after use.
const KEEP_OUT: usize = 16 * 1024;

/// One connection's framing state, pending replies and deadlines.
pub(crate) struct Session<'a> {
    decoder: RequestDecoder,
    encoder: ReplyEncoder,
    /// Bytes of the frame in progress; empty (no allocation) between frames.
    pub(crate) buf: BytesMut,
    /// Replies of the current batch, large values shared rather than copied.
    pub(crate) out: ReplyQueue,
    pub(crate) config: &'a Config,
    stats: &'a Stats,
    /// When the first byte of the frame in progress arrived; `None` between frames.
    frame_started: Option<Instant>,
    /// When the connection last made progress: the latest read, or replies written.
    active: Instant,
    /// When writing the current batch began.
    write_started: Instant,
    /// The last batch stopped at `max_output` with complete requests possibly left in
    /// `buf`: answer them (after writing) before reading more.
    backlog: bool,
}

impl<'a> Session<'a> {
    pub(crate) fn new(config: &'a Config, stats: &'a Stats, now: Instant) -> Self {
        Session {
            decoder: RequestDecoder::new(&config.framing, &config.limits),
            encoder: ReplyEncoder::new(&config.framing),
            buf: BytesMut::new(),
            out: ReplyQueue::default(),
            config,
            stats,
            frame_started: None,
            active: now,
            write_started: now,
            backlog: false,
        }
    }

    /// True when requests may be waiting in the buffer, unanswered because the last batch
    /// filled `max_output`: answer them before reading more.
    pub(crate) fn backlogged(&self) -> bool {
        self.backlog
    }

    /// Bytes held for requests not answered yet: the buffer, and what the decoder already
    /// parsed out of an unfinished request.
    fn held(&self) -> usize {
        self.buf.len() + self.decoder.held()
    }

    /// True while a frame has begun and not ended.
    pub(crate) fn mid_frame(&self) -> bool {
        !self.buf.is_empty() || self.decoder.in_frame()
    }

    /// When waiting for input must end, and why: the frame deadline (from the first byte
    /// of the frame in progress) while mid-frame, else the idle timeout.
    pub(crate) fn read_deadline(&self) -> (Instant, Close) {
        let limits = &self.config.limits;
        match self.frame_started {
            Some(start) if self.mid_frame() => (start + limits.frame_deadline, Close::FrameTimeout),
            _ => (self.active + limits.idle_timeout, Close::IdleTimeout),
        }
    }

    /// Writing the current batch's replies begins at `now`; returns when it must have
    /// finished: one deadline for the whole batch, however slowly the peer takes it.
    pub(crate) fn write_deadline(&mut self, now: Instant) -> Instant {
        self.write_started = now;
        now + self.config.limits.idle_timeout
    }

    /// Room left in the read buffer; `None` (after queueing the error reply) once it is
    /// full with no complete frame: never buffer past `max_buffered`.
    pub(crate) fn room(&mut self) -> Option<usize> {
        let max = self.config.limits.max_buffered;
        let room = max.saturating_sub(self.held());
        if room == 0 {
            let msg = format!("ERR Protocol error: more than {max} bytes buffered");
            self.reply(&Reply::error(msg));
            return None;
        }
        Some(room)
    }

    /// Counts `n` bytes just read into `buf` at `now`.
    pub(crate) fn received(&mut self, n: usize, now: Instant) {
        self.stats.read(n, self.held());
        self.frame_started.get_or_insert(now);
        self.active = now;
    }

    /// Decodes and answers the complete frames buffered (pipelining) until their replies
    /// reach `max_output` ([`Session::backlogged`] then says more may wait). Returns whether
    /// the connection must close after the replies are written.
    pub(crate) fn answer_batch<S: Service + ?Sized>(
        &mut self,
        service: &S,
        eof: bool,
    ) -> Option<Close> {
        let mut answered = 0;
        self.backlog = false;
        let close = loop {
            if self.out.len() >= self.config.limits.max_output {
                self.backlog = true;
                break None;
            }
            let decoded = if eof {
                self.decoder.decode_eof(&mut self.buf)
            } else {
                self.decoder.decode(&mut self.buf)
            };
            match decoded {
                Ok(Some(cmd)) => {
                    self.stats.count(Event::Frame);
                    answered += 1;
                    let response = service.call(cmd);
                    self.reply(&response.reply);
                    if response.close {
                        break Some(Close::Clean);
                    }
                }
                Ok(None) => break None,
                Err(FrameError::UnexpectedEof { .. }) => break Some(Close::EofMidFrame),
                Err(e) => {
                    tracing::debug!(error = %e, "protocol error");
                    self.reply(&Reply::error(protocol_error(&e)));
                    break Some(Close::ProtocolError);
                }
            }
        };
        if !self.mid_frame() {
            self.frame_started = None;
        } else if answered > 0 {
            // What is left arrived in the latest read (`active`: nothing was written since),
            // after the last complete frame: a client pipelining frame after frame is timed
            // per frame, not per connection.
            self.frame_started = Some(self.active);
        }
        close
    }

    /// After a batch: between frames, gives the read buffer's memory back (the next read
    /// allocates what it needs).
    pub(crate) fn settle(&mut self) {
        if !self.mid_frame() {
            self.buf = BytesMut::new();
        }
    }

    fn reply(&mut self, reply: &Reply) {
        self.encoder.encode_queued(reply, &mut self.out);
    }

    /// The replies were written at `now`: count them and give a large output buffer back.
    /// The time spent writing does not count against the frame in progress: the server was
    /// not reading, so the rest of that frame may have been waiting all along (a client that
    /// reads its replies slowly is not a slowloris).
    pub(crate) fn written(&mut self, now: Instant) {
        self.stats.written(self.out.len());
        if let Some(start) = &mut self.frame_started {
            *start += now.saturating_duration_since(self.write_started);
        }
        self.active = now;
        self.out.clear(KEEP_OUT);
    }

    /// Counts why the connection ended.
    pub(crate) fn closed(&self, why: Close) {
        let event = match why {
            Close::Clean | Close::Io => None,
            Close::ProtocolError => Some(Event::ProtocolError),
            Close::EofMidFrame => Some(Event::EofMidFrame),
            Close::FrameTimeout => Some(Event::FrameTimeout),
            Close::IdleTimeout => Some(Event::IdleTimeout),
            Close::WriteTimeout => Some(Event::WriteTimeout),
            Close::Overflow => Some(Event::Overflow),
        };
        if let Some(event) = event {
            self.stats.count(event);
        }
        tracing::trace!(?why, "connection closed");
    }
}

/// The error reply for a framing error, byte for byte as redis-server words it: no stream
/// offset (that goes to the log).
fn protocol_error(e: &FrameError) -> String {
    match e {
        FrameError::Malformed { what, .. } if what.starts_with("Protocol error") => {
            format!("ERR {what}")
        }
        FrameError::Malformed { what, .. } => format!("ERR Protocol error: {what}"),
        FrameError::TooLarge { limit, .. } => {
            format!("ERR Protocol error: frame longer than {limit} bytes")
        }
        FrameError::UnexpectedEof { .. } => "ERR Protocol error: unexpected end of stream".into(),
    }
}
