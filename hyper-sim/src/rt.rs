//! hyper's runtime traits over tokio, so that hyper serves turmoil's streams and keeps its
//! time on turmoil's virtual clock.
//!
//! hyper-util has both, but the project keeps its dependencies few: this is all of it that
//! the simulation needs.

use hyper::rt::{Read, ReadBufCursor, Sleep, Timer, Write};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest read through [`Io`]: what a coalescing read of `FaultyStream` returns at most.
const SCRATCH: usize = 16 * 1024;

/// A tokio stream as hyper's [`Read`] + [`Write`].
#[derive(Debug)]
pub struct Io<T>(pub T);

impl<T: AsyncRead + Unpin> Read for Io<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // hyper lends uninitialised memory; reading through a buffer of our own costs a copy
        // and needs no `unsafe`.
        let mut scratch = [0u8; SCRATCH];
        let room = buf.remaining().min(SCRATCH);
        let mut read = ReadBuf::new(&mut scratch[..room]);
        ready!(Pin::new(&mut self.0).poll_read(cx, &mut read))?;
        buf.put_slice(read.filled());
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> Write for Io<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// hyper's [`Timer`] on `tokio::time`: under turmoil, the host's virtual clock.
///
/// `now` matters as much as `sleep`: hyper computes its header-read deadline from
/// `Timer::now`, and the default (`Instant::now`) would mix wall-clock time into a
/// simulated deadline.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimTimer;

struct SimSleep(Pin<Box<tokio::time::Sleep>>);

impl Future for SimSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl Sleep for SimSleep {}

impl Timer for SimTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(SimSleep(Box::pin(tokio::time::sleep(duration))))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(SimSleep(Box::pin(tokio::time::sleep_until(
            deadline.into(),
        ))))
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<SimSleep>() {
            Some(ours) => ours.get_mut().0.as_mut().reset(new_deadline.into()),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
