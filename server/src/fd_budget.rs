//! File descriptors: how many the process may open, and one kept in reserve so a server
//! out of descriptors can still tell a client why it is refused (the nginx/libuv trick).

use std::fs::File;
use std::io;
use std::sync::Mutex;

/// Descriptors kept back from `max_connections`: standard streams, the listener, the
/// runtime's epoll and wakers, the reserve, log files.
pub const FD_RESERVE: u64 = 32;

/// The descriptor given up to accept one connection while the process is out of them.
static RESERVE: Mutex<Option<File>> = Mutex::new(None);

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, as redis-server and nginx do, and
/// returns the limit now in force.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit; failure leaves the limit as it was.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Ok(lim.rlim_cur)
}

/// The most connections `nofile` descriptors can serve, [`FD_RESERVE`] kept back.
pub fn connection_budget(nofile: u64) -> usize {
    usize::try_from(nofile.saturating_sub(FD_RESERVE).max(1)).unwrap_or(usize::MAX)
}

/// Opens the reserve descriptor if it is not open (cheap when it is).
pub(crate) fn keep_reserve() {
    let mut reserve = RESERVE.lock().unwrap_or_else(|e| e.into_inner());
    if reserve.is_none() {
        *reserve = File::open("/dev/null").ok();
    }
}

/// Closes the reserve descriptor so one `accept` can succeed; true if there was one.
pub(crate) fn release_reserve() -> bool {
    let mut reserve = RESERVE.lock().unwrap_or_else(|e| e.into_inner());
    reserve.take().is_some()
}

/// True for the accept errors that mean "out of file descriptors".
pub(crate) fn is_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}
