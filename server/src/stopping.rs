use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// The accept loop's "we are shutting down" signal to every connection.
///
/// Not `tokio::sync::watch`: its waiters sit in shards picked by tokio's unseeded thread RNG,
/// so the order connections wake (and close) would differ from run to run and break the
/// simulation's same-seed-same-transcript promise. `Notify` wakes waiters in list order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stopping(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    stopped: AtomicBool,
    notify: Notify,
}

impl Stopping {
    /// Signals every waiting connection, now and later.
    pub(crate) fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// True once [`Stopping::stop`] was called.
    pub(crate) fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Completes once [`Stopping::stop`] has been called (at once if it already was).
    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}
