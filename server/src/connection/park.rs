//! The parking lot: idle connections held outside any task.
//!
//! A tokio task per connection costs about a kilobyte however small its future is (the
//! task cell, its scheduler bookkeeping, the allocator's rounding). An idle connection needs
//! none of that: only its stream, its idle deadline and a few words. So a connection just
//! accepted, and one that has had nothing in progress for
//! [`Config::park_after`](crate::Config::park_after), is *parked*: its stream goes to the one
//! [`Lot`] of the server, and its task (if it had one) ends.
//!
//! The lot polls a parked stream only when that stream's waker fired: each slot has its
//! own waker, which queues the slot's index in a shared ready list and wakes the lot, so a
//! wake-up costs the ready slots, never a scan of every parked connection. It reads with
//! plain `poll_read`, so it parks any stream a [`Listener`](crate::Listener) yields. When a
//! read returns bytes (or the end of the stream) the connection leaves the lot with those
//! bytes, and the accept loop gives it a task again. One timer, set to the earliest idle
//! deadline, closes the parked connections whose peer stayed silent for the idle timeout.
//!
//! The tasks of parked connections end, but glibc's allocator keeps what they freed (the
//! RSS of a burst of busy connections would stay as high after they park): a second after
//! [`TRIM_AFTER`] connections have parked, the lot hands the free pages back to the system.

use super::READ_CHUNK;
use crate::stats::OpenGuard;
use crate::Stats;
use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{sleep_until, Instant, Sleep};

/// Connections parked by their task (each freeing its task) before the lot gives free memory
/// back to the system, at most once per [`TRIM_DELAY`].
pub(crate) const TRIM_AFTER: usize = 1024;

/// How long after the [`TRIM_AFTER`]th park the memory is given back: the tasks that parked
/// in the same burst have ended by then.
pub(crate) const TRIM_DELAY: Duration = Duration::from_secs(1);

/// What a parked connection keeps.
pub(crate) struct Parked<St> {
    pub(crate) stream: St,
    /// Counts the connection as open while it is parked, and after.
    pub(crate) open: OpenGuard,
    /// When the connection is closed if its peer sends nothing.
    pub(crate) idle_deadline: Instant,
    /// Bytes read from the stream before it was parked: where stream offsets go on.
    pub(crate) read_total: u64,
}

/// Why a connection leaves the lot.
pub(crate) enum Event<St> {
    /// The peer sent `bytes` (read at `at`), or ended the stream (`bytes` is empty): serve it.
    Readable {
        parked: Parked<St>,
        bytes: Box<[u8]>,
        at: Instant,
    },
    /// Its idle deadline passed.
    Expired(Parked<St>),
    /// Reading failed (reset): nothing is left to say to the peer.
    Failed(Parked<St>),
}

/// Where connection tasks leave their streams for the [`Lot`]; cheap to clone.
pub(crate) struct Dock<St>(Arc<Mutex<Arrivals<St>>>);

struct Arrivals<St> {
    parked: Vec<Parked<St>>,
    /// Set when the lot is closed (shutdown): no connection may park any more.
    closed: bool,
    waker: Option<Waker>,
}

impl<St> Clone for Dock<St> {
    fn clone(&self) -> Self {
        Dock(self.0.clone())
    }
}

impl<St> Default for Dock<St> {
    fn default() -> Self {
        Dock(Arc::new(Mutex::new(Arrivals {
            parked: Vec::new(),
            closed: false,
            waker: None,
        })))
    }
}

impl<St> Dock<St> {
    /// Hands a connection to the lot; gives it back if the lot is closed (the server is
    /// shutting down), and the caller then closes it itself.
    pub(crate) fn park(&self, parked: Parked<St>) -> Result<(), Parked<St>> {
        let waker = {
            let mut arrivals = lock(&self.0);
            if arrivals.closed {
                return Err(parked);
            }
            arrivals.parked.push(parked);
            arrivals.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

/// Slots whose waker fired since the lot last looked, in the order they fired.
#[derive(Default)]
struct Ready(Mutex<ReadyList>);

#[derive(Default)]
struct ReadyList {
    slots: Vec<usize>,
    waker: Option<Waker>,
}

/// The waker a parked stream is polled with: queues its slot once until the lot polls it.
struct SlotWaker {
    slot: usize,
    queued: AtomicBool,
    ready: Arc<Ready>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let waker = {
            let mut ready = lock(&self.ready.0);
            ready.slots.push(self.slot);
            ready.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// One place in the lot; its waker is kept and reused by the next connection parked here.
struct Slot<St> {
    parked: Option<Parked<St>>,
    waker: Arc<SlotWaker>,
}

/// The parked connections of one server, polled by its accept loop.
pub(crate) struct Lot<St> {
    dock: Dock<St>,
    ready: Arc<Ready>,
    slots: Vec<Slot<St>>,
    /// Empty slots, reused last-freed first.
    free: Vec<usize>,
    /// Slots taken from `ready` (or just parked) and not polled yet.
    due: VecDeque<usize>,
    /// Every parked connection's idle deadline, earliest first.
    deadlines: BTreeSet<(Instant, usize)>,
    /// Set to the earliest deadline (or the trim); made when first needed.
    timer: Option<Pin<Box<Sleep>>>,
    /// Connections parked by their task since memory was last given back.
    parked_since_trim: usize,
    /// When memory is given back next.
    trim_at: Option<Instant>,
    /// Most bytes one read may take: the room an idle connection has (`max_buffered`).
    read_limit: usize,
    stats: Stats,
}

impl<St: AsyncRead + Unpin> Lot<St> {
    /// An empty lot taking connections from `dock`; a read takes at most `read_limit` bytes.
    pub(crate) fn new(dock: Dock<St>, read_limit: usize, stats: Stats) -> Self {
        Lot {
            dock,
            ready: Arc::default(),
            slots: Vec::new(),
            free: Vec::new(),
            due: VecDeque::new(),
            deadlines: BTreeSet::new(),
            timer: None,
            parked_since_trim: 0,
            trim_at: None,
            read_limit: read_limit.clamp(1, READ_CHUNK),
            stats,
        }
    }

    /// Parks a connection (polled once on the next [`Lot::poll_next`], which registers its
    /// waker).
    pub(crate) fn admit(&mut self, parked: Parked<St>) {
        let deadline = parked.idle_deadline;
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = self.slots.len();
                let waker = Arc::new(SlotWaker {
                    slot: i,
                    queued: AtomicBool::new(false),
                    ready: self.ready.clone(),
                });
                self.slots.push(Slot {
                    parked: None,
                    waker,
                });
                i
            }
        };
        let slot = &mut self.slots[i];
        slot.parked = Some(parked);
        slot.waker.queued.store(true, Ordering::Release);
        self.due.push_back(i);
        self.deadlines.insert((deadline, i));
        self.stats.parked(1);
    }

    fn remove(&mut self, i: usize) -> Option<Parked<St>> {
        let parked = self.slots[i].parked.take()?;
        self.deadlines.remove(&(parked.idle_deadline, i));
        self.free.push(i);
        self.stats.unparked(1);
        Some(parked)
    }

    /// The next connection to leave the lot. Cancel-safe: a connection is taken out of the
    /// lot only in the call that returns it.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Event<St>> {
        let arrived = std::mem::take(&mut lock(&self.dock.0).parked);
        self.parked_since_trim += arrived.len();
        if self.parked_since_trim >= TRIM_AFTER && self.trim_at.is_none() {
            self.trim_at = Some(Instant::now() + TRIM_DELAY);
        }
        for parked in arrived {
            self.admit(parked);
        }
        if self.due.is_empty() {
            self.due.extend(lock(&self.ready.0).slots.drain(..));
        }
        while let Some(i) = self.due.pop_front() {
            if let Some(event) = self.poll_slot(i) {
                return Poll::Ready(event);
            }
        }
        loop {
            let first = self.deadlines.first().copied();
            let Some(wake) = first
                .map(|(at, _)| at)
                .into_iter()
                .chain(self.trim_at)
                .min()
            else {
                break;
            };
            let timer = self
                .timer
                .get_or_insert_with(|| Box::pin(sleep_until(wake)));
            if timer.deadline() != wake {
                timer.as_mut().reset(wake);
            }
            if wake > Instant::now() && timer.as_mut().poll(cx).is_pending() {
                break;
            }
            if self.trim_at == Some(wake) {
                self.trim_at = None;
                self.parked_since_trim = 0;
                give_back_free_memory();
                continue;
            }
            if let Some((_, i)) = first {
                let parked = self.remove(i).expect("a deadline's slot is taken");
                return Poll::Ready(Event::Expired(parked));
            }
        }
        // Wait for a waker to fire or a connection to arrive; if one did since the lists
        // were read, yield and look again rather than miss it.
        let mut again = false;
        {
            let mut arrivals = lock(&self.dock.0);
            again |= !arrivals.parked.is_empty();
            arrivals.waker = Some(cx.waker().clone());
        }
        {
            let mut ready = lock(&self.ready.0);
            again |= !ready.slots.is_empty();
            ready.waker = Some(cx.waker().clone());
        }
        if again {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Reads from slot `i` if it holds a connection; `Some` when the connection leaves.
    fn poll_slot(&mut self, i: usize) -> Option<Event<St>> {
        let slot = &mut self.slots[i];
        // Cleared before the poll: a wake during or after it queues the slot again.
        slot.waker.queued.store(false, Ordering::Release);
        let parked = slot.parked.as_mut()?;
        let waker = Waker::from(slot.waker.clone());
        let mut cx = Context::from_waker(&waker);
        let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buf = ReadBuf::uninit(&mut scratch[..self.read_limit]);
        match Pin::new(&mut parked.stream).poll_read(&mut cx, &mut buf) {
            Poll::Pending => None,
            Poll::Ready(Ok(())) => {
                let bytes = Box::from(buf.filled());
                let parked = self.remove(i)?;
                Some(Event::Readable {
                    parked,
                    bytes,
                    at: Instant::now(),
                })
            }
            Poll::Ready(Err(_)) => self.remove(i).map(Event::Failed),
        }
    }

    /// Closes the lot for good (later [`Dock::park`] calls give their connection back) and
    /// returns every connection in it, in slot order, then those not admitted yet.
    pub(crate) fn close(&mut self) -> Vec<Parked<St>> {
        let arrived = {
            let mut arrivals = lock(&self.dock.0);
            arrivals.closed = true;
            arrivals.waker = None;
            std::mem::take(&mut arrivals.parked)
        };
        let mut all: Vec<_> = self
            .slots
            .iter_mut()
            .filter_map(|s| s.parked.take())
            .collect();
        self.stats.unparked(all.len());
        self.deadlines.clear();
        self.due.clear();
        all.extend(arrived);
        all
    }
}

/// Returns the allocator's free pages to the system (glibc keeps them otherwise).
fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists, under its locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
