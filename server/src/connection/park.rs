//! The parking lot: idle connections held outside any task.
//!
//! A tokio task per connection costs about a kilobyte however small its future is (the
//! task cell, its scheduler bookkeeping, the allocator's rounding). An idle connection needs
//! none of that: only its stream, its idle deadline and a few words. So a connection just
//! accepted, and one that has had nothing in progress for
//! [`Config::park_after`](crate::Config::park_after), is *parked*: its stream goes to the one
//! [`Lot`] of the server, and its task (if it had one) ends.
//!
//! A stream the [`Listener`](crate::Listener) can [detach](crate::Listener::detach) (real
//! TCP on Linux) leaves the runtime while it is parked: the lot keeps the bare socket and
//! watches it with an epoll instance of its own, so a parked connection holds no
//! registration with the runtime's I/O driver (a `ScheduledIo` of 256 bytes, allocated
//! between the tasks of a burst) and costs only its slot here. Any other stream stays as it
//! is: each such slot has its own waker, which queues the slot's index in a shared ready
//! list and wakes the lot, and the lot reads with plain `poll_read`. Either way the lot
//! reads a parked connection only when it is ready, never a scan of every parked
//! connection. When a read returns bytes (or the end of the stream) the connection leaves
//! the lot with those bytes, and the accept loop gives it a task again. One timer, set to
//! the earliest idle deadline, closes the parked connections whose peer stayed silent for
//! the idle timeout.
//!
//! What a parked connection keeps lives in a few contiguous arrays (the slots, the
//! deadlines' heap), not in small blocks allocated one by one when it parks: those would
//! land in the holes the ending tasks leave and keep their pages from going back to the
//! system. The tasks of parked connections end, but glibc's allocator keeps what they freed
//! (the RSS of a burst of busy connections would stay as high after they park): a second
//! after [`TRIM_AFTER`] connections have parked, the lot hands the free pages back to the
//! system.

use super::READ_CHUNK;
use crate::stats::OpenGuard;
use crate::Stats;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::io::{self, Read};
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

/// How the lot holds a parked connection's stream.
enum Held<St> {
    /// As the listener made it, polled with the slot's waker.
    Stream(St),
    /// Detached from the runtime, watched by the lot's epoll instance.
    Socket(std::net::TcpStream),
}

/// A parked connection as its slot holds it.
struct Stay<St> {
    held: Held<St>,
    open: OpenGuard,
    idle_deadline: Instant,
    read_total: u64,
}

/// One place in the lot. Its waker (made for the first stream held here that is not
/// detached) is kept and reused by the next connection parked here.
struct Slot<St> {
    stay: Option<Stay<St>>,
    waker: Option<Arc<SlotWaker>>,
}

/// Turning a stream into a bare socket and back: the listener's
/// [`detach`](crate::Listener::detach) and [`attach`](crate::Listener::attach).
pub(crate) struct Detacher<St> {
    pub(crate) detach: fn(St) -> io::Result<std::net::TcpStream>,
    pub(crate) attach: fn(std::net::TcpStream) -> io::Result<St>,
}

/// The detacher and the epoll instance watching the detached sockets (made when the first
/// socket is parked).
struct Sockets<St> {
    detacher: Detacher<St>,
    epoll: Option<epoll::Epoll>,
}

/// The parked connections of one server, polled by its accept loop.
pub(crate) struct Lot<St> {
    dock: Dock<St>,
    ready: Arc<Ready>,
    slots: Vec<Slot<St>>,
    /// Empty slots, reused last-freed first.
    free: Vec<usize>,
    /// Slots taken from `ready` or from the epoll instance (or just parked) and not polled
    /// yet.
    due: VecDeque<usize>,
    /// Every parked connection's idle deadline, earliest first, and entries left by
    /// connections that have left since (skipped when met, dropped when they outnumber
    /// the others).
    deadlines: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Detached sockets, when the listener's streams detach.
    sockets: Option<Sockets<St>>,
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
    /// With a `detacher`, parked streams are held as bare sockets.
    pub(crate) fn new(
        dock: Dock<St>,
        read_limit: usize,
        stats: Stats,
        detacher: Option<Detacher<St>>,
    ) -> Self {
        Lot {
            dock,
            ready: Arc::default(),
            slots: Vec::new(),
            free: Vec::new(),
            due: VecDeque::new(),
            deadlines: BinaryHeap::new(),
            sockets: detacher.map(|detacher| Sockets {
                detacher,
                epoll: None,
            }),
            timer: None,
            parked_since_trim: 0,
            trim_at: None,
            read_limit: read_limit.clamp(1, READ_CHUNK),
            stats,
        }
    }

    /// Parks a connection (polled once on the next [`Lot::poll_next`], which registers its
    /// waker or reads its socket). A stream that fails to detach is closed.
    pub(crate) fn admit(&mut self, parked: Parked<St>) {
        let Parked {
            stream,
            open,
            idle_deadline,
            read_total,
        } = parked;
        let Some(held) = self.hold(stream) else {
            return;
        };
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    stay: None,
                    waker: None,
                });
                self.slots.len() - 1
            }
        };
        let held = match held {
            Held::Socket(socket) => match self.watch(&socket, i) {
                Ok(()) => Held::Socket(socket),
                // Not watched: held as a stream again, or closed if that fails too.
                Err(_) => match self.sockets.as_ref().map(|s| (s.detacher.attach)(socket)) {
                    Some(Ok(stream)) => Held::Stream(stream),
                    _ => {
                        self.free.push(i);
                        return;
                    }
                },
            },
            held => held,
        };
        let slot = &mut self.slots[i];
        if let Held::Stream(_) = held {
            let ready = &self.ready;
            let waker = slot.waker.get_or_insert_with(|| {
                Arc::new(SlotWaker {
                    slot: i,
                    queued: AtomicBool::new(false),
                    ready: ready.clone(),
                })
            });
            waker.queued.store(true, Ordering::Release);
        }
        slot.stay = Some(Stay {
            held,
            open,
            idle_deadline,
            read_total,
        });
        self.due.push_back(i);
        self.deadlines.push(Reverse((idle_deadline, i)));
        self.stats.parked(1);
    }

    /// How the lot holds `stream`: detached when it can be (made the epoll instance first);
    /// `None` if detaching failed and the stream is lost.
    fn hold(&mut self, stream: St) -> Option<Held<St>> {
        let Some(sockets) = self.sockets.as_mut() else {
            return Some(Held::Stream(stream));
        };
        if sockets.epoll.is_none() {
            match epoll::Epoll::new() {
                Ok(epoll) => sockets.epoll = Some(epoll),
                Err(e) => {
                    tracing::warn!("parked connections stay registered: no epoll ({e})");
                    self.sockets = None;
                    return Some(Held::Stream(stream));
                }
            }
        }
        match (sockets.detacher.detach)(stream) {
            Ok(socket) => Some(Held::Socket(socket)),
            Err(e) => {
                tracing::debug!("closed: cannot park the connection ({e})");
                None
            }
        }
    }

    /// Watches a detached socket for slot `i`.
    fn watch(&self, socket: &std::net::TcpStream, i: usize) -> io::Result<()> {
        match self.sockets.as_ref().and_then(|s| s.epoll.as_ref()) {
            Some(epoll) => epoll.add(socket, i),
            None => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// Takes slot `i`'s connection out of the lot.
    fn remove(&mut self, i: usize) -> Option<Stay<St>> {
        let stay = self.slots[i].stay.take()?;
        if let (Held::Socket(socket), Some(epoll)) = (
            &stay.held,
            self.sockets.as_ref().and_then(|s| s.epoll.as_ref()),
        ) {
            epoll.delete(socket);
        }
        self.free.push(i);
        self.stats.unparked(1);
        // Entries of connections that left are skipped when met; past twice as many as the
        // connections parked, they go.
        let parked = self.slots.len() - self.free.len();
        if self.deadlines.len() > 2 * parked + 1024 {
            let slots = &self.slots;
            self.deadlines
                .retain(|Reverse((at, i))| Self::holds(slots, *i, *at));
        }
        Some(stay)
    }

    /// Whether slot `i` holds a connection whose idle deadline is `at`.
    fn holds(slots: &[Slot<St>], i: usize, at: Instant) -> bool {
        slots[i]
            .stay
            .as_ref()
            .is_some_and(|stay| stay.idle_deadline == at)
    }

    /// The earliest idle deadline of a parked connection, and its slot (entries of
    /// connections that left are dropped on the way).
    fn first_deadline(&mut self) -> Option<(Instant, usize)> {
        while let Some(&Reverse((at, i))) = self.deadlines.peek() {
            if Self::holds(&self.slots, i, at) {
                return Some((at, i));
            }
            self.deadlines.pop();
        }
        None
    }

    /// A connection leaving the lot, its stream given back to the runtime; `None` if that
    /// failed (the connection is closed).
    fn release(&self, stay: Stay<St>) -> Option<Parked<St>> {
        let stream = match stay.held {
            Held::Stream(stream) => stream,
            Held::Socket(socket) => {
                let sockets = self.sockets.as_ref()?;
                match (sockets.detacher.attach)(socket) {
                    Ok(stream) => stream,
                    Err(e) => {
                        tracing::debug!("closed: cannot resume a parked connection ({e})");
                        return None;
                    }
                }
            }
        };
        Some(Parked {
            stream,
            open: stay.open,
            idle_deadline: stay.idle_deadline,
            read_total: stay.read_total,
        })
    }

    /// Queues the slots whose sockets the epoll instance reports ready (and registers the
    /// lot's waker for more); whether it queued any.
    fn poll_sockets(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(epoll) = self.sockets.as_ref().and_then(|s| s.epoll.as_ref()) else {
            return false;
        };
        let before = self.due.len();
        epoll.poll_ready(cx, &mut self.due);
        self.due.len() > before
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
            self.poll_sockets(cx);
        }
        while let Some(i) = self.due.pop_front() {
            if let Some(event) = self.poll_slot(i) {
                return Poll::Ready(event);
            }
        }
        loop {
            let first = self.first_deadline();
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
                let stay = self.remove(i).expect("a deadline's slot is taken");
                if let Some(parked) = self.release(stay) {
                    return Poll::Ready(Event::Expired(parked));
                }
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
        again |= self.poll_sockets(cx);
        if again {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Reads from slot `i` if it holds a connection; `Some` when the connection leaves.
    fn poll_slot(&mut self, i: usize) -> Option<Event<St>> {
        let read_limit = self.read_limit;
        let slot = &mut self.slots[i];
        let stay = slot.stay.as_mut()?;
        let read = match &mut stay.held {
            Held::Stream(stream) => {
                let waker = slot.waker.as_ref()?;
                // Cleared before the poll: a wake during or after it queues the slot again.
                waker.queued.store(false, Ordering::Release);
                let waker = Waker::from(waker.clone());
                let mut cx = Context::from_waker(&waker);
                let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
                let mut buf = ReadBuf::uninit(&mut scratch[..read_limit]);
                match Pin::new(stream).poll_read(&mut cx, &mut buf) {
                    Poll::Pending => return None,
                    Poll::Ready(read) => read.map(|()| Box::from(buf.filled())),
                }
            }
            Held::Socket(socket) => {
                let mut scratch = [0; READ_CHUNK];
                match socket.read(&mut scratch[..read_limit]) {
                    Ok(n) => Ok(Box::from(&scratch[..n])),
                    // Level-triggered: the epoll instance reports it again while it is ready.
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) =>
                    {
                        return None
                    }
                    Err(e) => Err(e),
                }
            }
        };
        let stay = self.remove(i)?;
        match read {
            Ok(bytes) => {
                let parked = self.release(stay)?;
                Some(Event::Readable {
                    parked,
                    bytes,
                    at: Instant::now(),
                })
            }
            Err(_) => match stay.held {
                Held::Stream(stream) => Some(Event::Failed(Parked {
                    stream,
                    open: stay.open,
                    idle_deadline: stay.idle_deadline,
                    read_total: stay.read_total,
                })),
                // Nothing is left to say to the peer: closed here.
                Held::Socket(_) => None,
            },
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
        let mut all = Vec::new();
        for i in 0..self.slots.len() {
            if let Some(parked) = self.remove(i).and_then(|stay| self.release(stay)) {
                all.push(parked);
            }
        }
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

/// The epoll instance that watches detached sockets, itself watched by the runtime.
#[cfg(target_os = "linux")]
mod epoll {
    use std::collections::VecDeque;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::task::{Context, Poll};
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    /// Events taken per `epoll_wait`.
    const BATCH: usize = 256;

    pub(super) struct Epoll(AsyncFd<OwnedFd>);

    impl Epoll {
        pub(super) fn new() -> io::Result<Epoll> {
            // SAFETY: epoll_create1 takes no pointers; the descriptor it returns is owned here.
            let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` was just opened and nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // Deprecated in tokio 1.53 for types that do not own their descriptor (its
            // replacement, `register_with_interest`, is newer than the tokio this workspace
            // asks for); an `OwnedFd` does.
            #[allow(deprecated)]
            let fd = AsyncFd::with_interest(fd, Interest::READABLE)?;
            Ok(Epoll(fd))
        }

        /// Watches `socket` (level-triggered) for input or its end, reported as `slot`.
        pub(super) fn add(&self, socket: &impl AsRawFd, slot: usize) -> io::Result<()> {
            let mut event = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLRDHUP) as u32,
                u64: slot as u64,
            };
            let fd = socket.as_raw_fd();
            // SAFETY: both descriptors are open; `event` outlives the call.
            let r =
                unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        /// Stops watching `socket`.
        pub(super) fn delete(&self, socket: &impl AsRawFd) {
            let fd = socket.as_raw_fd();
            // SAFETY: both descriptors are open; DEL ignores the event pointer.
            unsafe {
                libc::epoll_ctl(
                    self.0.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    fd,
                    std::ptr::null_mut(),
                );
            }
        }

        /// Appends the slots of ready sockets to `due`, until none is left or the runtime
        /// says the instance is not ready (then `cx` is woken when it is).
        pub(super) fn poll_ready(&self, cx: &mut Context<'_>, due: &mut VecDeque<usize>) {
            loop {
                let mut guard = match self.0.poll_read_ready(cx) {
                    Poll::Ready(Ok(guard)) => guard,
                    Poll::Ready(Err(e)) => {
                        tracing::warn!("parking lot: epoll readiness failed: {e}");
                        return;
                    }
                    Poll::Pending => return,
                };
                let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
                // SAFETY: `events` holds BATCH entries; a zero timeout never blocks.
                let n = unsafe {
                    libc::epoll_wait(
                        self.0.as_raw_fd(),
                        events.as_mut_ptr(),
                        BATCH as libc::c_int,
                        0,
                    )
                };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        tracing::warn!("parking lot: epoll_wait failed: {e}");
                        guard.clear_ready();
                    }
                    continue;
                }
                let n = n as usize;
                due.extend(events[..n].iter().map(|e| e.u64 as usize));
                if n < BATCH {
                    // Drained: wait for the runtime to report the instance ready again.
                    guard.clear_ready();
                    continue;
                }
                // Possibly more: looked at again once `due` is served.
                return;
            }
        }
    }
}

/// Without epoll no socket is detached: [`Epoll::new`](epoll::Epoll::new) fails and the lot
/// holds every stream as it is.
#[cfg(not(target_os = "linux"))]
mod epoll {
    use std::collections::VecDeque;
    use std::io;
    use std::task::Context;

    pub(super) struct Epoll;

    impl Epoll {
        pub(super) fn new() -> io::Result<Epoll> {
            Err(io::ErrorKind::Unsupported.into())
        }
        pub(super) fn add(&self, _: &std::net::TcpStream, _: usize) -> io::Result<()> {
            Err(io::ErrorKind::Unsupported.into())
        }
        pub(super) fn delete(&self, _: &std::net::TcpStream) {}
        pub(super) fn poll_ready(&self, _: &mut Context<'_>, _: &mut VecDeque<usize>) {}
    }
}
