//! The README's "Test your own server", as written there, against a byte-echo server: the
//! guide's code must compile and its sweep must pass.

mod my_server {
    use framesim_listener::Listener;
    use std::future::Future;
    use std::time::Duration;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    /// Echoes every frame (a 4-byte big-endian length, then the body) on every connection
    /// until `shutdown`.
    pub async fn serve(mut listener: impl Listener, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                // Finished connections reaped, or the set keeps each one until the shutdown.
                Some(_) = connections.join_next() => {}
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => drop(connections.spawn(echo(stream))),
                    // Out of descriptors: back off, or the loop spins.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
            }
        }
        connections.shutdown().await;
    }

    async fn echo(mut stream: impl AsyncRead + AsyncWrite + Unpin) {
        let mut frame = vec![0u8; 4];
        // A frame's first byte may wait; the rest must come within 500 ms (slowloris).
        while stream.read_exact(&mut frame[..1]).await.is_ok() {
            let rest = async {
                stream.read_exact(&mut frame[1..4]).await?;
                let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
                if len > 64 * 1024 {
                    return Err(std::io::ErrorKind::InvalidData.into());
                }
                frame.resize(4 + len, 0);
                stream.read_exact(&mut frame[4..]).await
            };
            match tokio::time::timeout(Duration::from_millis(500), rest).await {
                Ok(Ok(_)) if stream.write_all(&frame).await.is_ok() => frame.truncate(4),
                _ => return,
            }
        }
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
