//! One connection on an async stream: read, let the [`Session`] decode and answer, write,
//! repeat, with the session's deadline and shutdown raced against each read.

use super::session::Session;
use super::Close;
use crate::shutdown::Shutdown;
use crate::{Config, Service, Stats};
use bytes::BytesMut;
use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{sleep_until, timeout, Instant, Sleep};

/// Bytes taken per read. They pass through a scratch buffer that lives only inside one poll,
/// so an idle connection holds no read buffer at all.
const READ_CHUNK: usize = 4096;

/// Longest linger after an error reply.
const LINGER_TIME: Duration = Duration::from_secs(1);

/// Most bytes read and thrown away while lingering after an error reply.
const LINGER_BYTES: usize = 256 * 1024;

/// Serves one connection until it closes; never panics on any input.
pub(crate) async fn run<St, S>(
    mut stream: St,
    service: &S,
    config: &Config,
    stats: &Stats,
    shutdown: Shutdown,
) where
    St: AsyncRead + AsyncWrite + Unpin,
    S: Service + ?Sized,
{
    let mut session = Session::new(config, stats, Instant::now());
    let why = serve(&mut session, &mut stream, service, shutdown).await;
    session.closed(why);
    if why != Close::Io {
        let _ = timeout(config.limits.idle_timeout, stream.shutdown()).await;
    }
    if matches!(why, Close::ProtocolError | Close::Overflow) {
        linger(&mut stream, config).await;
    }
}

/// After an error reply, reads and discards what the peer still sends until it closes (or
/// for at most a second or the frame deadline, whichever is shorter). Closing a socket with
/// unread input makes TCP reset the connection, and a reset can destroy the error reply
/// before the peer reads it.
async fn linger<St: AsyncRead + Unpin>(stream: &mut St, config: &Config) {
    let _ = timeout(config.limits.frame_deadline.min(LINGER_TIME), async {
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

async fn serve<St, S>(
    session: &mut Session<'_>,
    stream: &mut St,
    service: &S,
    shutdown: Shutdown,
) -> Close
where
    St: AsyncRead + AsyncWrite + Unpin,
    S: Service + ?Sized,
{
    let mut draining = shutdown.is_started();
    // One timer and one shutdown waiter for the connection's life, reset rather than
    // rebuilt for every read and write.
    let timer = sleep_until(session.read_deadline().0);
    let stop = shutdown.wait();
    tokio::pin!(timer, stop);
    loop {
        if session.backlogged() {
            // Replies filled `max_output`; they are written: answer what waits, unread.
            let close = session.answer_batch(service, false);
            if let Err(why) = flush(session, stream, timer.as_mut()).await {
                return why;
            }
            if let Some(why) = close {
                return why;
            }
            continue;
        }
        if draining && !session.mid_frame() {
            return Close::Clean;
        }
        let Some(room) = session.room() else {
            let _ = flush(session, stream, timer.as_mut()).await;
            return Close::Overflow;
        };
        let (deadline, expired) = session.read_deadline();
        timer.as_mut().reset(deadline);
        let read = tokio::select! {
            biased;
            _ = &mut stop, if !draining => {
                draining = true;
                continue;
            }
            _ = &mut timer => return expired,
            read = read_some(stream, &mut session.buf, room) => read,
        };
        let Ok(n) = read else {
            return Close::Io;
        };
        if n == 0 {
            // The peer ended its side: answer what is complete, then close.
            loop {
                let close = session.answer_batch(service, true);
                if let Err(why) = flush(session, stream, timer.as_mut()).await {
                    return why;
                }
                if close.is_some() || !session.backlogged() {
                    return close.unwrap_or(Close::Clean);
                }
            }
        }
        session.received(n, Instant::now());
        let close = session.answer_batch(service, false);
        if let Err(why) = flush(session, stream, timer.as_mut()).await {
            return why;
        }
        if let Some(why) = close {
            return why;
        }
        session.settle();
    }
}

/// Writes the batch's replies (all of them, however short the writes) and flushes once,
/// before the session's write deadline (on `timer`).
async fn flush<St: AsyncWrite + Unpin>(
    session: &mut Session<'_>,
    stream: &mut St,
    mut timer: Pin<&mut Sleep>,
) -> Result<(), Close> {
    if session.out.is_empty() {
        return Ok(());
    }
    timer.as_mut().reset(session.write_deadline(Instant::now()));
    let write = async {
        // By index, not an iterator: nothing more to keep across the await.
        for i in 0..session.out.chunk_count() {
            if let Some(chunk) = session.out.chunk(i) {
                stream.write_all(chunk).await?;
            }
        }
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
    session.written(Instant::now());
    Ok(())
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
        let stats = Stats::default();
        let kv = crate::Kv::new();
        let (a, _b) = tokio::io::duplex(64);
        let fut = run(a, &kv, &config, &stats, Shutdown::default());
        let size = std::mem::size_of_val(&fut);
        assert!(size <= 960, "connection future grew to {size} bytes");
    }
}
