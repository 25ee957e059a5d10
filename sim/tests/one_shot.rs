//! Servers that close the connection once they have answered a request (one request per
//! connection, HTTP's `Connection: close`): a session marks those requests
//! [`Request::closing`], and every role keeps to it.

mod lines;

use bytes::Bytes;
use framesim::harness::{
    delimited, Draws, Harness, Listener, Options, Request, RoleMix, Session, Shutdown, Workload,
};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// How long the server waits for a line.
const DEADLINE: Duration = Duration::from_millis(500);

/// What the line server does once it has answered a line.
#[derive(Clone, Copy, PartialEq)]
enum After {
    /// Closes: one request per connection.
    Closes,
    /// Reads the next line on the same connection, as a keep-alive server would.
    ReadsOn,
}

/// A line echo that answers one line per connection (or reads on, `after`); a line over
/// 4096 bytes, or not ended within [`DEADLINE`], is closed without an answer.
async fn one_line(listener: Listener, shutdown: Shutdown, after: After) {
    lines::task_per_connection(listener, shutdown, move |conn| async move {
        let (reader, mut writer) = tokio::io::split(conn);
        let mut reader = BufReader::new(reader);
        loop {
            let mut line = Vec::new();
            let mut bounded = (&mut reader).take(4097);
            let read = bounded.read_until(b'\n', &mut line);
            match tokio::time::timeout(DEADLINE, read).await {
                Ok(Ok(1..)) if line.len() <= 4096 && line.ends_with(b"\n") => {}
                _ => return,
            }
            if writer.write_all(&line).await.is_err() || after == After::Closes {
                return;
            }
        }
    })
    .await
}

/// Four lines a client, each echoed; every one closing unless `closing` is false.
#[derive(Clone, Copy)]
struct OneLine {
    closing: bool,
}

struct OneLineSession {
    client: usize,
    left: usize,
    closing: bool,
}

impl Session for OneLineSession {
    fn next_request(&mut self, _rng: &mut Draws) -> Option<Request> {
        self.left = self.left.checked_sub(1)?;
        let request = Request::new(format!("{} {}\n", self.client, self.left));
        Some(if self.closing {
            request.closing()
        } else {
            request
        })
    }

    fn expect(&mut self, request: &Request) -> Option<Bytes> {
        Some(request.bytes.clone())
    }

    fn oversized(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        Some(Request::new(vec![b'x'; size + 1]))
    }

    fn at_limit(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        let mut line = vec![b'a'; size - 1];
        line.push(b'\n');
        let request = Request::new(line);
        Some(if self.closing {
            request.closing()
        } else {
            request
        })
    }
}

impl Workload for OneLine {
    fn session(&self, client: usize) -> Box<dyn Session> {
        Box::new(OneLineSession {
            client,
            left: 4,
            closing: self.closing,
        })
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(delimited(b"\n"))
    }
}

/// The line server with `after`, under every role, its clients' requests closing or not.
fn harness(after: After, closing: bool) -> Harness {
    let server = move |listener, shutdown| one_line(listener, shutdown, after);
    Harness::new(server, OneLine { closing }).with(Options {
        clients: 16,
        max_request: 4096,
        roles: RoleMix {
            slowloris_bound: DEADLINE * 2,
            ..RoleMix::default()
        },
        ..Options::default()
    })
}

#[test]
fn a_server_of_one_request_per_connection_passes_every_role_with_its_requests_closing() {
    let tally = framesim::sweep!(harness(After::Closes, true), 0..16);
    assert!(
        tally.at_limit_served > 0,
        "no at-limit request was answered"
    );
    assert!(tally.half_closed > 0, "no half-closing client was answered");
    let outcome = harness(After::Closes, true).run(0);
    // Each well-behaved client's four requests went on four connections.
    assert!(
        outcome.counts.connects >= outcome.tally.requests,
        "{} connects for {} requests: the requests after a closing one did not go on a new connection",
        outcome.counts.connects,
        outcome.tally.requests
    );
}

#[test]
fn a_server_that_reads_on_after_a_request_that_closes_is_caught() {
    for seed in 0..4 {
        let outcome = harness(After::ReadsOn, true).run(seed);
        let first = outcome.violations.first().expect("a violation");
        assert_eq!(first.oracle.name(), "quit", "{}", outcome.first_failure());
        assert!(
            first.detail.contains("the request after which it closes"),
            "{}",
            outcome.first_failure()
        );
    }
}

#[test]
fn a_close_after_a_request_not_marked_closing_is_a_violation() {
    let outcome = harness(After::Closes, false).run(0);
    assert!(!outcome.passed(), "a close with requests unanswered passed");
}
