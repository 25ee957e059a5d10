//! Thread-per-connection serving: one OS thread and blocking socket calls per client.
//!
//! This is the design the seed article sets against event-driven servers (Apache's worker
//! model against Nginx). It is here to be measured against [`serve`](crate::serve) with
//! everything else equal: the same [`Session`] (decoding, replies, limits and deadlines),
//! only the concurrency model differs. Each connection costs a thread (a stack, kernel
//! scheduling state) for as long as it is open, even while it sits idle.
//!
//! There is no graceful shutdown: the binary in this mode stops when the process does.

use super::session::Session;
use super::Close;
use crate::protocol::ReplyEncoder;
use crate::stats::Event;
use crate::{Config, Reply, Service, Stats};
use bytes::BytesMut;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Stack of each connection thread. The loop needs little (a read chunk and a few frames);
/// only the pages touched count in RSS, so this bounds address space, not memory.
const STACK_SIZE: usize = 256 * 1024;

/// Bytes taken per read, into a buffer on the connection thread's stack.
const READ_CHUNK: usize = 4096;

/// Serves every connection accepted from `listener` on a thread of its own, forever,
/// counting into `stats`.
///
/// Returns an error only for an invalid `config`. A connection beyond
/// `config.max_connections`, or one no thread can be started for, gets an error reply and
/// is closed; accept errors are retried after `config.accept_backoff`.
///
/// ```no_run
/// use std::sync::Arc;
/// let listener = std::net::TcpListener::bind("127.0.0.1:6380")?;
/// let config = framesim_server::Config::default();
/// let stats = framesim_server::Stats::default();
/// framesim_server::serve_threaded(listener, Arc::new(framesim_server::Kv::new()), &config, stats)
/// # ; Ok::<(), std::io::Error>(())
/// ```
pub fn serve_threaded<S>(
    listener: TcpListener,
    service: Arc<S>,
    config: &Config,
    stats: Stats,
) -> io::Result<()>
where
    S: Service + ?Sized,
{
    config
        .validate()
        .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
    let config = Arc::new(config.clone());
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                stats.count(Event::AcceptError);
                tracing::warn!("accept failed: {e}; retrying");
                std::thread::sleep(config.accept_backoff);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        if stats.open() >= config.max_connections {
            stats.count(Event::Refused);
            tracing::debug!(%peer, "refused: max connections reached");
            refuse(stream, &config, "ERR max number of clients reached");
            continue;
        }
        let guard = stats.opened();
        let (service, conn_config, conn_stats) = (service.clone(), config.clone(), stats.clone());
        // The stream moves into the thread; keep a handle to answer if the spawn fails.
        let spare = stream.try_clone();
        let spawned = std::thread::Builder::new()
            .name("conn".into())
            .stack_size(STACK_SIZE)
            .spawn(move || {
                let _guard = guard;
                serve_one(&conn_config, &conn_stats, stream, &*service);
            });
        if let Err(e) = spawned {
            stats.count(Event::AcceptError);
            tracing::warn!(%peer, "cannot start a connection thread: {e}");
            if let Ok(stream) = spare {
                refuse(stream, &config, "ERR cannot start a connection thread");
            }
        }
    }
}

/// Tells a connection that cannot be served why, without ever blocking the accept loop.
fn refuse(mut stream: TcpStream, config: &Config, msg: &str) {
    let mut out = BytesMut::new();
    ReplyEncoder::new(&config.framing).encode(&Reply::error(msg), &mut out);
    let _ = stream.set_nonblocking(true);
    let _ = stream.write(&out);
}

/// Serves one connection on this thread until it closes.
fn serve_one<S: Service + ?Sized>(
    config: &Config,
    stats: &Stats,
    mut stream: TcpStream,
    service: &S,
) -> Close {
    let mut session = Session::new(config, stats, Instant::now());
    let why = run(&mut session, &mut stream, service);
    session.closed(why);
    if why != Close::Io {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    why
}

fn run<S: Service + ?Sized>(
    session: &mut Session<'_>,
    stream: &mut TcpStream,
    service: &S,
) -> Close {
    let mut scratch = [0u8; READ_CHUNK];
    loop {
        if session.backlogged() {
            // Replies filled `max_output`; they are written: answer what waits, unread.
            let close = session.answer_batch(service, false);
            if let Err(why) = flush(session, stream) {
                return why;
            }
            if let Some(why) = close {
                return why;
            }
            continue;
        }
        let Some(room) = session.room() else {
            let _ = flush(session, stream);
            return Close::Overflow;
        };
        // A blocking read waits for a time, not until a deadline: give it what is left.
        let (deadline, expired) = session.read_deadline();
        let Some(wait) = left(deadline) else {
            return expired;
        };
        if stream.set_read_timeout(Some(wait)).is_err() {
            return Close::Io;
        }
        let n = match stream.read(&mut scratch[..room.min(READ_CHUNK)]) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                continue;
            }
            Err(_) => return Close::Io,
        };
        if n == 0 {
            loop {
                let close = session.answer_batch(service, true);
                if let Err(why) = flush(session, stream) {
                    return why;
                }
                if close.is_some() || !session.backlogged() {
                    return close.unwrap_or(Close::Clean);
                }
            }
        }
        session.received(&scratch[..n], Instant::now());
        let close = session.answer_batch(service, false);
        if let Err(why) = flush(session, stream) {
            return why;
        }
        if let Some(why) = close {
            return why;
        }
        session.settle();
    }
}

/// Time left until `deadline`, at least a millisecond (a zero timeout means "none" to the
/// socket); `None` once it has passed.
fn left(deadline: Instant) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then(|| left.max(Duration::from_millis(1)))
}

/// Writes the batch's replies before the session's write deadline: each blocking write
/// gets only the time left, so a peer taking a byte at a time cannot stretch it.
fn flush(session: &mut Session<'_>, stream: &mut TcpStream) -> Result<(), Close> {
    if session.output().is_none() {
        return Ok(());
    }
    let deadline = session.write_deadline(Instant::now());
    let out = session.output().into_iter().flat_map(|out| out.chunks());
    for chunk in out {
        let mut written = 0;
        while written < chunk.len() {
            let wait = left(deadline).ok_or(Close::WriteTimeout)?;
            stream
                .set_write_timeout(Some(wait))
                .map_err(|_| Close::Io)?;
            match stream.write(&chunk[written..]) {
                Ok(0) => return Err(Close::Io),
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return Err(Close::Io),
            }
        }
    }
    session.written(Instant::now());
    Ok(())
}
