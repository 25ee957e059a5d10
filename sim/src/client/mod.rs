//! Virtual clients: each connects, writes its requests in seeded chunks, and checks every
//! reply against its model.
//!
//! [`delivery`] puts bytes on the wire (chunks, gaps, cuts); [`scripts`] is what each role
//! does with its connection; [`hostile`] sends the requests a server must refuse; [`limits`]
//! are the roles that reach the server's limits and [`readers`] those that make it hold
//! replies back.

mod delivery;
mod hostile;
mod limits;
mod play;
mod readers;
mod scripts;

use crate::clock::Clock;
use crate::harness::{KvWorkload, Session, Workload};
use crate::model::ClientModel;
use crate::net::{ACCEPT_WAIT, PORT};
use crate::oracle::{Oracle, Violations};
use crate::scenario::{Commands, Role, Scenario};
use crate::script::{self, Lifter, Step};
use crate::seeds::{self, Draws, Stream};
use crate::transcript::{Actor, Event, Record, Transcript};
use crate::window::{ClientStream, Windows};
use bytes::BytesMut;
use framesim_server::framing::Decoder;
use framesim_server::protocol::{encode_command, ReplyDecoder};
use framesim_server::{Command, Reply};
use rand::Rng;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::time::{sleep, timeout};
use turmoil::net::TcpStream;

/// How long a client waits for any one reply before calling it lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// What all clients of a run of framesim's own world share.
#[derive(Clone)]
pub struct KvShared {
    /// The run.
    pub scenario: Arc<Scenario>,
    /// Where events go.
    pub transcript: Transcript,
    /// Where violations go.
    pub violations: Violations,
    /// Virtual-time latency of every answered batch, in microseconds.
    pub latencies: Arc<Mutex<Vec<u64>>>,
    /// Receive windows: every byte a client reads lets the server write on.
    pub windows: Windows,
    /// Where clients put their steps when the run is being lifted into a script.
    pub lifter: Option<Lifter>,
    /// A real server to connect to instead of the simulated one, and the prefix of this
    /// run's keys there.
    pub against: Option<(SocketAddr, Arc<str>)>,
    /// What well-behaved clients ask, and the model of what they are told: the public
    /// [`Workload`] API, [`scenario_workload`] for a scenario.
    pub workload: Arc<dyn Workload>,
}

/// The workload of `s`'s well-behaved clients: framesim's key-value commands in its framing
/// (GET and SET only if it says so), edge values at its rate, every key after `prefix`.
/// How many requests each client sends is the client's to decide, so sessions never run
/// out.
pub fn scenario_workload(s: &Scenario, prefix: &str) -> Arc<dyn Workload> {
    let workload = KvWorkload::new(s.framing.clone())
        .requests(usize::MAX)
        .edge_values(s.edge_values)
        .key_prefix(prefix);
    Arc::new(match s.commands {
        Commands::All => workload,
        Commands::GetSet => workload.get_set_only(),
    })
}

/// One virtual client of framesim's own world.
pub struct KvClient {
    id: usize,
    role: Role,
    shared: KvShared,
    /// Draws how bytes are delivered (chunks, gaps, batches).
    delivery_rng: Draws,
    /// Draws what is asked: independent of delivery, so the logical view of a run is the
    /// same under any delivery.
    workload_rng: Draws,
    stream: Option<ClientStream>,
    buf: BytesMut,
    decoder: ReplyDecoder,
    /// The well-behaved roles' requests and the model of their replies.
    session: Box<dyn Session>,
    /// What the key-value roles that build their own requests (bulk loads, requests at the
    /// limits) leave in the store.
    model: ClientModel,
    /// Virtual time the latest connect began: where a lifted script connects.
    connecting_since: Duration,
    /// Request bytes written on the current connection.
    sent: u64,
    /// The run's time, read on the client's host.
    clock: Clock,
}

/// Why a client stopped waiting for a reply.
#[derive(Debug)]
enum Lost {
    /// The connection ended (end of stream, reset).
    Closed(String),
    /// The bytes that came are not a reply.
    Undecodable(String),
    /// Nothing came for [`REPLY_TIMEOUT`].
    TimedOut,
}

impl KvClient {
    /// Client `id` of the run.
    pub fn new(id: usize, shared: KvShared) -> Self {
        let s = &shared.scenario;
        KvClient {
            id,
            role: s.role_of(id),
            delivery_rng: seeds::rng(s.seed, Stream::Delivery(id)),
            workload_rng: seeds::rng(s.seed, Stream::Workload(id)),
            stream: None,
            buf: BytesMut::new(),
            decoder: ReplyDecoder::new(&s.framing, 1 << 20),
            session: shared.workload.session(id),
            model: ClientModel::default(),
            connecting_since: Duration::ZERO,
            sent: 0,
            clock: Clock::default(),
            shared,
        }
    }

    fn actor(&self) -> Actor {
        Actor::Client(self.id)
    }

    fn record(&self, event: Event) {
        if self.shared.lifter.is_some() {
            self.lift(&event);
        }
        let at = self.clock.now();
        self.shared.transcript.push(Record {
            at,
            actor: self.actor(),
            event,
        });
    }

    /// [`record`](Self::record) for an event whose parts the client goes on using: they
    /// are copied only when the transcript keeps its records.
    fn record_ref(&self, event: &Event) {
        self.record_ref_at(self.clock.now(), event);
    }

    /// [`record_ref`](Self::record_ref) at virtual time `at`, read by the caller in the
    /// same task poll (time stands still within one).
    fn record_ref_at(&self, at: Duration, event: &Event) {
        if self.shared.lifter.is_some() {
            self.lift(event);
        }
        self.shared
            .transcript
            .record_ref_at(at, self.actor(), event);
    }

    fn fail(&self, oracle: Oracle, detail: String) {
        if let Some(lifter) = &self.shared.lifter {
            // A close the client waited for in vain: the script waits as long.
            if oracle == script::close_oracle(self.role) && oracle != Oracle::WrongfulClose {
                let now = self.clock.now();
                if let Some((last, ago)) = lifter.last(self.id, now) {
                    if !matches!(last, Step::CloseWithin { .. }) {
                        let step = Step::CloseWithin {
                            within: ago,
                            oracle,
                        };
                        lifter.push(self.id, self.role, now, step);
                    }
                }
            }
        }
        self.shared
            .violations
            .fail(&self.shared.transcript, self.actor(), oracle, detail);
    }

    /// Puts down, as a script step, what `event` says this client did.
    fn lift(&self, event: &Event) {
        let Some(lifter) = &self.shared.lifter else {
            return;
        };
        let now = self.clock.now();
        let step = match event {
            Event::Connect { .. } => Step::Connect {
                at: self.connecting_since,
            },
            Event::Write { bytes } => Step::Write {
                at: now,
                bytes: bytes.clone(),
            },
            Event::Request { expect, .. } => Step::Expect(expect.clone()),
            Event::HalfClose => Step::HalfClose,
            Event::Disconnect { mid_frame } => Step::Drop {
                mid_frame: *mid_frame,
            },
            // A close the role saw without naming its bound: the script allows twice the
            // time it took.
            Event::Closed { .. } => match lifter.last(self.id, now) {
                Some((Step::CloseWithin { .. }, _)) | None => return,
                Some((_, ago)) => Step::CloseWithin {
                    within: ago * 2 + Duration::from_millis(10),
                    oracle: script::close_oracle(self.role),
                },
            },
            _ => return,
        };
        lifter.push(self.id, self.role, now, step);
    }

    fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    /// Runs the client to its end.
    pub async fn run(mut self) {
        if let Some(script) = self.scenario().script_of(self.id) {
            let steps = script.steps.clone();
            return Box::pin(self.play(steps)).await;
        }
        let ramp = self.scenario().ramp;
        if !ramp.is_zero() {
            let start = self.delivery_rng.random_range(Duration::ZERO..ramp);
            sleep(start).await;
        }
        // Every client is spawned at the start and most wait out the ramp: boxed, what a
        // role keeps across its awaits is allocated only when the client starts, and each
        // waiting task holds 1.5 KB instead of 2.5 (10,000 clients: 46 -> 43 MB peak).
        Box::pin(self.act()).await;
    }

    /// Connects and plays the client's role.
    async fn act(&mut self) {
        if !self.connect().await {
            return;
        }
        match self.role {
            Role::Normal | Role::HalfClose | Role::Disconnect | Role::Quit => self.requests().await,
            Role::Slowloris => self.slowloris().await,
            Role::Idle => self.idle().await,
            Role::Oversized | Role::Malformed => self.hostile().await,
            Role::NeverReader => self.never_reader().await,
            Role::SlowReader => self.slow_reader().await,
            Role::BulkLoader => self.bulk_loader().await,
            Role::AtLimit => self.at_limit().await,
            Role::UnfinishedArgs => self.unfinished_args().await,
        }
    }

    async fn connect(&mut self) -> bool {
        self.buf.clear();
        self.decoder = ReplyDecoder::new(&self.scenario().framing, 1 << 20);
        self.connecting_since = self.clock.now();
        self.sent = 0;
        let mut last = String::new();
        for _ in 0..200 {
            let windows = self.shared.windows.clone();
            let connecting = async {
                match &self.shared.against {
                    Some((addr, _)) => match tokio::net::TcpStream::connect(addr).await {
                        Ok(stream) => ClientStream::real(stream, windows),
                        Err(e) => Err(e),
                    },
                    None => TcpStream::connect(("server", PORT))
                        .await
                        .map(|stream| ClientStream::new(stream, windows)),
                }
            };
            let Ok(connected) = timeout(ACCEPT_WAIT, connecting).await else {
                last = format!("not accepted within {ACCEPT_WAIT:?}: the server stopped accepting");
                break;
            };
            match connected {
                Ok(stream) => {
                    let local = stream.local_addr().to_string();
                    self.record(Event::Connect { local });
                    self.stream = Some(stream);
                    return true;
                }
                Err(e) => last = e.to_string(),
            }
            sleep(Duration::from_millis(10)).await;
        }
        self.record(Event::ConnectFailed {
            error: last.clone(),
        });
        self.fail(Oracle::Connect, format!("could not connect: {last}"));
        false
    }

    /// The next reply, or why there is none. A lifted script reads here too, whether a
    /// reply comes or not.
    async fn reply(&mut self) -> Result<Reply, Lost> {
        if let Some(lifter) = &self.shared.lifter {
            let now = self.clock.now();
            lifter.push(self.id, self.role, now, Step::Read);
        }
        self.next_reply().await
    }

    /// [`KvClient::reply`], not lifted: for waiting out a close.
    async fn next_reply(&mut self) -> Result<Reply, Lost> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(Lost::Closed("not connected".into()));
        };
        let got = timeout(REPLY_TIMEOUT, async {
            loop {
                match self.decoder.decode(&mut self.buf) {
                    Ok(Some(r)) => return Ok(r),
                    Ok(None) => {}
                    Err(e) => return Err(Lost::Undecodable(e.to_string())),
                }
                match stream.read_buf(&mut self.buf).await {
                    Ok(0) => return Err(Lost::Closed("eof".into())),
                    Ok(_) => {}
                    Err(e) => return Err(Lost::Closed(e.to_string())),
                }
            }
        })
        .await;
        match got {
            Ok(Ok(reply)) => {
                let event = Event::Reply { reply };
                self.record_ref(&event);
                let Event::Reply { reply } = event else {
                    unreachable!("built as a reply above")
                };
                Ok(reply)
            }
            Ok(Err(lost)) => Err(lost),
            Err(_) => Err(Lost::TimedOut),
        }
    }

    fn encode(&self, cmd: &Command) -> BytesMut {
        let mut out = BytesMut::new();
        encode_command(&self.scenario().framing, cmd, &mut out).expect("requests fit the header");
        out
    }
}
