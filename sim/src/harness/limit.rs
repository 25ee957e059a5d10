//! A server's connection limit, probed once every client has left and the server holds
//! nothing: `max` clients at once must each get the reply their session expects to its
//! first request; one more must be closed without it (a message saying why first is fine);
//! after one of the first leaves, a newcomer must be served again. A harness run probes
//! [`Options::max_connections`](super::Options::max_connections) when it names one;
//! framesim's own world probes its server's limit the same way, with a PING.

use super::workload::Workload;
use crate::oracle::{Oracle, Violations};
use crate::transcript::{Actor, Event, Transcript};
use bytes::BytesMut;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep, timeout};
use turmoil::net::TcpStream;

/// Most connections a probe of framesim's own world opens: runs whose limit is higher
/// (the 10,000 clients of `default`, 1,000-client benchmarks) skip it rather than double
/// their connections.
pub const PROBE_MAX: usize = 256;

/// How long a probing client waits for its reply or its close.
const WAIT: Duration = Duration::from_secs(1);

/// How long the client over the limit waits to be accepted and answered: a server may
/// keep it waiting until a slot is free, which the probe frees after [`WAIT`].
const QUEUED: Duration = Duration::from_secs(3);

/// Where a probe connects, what its clients ask, and where it reports.
pub struct Prober {
    /// The server's port on host `server`.
    pub port: u16,
    /// The run's seed: probing client `n`'s session draws from client `first_id + n`'s
    /// stream of it.
    pub seed: u64,
    /// The first probing client's id: the run's own clients have the ids below it.
    pub first_id: usize,
    /// What the probing clients ask, and how their replies are cut and judged.
    pub workload: Arc<dyn Workload>,
    /// Where events go.
    pub transcript: Transcript,
    /// Where a `connection-limit` violation goes.
    pub violations: Violations,
    /// Whether each step that held is noted in the transcript, and the connection over
    /// the limit must get a reply before its close (framesim's own server's promise).
    pub strict: bool,
}

/// What a probing client got.
enum Answer {
    /// A reply the session takes: served, the connection kept.
    Served(TcpStream),
    /// The connection ended without such a reply, after `replies` other reply frames.
    Closed { replies: usize },
    /// Neither within the client's patience.
    Silent(Duration),
    /// No connection, or nothing to ask.
    Failed(String),
}

impl Answer {
    fn describe(&self) -> String {
        match self {
            Answer::Served(_) => "served".into(),
            Answer::Closed { replies: 0 } => "closed with no reply".into(),
            Answer::Closed { replies } => format!("closed after {replies} other reply frame(s)"),
            Answer::Silent(patience) => format!("neither served nor closed within {patience:?}"),
            Answer::Failed(e) => e.clone(),
        }
    }
}

impl Prober {
    fn fail(&self, detail: String) {
        self.violations.fail(
            &self.transcript,
            Actor::Sim,
            Oracle::ConnectionLimit,
            detail,
        );
    }

    fn note(&self, text: String) {
        if self.strict {
            self.transcript.record(Actor::Sim, Event::Note { text });
        }
    }

    /// Probes a limit of `max` connections; a violation `connection-limit` if it does not
    /// hold.
    pub async fn probe(self: Arc<Self>, max: usize) {
        let mut asking = tokio::task::JoinSet::new();
        for n in 0..max {
            let prober = self.clone();
            asking.spawn(async move { prober.ask(n, WAIT).await });
        }
        let (mut held, mut wrong) = (Vec::with_capacity(max), None);
        while let Some(answer) = asking.join_next().await {
            match answer.expect("a probing client does not panic") {
                Answer::Served(stream) => held.push(stream),
                other => {
                    wrong.get_or_insert(other);
                }
            }
        }
        if let Some(answer) = wrong {
            return self.fail(format!(
                "{} of {max} clients connecting at once were served (max_connections {max}); another was {}",
                held.len(),
                answer.describe()
            ));
        }
        self.note(format!("probe: {max} connections at once, all served"));
        if self.over_the_limit(max, &mut held).await.is_none() {
            return;
        }
        self.note(format!("probe: connection {} refused and closed", max + 1));
        drop(held.pop());
        // Time for the server to see the close.
        sleep(Duration::from_millis(100)).await;
        match self.ask(max + 1, WAIT).await {
            Answer::Served(stream) => held.push(stream),
            answer => {
                return self.fail(format!(
                    "after one of {max} connections closed, a new one was {}: its slot was not given back",
                    answer.describe()
                ))
            }
        }
        self.note("probe: a closed connection's slot given back".into());
    }

    /// Connection `max + 1`, with `held`, `max` connections served, open: `Some` when it
    /// was refused (closed; with a reply first where strict); `None` when the probe ends
    /// here: a violation, or (not strict) a connection kept waiting that was served once
    /// one of `held` closed.
    async fn over_the_limit(self: &Arc<Self>, max: usize, held: &mut Vec<TcpStream>) -> Option<()> {
        let answer = if self.strict {
            self.ask(max, WAIT).await
        } else {
            let mut over = {
                let prober = self.clone();
                tokio::spawn(async move { prober.ask(max, QUEUED).await })
            };
            match timeout(WAIT, &mut over).await {
                Ok(answer) => answer.expect("a probing client does not panic"),
                Err(_) => {
                    // Kept waiting: once a slot is free the server must take it.
                    drop(held.pop());
                    match over.await.expect("a probing client does not panic") {
                        Answer::Served(_) => {}
                        answer => self.fail(format!(
                            "connection {} with {max} open (max_connections {max}) waited, and after one of them closed it was {}: its slot was not given back",
                            max + 1,
                            answer.describe()
                        )),
                    }
                    return None;
                }
            }
        };
        match answer {
            Answer::Closed { replies } if replies > 0 || !self.strict => Some(()),
            answer => {
                let want = if self.strict {
                    "refused with a reply and closed"
                } else {
                    "closed nor kept waiting"
                };
                self.fail(format!(
                    "connection {} with {max} open (max_connections {max}) was {}, not {want}",
                    max + 1,
                    answer.describe()
                ));
                None
            }
        }
    }

    /// Connects as probing client `n` and sends its session's first request.
    async fn ask(&self, n: usize, patience: Duration) -> Answer {
        let id = self.first_id + n;
        let mut session = self.workload.session(id);
        let mut rng = crate::seeds::rng(self.seed, crate::seeds::Stream::Workload(id));
        let Some(request) = session.next_request(&mut rng) else {
            return Answer::Failed("not asked: the workload's session sent nothing".into());
        };
        // As patient as a client: a restarted server host is not listening for a moment.
        let mut tries = 0;
        let mut stream = loop {
            let connect = TcpStream::connect(("server", self.port));
            let Ok(connected) = timeout(patience, connect).await else {
                return Answer::Failed(format!("not accepted within {patience:?}"));
            };
            match connected {
                Ok(stream) => break stream,
                Err(e) if tries == 100 => return Answer::Failed(format!("not connected ({e})")),
                Err(_) => tries += 1,
            }
            sleep(Duration::from_millis(10)).await;
        };
        // Refused at once, the connection may close before the request is out: what came
        // is read either way.
        let _ = stream.write_all(&request.bytes).await;
        let mut framer = self.workload.framer();
        let mut buf = BytesMut::new();
        let mut replies = 0;
        // A reply the session takes is service; anything else (a refusal's message) must
        // be followed by the close.
        let got = timeout(patience, async {
            loop {
                while let Ok(Some(frame)) = framer.next_frame(&mut buf) {
                    let predicted = session.expect(&request);
                    let unpredicted = predicted.is_none();
                    let expected = predicted.is_none_or(|want| want == frame);
                    if expected && session.check_reply(&request, &frame).is_ok() {
                        // A session that predicts no reply, and whose check takes even an
                        // empty one, cannot tell service from a refusal's message: served
                        // if the connection stays open a moment.
                        let blind = unpredicted && session.check_reply(&request, b"").is_ok();
                        if blind && closes_within(&mut stream, REFUSAL_CLOSE).await {
                            replies += 1;
                            return false;
                        }
                        return true;
                    }
                    replies += 1;
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
            Ok(false) => Answer::Closed { replies },
            Err(_) => Answer::Silent(patience),
        }
    }
}

/// How soon a server that refused a connection with a message closes it.
const REFUSAL_CLOSE: Duration = Duration::from_millis(100);

/// Whether the server closes `stream` within `wait`, whatever it sends meanwhile.
async fn closes_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut sink = [0u8; 1024];
    timeout(wait, async {
        while let Ok(1..) = stream.read(&mut sink).await {}
    })
    .await
    .is_ok()
}
