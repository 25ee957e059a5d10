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

/// One connection's deadlines, and its framing state and pending replies while it has any.
pub(crate) struct Session<'a> {
    pub(crate) config: &'a Config,
    stats: &'a Stats,
    /// Allocated when bytes arrive and given back once nothing is in progress: an idle
    /// connection holds no decoder, buffer or reply queue.
    work: Option<Box<Work>>,
    /// Bytes read so far: where a new decoder's stream offsets start.
    read_total: u64,
    /// When the connection last made progress: the latest read, or replies written.
    active: Instant,
    /// The last batch stopped at `max_output` with complete requests possibly left in
    /// `buf`: answer them (after writing) before reading more.
    backlog: bool,
    /// The connection came back from the parking lot after a quiet spell and the bytes the
    /// lot read are not all answered yet: the next batch that ends without a backlog says
    /// whether they left a frame unfinished (counted as woken mid-frame).
    woken: bool,
}

/// What a connection holds only while a request or its replies are in progress.
struct Work {
    decoder: RequestDecoder,
    encoder: ReplyEncoder,
    /// Bytes of the frame in progress.
    buf: BytesMut,
    /// Replies of the current batch, large values shared rather than copied.
    out: ReplyQueue,
    /// When the first byte of the frame in progress arrived; `None` between frames.
    frame_started: Option<Instant>,
    /// When writing the current batch began.
    write_started: Option<Instant>,
}

impl Work {
    fn mid_frame(&self) -> bool {
        !self.buf.is_empty() || self.decoder.in_frame()
    }
}

impl<'a> Session<'a> {
    pub(crate) fn new(config: &'a Config, stats: &'a Stats, now: Instant) -> Self {
        Session {
            config,
            stats,
            work: None,
            read_total: 0,
            active: now,
            backlog: false,
            woken: false,
        }
    }

    fn work(&mut self) -> &mut Work {
        let (config, offset) = (self.config, self.read_total);
        self.work.get_or_insert_with(|| {
            let mut decoder = RequestDecoder::new(&config.framing, &config.limits);
            decoder.resume_at(offset);
            Box::new(Work {
                decoder,
                encoder: ReplyEncoder::new(&config.framing),
                buf: BytesMut::new(),
                out: ReplyQueue::default(),
                frame_started: None,
                write_started: None,
            })
        })
    }

    /// True when requests may be waiting in the buffer, unanswered because the last batch
    /// filled `max_output`: answer them before reading more.
    pub(crate) fn backlogged(&self) -> bool {
        self.backlog
    }

    /// Bytes held for requests not answered yet: the buffer, and what the decoder already
    /// parsed out of an unfinished request.
    fn held(&self) -> usize {
        self.work
            .as_ref()
            .map_or(0, |w| w.buf.len() + w.decoder.held())
    }

    /// True while a frame has begun and not ended.
    pub(crate) fn mid_frame(&self) -> bool {
        self.work.as_ref().is_some_and(|w| w.mid_frame())
    }

    /// When waiting for input must end, and why: the frame deadline (from the first byte
    /// of the frame in progress) while mid-frame, else the idle timeout.
    pub(crate) fn read_deadline(&self) -> (Instant, Close) {
        let limits = &self.config.limits;
        match self.work.as_ref().and_then(|w| w.frame_started) {
            Some(start) if self.mid_frame() => (start + limits.frame_deadline, Close::FrameTimeout),
            _ => (self.active + limits.idle_timeout, Close::IdleTimeout),
        }
    }

    /// When this connection may be parked: [`Config::park_after`] after its last activity,
    /// if it has nothing in progress (no partial request, no reply to write); `None` if it
    /// has, or parking is off.
    pub(crate) fn park_at(&self) -> Option<Instant> {
        if self.work.is_some() || self.backlog {
            return None;
        }
        self.config.park_after.map(|after| self.active + after)
    }

    /// When this connection, idle, is closed.
    pub(crate) fn idle_deadline(&self) -> Instant {
        self.active + self.config.limits.idle_timeout
    }

    /// Bytes read from the stream so far.
    pub(crate) fn read_total(&self) -> u64 {
        self.read_total
    }

    /// Goes on from a parked connection that had read `read_total` bytes (none: parked
    /// since its accept, not after a quiet spell).
    pub(crate) fn resume_at(&mut self, read_total: u64) {
        self.read_total = read_total;
        self.woken = read_total > 0;
    }

    /// Writing the current batch's replies begins at `now`; returns when it must have
    /// finished: one deadline for the whole batch, however slowly the peer takes it.
    pub(crate) fn write_deadline(&mut self, now: Instant) -> Instant {
        self.work().write_started = Some(now);
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

    /// Takes `bytes` just read, at `now`.
    pub(crate) fn received(&mut self, bytes: &[u8], now: Instant) {
        // A decoder made here starts where these bytes do.
        let work = self.work();
        work.buf.extend_from_slice(bytes);
        work.frame_started.get_or_insert(now);
        self.read_total += bytes.len() as u64;
        self.active = now;
        self.stats.read(bytes.len(), self.held());
    }

    /// Decodes and answers the complete frames buffered (pipelining) until their replies
    /// reach `max_output` ([`Session::backlogged`] then says more may wait). Returns whether
    /// the connection must close after the replies are written.
    pub(crate) fn answer_batch<S: Service + ?Sized>(
        &mut self,
        service: &S,
        eof: bool,
    ) -> Option<Close> {
        let max_output = self.config.limits.max_output;
        let active = self.active;
        let work = self.work();
        let mut answered = 0;
        let mut shared = 0;
        let mut backlog = false;
        let close = loop {
            if work.out.len() >= max_output {
                backlog = true;
                break None;
            }
            let decoded = if eof {
                work.decoder.decode_eof(&mut work.buf)
            } else {
                work.decoder.decode(&mut work.buf)
            };
            match decoded {
                Ok(Some(cmd)) => {
                    answered += 1;
                    let response = service.call(cmd);
                    shared += u64::from(work.encoder.encode_queued(&response.reply, &mut work.out));
                    if response.close {
                        break Some(Close::Quit);
                    }
                }
                Ok(None) => break None,
                Err(FrameError::UnexpectedEof { .. }) => break Some(Close::EofMidFrame),
                Err(e) => {
                    tracing::debug!(error = %e, "protocol error");
                    let reply = Reply::error(protocol_error(&e));
                    work.encoder.encode_queued(&reply, &mut work.out);
                    break Some(Close::ProtocolError);
                }
            }
        };
        let mid_frame = work.mid_frame();
        if !mid_frame {
            work.frame_started = None;
        } else if answered > 0 {
            // What is left arrived in the latest read (`active`: nothing was written since),
            // after the last complete frame: a client pipelining frame after frame is timed
            // per frame, not per connection.
            work.frame_started = Some(active);
        }
        self.backlog = backlog;
        if self.woken && !backlog {
            // Every complete frame the lot's bytes held is answered: what is left is part of
            // one.
            self.woken = false;
            if mid_frame && close.is_none() {
                self.stats.count(Event::WokenMidFrame);
            }
        }
        self.stats.frames(answered);
        self.stats.shared_replies(shared);
        close
    }

    /// After a batch: with no frame in progress and nothing to write, gives the
    /// connection's working memory back (the next read allocates what it needs).
    pub(crate) fn settle(&mut self) {
        if !self.backlog
            && self
                .work
                .as_ref()
                .is_some_and(|w| !w.mid_frame() && w.out.is_empty())
        {
            self.work = None;
        }
    }

    fn reply(&mut self, reply: &Reply) {
        let work = self.work();
        work.encoder.encode_queued(reply, &mut work.out);
    }

    /// Replies waiting to be written, if any.
    pub(crate) fn output(&self) -> Option<&ReplyQueue> {
        self.work
            .as_ref()
            .map(|w| &w.out)
            .filter(|out| !out.is_empty())
    }

    /// The replies were written at `now`: count them and give a large output buffer back.
    /// The time spent writing does not count against the frame in progress: the server was
    /// not reading, so the rest of that frame may have been waiting all along (a client that
    /// reads its replies slowly is not a slowloris). A batch written without waiting has no
    /// `write_deadline` and took no time.
    pub(crate) fn written(&mut self, now: Instant) {
        let stats = self.stats;
        let work = self.work();
        stats.written(work.out.len());
        if let (Some(start), Some(began)) = (&mut work.frame_started, work.write_started) {
            *start += now.saturating_duration_since(began);
        }
        work.write_started = None;
        work.out.clear(KEEP_OUT);
        self.active = now;
    }

    /// Counts why the connection ended.
    pub(crate) fn closed(&self, why: Close) {
        let event = match why {
            Close::Clean | Close::Quit | Close::Io => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{encode_command, Framing};
    use crate::{Command, Kv};

    #[test]
    fn a_decoder_made_for_a_new_read_starts_where_that_read_does() {
        let config = Config {
            framing: Framing::length(),
            ..Config::default()
        };
        let (stats, kv, now) = (Stats::default(), Kv::new(), Instant::now());
        let mut ping = BytesMut::new();
        encode_command(&config.framing, &Command::new(["PING"]), &mut ping).unwrap();
        let mut session = Session::new(&config, &stats, now);
        session.received(&ping, now);
        assert_eq!(session.answer_batch(&kv, false), None);
        session.written(now);
        session.settle();
        assert!(
            session.work.is_none(),
            "nothing in progress: the decoder is given back"
        );
        // A frame whose argument claims more than the frame holds.
        session.received(b"\x00\x00\x00\x05\x00\x00\x00\x09a", now);
        let work = session.work.as_mut().unwrap();
        let err = work.decoder.decode(&mut work.buf).unwrap_err();
        assert!(
            matches!(err, FrameError::Malformed { at, .. } if at == ping.len() as u64),
            "{err:?}"
        );
    }
}
