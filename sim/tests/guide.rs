//! The README's "Test your own server", as written there, against a byte-echo server: the
//! guide's code must compile and its sweep must pass.

mod my_server {
    use framesim_listener::Listener;
    use std::future::Future;

    /// Echoes every byte back on every connection until `shutdown`.
    pub async fn serve(mut listener: impl Listener, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                Ok((stream, _)) = listener.accept() => {
                    connections.spawn(async move {
                        let (mut from, mut to) = tokio::io::split(stream);
                        let _ = tokio::io::copy(&mut from, &mut to).await;
                    });
                }
            }
        }
        connections.shutdown().await;
    }
}

use framesim::harness::{length_prefixed, Draws, Harness, ReplyFramer, Request, Session, Workload};

struct Echo;
impl Workload for Echo {
    fn session(&self, _client: usize) -> Box<dyn Session> {
        Box::new(EchoSession(8))
    }
    fn framer(&self) -> Box<dyn ReplyFramer> {
        Box::new(length_prefixed(4))
    }
}
struct EchoSession(usize);
impl Session for EchoSession {
    fn next_request(&mut self, _rng: &mut Draws) -> Option<Request> {
        self.0 = self.0.checked_sub(1)?;
        Some(Request::new(&b"\0\0\0\x05hello"[..]).with_boundaries([4]))
    }
    fn expect(&mut self, request: &Request) -> Option<bytes::Bytes> {
        Some(request.bytes.clone())
    }
}
#[test]
fn sim() {
    let harness = Harness::new(my_server::serve, Echo);
    let tally = framesim::sweep!(harness); // seeds 0..16
    assert_eq!(tally.replies, tally.requests);
    assert!(tally.replies > 0);
}
