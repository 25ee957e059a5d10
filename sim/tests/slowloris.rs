//! The slowloris client against a deadline that starts over at every read: it keeps
//! trickling until its bound, however short the session's requests are.

use bytes::Bytes;
use framesim::harness::{
    delimited, Draws, Harness, Listener, Options, ReplyFramer, Request, RoleMix, Session, Shutdown,
    Workload,
};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod lines;

/// How long the server waits: for a whole line, or for each read.
const DEADLINE: Duration = Duration::from_millis(800);

/// Two-byte lines, and a line of exactly the declared limit.
struct Short;

struct ShortSession(usize);

impl Session for ShortSession {
    fn next_request(&mut self, _rng: &mut Draws) -> Option<Request> {
        self.0 = self.0.checked_sub(1)?;
        Some(Request::new(&b"a\n"[..]))
    }

    fn expect(&mut self, request: &Request) -> Option<Bytes> {
        Some(request.bytes.clone())
    }

    fn at_limit(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        let mut line = vec![b'y'; size.saturating_sub(1)];
        line.push(b'\n');
        Some(Request::new(line))
    }
}

impl Workload for Short {
    fn session(&self, _client: usize) -> Box<dyn Session> {
        Box::new(ShortSession(4))
    }

    fn framer(&self) -> Box<dyn ReplyFramer> {
        Box::new(delimited(b"\n"))
    }
}

/// A line echo whose deadline bounds each line, or (`per_read`) each read.
fn echo(per_read: bool) -> Harness {
    let server = move |listener: Listener, shutdown: Shutdown| {
        lines::task_per_connection(listener, shutdown, move |mut stream| async move {
            let mut line = Vec::new();
            let mut started = tokio::time::Instant::now();
            let mut buf = [0u8; 4096];
            loop {
                let wait = if per_read || line.is_empty() {
                    DEADLINE
                } else {
                    DEADLINE.saturating_sub(started.elapsed())
                };
                let n = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
                    Ok(Ok(n @ 1..)) => n,
                    _ => return,
                };
                if line.is_empty() {
                    started = tokio::time::Instant::now();
                }
                line.extend_from_slice(&buf[..n]);
                while let Some(end) = line.iter().position(|&b| b == b'\n') {
                    let rest = line.split_off(end + 1);
                    if stream.write_all(&line).await.is_err() {
                        return;
                    }
                    line = rest;
                    started = tokio::time::Instant::now();
                }
                if line.len() > 4096 {
                    return;
                }
            }
        })
    };
    Harness::new(server, Short).with(Options {
        clients: 3,
        max_request: 4096,
        roles: RoleMix {
            slowloris: 1,
            ..RoleMix::none()
        },
        ..Options::default()
    })
}

#[test]
fn a_deadline_per_line_cuts_the_slowloris() {
    let tally = framesim::sweep!(echo(false), 0..4);
    assert_eq!(tally.slowloris_cut, 4);
}

#[test]
fn a_deadline_that_starts_over_at_every_read_is_caught_with_short_requests() {
    let outcome = echo(true).run(0);
    let oracles: Vec<_> = outcome.violations.iter().map(|v| v.oracle.name()).collect();
    assert_eq!(oracles, ["slowloris"], "{}", outcome.first_failure());
}
