//! A server that sends frames of its own accord: a chat whose `SAY` gets no reply and is
//! pushed to every other client, whose `PING` gets `PONG`. The session takes the pushes
//! out of the replies ([`Session::pushed`]) and marks `SAY` [`Request::no_reply`].

mod lines;

use bytes::{Bytes, BytesMut};
use framesim::harness::{
    delimited, Draws, Harness, Listener, Options, Request, Rng, RoleMix, Session, Shutdown,
    Workload,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, Mutex};

/// How long a line may take, from the end of the one before.
const LINE_DEADLINE: Duration = Duration::from_millis(500);

/// How the chat server writes.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Chat {
    /// One task per connection owns its writes: whole lines, one at a time.
    Whole,
    /// Pushes written by a task of their own, replies in two writes with an await between:
    /// a push can land inside a reply.
    Interleaved,
    /// `SAY` answered `OK`, as if it got a reply.
    AnswersSay,
}

/// The chat: lines of at most 4096 bytes, each within [`LINE_DEADLINE`]; `SAY <text>`
/// pushed to every other connection as `MSG <text>`, `PING` answered `PONG`, anything
/// else `ERR`.
async fn chat(listener: Listener, shutdown: Shutdown, how: Chat) {
    let (tx, _) = broadcast::channel::<(usize, Bytes)>(256);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    lines::task_per_connection(listener, shutdown, move |conn| {
        let (tx, me) = (
            tx.clone(),
            next.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        );
        async move {
            let mut rx = tx.subscribe();
            let (mut reader, writer) = tokio::io::split(conn);
            let writer = Arc::new(Mutex::new(writer));
            // The pushing task ends with the connection's.
            let _pusher = (how == Chat::Interleaved).then(|| {
                let writer = writer.clone();
                let mut rx = tx.subscribe();
                Aborting(tokio::spawn(async move {
                    while let Ok((from, line)) = rx.recv().await {
                        if from != me && writer.lock().await.write_all(&line).await.is_err() {
                            return;
                        }
                    }
                }))
            });
            let mut buf = BytesMut::new();
            let mut deadline = tokio::time::Instant::now() + LINE_DEADLINE;
            loop {
                while let Some(end) = buf.iter().position(|&b| b == b'\n') {
                    let line = buf.split_to(end + 1);
                    deadline = tokio::time::Instant::now() + LINE_DEADLINE;
                    let reply: &[u8] = if let Some(text) = line.strip_prefix(b"SAY ") {
                        let mut push = b"MSG ".to_vec();
                        push.extend_from_slice(text);
                        let _ = tx.send((me, push.into()));
                        if how != Chat::AnswersSay {
                            continue;
                        }
                        b"OK\n"
                    } else if &line[..] == b"PING\n" {
                        b"PONG\n"
                    } else {
                        b"ERR\n"
                    };
                    let mut w = writer.lock().await;
                    let (first, rest) = reply.split_at(2);
                    if w.write_all(first).await.is_err() {
                        return;
                    }
                    if how == Chat::Interleaved {
                        drop(w);
                        tokio::task::yield_now().await;
                        w = writer.lock().await;
                    }
                    if w.write_all(rest).await.is_err() {
                        return;
                    }
                }
                if buf.len() > 4096 {
                    return;
                }
                tokio::select! {
                    biased;
                    read = reader.read_buf(&mut buf) => match read {
                        Ok(1..) => {}
                        _ => return,
                    },
                    pushed = rx.recv(), if how != Chat::Interleaved => match pushed {
                        Ok((from, line)) if from != me => {
                            if writer.lock().await.write_all(&line).await.is_err() {
                                return;
                            }
                        }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tokio::time::sleep_until(deadline) => return,
                }
            }
        }
    })
    .await
}

/// A task aborted when this is dropped.
struct Aborting(tokio::task::JoinHandle<()>);

impl Drop for Aborting {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Six requests a client: `SAY c<id>-<n>` (no reply) or `PING` (`PONG`).
struct Talk;

struct TalkSession {
    client: usize,
    sent: usize,
}

impl Session for TalkSession {
    fn next_request(&mut self, rng: &mut Draws) -> Option<Request> {
        self.sent += 1;
        if self.sent > 6 {
            return None;
        }
        Some(if rng.random_bool(0.5) {
            Request::new(format!("SAY c{}-{}\n", self.client, self.sent)).no_reply()
        } else {
            Request::new(&b"PING\n"[..])
        })
    }

    fn expect(&mut self, _request: &Request) -> Option<Bytes> {
        Some(Bytes::from_static(b"PONG\n"))
    }

    fn oversized(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        Some(Request::new(vec![b'x'; size + 1]))
    }

    /// `MSG c<id>-<n>`: a whole line some client said.
    fn pushed(&mut self, frame: &[u8]) -> Option<Result<(), String>> {
        let text = frame.strip_prefix(b"MSG ")?;
        let said = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.strip_prefix('c')?.strip_suffix('\n')?.split_once('-'))
            .filter(|(c, n)| c.parse::<usize>().is_ok() && n.parse::<usize>().is_ok());
        Some(match said {
            Some(_) => Ok(()),
            None => Err("not a line any client said".into()),
        })
    }
}

impl Workload for Talk {
    fn session(&self, client: usize) -> Box<dyn Session> {
        Box::new(TalkSession { client, sent: 0 })
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(delimited(b"\n"))
    }
}

/// The chat writing `how`, under every role.
fn harness(how: Chat) -> Harness {
    let server = move |listener, shutdown| chat(listener, shutdown, how);
    Harness::new(server, Talk).with(Options {
        clients: 12,
        max_request: 4096,
        // Its line deadline is an idle timeout: a quiet client takes pushes meanwhile.
        idle_timeout: Some(LINE_DEADLINE),
        roles: RoleMix {
            slowloris_bound: LINE_DEADLINE * 2,
            ..RoleMix::default()
        },
        ..Options::default()
    })
}

#[test]
fn a_chat_passes_every_role_with_its_pushes_taken_out_of_the_replies() {
    let tally = framesim::sweep!(harness(Chat::Whole), 0..32);
    assert!(tally.pushed > 32, "{} pushes in 32 seeds", tally.pushed);
    assert!(tally.quiet_kept > 0, "no client stayed quiet");
    assert!(tally.replies > 0, "no PONG was read");
}

#[test]
fn a_push_written_inside_a_reply_and_a_reply_to_a_request_that_gets_none_are_caught() {
    for how in [Chat::Interleaved, Chat::AnswersSay] {
        let failed = (0..16)
            .map(|seed| harness(how).run(seed))
            .find(|outcome| !outcome.passed())
            .unwrap_or_else(|| panic!("{how:?} passed 16 seeds"));
        let first = failed.violations.first().expect("a violation");
        eprintln!("{how:?}: {}", failed.first_failure());
        // A reply that is not `PONG`, or bytes after the last one.
        assert!(
            ["reply", "extra"].contains(&first.oracle.name()),
            "{}",
            failed.first_failure()
        );
    }
}
