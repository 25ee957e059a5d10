//! What one connection does between its reads and writes, whatever does the I/O: decode
//! every complete frame, answer each, encode the replies. The async connection loop and the
//! thread-per-connection loop both drive a [`Session`].

use crate::framing::{Decoder, FrameError};
use crate::protocol::{encode_reply, RequestDecoder};
use crate::stats::Event;
use crate::{Config, Reply, Service};
use bytes::BytesMut;

/// Output capacity kept between batches; a larger buffer is given back after use.
const KEEP_OUT: usize = 16 * 1024;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// The peer ended the stream between frames, asked to quit, or the server shut down.
    Clean,
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

/// One connection's framing state and pending replies.
pub(crate) struct Session<'a> {
    decoder: RequestDecoder,
    /// Bytes of the frame in progress; empty (no allocation) between frames.
    pub(crate) buf: BytesMut,
    /// Encoded replies of the current batch.
    pub(crate) out: BytesMut,
    pub(crate) config: &'a Config,
}

impl<'a> Session<'a> {
    pub(crate) fn new(config: &'a Config) -> Self {
        Session {
            decoder: RequestDecoder::new(&config.framing, config.limits),
            buf: BytesMut::new(),
            out: BytesMut::new(),
            config,
        }
    }

    /// True while a frame has begun and not ended.
    pub(crate) fn mid_frame(&self) -> bool {
        !self.buf.is_empty() || self.decoder.in_frame()
    }

    /// Room left in the read buffer; `None` (after queueing the error reply) once it is
    /// full with no complete frame: never buffer past `max_buffered`.
    pub(crate) fn room(&mut self) -> Option<usize> {
        let room = self.config.max_buffered.saturating_sub(self.buf.len());
        if room == 0 {
            let msg = format!(
                "ERR Protocol error: more than {} bytes buffered",
                self.config.max_buffered
            );
            self.reply(&Reply::error(msg));
            return None;
        }
        Some(room)
    }

    /// Counts `n` bytes just read into `buf`.
    pub(crate) fn received(&self, n: usize) {
        self.config.stats.read(n, self.buf.len());
    }

    /// Decodes and answers every complete frame buffered (pipelining). Returns how many
    /// were answered and whether the connection must close after the replies are written.
    pub(crate) fn answer_batch<S: Service + ?Sized>(
        &mut self,
        service: &S,
        eof: bool,
    ) -> (usize, Option<Close>) {
        let mut answered = 0;
        loop {
            let decoded = if eof {
                self.decoder.decode_eof(&mut self.buf)
            } else {
                self.decoder.decode(&mut self.buf)
            };
            match decoded {
                Ok(Some(cmd)) => {
                    self.config.stats.count(Event::Frame);
                    answered += 1;
                    let response = service.call(cmd);
                    self.reply(&response.reply);
                    if response.close {
                        return (answered, Some(Close::Clean));
                    }
                }
                Ok(None) => return (answered, None),
                Err(FrameError::UnexpectedEof { .. }) => {
                    return (answered, Some(Close::EofMidFrame))
                }
                Err(e) => {
                    self.reply(&Reply::error(protocol_error(&e)));
                    return (answered, Some(Close::ProtocolError));
                }
            }
        }
    }

    /// After a batch: between frames, gives the read buffer's memory back (the next read
    /// allocates what it needs).
    pub(crate) fn settle(&mut self) {
        if !self.mid_frame() {
            self.buf = BytesMut::new();
        }
    }

    fn reply(&mut self, reply: &Reply) {
        encode_reply(&self.config.framing, reply, &mut self.out);
    }

    /// The replies were written: count them and give a large output buffer back.
    pub(crate) fn written(&mut self) {
        self.config.stats.written(self.out.len());
        self.out.clear();
        if self.out.capacity() > KEEP_OUT {
            self.out = BytesMut::new();
        }
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
            self.config.stats.count(event);
        }
        tracing::trace!(?why, "connection closed");
    }
}

/// The error reply for a framing error, worded as Redis words its protocol errors.
fn protocol_error(e: &FrameError) -> String {
    let text = e.to_string();
    if text.starts_with("Protocol error") {
        format!("ERR {text}")
    } else {
        format!("ERR Protocol error: {text}")
    }
}
