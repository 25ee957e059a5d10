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
    /// Answers the lines already read whole too, then closes.
    AnswersBuffered,
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
            if after == After::AnswersBuffered {
                while let Some(end) = reader.buffer().iter().position(|&b| b == b'\n') {
                    let line = reader.buffer()[..=end].to_vec();
                    reader.consume(end + 1);
                    let _ = writer.write_all(&line).await;
                }
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
        // A well-behaved client's closing request, or a quitting client's.
        assert!(
            first.detail.contains("the request after which it closes")
                || first.detail.contains("the quit"),
            "{}",
            outcome.first_failure()
        );
    }
}

#[test]
fn a_server_that_answers_a_request_sent_behind_a_closing_one_is_caught() {
    let caught = (0..8)
        .filter_map(|seed| {
            let outcome = harness(After::AnswersBuffered, true).run(seed);
            let first = outcome.violations.first()?.clone();
            assert_eq!(first.oracle.name(), "quit", "{}", outcome.first_failure());
            assert!(
                first.detail.contains("a request sent behind it"),
                "{}",
                outcome.first_failure()
            );
            Some(seed)
        })
        .count();
    // Caught where a quitting client sent one behind and it came in the same read.
    assert!(caught >= 2, "caught in {caught} of 8 seeds");
}

#[test]
fn a_close_after_a_request_not_marked_closing_is_a_violation() {
    let outcome = harness(After::Closes, false).run(0);
    assert!(!outcome.passed(), "a close with requests unanswered passed");
}

/// One line per connection over a store the server's restart empties: `SET k v` (`OK`),
/// `GET k` (the value, or `NIL`). Its connections are a `JoinSet`'s, ended at the shutdown:
/// left to the crash, tasks a runtime drops go in an order that other runs in the process
/// sway (tokio files them by a process-wide task id), and so would their closes.
async fn one_line_store(mut listener: Listener, shutdown: Shutdown) {
    let store = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((conn, _)) => drop(tasks.spawn(answer_one_line(conn, store.clone()))),
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    tasks.shutdown().await;
}

/// The one line of `conn`, answered from `store`.
async fn answer_one_line(
    conn: framesim::harness::Connection,
    store: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
) {
    let (reader, mut writer) = tokio::io::split(conn);
    let mut line = String::new();
    if !matches!(BufReader::new(reader).read_line(&mut line).await, Ok(1..)) {
        return;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let reply = match words[..] {
        ["SET", k, v] => {
            store.lock().unwrap().insert(k.to_string(), v.to_string());
            "OK".to_string()
        }
        ["GET", k] => store
            .lock()
            .unwrap()
            .get(k)
            .cloned()
            .unwrap_or("NIL".into()),
        _ => "ERR".to_string(),
    };
    let _ = writer.write_all(format!("{reply}\n").as_bytes()).await;
}

/// A SET then a GET of the client's own key, four times: each on a connection of its own.
struct SetGet;

struct SetGetSession {
    client: usize,
    sent: usize,
    value: Option<String>,
}

impl Session for SetGetSession {
    fn next_request(&mut self, _rng: &mut Draws) -> Option<Request> {
        self.sent += 1;
        let line = match self.sent {
            9.. => return None,
            n if n % 2 == 1 => format!("SET c{}-k v{n}\n", self.client),
            _ => format!("GET c{}-k\n", self.client),
        };
        Some(Request::new(line).closing())
    }

    fn expect(&mut self, request: &Request) -> Option<Bytes> {
        let line = String::from_utf8_lossy(&request.bytes);
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words[..] {
            ["SET", _, v] => {
                self.value = Some(v.to_string());
                "OK".to_string()
            }
            _ => self.value.clone().unwrap_or("NIL".into()),
        };
        Some(format!("{reply}\n").into())
    }
}

impl Workload for SetGet {
    fn session(&self, client: usize) -> Box<dyn Session> {
        Box::new(SetGetSession {
            client,
            sent: 0,
            value: None,
        })
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(delimited(b"\n"))
    }
}

#[test]
fn a_client_between_connections_when_the_server_restarts_starts_a_new_session() {
    let mut options = Options {
        clients: 8,
        restart_at: Some(Duration::from_millis(40)),
        ..Options::gentle()
    };
    options.delivery.max_gap = Duration::from_millis(10);
    let harness = Harness::new(one_line_store, SetGet).with(options);
    let tally = framesim::sweep!(harness, 0..16);
    assert!(tally.restarted > 0, "no client started over");
}
