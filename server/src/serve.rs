//! The accept loop: one task per busy connection, a parking lot for idle ones, refusals past
//! `max_connections`, graceful shutdown.

use crate::connection::park::{self, Detacher, Dock, Lot, Parked};
use crate::connection::task;
use crate::fd_budget;
use crate::protocol::ReplyEncoder;
use crate::shutdown::Shutdown;
use crate::stats::Event;
use crate::{Config, Listener, Reply, Service, Stats};
use bytes::{Bytes, BytesMut};
use std::future::{poll_fn, Future};
use std::io;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout, Duration, Instant};

/// What Redis tells a client it cannot serve.
const MAX_CLIENTS: &str = "ERR max number of clients reached";

/// Logs a repeating condition at most once a second, with how often it happened.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    count: u64,
}

impl Throttle {
    fn note(&mut self, log: impl FnOnce(u64)) {
        self.count += 1;
        let now = Instant::now();
        if self.last.is_none_or(|t| now >= t + Duration::from_secs(1)) {
            log(self.count);
            self.last = Some(now);
            self.count = 0;
        }
    }
}

/// Accepts connections from `listener` and serves each on its own task until `shutdown`
/// completes, counting into `stats`; then stops accepting, gives in-flight requests `config.grace` to finish, cuts
/// the rest, and returns once every connection task has ended.
///
/// Idle connections are parked (see [`Config::park_after`]): held without a task by a
/// parking lot that this loop polls, and given a task again when their peer sends.
///
/// The one accept loop: the binary calls it with a [`tokio::net::TcpListener`], the
/// simulation with turmoil's. Accept errors never end it (it backs off and goes on); it
/// returns an error only for an invalid `config`.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:6380").await?;
/// let config = framesim_server::Config::default();
/// let stats = framesim_server::Stats::default();
/// framesim_server::serve(listener, framesim_server::Kv::new(), config, stats, async {
///     let _ = tokio::signal::ctrl_c().await;
/// })
/// .await
/// # }
/// ```
pub async fn serve<L, S>(
    mut listener: L,
    service: S,
    config: Config,
    stats: Stats,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    L: Listener,
    S: Service,
{
    config
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let signal = Shutdown::default();
    let dock = Dock::default();
    let shared = Arc::new(task::Shared {
        service,
        config,
        stats: stats.clone(),
        shutdown: signal.clone(),
        dock: dock.clone(),
    });
    let config = &shared.config;
    // Real TCP: parked connections leave the runtime (see `connection::park`).
    let detacher = L::DETACHES.then_some(Detacher {
        detach: L::detach,
        attach: L::attach,
    });
    let mut lot = Lot::new(dock, config.limits.max_buffered, stats.clone(), detacher);
    let mut refusal = BytesMut::new();
    ReplyEncoder::new(&config.framing).encode(&Reply::error(MAX_CLIENTS), &mut refusal);
    let refusal = refusal.freeze();
    let (mut shedding, mut failing) = (Throttle::default(), Throttle::default());
    let lingering = Arc::new(Semaphore::new(MAX_LINGERING));
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    // After a failed accept: accepting waits until then, while the loop goes on serving
    // the shutdown, finished tasks and the parking lot (a sleep in the loop would hold up
    // every parked connection's next request and the shutdown for the whole back-off).
    let backoff = sleep(Duration::ZERO);
    tokio::pin!(backoff);
    let mut backing_off = false;

    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        stats.count(Event::Panic);
                    }
                    tracing::error!("connection task failed: {e}");
                }
            }
            left = poll_fn(|cx| lot.poll_next(cx)) => match left {
                park::Event::Readable { parked, bytes, at } => {
                    let resumed = task::Resumed { bytes, at, read_total: parked.read_total };
                    let run = task::run(parked.stream, shared.clone(), parked.open, Some(Box::new(resumed)));
                    tasks.spawn(run);
                }
                park::Event::Expired(parked) => {
                    tasks.spawn(task::expire(parked.stream, shared.clone(), parked.open));
                }
                park::Event::Failed(parked) => drop(parked),
            },
            () = &mut backoff, if backing_off => backing_off = false,
            accepted = async {
                listener.keep_reserve();
                listener.accept().await
            }, if !backing_off => match accepted {
                Ok((mut stream, peer)) if stats.open() >= config.max_connections => {
                    stats.count(Event::Refused);
                    tracing::debug!(%peer, "refused: max connections reached");
                    // Written at once when the socket takes it (the usual case), then the
                    // client's bytes are read and thrown away for a while before the close:
                    // closing on bytes unread resets the connection, and the reset can
                    // overtake the refusal. Past `MAX_LINGERING` such refusals at once, a
                    // refusal closes at once: it must not hold descriptors while thousands
                    // more arrive.
                    let written = refuse_now(&mut stream, &refusal);
                    let linger = lingering.clone().try_acquire_owned().ok();
                    if written < refusal.len() || linger.is_some() {
                        let rest = refusal.slice(written..);
                        tasks.spawn(refuse(stream, rest, shared.clone(), linger));
                    }
                }
                Ok((stream, peer)) => {
                    tracing::trace!(%peer, "accepted");
                    if config.park_after.is_some() {
                        // No task until the first bytes: a connection that never speaks
                        // costs the lot's few words.
                        lot.admit(Parked {
                            stream,
                            open: stats.opened(),
                            idle_deadline: Instant::now() + config.limits.idle_timeout,
                            read_total: 0,
                        });
                    } else {
                        tasks.spawn(task::run(stream, shared.clone(), stats.opened(), None));
                    }
                }
                Err(e) => {
                    stats.count(Event::AcceptError);
                    if fd_budget::is_exhaustion(&e) && listener.shed(&refusal).await {
                        stats.count(Event::Refused);
                        shedding.note(|n| tracing::warn!("out of file descriptors ({e}): refused {n} connections"));
                        continue;
                    }
                    failing.note(|n| tracing::warn!("accept failed {n} times: {e}; retrying"));
                    backoff.as_mut().reset(Instant::now() + config.accept_backoff);
                    backing_off = true;
                }
            },
        }
    }

    drop(listener);
    signal.start();
    // Parked connections close as idle ones do at shutdown: each on a task that sees the
    // shutdown started, shuts its stream down and ends.
    for parked in lot.close() {
        tasks.spawn(task::run(parked.stream, shared.clone(), parked.open, None));
    }
    let drained = timeout(config.grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(left = tasks.len(), "grace period over; closing connections");
        tasks.shutdown().await;
    }
    Ok(())
}

/// Writes what of `refusal` the stream takes without waiting, and shuts the stream down if
/// that was all of it; how many bytes it took (the rest is [`refuse`]'s, on a task).
fn refuse_now<St: tokio::io::AsyncWrite + Unpin>(stream: &mut St, refusal: &[u8]) -> usize {
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    let mut stream = std::pin::Pin::new(stream);
    match stream.as_mut().poll_write(&mut cx, refusal) {
        Poll::Ready(Ok(n)) => {
            if n == refusal.len() {
                let _ = stream.poll_shutdown(&mut cx);
            }
            n
        }
        _ => 0,
    }
}

/// Tells a connection beyond `max_connections` why it is closed, as Redis does (what of
/// `refusal` `refuse_now` could not write), shuts it, and, holding one of the `MAX_LINGERING`
/// permits, lingers as a protocol error does: bytes the client sent, read and thrown away
/// until it closes or the linger ends.
async fn refuse<St, S>(
    mut stream: St,
    refusal: Bytes,
    shared: Arc<task::Shared<S, St>>,
    linger: Option<OwnedSemaphorePermit>,
) where
    St: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let config = &shared.config;
    // Empty: `refuse_now` wrote it all and shut the stream.
    let refused = refusal.is_empty()
        || finish_refusal(&mut stream, &refusal, config.limits.idle_timeout).await;
    if refused && linger.is_some() {
        task::linger(&mut stream, config).await;
    }
}

/// Writes the rest of a refusal and shuts the stream, within `idle`; whether it did.
async fn finish_refusal<St: tokio::io::AsyncWrite + Unpin>(
    stream: &mut St,
    refusal: &[u8],
    idle: Duration,
) -> bool {
    let done = timeout(idle, async {
        stream.write_all(refusal).await?;
        stream.shutdown().await
    })
    .await;
    matches!(done, Ok(Ok(())))
}

/// Refusals lingering at once, past which a refusal closes at once.
const MAX_LINGERING: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Takes at most 4 bytes per write.
    #[derive(Default)]
    struct Trickle(Vec<u8>);

    impl tokio::io::AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = data.len().min(4);
            self.0.extend_from_slice(&data[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_refusal_cut_short_is_finished_not_repeated() {
        let refusal = Bytes::from_static(b"-ERR max number of clients reached\r\n");
        let mut stream = Trickle::default();
        let written = refuse_now(&mut stream, &refusal);
        assert_eq!(written, 4);
        let mut rest = Trickle(std::mem::take(&mut stream.0));
        assert!(finish_refusal(&mut rest, &refusal[written..], Duration::from_secs(1)).await);
        assert_eq!(rest.0, refusal);
    }
}
