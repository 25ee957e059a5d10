//! A harness run: the user's server on host `server`, the clients spread over client hosts,
//! and a monitor that checks what is left once they are gone.

use super::buffers::{BufferTaps, Buffers};
use super::client::Client;
use super::limit;
use super::listener::{Listener, Shutdown};
use super::options::{Options, Role};
use super::outcome::Outcome;
use super::recorder::{Recorder, RunHistory};
use super::shared::{Scripting, Shared};
use super::workload::Workload;
use crate::net::Wiring;
use crate::oracle::Oracle;
use crate::oracle::Violations;
use crate::stage::{self, Ending, Stage, Task};
use crate::transcript::{Actor, Event, Transcript};
use crate::window::Windows;
use crate::world::Divergence;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The server under test, as every run holds it: a user's server given to
/// [`Harness::new`], and framesim's own server under `framesim run` alike.
pub(crate) type ServerFn = dyn Fn(Listener, Shutdown) -> Pin<Box<dyn Future<Output = ()>>>;

/// The server as a [`Harness`] holds it: shared by the threads of a sweep, each making its
/// own runs (its futures stay on their run's thread).
type SharedServer = dyn Fn(Listener, Shutdown) -> Pin<Box<dyn Future<Output = ()>>> + Send + Sync;

/// `server` as a run holds it.
pub(crate) fn server_fn<F, Fut>(server: F) -> Rc<ServerFn>
where
    F: Fn(Listener, Shutdown) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    Rc::new(move |listener, shutdown| Box::pin(server(listener, shutdown)))
}

/// A server, a workload and their options: runs one seed, or (through
/// [`sweep`](super::sweep())) many.
///
/// The server is a closure given the simulated [`Listener`] and a [`Shutdown`]: it serves
/// every connection it accepts until the shutdown completes, then returns. It runs on
/// turmoil's host `server`, on a current-thread runtime with virtual time, so
/// `tokio::spawn` and `tokio::time` work unchanged. The clients connect to
/// `server:<port>`.
///
/// ```
/// use framesim::harness::{Harness, KvWorkload, Options};
/// use framesim_server::protocol::Framing;
/// use framesim_server::{serve, Config, Kv, Stats};
///
/// let harness = Harness::new(
///     |listener, shutdown| async move {
///         let config = Config { framing: Framing::line(), ..Config::default() };
///         serve(listener, Kv::new(), config, Stats::default(), shutdown).await.unwrap();
///     },
///     KvWorkload::new(Framing::line()),
/// )
/// .with(Options { clients: 8, ..Options::gentle() });
/// let outcome = harness.run(7);
/// assert!(outcome.passed(), "{}", outcome.failure("(doc example)"));
/// assert_eq!(outcome.tally.replies, 8 * 8);
/// ```
#[derive(Clone)]
pub struct Harness {
    server: Arc<SharedServer>,
    workload: Arc<dyn Workload>,
    options: Options,
}

impl Harness {
    /// `server` under `workload`, with [`Options::default`]. The closure is shared by the
    /// threads of a sweep (`Send + Sync`); the future it makes runs on its run's thread
    /// only (it need not be `Send`).
    pub fn new<F, Fut, W>(server: F, workload: W) -> Self
    where
        F: Fn(Listener, Shutdown) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
        W: Workload + 'static,
    {
        Harness {
            server: Arc::new(move |listener, shutdown| Box::pin(server(listener, shutdown))),
            workload: Arc::new(workload),
            options: Options::default(),
        }
    }

    /// The same harness with `options`.
    pub fn with(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// The same harness with `n` clients.
    pub fn clients(mut self, n: usize) -> Self {
        self.options.clients = n;
        self
    }

    /// This harness's options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Runs `seed` to its end and checks every oracle.
    pub fn run(&self, seed: u64) -> Outcome {
        run(
            self,
            seed,
            self.options.keep_transcript,
            Scripting::default(),
        )
    }

    /// Runs `seed` keeping every transcript line (for a report or a file).
    pub fn replay(&self, seed: u64) -> Outcome {
        run(self, seed, true, Scripting::default())
    }

    /// The workload its clients ask.
    pub(super) fn workload(&self) -> &Arc<dyn Workload> {
        &self.workload
    }

    /// Runs `seed` twice; the transcript hash, or where the two runs first differ.
    pub fn check_determinism(&self, seed: u64) -> Result<u64, Divergence> {
        match self.diverge(seed) {
            None => Ok(self.run(seed).transcript.hash()),
            Some(d) => Err(d),
        }
    }

    /// Runs `seed` twice keeping both transcripts: where they first differ.
    pub(crate) fn diverge(&self, seed: u64) -> Option<Divergence> {
        let (a, b) = (
            self.replay(seed).transcript.lines(),
            self.replay(seed).transcript.lines(),
        );
        Divergence::between(&a, &b)
    }
}

/// How long past its grace a server may take to return from a graceful restart's shutdown:
/// ending what is left once the grace runs out takes no time of its own.
const PAST_GRACE: Duration = Duration::from_millis(100);

/// Why the server broke its graceful restart's promise ([`Options::restart_grace`]) by
/// returning late from the shutdown (it returned at `back`, or never: `unreturned`): a
/// server whose shutdown does not reach its connections keeps serving them past the grace,
/// and the restart waits for its clients to leave. A crash promises nothing here.
fn returned_late(o: &Options, back: Option<Duration>, unreturned: bool) -> Option<String> {
    let (at, grace) = (o.restart_at?, o.restart_grace);
    if grace.is_zero() {
        return None;
    }
    match back {
        Some(back) if back > at + grace + PAST_GRACE => Some(format!(
            "the server returned {:?} after the graceful shutdown begun at {at:?}, past its grace {grace:?}: connections served past the grace (a shutdown signal that does not reach every connection, or a drain that waits for clients to leave)",
            back - at
        )),
        None if unreturned => Some(format!(
            "the server never returned from the graceful shutdown begun at {at:?} (grace {grace:?})"
        )),
        _ => None,
    }
}

/// Waits until `done` holds or `limit` passes; whether it held.
async fn within(limit: Duration, done: impl Fn() -> bool) -> bool {
    let start = tokio::time::Instant::now();
    while !done() {
        if start.elapsed() >= limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// Runs `seed` of `harness`, lifted into a script or played from one as `scripting` says.
pub(super) fn run(harness: &Harness, seed: u64, keep: bool, scripting: Scripting) -> Outcome {
    let o = harness.options.for_seed(seed);
    let transcript = Transcript::new(keep);
    // The per-stream capacity is also the accept backlog, which panics when full: the
    // connection-limit probe opens its limit and two more at once.
    let probed = o.max_connections.map_or(0, |max| max.saturating_add(2));
    let tcp_capacity = o.clients.max(probed).saturating_add(64);
    let windows = Windows::new(o.faults.window, tcp_capacity);
    let violations = Violations::default();
    let history = harness
        .workload
        .model()
        .map(|spec| Arc::new(Recorder::new(&spec)));
    let buffers = Arc::new(Buffers::new(
        &o,
        windows.clone(),
        transcript.clone(),
        violations.clone(),
        history.clone(),
    ));
    let wiring = Wiring {
        taps: Arc::new(BufferTaps(buffers.clone())),
        windows: windows.clone(),
        plans: scripting.plans.clone(),
        ..Wiring::plain(transcript.clone())
    };
    let shared = Shared {
        seed,
        options: o.clone(),
        workload: harness.workload.clone(),
        transcript: transcript.clone(),
        windows,
        buffers,
        violations,
        tally: Arc::default(),
        scripting,
        history,
        back_at: Arc::default(),
    };
    let hosts = o.hosts.clamp(1, o.clients.max(1));
    let running = o.client_ids();
    let clients = (0..hosts)
        .map(|h| {
            let ids = running.iter().filter(|&id| id % hosts == h);
            stage::host(ids.map(|&id| Client::new(id, shared.clone()).run()))
        })
        .collect();

    // Set when the monitor tells the server to stop: a return before it is a violation.
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let monitor = shared.clone();
    let (settle, max_connections) = (o.settle, o.max_connections);
    let told = stopping.clone();
    let accepts = wiring.accepts.clone();
    let check = Box::new(move |ending: Ending| {
        Box::pin(async move {
            if let Some(spun) = accepts.spun() {
                monitor.violation(Oracle::Accept, None, spun);
            }
            let open = ending.open;
            if !within(settle, || open.load(Ordering::SeqCst) == 0).await {
                let left = open.load(Ordering::SeqCst);
                monitor.violation(
                    Oracle::Leak,
                    None,
                    format!(
                        "the server still holds {left} connection(s) {settle:?} after the last client left"
                    ),
                );
            }
            if let Some(max) = max_connections {
                if open.load(Ordering::SeqCst) == 0 && monitor.passing() {
                    // The probe times how the server answers at its limit, not its accepts.
                    accepts.off.store(true, Ordering::Relaxed);
                    let prober = limit::Prober {
                        port: monitor.options.port,
                        seed: monitor.seed,
                        first_id: monitor.options.clients,
                        workload: monitor.workload.clone(),
                        transcript: monitor.transcript.clone(),
                        violations: monitor.violations.clone(),
                        strict: false,
                    };
                    Arc::new(prober).probe(max).await;
                }
            }
            monitor.transcript.record(
                Actor::Sim,
                Event::Note {
                    text: "shutdown".into(),
                },
            );
            told.store(true, Ordering::SeqCst);
            ending.stop.notify_one();
            let returned = ending.returned;
            if within(settle, || returned.load(Ordering::SeqCst)).await {
                monitor.transcript.record(
                    Actor::Server,
                    Event::Note {
                        text: "server returned".into(),
                    },
                );
            } else {
                monitor.violation(
                    Oracle::Shutdown,
                    None,
                    format!("the server did not return within {settle:?} of its shutdown"),
                );
            }
        }) as Task
    });

    let playing = super::recorder::Playing::start(shared.history.clone());
    let ran = Stage {
        seed,
        latency: o.latency,
        tcp_capacity,
        port: o.port,
        faults: o.faults,
        wiring,
        server: {
            let (server, shared) = (harness.server.clone(), shared.clone());
            Rc::new(move |listener, shutdown| {
                let (served, shared) = (server(listener, shutdown), shared.clone());
                let stopping = stopping.clone();
                Box::pin(async move {
                    served.await;
                    // Told neither to stop nor to restart: its accept loop ended.
                    let restarted = shared.options.restart_at.is_some_and(|at| {
                        turmoil::sim_elapsed().is_some_and(|now| now >= at)
                    });
                    if restarted {
                        let now = crate::clock::now().as_nanos().max(1) as u64;
                        let _ = shared.back_at.compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst);
                    }
                    if !stopping.load(Ordering::SeqCst) && !restarted {
                        shared.violation(
                            Oracle::Accept,
                            None,
                            format!(
                                "the server returned at {:?}, before its shutdown: it accepts no connection after that",
                                crate::clock::now()
                            ),
                        );
                    }
                })
            })
        },
        hosts: clients,
        monitor: check,
        restart_at: o.restart_at,
        restart_grace: o.restart_grace,
        transcript: transcript.clone(),
        about: Box::new(move || format!("seed {seed} (FRAMESIM_SEED={seed} replays it)")),
        on_drain: None,
    }
    .play();
    drop(playing);
    let ends = shared.buffers.read_ends();
    shared.tally(|t| {
        (t.reads_inside, t.reads_at_seams, t.reads_across) =
            (ends.inside, ends.at_seam, ends.across)
    });
    if ran.error.is_none() {
        if let Some(late) = returned_late(&o, shared.back_at(), ran.unreturned) {
            shared.violation_at_end(ran.virtual_time, Oracle::Drain, late);
        }
    }
    // Judged before the tally is read: the check counts what it found there.
    let history = shared.history.as_ref().map(|recorder| {
        let checked = super::record::judge(&shared, recorder, ran.virtual_time);
        RunHistory::new(recorder.clone(), checked)
    });
    let tally = *shared.tally.lock().expect("tally lock");
    if tally.clients_finished < running.len() as u64 && ran.error.is_none() {
        shared.violation_at_end(
            ran.virtual_time,
            Oracle::Finished,
            format!(
                "{} of {} clients finished",
                tally.clients_finished,
                running.len()
            ),
        );
    }
    let violations = shared.violations.all();
    let roles = match &shared.scripting.scripts {
        Some(scripts) => scripts
            .iter()
            .map(|(&id, scripted)| (id, scripted.script.role))
            .filter(|&(_, role)| role != Role::Normal)
            .collect(),
        None => (0..o.clients)
            .map(|id| (id, o.roles.of(id)))
            .take_while(|&(_, role)| role != Role::Normal)
            .collect(),
    };
    Outcome {
        seed,
        roles,
        violations,
        panics: ran.panics,
        error: ran.error,
        counts: transcript.counts(),
        transcript,
        tally,
        virtual_time: ran.virtual_time,
        history,
    }
}
