//! A line echo server and its workload, for the suites of the harness's own tools.
#![allow(dead_code)]

use bytes::Bytes;
use framesim::harness::{delimited, Draws, Harness, Options, Request, Session, Workload};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// A line echo server; `deadline` bounds a line's time (else a slowloris holds it forever).
pub fn echo(deadline: Option<Duration>) -> Harness {
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
                            if !matches!(read, Ok(1..)) || line.len() > 4096 {
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
    Harness::new(server, Lines).with(Options {
        clients: 8,
        max_request: 4096,
        ..Options::default()
    })
}

pub struct Lines;

impl Workload for Lines {
    fn session(&self, client: usize) -> Box<dyn Session> {
        Box::new(Words { client, left: 4 })
    }
    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(delimited(b"\n"))
    }
}

struct Words {
    client: usize,
    left: usize,
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
        Some(Request::new(vec![b'x'; size + 1]))
    }
}
