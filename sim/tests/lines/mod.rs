//! A line echo server and its workload, for the suites of the harness's own tools.
#![allow(dead_code)]

use bytes::Bytes;
use framesim::harness::{
    delimited, Draws, Harness, Listener, Options, Request, Session, Shutdown, Workload,
};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// A line echo server; `deadline` bounds a line's time (else a slowloris holds it forever).
pub fn echo(deadline: Option<Duration>) -> Harness {
    echo_of(deadline, Lines { oversized: true })
}

/// The line echo server under `workload`.
pub fn echo_of(deadline: Option<Duration>, workload: Lines) -> Harness {
    let server = move |mut listener: framesim::harness::Listener,
                       shutdown: framesim::harness::Shutdown| async move {
        tokio::pin!(shutdown);
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => drop(tasks.spawn(async move {
                        let (reader, mut writer) = tokio::io::split(stream);
                        let mut lines = BufReader::new(reader);
                        let mut line = Vec::new();
                        loop {
                            line.clear();
                            // Never more than a line's limit and one byte buffered.
                            let mut bounded = (&mut lines).take(4097);
                            let read = bounded.read_until(b'\n', &mut line);
                            let read = match deadline {
                                Some(d) => match tokio::time::timeout(d, read).await {
                                    Ok(read) => read,
                                    Err(_) => return,
                                },
                                None => read.await,
                            };
                            // A line the stream ended inside is not a request.
                            if !matches!(read, Ok(1..)) || line.len() > 4096 || !line.ends_with(b"\n") {
                                return;
                            }
                            if writer.write_all(&line).await.is_err() {
                                return;
                            }
                        }
                    })),
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
            }
        }
        tasks.shutdown().await;
    };
    Harness::new(server, workload).with(Options {
        clients: 8,
        max_request: 4096,
        ..Options::default()
    })
}

/// Lines of words; an oversized request only if `oversized` (else that role sends nothing).
pub struct Lines {
    pub oversized: bool,
}

impl Workload for Lines {
    fn session(&self, client: usize) -> Box<dyn Session> {
        Box::new(Words {
            client,
            left: 4,
            oversized: self.oversized,
        })
    }
    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(delimited(b"\n"))
    }
}

struct Words {
    client: usize,
    left: usize,
    oversized: bool,
}

impl Session for Words {
    fn next_request(&mut self, _rng: &mut Draws) -> Option<Request> {
        self.left = self.left.checked_sub(1)?;
        Some(Request::new(format!("{} {}\n", self.client, self.left)))
    }
    fn expect(&mut self, request: &Request) -> Option<Bytes> {
        Some(request.bytes.clone())
    }
    fn oversized(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        self.oversized.then(|| Request::new(vec![b'x'; size + 1]))
    }
}

/// Accepts until `shutdown`, a task per connection running `serve` on it; a failed accept
/// waits 10 ms.
pub async fn task_per_connection<F, Fut>(mut listener: Listener, shutdown: Shutdown, serve: F)
where
    F: Fn(framesim::harness::Connection) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((conn, _)) => drop(tokio::spawn(serve(conn))),
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}
