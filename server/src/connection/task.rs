//! One connection on an async stream: read, let the [`Session`] decode and answer, write,
//! repeat, with the session's deadline and shutdown raced against each read.

use super::park::{Dock, Parked};
use super::session::Session;
use super::{Close, READ_CHUNK};
use crate::shutdown::Shutdown;
use crate::stats::OpenGuard;
use crate::{Config, Service, Stats};
use std::future::{poll_fn, Future};
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{sleep_until, timeout, Instant, Sleep};

/// Longest linger after an error reply or a `QUIT`.
const LINGER_TIME: Duration = Duration::from_secs(1);

/// Most bytes read and thrown away while lingering.
const LINGER_BYTES: usize = 256 * 1024;

/// What every connection task shares: one reference count held per connection, not one
/// per part.
pub(crate) struct Shared<S, St> {
    pub(crate) service: S,
    pub(crate) config: Config,
    pub(crate) stats: Stats,
    pub(crate) shutdown: Shutdown,
    /// Where an idle connection leaves its stream for the parking lot.
    pub(crate) dock: Dock<St>,
}

/// How a connection coming back from the parking lot starts: with what the lot read.
pub(crate) struct Resumed {
    /// The bytes the lot read; empty if the peer ended the stream.
    pub(crate) bytes: Box<[u8]>,
    /// When it read them.
    pub(crate) at: Instant,
    /// Bytes read from the stream before these.
    pub(crate) read_total: u64,
}

/// Serves one connection until it closes or parks; never panics on any input. `open` counts
/// it as open until the task ends, however it ends, or goes with it into the parking lot.
/// `resumed`: the connection comes from the parking lot with these bytes.
pub(crate) async fn run<St, S>(
    mut stream: St,
    shared: Arc<Shared<S, St>>,
    mut open: OpenGuard,
    resumed: Option<Box<Resumed>>,
) where
    St: AsyncRead + AsyncWrite + Unpin,
    S: Service,
{
    // The loop is written out here rather than in a function it awaits: every nested
    // future keeps its own copies of its arguments in each connection's state.
    let mut session = Session::new(&shared.config, &shared.stats, Instant::now());
    // What the lot read stands for this connection's first read: `Some(end of stream)`.
    let mut resumed = resumed.map(|r| {
        session.resume_at(r.read_total);
        if !r.bytes.is_empty() {
            session.received(&r.bytes, r.at);
        }
        r.bytes.is_empty()
    });
    // `None`: park.
    let why = 'conn: {
        // One timer and one shutdown waiter for the connection's life, reset rather than
        // rebuilt for every read and write.
        let timer = sleep_until(session.read_deadline().0);
        let stop = shared.shutdown.notified();
        tokio::pin!(timer, stop);
        stop.as_mut().enable();
        let mut draining = shared.shutdown.is_started();
        loop {
            if session.backlogged() {
                // Replies filled `max_output`; they are written: answer what waits, unread.
                let close = session.answer_batch(&shared.service, false);
                if let Err(why) = flush(&mut session, &mut stream, timer.as_mut()).await {
                    break 'conn Some(why);
                }
                if close.is_some() {
                    break 'conn close;
                }
                continue;
            }
            let eof = match resumed.take() {
                Some(eof) => eof,
                None => {
                    if draining && !session.mid_frame() {
                        break 'conn Some(Close::Clean);
                    }
                    let Some(room) = session.room() else {
                        let _ = flush(&mut session, &mut stream, timer.as_mut()).await;
                        break 'conn Some(Close::Overflow);
                    };
                    // Idle: the timer ends the wait at the park time, if that comes first.
                    let (deadline, _) = session.read_deadline();
                    let park_at = session.park_at().filter(|at| *at < deadline && !draining);
                    timer.as_mut().reset(park_at.unwrap_or(deadline));
                    let read = poll_fn(|cx| {
                        poll_read_chunk(&mut stream, room, cx, |bytes| {
                            session.received(bytes, Instant::now())
                        })
                    });
                    let read = tokio::select! {
                        biased;
                        _ = &mut stop, if !draining => {
                            draining = true;
                            continue;
                        }
                        _ = &mut timer => {
                            // Worked out again rather than kept across the wait: every
                            // connection's future would hold it.
                            let (deadline, expired) = session.read_deadline();
                            let now = Instant::now();
                            let park = !draining && now < deadline
                                && session.park_at().is_some_and(|at| at <= now);
                            break 'conn (!park).then_some(expired);
                        }
                        read = read => read,
                    };
                    match read {
                        Ok(n) => n == 0,
                        Err(_) => break 'conn Some(Close::Io),
                    }
                }
            };
            if eof {
                // The peer ended its side: answer what is complete, then close.
                loop {
                    let close = session.answer_batch(&shared.service, true);
                    if let Err(why) = flush(&mut session, &mut stream, timer.as_mut()).await {
                        break 'conn Some(why);
                    }
                    if close.is_some() || !session.backlogged() {
                        break 'conn Some(close.unwrap_or(Close::Clean));
                    }
                }
            }
            let close = session.answer_batch(&shared.service, false);
            if let Err(why) = flush(&mut session, &mut stream, timer.as_mut()).await {
                break 'conn Some(why);
            }
            if close.is_some() {
                break 'conn close;
            }
            session.settle();
        }
    };
    let why = match why {
        Some(why) => why,
        None => {
            let parked = Parked {
                stream,
                open,
                idle_deadline: session.idle_deadline(),
                read_total: session.read_total(),
            };
            match shared.dock.park(parked) {
                Ok(()) => return,
                // The server is shutting down: close as a draining connection does.
                Err(back) => {
                    (stream, open) = (back.stream, back.open);
                    Close::Clean
                }
            }
        }
    };
    session.closed(why);
    // Boxed: a closing connection's timers would otherwise widen every idle one's future.
    Box::pin(close(&mut stream, why, &shared.config)).await;
    drop(open);
}

/// Closes a parked connection whose idle deadline passed, as a task's idle timeout does.
pub(crate) async fn expire<St, S>(mut stream: St, shared: Arc<Shared<S, St>>, open: OpenGuard)
where
    St: AsyncRead + AsyncWrite + Unpin,
{
    Session::new(&shared.config, &shared.stats, Instant::now()).closed(Close::IdleTimeout);
    close(&mut stream, Close::IdleTimeout, &shared.config).await;
    drop(open);
}

async fn close<St: AsyncRead + AsyncWrite + Unpin>(mut stream: St, why: Close, config: &Config) {
    if why != Close::Io {
        let _ = timeout(config.limits.idle_timeout, stream.shutdown()).await;
    }
    // A clean close too: a draining server closes between requests, and the client may
    // already have sent part of its next one.
    if matches!(
        why,
        Close::ProtocolError | Close::Overflow | Close::Quit | Close::Clean
    ) {
        linger(&mut stream, config).await;
    }
}

/// After an error reply, a `QUIT` or a clean close, reads and discards what the peer still
/// sends until it closes (or for at most a second or the frame deadline, whichever is
/// shorter). Closing a socket with unread input makes TCP reset the connection, and a reset
/// can destroy the last replies (the error, the `+OK`, those pipelined before them) before
/// the peer reads them.
pub(crate) async fn linger<St: AsyncRead + Unpin>(stream: &mut St, config: &Config) {
    let _ = timeout(config.limits.frame_deadline.min(LINGER_TIME), async {
        let mut discarded = 0;
        while discarded < LINGER_BYTES {
            match poll_fn(|cx| poll_read_chunk(stream, READ_CHUNK, cx, |_| {})).await {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded += n,
            }
        }
    })
    .await;
}

/// Writes the batch's replies (all of them, however short the writes) and flushes once,
/// before the session's write deadline (on `timer`).
///
/// A plain poll function rather than an `async fn` with a `select!`: its state is held in
/// every connection's future, so it is kept to a few words.
fn flush<'s, 'a, St: AsyncWrite + Unpin>(
    session: &'s mut Session<'a>,
    stream: &'s mut St,
    mut timer: Pin<&'s mut Sleep>,
) -> impl Future<Output = Result<(), Close>> + use<'s, 'a, St> {
    let mut at = Position::default();
    let mut armed = false;
    poll_fn(move |cx| {
        if session.output().is_none() {
            return Poll::Ready(Ok(()));
        }
        match poll_write_out(session, stream, &mut at, cx) {
            Poll::Ready(Ok(())) => {
                session.written(Instant::now());
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Err(_)) => return Poll::Ready(Err(Close::Io)),
            Poll::Pending => {}
        }
        if !armed {
            // The socket usually takes the whole batch at once: the deadline (a clock read
            // and a timer reset) is armed only when it pushes back.
            armed = true;
            timer.as_mut().reset(session.write_deadline(Instant::now()));
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Close::WriteTimeout)),
            Poll::Pending => Poll::Pending,
        }
    })
}

/// How far writing the queued replies has got: a chunk, and a byte in it.
#[derive(Default)]
struct Position {
    chunk: usize,
    byte: usize,
}

/// Writes the session's queued replies from `at` on, then flushes the stream.
fn poll_write_out<St: AsyncWrite + Unpin>(
    session: &Session<'_>,
    stream: &mut St,
    at: &mut Position,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    if let Some(out) = session.output() {
        while at.chunk < out.chunk_count() {
            let chunk = out.chunk(at.chunk).unwrap_or_default();
            while at.byte < chunk.len() {
                let n = ready!(Pin::new(&mut *stream).poll_write(cx, &chunk[at.byte..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                at.byte += n;
            }
            at.chunk += 1;
            at.byte = 0;
        }
    }
    Pin::new(&mut *stream).poll_flush(cx)
}

/// Reads at most `room` bytes once through a stack scratch buffer and hands them to `take`;
/// `Ok(0)` is the end of the stream.
fn poll_read_chunk<R: AsyncRead + Unpin>(
    stream: &mut R,
    room: usize,
    cx: &mut Context<'_>,
    take: impl FnOnce(&[u8]),
) -> Poll<io::Result<usize>> {
    let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
    let mut rb = ReadBuf::uninit(&mut scratch[..room.min(READ_CHUNK)]);
    ready!(Pin::new(&mut *stream).poll_read(cx, &mut rb))?;
    let n = rb.filled().len();
    if n > 0 {
        take(rb.filled());
    }
    Poll::Ready(Ok(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A busy connection costs its task's future (an idle one is parked, without a task);
    /// keep it from growing unnoticed. tokio's task cell is the future plus ~104 B, rounded
    /// up to 128 B: with a `TcpStream` (24 B more than this `DuplexStream`) anything up to
    /// 432 B here fits the same 640 B cell.
    #[test]
    fn an_idle_connection_future_stays_small() {
        let stats = Stats::default();
        let shared = Arc::new(Shared {
            service: crate::Kv::new(),
            config: Config::default(),
            stats: stats.clone(),
            shutdown: Shutdown::default(),
            dock: Dock::default(),
        });
        let (a, _b) = tokio::io::duplex(64);
        let fut = run(a, shared, stats.opened(), None);
        let size = std::mem::size_of_val(&fut);
        assert!(size <= 416, "connection future grew to {size} bytes");
    }
}
