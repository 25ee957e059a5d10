use std::future::Future;
use std::io;

/// A [`framesim_listener::Listener`] [`serve`](crate::serve) accepts from, with what it does
/// when the process runs out of file descriptors. Real TCP ([`tokio::net::TcpListener`])
/// keeps a descriptor in reserve and refuses clients with it; any other listener implements
/// this with an empty `impl` and gets no such policy.
pub trait Listener: framesim_listener::Listener {
    /// Called before each accept: takes back what [`shed`](Listener::shed) gives up (real
    /// TCP: reopens the reserve descriptor). The default keeps nothing.
    fn keep_reserve(&mut self) {}

    /// Called when `accept` failed for lack of file descriptors: accept one waiting
    /// connection anyway (with a descriptor kept in reserve), write `reply` to it and close
    /// it, so clients are refused rather than left unanswered in the backlog. Returns
    /// whether one was refused; the default (no descriptors to run out of) refuses none.
    fn shed(&mut self, reply: &[u8]) -> impl Future<Output = bool> + Send {
        let _ = reply;
        std::future::ready(false)
    }

    /// Whether an idle connection's stream may leave the runtime while it is parked
    /// ([`detach`](Listener::detach) and [`attach`](Listener::attach) work). Real TCP on
    /// Linux: yes, and a parked connection then costs the runtime nothing (no registration
    /// with its I/O driver); the default: no, the parking lot holds the stream itself.
    const DETACHES: bool = false;

    /// Takes a stream off the runtime's I/O driver, as a plain non-blocking socket for the
    /// parking lot to watch. Called only when [`DETACHES`](Listener::DETACHES).
    fn detach(stream: Self::Stream) -> io::Result<std::net::TcpStream> {
        drop(stream);
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Gives a socket [`detach`](Listener::detach) returned back to the runtime.
    fn attach(socket: std::net::TcpStream) -> io::Result<Self::Stream> {
        drop(socket);
        Err(io::ErrorKind::Unsupported.into())
    }
}

impl Listener for tokio::net::TcpListener {
    #[cfg(target_os = "linux")]
    const DETACHES: bool = true;

    fn detach(stream: tokio::net::TcpStream) -> io::Result<std::net::TcpStream> {
        stream.into_std()
    }

    fn attach(socket: std::net::TcpStream) -> io::Result<tokio::net::TcpStream> {
        tokio::net::TcpStream::from_std(socket)
    }

    fn keep_reserve(&mut self) {
        crate::fd_budget::keep_reserve();
    }

    async fn shed(&mut self, reply: &[u8]) -> bool {
        if !crate::fd_budget::release_reserve() {
            return false;
        }
        // Only a connection already waiting: never wait here with the reserve given up. Outside
        // tokio's cooperative budget, which would otherwise answer "not ready" after a burst.
        let poll_once = std::future::poll_fn(|cx| std::task::Poll::Ready(self.poll_accept(cx)));
        let waiting = tokio::task::unconstrained(poll_once).await;
        let shed = match waiting {
            std::task::Poll::Ready(Ok((stream, _))) => {
                let _ = stream.try_write(reply);
                drop(stream);
                true
            }
            _ => false,
        };
        crate::fd_budget::keep_reserve();
        shed
    }
}
