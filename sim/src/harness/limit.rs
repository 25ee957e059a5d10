//! The server's connection limit, probed once every client has left and the server holds
//! nothing (when [`Options::max_connections`](super::Options::max_connections) names it):
//! that many clients at once must each get the reply their session expects to its first
//! request; one more must be closed without it (a message saying why first is fine); after
//! one of the first leaves, a newcomer must be served again.

use super::shared::Shared;
use crate::oracle::Oracle;
use bytes::BytesMut;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep, timeout};
use turmoil::net::TcpStream;

/// How long a probing client waits for its reply or its close.
const WAIT: Duration = Duration::from_secs(1);

/// What a probing client got.
enum Answer {
    /// A reply frame: served, the connection kept.
    Served(TcpStream),
    /// The connection ended with no reply frame.
    Closed,
    /// Neither within [`WAIT`].
    Silent,
    /// No connection, or nothing to ask.
    Failed(String),
}

impl Answer {
    fn describe(&self) -> String {
        match self {
            Answer::Served(_) => "served".into(),
            Answer::Closed => "closed".into(),
            Answer::Silent => format!("neither served nor closed within {WAIT:?}"),
            Answer::Failed(e) => e.clone(),
        }
    }
}

/// Probes a limit of `max` connections; a violation `connection-limit` if it does not hold.
pub(super) async fn probe(shared: &Shared, max: usize) {
    let fail = |detail: String| shared.violation(Oracle::ConnectionLimit, None, detail);
    let mut asking = tokio::task::JoinSet::new();
    for i in 0..max {
        let shared = shared.clone();
        asking.spawn(async move { ask(&shared, i).await });
    }
    let (mut held, mut wrong) = (Vec::new(), None);
    while let Some(answer) = asking.join_next().await {
        match answer.expect("a probing client does not panic") {
            Answer::Served(stream) => held.push(stream),
            other => {
                wrong.get_or_insert(other);
            }
        }
    }
    if let Some(answer) = wrong {
        return fail(format!(
            "{} of {max} clients connecting at once were served (max_connections {max}); another was {}",
            held.len(),
            answer.describe()
        ));
    }
    match ask(shared, max).await {
        Answer::Closed => {}
        answer => {
            return fail(format!(
                "connection {} with {max} open (max_connections {max}) was {}, not closed",
                max + 1,
                answer.describe()
            ))
        }
    }
    drop(held.pop());
    // Time for the server to see the close.
    sleep(Duration::from_millis(100)).await;
    if let answer @ (Answer::Closed | Answer::Silent | Answer::Failed(_)) =
        ask(shared, max + 1).await
    {
        fail(format!(
            "after one of {max} connections closed, a new one was {}: its slot was not given back",
            answer.describe()
        ));
    }
}

/// Connects as probing client `n` and sends its session's first request.
async fn ask(shared: &Shared, n: usize) -> Answer {
    let id = shared.options.clients + n;
    let mut session = shared.workload.session(id);
    let mut rng = crate::seeds::rng(shared.seed, crate::seeds::Stream::Workload(id));
    let Some(request) = session.next_request(&mut rng) else {
        return Answer::Failed("not asked: the workload's session sent nothing".into());
    };
    // As patient as a client: a restarted server host is not listening for a moment.
    let mut tries = 0;
    let mut stream = loop {
        let connect = TcpStream::connect(("server", shared.options.port));
        let Ok(connected) = timeout(WAIT, connect).await else {
            return Answer::Failed(format!("not accepted within {WAIT:?}"));
        };
        match connected {
            Ok(stream) => break stream,
            Err(e) if tries == 50 => return Answer::Failed(format!("not connected ({e})")),
            Err(_) => tries += 1,
        }
        sleep(Duration::from_millis(20)).await;
    };
    // Refused at once, the connection may close before the request is out: what came is
    // read either way.
    let _ = stream.write_all(&request.bytes).await;
    let mut framer = shared.workload.framer();
    let mut buf = BytesMut::new();
    // A reply the session accepts is service; anything else (a refusal's message) must be
    // followed by the close.
    let got = timeout(WAIT, async {
        loop {
            while let Ok(Some(frame)) = framer.next_frame(&mut buf) {
                let expected = session.expect(&request).is_none_or(|want| want == frame);
                if expected && session.check_reply(&request, &frame).is_ok() {
                    return true;
                }
            }
            match stream.read_buf(&mut buf).await {
                Ok(1..) => {}
                _ => return false,
            }
        }
    })
    .await;
    match got {
        Ok(true) => Answer::Served(stream),
        Ok(false) => Answer::Closed,
        Err(_) => Answer::Silent,
    }
}
