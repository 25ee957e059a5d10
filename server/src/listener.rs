use std::future::Future;

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
}

impl Listener for tokio::net::TcpListener {
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
