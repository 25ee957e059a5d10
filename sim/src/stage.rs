//! The stage every simulated run plays on, whoever's server and clients: the server host
//! serving from the simulated [`Listener`], the client hosts, a monitor that runs once every
//! client host is done, and a crash and restart of the server host. `framesim run` (its
//! own server, the scenario's clients) and [`Harness`](crate::harness::Harness) (any
//! server, a [`Workload`](crate::harness::Workload)'s clients) both run here.

use crate::harness::{Accepted, Listener, ServerFn, Shutdown};
use crate::net::{Faults, Wiring};
use crate::panics::Capture;
use crate::seeds::{self, Stream};
use crate::transcript::{Actor, Event, Record, Transcript};
use crate::watchdog::{self, About};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A host's or the monitor's work.
pub(crate) type Task = Pin<Box<dyn Future<Output = ()>>>;

/// One client host's work: every client a task of its own, a panic in one raised again on
/// the host (turmoil then stops the run with it).
pub(crate) fn host<F>(clients: impl IntoIterator<Item = F>) -> Task
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let clients: Vec<F> = clients.into_iter().collect();
    Box::pin(async move {
        for client in clients {
            tasks.spawn(client);
        }
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    })
}

/// What the monitor gets: a way to stop the server, and whether it has returned.
pub(crate) struct Ending {
    /// Asks the server to return (its [`Shutdown`] completes).
    pub stop: Arc<tokio::sync::Notify>,
    /// Set once the server has returned after `stop`.
    pub returned: Arc<AtomicBool>,
    /// Connections the server has accepted and not dropped.
    pub open: Arc<AtomicUsize>,
}

/// One run's cast and setting.
pub(crate) struct Stage {
    /// The run's seed: turmoil's latencies, each connection's faults.
    pub seed: u64,
    /// Range of turmoil's one-way message latency.
    pub latency: (Duration, Duration),
    /// Connections turmoil holds per stream, which is also the accept backlog (it panics
    /// when full).
    pub tcp_capacity: usize,
    /// Where the server listens on host `server`.
    pub port: u16,
    /// What the server's streams do to its reads and writes.
    pub faults: Faults,
    /// What every connection shares (kept across restarts).
    pub wiring: Wiring,
    /// The server under test.
    pub server: Rc<ServerFn>,
    /// Each client host's work, named `client<i>`.
    pub hosts: Vec<Task>,
    /// What runs once every client host is done.
    pub monitor: Box<dyn FnOnce(Ending) -> Task>,
    /// When the server host crashes (its shutdown with no grace) and comes back.
    pub restart_at: Option<Duration>,
    /// The grace the server was configured with, for the transcript: zero is a crash.
    pub restart_grace: Duration,
    /// Where the run's events go.
    pub transcript: Transcript,
    /// What the run is called if it stalls (see [`watchdog`](crate::watchdog)).
    pub about: About,
    /// Told the virtual time a graceful restart's shutdown begins (a crash tells nothing).
    pub on_drain: Option<Box<dyn FnOnce(Duration)>>,
}

/// How a run ended.
pub(crate) struct Ran {
    /// What stopped the run early: a panic or turmoil's error.
    pub error: Option<String>,
    /// Every panic, one line each, first first.
    pub panics: Vec<String>,
    /// Virtual time at the end.
    pub virtual_time: Duration,
    /// The server was stopped for a restart and never returned.
    pub unreturned: bool,
}

impl Stage {
    /// Plays the run to its end.
    pub(crate) fn play(self) -> Ran {
        let panics = Capture::start();
        let Stage {
            seed,
            latency,
            tcp_capacity,
            port,
            faults,
            wiring,
            server,
            hosts,
            monitor,
            restart_at,
            restart_grace,
            transcript,
            about,
            mut on_drain,
        } = self;
        let watch = watchdog::watch(about);
        let mut sim = turmoil::Builder::new()
            .simulation_duration(Duration::from_secs(24 * 3600))
            .tick_duration(Duration::from_millis(1))
            .min_message_latency(latency.0)
            .max_message_latency(latency.1)
            .tcp_capacity(tcp_capacity)
            .rng_seed(seeds::derive(seed, Stream::Network))
            .build();

        // A crash is a shutdown with no grace, then a restart of the host; the end of the
        // run is the same shutdown, with no restart. Closing the connections through the
        // server (in accept order) rather than by dropping the runtime keeps the order in
        // which clients see them go independent of tokio's task ids.
        let stop = Arc::new(tokio::sync::Notify::new());
        let down = Arc::new(AtomicBool::new(false));
        let ending = Arc::new(AtomicBool::new(false));
        let returned = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        // Set by a crash, taken by the server's return: a return it did not cause ends the
        // run's server (no restart).
        let crashing = Arc::new(AtomicBool::new(false));
        let (stop_in, down_in, returned_in, crashing_in) = (
            stop.clone(),
            down.clone(),
            returned.clone(),
            crashing.clone(),
        );
        let (t, open_in) = (transcript.clone(), open.clone());
        sim.host("server", move || {
            let (t, server, wiring, open) =
                (t.clone(), server.clone(), wiring.clone(), open_in.clone());
            let (stop, down, returned, crashing) = (
                stop_in.clone(),
                down_in.clone(),
                returned_in.clone(),
                crashing_in.clone(),
            );
            async move {
                let bound = turmoil::net::TcpListener::bind(("0.0.0.0", port)).await?;
                t.record(
                    Actor::Server,
                    Event::Note {
                        text: format!("listening on {port}"),
                    },
                );
                let accepted = Accepted::default();
                let listener = Listener::new(bound, faults, seed, wiring, open, accepted.clone());
                server(listener, Shutdown::new(stop)).await;
                if crashing.swap(false, Ordering::SeqCst) {
                    // What the server left open goes with the host, in accept order.
                    accepted.close_all();
                    down.store(true, Ordering::SeqCst);
                } else {
                    returned.store(true, Ordering::SeqCst);
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        });

        let count = hosts.len();
        let hosts_done = Arc::new(AtomicUsize::new(0));
        for (h, work) in hosts.into_iter().enumerate() {
            let done = hosts_done.clone();
            sim.client(format!("client{h}"), async move {
                work.await;
                done.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
        }
        let (stop_in, ended) = (stop.clone(), ending.clone());
        sim.client("monitor", async move {
            while hosts_done.load(Ordering::SeqCst) < count {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            ending.store(true, Ordering::SeqCst);
            monitor(Ending {
                stop: stop_in,
                returned,
                open,
            })
            .await;
            Ok(())
        });

        transcript.record(
            Actor::Sim,
            Event::Note {
                text: "start".into(),
            },
        );
        let (mut restarted, mut bounced) = (false, false);
        let stepped = catch_unwind(AssertUnwindSafe(|| loop {
            // No crash once the clients are done: the monitor's checks see the server
            // they ran against.
            if let Some(at) = restart_at {
                if !restarted && sim.elapsed() >= at && !ended.load(Ordering::SeqCst) {
                    restarted = true;
                    transcript.push(Record {
                        at: sim.elapsed(),
                        actor: Actor::Sim,
                        event: Event::Fault {
                            what: if restart_grace.is_zero() {
                                "server host crash + restart".into()
                            } else {
                                format!("server shutdown, grace {restart_grace:?} + restart")
                            },
                        },
                    });
                    crashing.store(true, Ordering::SeqCst);
                    if let Some(began) = on_drain.take().filter(|_| !restart_grace.is_zero()) {
                        began(sim.elapsed());
                    }
                    stop.notify_one();
                }
            }
            // The host comes back once, after the crash; a server that returns on its own
            // stays down.
            if restarted && !bounced && down.load(Ordering::SeqCst) {
                bounced = true;
                sim.bounce("server");
            }
            let stepped = sim.step();
            watch.stepped(sim.elapsed());
            match stepped {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => return Err(e.to_string()),
            }
        }));
        let virtual_time = sim.elapsed();
        let unreturned = restarted && !down.load(Ordering::SeqCst);
        drop(sim);
        let panics = panics.finish();
        // The first panic recorded is where things went wrong: later ones (other tasks, the
        // host that re-raised it) follow from it.
        let error = match (stepped, panics.first()) {
            (Ok(Ok(())), _) => None,
            (Ok(Err(e)), None) => Some(format!("simulation error: {e}")),
            (Ok(Err(e)), Some(at)) => Some(format!("simulation error: {e} (panic at {at})")),
            (Err(_), Some(at)) => Some(format!("panic at {at}")),
            (Err(panic), None) => Some(format!("panic: {}", panic_message(&panic))),
        };
        Ran {
            error,
            panics,
            virtual_time,
            unreturned,
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}
