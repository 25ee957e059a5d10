//! One connection: read, decode every complete frame, answer, write, repeat.

use crate::framing::{Decoder, FrameError};
use crate::protocol::{encode_reply, RequestDecoder};
use crate::stats::Event;
use crate::stopping::Stopping;
use crate::{Config, Reply, Service};
use bytes::BytesMut;
use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{sleep_until, timeout, Instant, Sleep};

/// Bytes taken per read. They pass through a scratch buffer that lives only inside one poll,
/// so an idle connection holds no read buffer at all.
const READ_CHUNK: usize = 4096;

/// Output capacity kept between batches; a larger buffer is given back after use.
const KEEP_OUT: usize = 16 * 1024;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
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

/// Serves one connection until it closes; never panics on any input.
pub(crate) async fn run<St, S>(mut stream: St, service: &S, config: &Config, stopping: Stopping)
where
    St: AsyncRead + AsyncWrite + Unpin,
    S: Service + ?Sized,
{
    let why = Connection {
        decoder: RequestDecoder::new(&config.framing, config.limits),
        buf: BytesMut::new(),
        out: BytesMut::new(),
        frame_started: None,
        config,
    }
    .serve(&mut stream, service, stopping)
    .await;
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
        config.stats.count(event);
    }
    tracing::trace!(?why, "connection closed");
    if why != Close::Io {
        let _ = timeout(config.idle_timeout, stream.shutdown()).await;
    }
    if matches!(why, Close::ProtocolError | Close::Overflow) {
        linger(&mut stream, config).await;
    }
}

/// Longest linger after an error reply.
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// Most bytes read and thrown away while lingering after an error reply.
const LINGER_BYTES: usize = 256 * 1024;

/// After an error reply, reads and discards what the peer still sends until it closes (or
/// for at most a second or the frame deadline, whichever is shorter). Closing a socket with unread input makes TCP reset the
/// connection, and a reset can destroy the error reply before the peer reads it.
async fn linger<St: AsyncRead + Unpin>(stream: &mut St, config: &Config) {
    let _ = timeout(config.frame_deadline.min(LINGER_TIME), async {
        let mut discarded = 0;
        let mut sink = BytesMut::new();
        while discarded < LINGER_BYTES {
            sink.clear();
            match read_some(stream, &mut sink, READ_CHUNK).await {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded += n,
            }
        }
    })
    .await;
}

struct Connection<'a> {
    decoder: RequestDecoder,
    /// Bytes of the frame in progress; empty (no allocation) between frames.
    buf: BytesMut,
    /// Encoded replies of the current batch.
    out: BytesMut,
    /// When the first byte of the frame in progress arrived.
    frame_started: Option<Instant>,
    config: &'a Config,
}

impl Connection<'_> {
    async fn serve<St, S>(&mut self, stream: &mut St, service: &S, stopping: Stopping) -> Close
    where
        St: AsyncRead + AsyncWrite + Unpin,
        S: Service + ?Sized,
    {
        let mut draining = stopping.is_stopped();
        let mut idle_since = Instant::now();
        // One timer and one shutdown waiter for the connection's life, reset rather than
        // rebuilt for every read and write.
        let timer = sleep_until(idle_since + self.config.idle_timeout);
        let stop = stopping.wait();
        tokio::pin!(timer, stop);
        loop {
            let mid_frame = self.mid_frame();
            if draining && !mid_frame {
                return Close::Clean;
            }
            let deadline = match self.frame_started {
                Some(start) if mid_frame => start + self.config.frame_deadline,
                _ => idle_since + self.config.idle_timeout,
            };
            // Never buffer past the limit: a full buffer with no complete frame is an overflow.
            let room = self.config.max_buffered.saturating_sub(self.buf.len());
            if room == 0 {
                let msg = format!(
                    "ERR Protocol error: more than {} bytes buffered",
                    self.config.max_buffered
                );
                self.reply(&Reply::error(msg));
                let _ = self.flush(stream, timer.as_mut()).await;
                return Close::Overflow;
            }
            timer.as_mut().reset(deadline);
            let read = tokio::select! {
                biased;
                _ = &mut stop, if !draining => {
                    draining = true;
                    continue;
                }
                _ = &mut timer => {
                    return if mid_frame { Close::FrameTimeout } else { Close::IdleTimeout };
                }
                read = read_some(stream, &mut self.buf, room) => read,
            };
            let n = match read {
                Ok(n) => n,
                Err(_) => return Close::Io,
            };
            let now = Instant::now();
            if n == 0 {
                return self.end_of_stream(stream, service, timer.as_mut()).await;
            }
            self.config.stats.read(n, self.buf.len());
            if !mid_frame {
                self.frame_started = Some(now);
            }
            idle_since = now;
            let (answered, close) = self.answer_batch(service, false);
            if let Err(why) = self.flush(stream, timer.as_mut()).await {
                return why;
            }
            if let Some(why) = close {
                return why;
            }
            if answered > 0 {
                // Whatever is left arrived in this read, after the last complete frame.
                self.frame_started = Some(now);
                idle_since = Instant::now();
            }
            if !self.mid_frame() {
                self.frame_started = None;
                // Give the frame's memory back; the next read allocates what it needs.
                self.buf = BytesMut::new();
            }
        }
    }

    /// True while a frame has begun and not ended.
    fn mid_frame(&self) -> bool {
        !self.buf.is_empty() || self.decoder.in_frame()
    }

    /// Decodes and answers every complete frame buffered (pipelining). Returns how many
    /// were answered and whether the connection must close after the replies are written.
    fn answer_batch<S: Service + ?Sized>(
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

    /// The peer ended its side: answer what is complete, then close.
    async fn end_of_stream<St, S>(
        &mut self,
        stream: &mut St,
        service: &S,
        timer: Pin<&mut Sleep>,
    ) -> Close
    where
        St: AsyncWrite + Unpin,
        S: Service + ?Sized,
    {
        let (_, close) = self.answer_batch(service, true);
        if let Err(why) = self.flush(stream, timer).await {
            return why;
        }
        close.unwrap_or(Close::Clean)
    }

    fn reply(&mut self, reply: &Reply) {
        encode_reply(&self.config.framing, reply, &mut self.out);
    }

    /// Writes the batch's replies (all of them, however short the writes) and flushes once.
    /// The peer has `idle_timeout` (on `timer`) to take them.
    async fn flush<St: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut St,
        mut timer: Pin<&mut Sleep>,
    ) -> Result<(), Close> {
        if self.out.is_empty() {
            return Ok(());
        }
        timer
            .as_mut()
            .reset(Instant::now() + self.config.idle_timeout);
        let write = async {
            stream.write_all(&self.out).await?;
            stream.flush().await
        };
        let written = tokio::select! {
            biased;
            written = write => written,
            _ = timer => return Err(Close::WriteTimeout),
        };
        if written.is_err() {
            return Err(Close::Io);
        }
        self.config.stats.written(self.out.len());
        self.out.clear();
        if self.out.capacity() > KEEP_OUT {
            self.out = BytesMut::new();
        }
        Ok(())
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

/// Reads at most `room` bytes once into `buf` through a stack scratch buffer; `Ok(0)` is
/// the end of the stream.
async fn read_some<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut BytesMut,
    room: usize,
) -> io::Result<usize> {
    poll_fn(|cx| {
        let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let len = room.min(READ_CHUNK);
        let mut rb = ReadBuf::uninit(&mut scratch[..len]);
        ready!(Pin::new(&mut *stream).poll_read(cx, &mut rb))?;
        buf.extend_from_slice(rb.filled());
        Poll::Ready(Ok(rb.filled().len()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection costs its task's future; keep it from growing unnoticed.
    #[test]
    fn an_idle_connection_future_stays_small() {
        let config = Config::default();
        let kv = crate::Kv::new();
        let (a, _b) = tokio::io::duplex(64);
        let fut = run(a, &kv, &config, Stopping::default());
        let size = std::mem::size_of_val(&fut);
        assert!(size <= 860, "connection future grew to {size} bytes");
    }
}
