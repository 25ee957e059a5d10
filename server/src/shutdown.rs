//! The accept loop's "we are shutting down" signal to every connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// Tells every connection, now and later, that the server is shutting down.
///
/// Not `tokio::sync::watch`: its waiters sit in shards picked by tokio's unseeded thread RNG,
/// so the order connections wake (and close) would differ from run to run and break the
/// simulation's same-seed-same-transcript promise. `Notify` wakes waiters in list order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shutdown(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    started: AtomicBool,
    notify: Notify,
}

impl Shutdown {
    /// Starts the shutdown: wakes every waiting connection, now and later.
    pub(crate) fn start(&self) {
        self.0.started.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// True once [`Shutdown::start`] was called.
    pub(crate) fn is_started(&self) -> bool {
        self.0.started.load(Ordering::SeqCst)
    }

    /// Completes once [`Shutdown::start`] is called after it was enabled: enable it, then
    /// check [`Shutdown::is_started`] (a start in between is caught by one or the other).
    /// Smaller than an `async fn` looping around it, for every connection holds one.
    pub(crate) fn notified(&self) -> Notified<'_> {
        self.0.notify.notified()
    }
}
