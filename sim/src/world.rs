//! Scenario → turmoil hosts → report: the server host, the client hosts, a monitor that
//! runs the server-side checks once every client is done, and the crash of a restart.

use crate::client::{scenario_workload, KvClient, KvShared};
use crate::clock::Clock;
use crate::harness::limit::{self, Prober};
use crate::harness::{
    server_fn, Draws, KvWorkload, Listener, ReplyFramer, Request, ServerFn, Session, Shutdown,
    Workload,
};
use crate::kv::plan::Plans;
use crate::net::{AcceptFaults, Wiring, PORT};
use crate::oracle::backlog::{self, Backlog};
use crate::oracle::{self, Oracle, Violations};
use crate::report::Report;
use crate::scenario::Scenario;
use crate::script::Lifter;
use crate::seeds;
use crate::stage::{self, Ending, Stage, Task};
use crate::transcript::{Actor, Event, Transcript};
use crate::window::Windows;
use bytes::{Bytes, BytesMut};
use framesim_server::framing::Decoder;
use framesim_server::protocol::{encode_command, Framing, ReplyDecoder};
use framesim_server::{Command, Config, Reply, Response, Service, Stats};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Keep every transcript line (replays, snapshots, determinism checks); otherwise only
    /// its hash and counts.
    pub keep_transcript: bool,
    /// Lift the run into a script: every client's steps, in the report.
    pub lift: bool,
}

/// The service the server host runs: the key-value store, recording each decoded frame and
/// counting each reply against the connection that asked (see `oracle::backlog`).
struct Recorder {
    kv: Box<dyn Service>,
    transcript: Transcript,
    /// The run's time, read on the server's host (a restart makes a new recorder).
    clock: Clock,
}

impl Service for Recorder {
    fn call(&self, cmd: Command) -> Response {
        let frame = Event::Frame { cmd };
        self.transcript
            .record_ref_at(self.clock.now(), Actor::Server, &frame);
        let Event::Frame { cmd } = frame else {
            unreachable!("built as a frame above")
        };
        let response = self.kv.call(cmd);
        backlog::replied(&response.reply);
        response
    }
}

/// The server's `Config` for a scenario.
fn server_config(s: &Scenario) -> Config {
    Config {
        framing: s.framing.clone(),
        limits: s.limits,
        max_connections: s.clients + 16,
        // A crash closes every connection at once; a graceful restart lets in-flight
        // requests finish first.
        grace: s.restart_grace,
        ..Config::default()
    }
}

/// framesim's own server (or the scenario's fixture) over the key-value store, as the
/// harness takes any server: recording each frame it decodes.
fn server(s: &Scenario, stats: Stats, transcript: Transcript) -> Rc<ServerFn> {
    let (target, config) = (s.target, server_config(s));
    server_fn(move |listener: Listener, shutdown: Shutdown| {
        // A fixture's slip in the store sits under the recording: the frames recorded (and
        // counted against the bytes read) are the server's, not the store's calls.
        let service = Recorder {
            kv: target.store(),
            transcript: transcript.clone(),
            clock: Clock::default(),
        };
        target.serve(listener, service, config.clone(), stats.clone(), shutdown)
    })
}

/// What a probe of framesim's server's connection limit asks: PING, served by PONG.
struct Ping(Framing);

impl Workload for Ping {
    fn session(&self, _client: usize) -> Box<dyn Session> {
        Box::new(PingSession(self.0.clone()))
    }

    fn framer(&self) -> Box<dyn ReplyFramer> {
        KvWorkload::new(self.0.clone()).framer()
    }
}

struct PingSession(Framing);

impl Session for PingSession {
    fn next_request(&mut self, _rng: &mut Draws) -> Option<Request> {
        let mut ping = BytesMut::new();
        let command = Command::new([Bytes::from_static(b"PING")]);
        encode_command(&self.0, &command, &mut ping).ok()?;
        Some(Request::new(ping.freeze()))
    }

    fn check_reply(&mut self, _request: &Request, reply: &[u8]) -> Result<(), String> {
        let mut reply = BytesMut::from(reply);
        match ReplyDecoder::new(&self.0, 1 << 16).decode(&mut reply) {
            Ok(Some(Reply::Simple(s))) if s == "PONG" => Ok(()),
            other => Err(format!("not PONG: {other:?}")),
        }
    }
}

/// Runs `scenario` to its end and checks every oracle.
pub fn run(scenario: &Scenario, options: RunOptions) -> Report {
    let tape = scenario.tape.clone().map(seeds::Tape::new);
    seeds::with_tape(tape, || run_drawing(scenario, options))
}

/// [`run`], with the run's tape (if any) in place.
fn run_drawing(scenario: &Scenario, options: RunOptions) -> Report {
    let wall = std::time::Instant::now();
    let s = Arc::new(scenario.clone());
    let transcript = Transcript::new(options.keep_transcript);
    let violations = Violations::default();
    let stats = Stats::default();
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let hosts = s.client_hosts.clamp(1, s.clients.max(1));
    // turmoil's capacity per stream is also the accept backlog, which panics when full.
    let tcp_capacity = s.clients + 64;
    let windows = Windows::new(s.faults.window, tcp_capacity);
    let backlog = Backlog::new(
        &s.framing,
        &s.limits,
        transcript.clone(),
        violations.clone(),
    );
    // A connection of an earlier run on this thread must not collect this run's replies.
    backlog::clear();
    // A script's server side is its plans (none: plain polls); a run being lifted writes
    // every connection's polls down; any other run draws them.
    let plans = if !s.scripts.is_empty() {
        Plans::Play(Arc::new(s.connections.clone()))
    } else if options.lift {
        Plans::Record(Arc::default())
    } else {
        Plans::Draw
    };

    let accepts = Arc::new(AcceptFaults::default());

    let lifter = options.lift.then(Lifter::default);
    let shared = KvShared {
        scenario: s.clone(),
        transcript: transcript.clone(),
        violations: violations.clone(),
        latencies: latencies.clone(),
        windows: windows.clone(),
        lifter: lifter.clone(),
        against: None,
        workload: scenario_workload(&s, ""),
    };
    let clients = (0..hosts)
        .map(|h| {
            let ids = s.client_ids().filter(|id| id % hosts == h);
            stage::host(ids.map(|id| KvClient::new(id, shared.clone()).run()))
        })
        .collect();

    let (t, v, st, scn, a) = (
        transcript.clone(),
        violations.clone(),
        stats.clone(),
        s.clone(),
        accepts.clone(),
    );
    let max_connections = server_config(&s).max_connections;
    let monitor = Box::new(move |ending: Ending| {
        Box::pin(async move {
            // Let the server see the last closes, then check what it holds.
            let settle = scn.limits.frame_deadline + Duration::from_millis(200);
            let start = tokio::time::Instant::now();
            while st.snapshot().connections_open > 0 && start.elapsed() < settle {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            oracle::server::check(&scn, &st.snapshot(), &a, &t, &v);
            // The limit, on a server holding nothing (counted at the listener, whatever the
            // server counts): only after a run that held so far, so that a failure stays
            // the first thing that went wrong.
            if v.all().is_empty() && max_connections <= limit::PROBE_MAX {
                let wait = scn.limits.frame_deadline + scn.limits.idle_timeout;
                let start = tokio::time::Instant::now();
                while ending.open.load(Ordering::SeqCst) > 0 && start.elapsed() < wait {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                if ending.open.load(Ordering::SeqCst) == 0 {
                    // The probe times how the server answers at its limit, not its accepts.
                    a.off.store(true, Ordering::Relaxed);
                    let prober = Prober {
                        port: PORT,
                        seed: scn.seed,
                        first_id: scn.clients,
                        workload: Arc::new(Ping(scn.framing.clone())),
                        transcript: t.clone(),
                        violations: v.clone(),
                        strict: true,
                    };
                    Arc::new(prober).probe(max_connections).await;
                }
            }
            t.record(Actor::Sim, Event::Note { text: "end".into() });
        }) as Task
    });

    let ran = Stage {
        seed: s.seed,
        latency: s.latency,
        tcp_capacity,
        port: PORT,
        faults: s.faults,
        wiring: Wiring {
            // Outlives every incarnation of the server host, so connection fault streams
            // go on after a restart instead of starting over.
            accepted: Arc::default(),
            transcript: transcript.clone(),
            windows,
            taps: Arc::new(backlog),
            plans: plans.clone(),
            accepts: accepts.clone(),
        },
        server: server(&s, stats.clone(), transcript.clone()),
        hosts: clients,
        monitor,
        restart_at: s.restart_at,
        restart_grace: s.restart_grace,
        transcript: transcript.clone(),
        on_drain: Some(Box::new(backlog::shutdown_began)),
        about: {
            let s = s.clone();
            Box::new(move || {
                format!(
                    "seed {} | replay: {}",
                    s.seed,
                    crate::report::command_for("replay", &s)
                )
            })
        },
    }
    .play();
    backlog::clear();
    // A graceful shutdown ends: the server returns within its grace (a crash promises
    // nothing here; the naive fixtures never return from one).
    if ran.unreturned && !s.restart_grace.is_zero() && ran.error.is_none() {
        let detail = format!(
            "the server never returned from the graceful shutdown begun at {:?} (grace {:?})",
            s.restart_at.unwrap_or_default(),
            s.restart_grace
        );
        violations.fail(&transcript, Actor::Sim, Oracle::Drain, detail);
    }
    let latencies = std::mem::take(&mut *latencies.lock().expect("latency lock"));
    Report {
        panics: ran.panics,
        scripts: lifter.map(|l| l.scripts()).unwrap_or_default(),
        connections: plans.recorded(),
        ..Report::new(
            scenario.clone(),
            violations.all(),
            ran.error,
            transcript,
            stats.snapshot(),
            latencies,
            ran.virtual_time,
            wall.elapsed(),
        )
    }
}

/// Where two runs of one seed first differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the first differing transcript line.
    pub index: usize,
    /// That line in the first run (or `None` if the first run ended earlier).
    pub first: Option<String>,
    /// That line in the second run.
    pub second: Option<String>,
}

impl Divergence {
    /// Where two runs' transcript lines first differ, if they do.
    pub fn between(first: &[String], second: &[String]) -> Option<Divergence> {
        let index = (0..first.len().max(second.len())).find(|&i| first.get(i) != second.get(i))?;
        Some(Divergence {
            index,
            first: first.get(index).cloned(),
            second: second.get(index).cloned(),
        })
    }
}

impl Divergence {
    /// The client whose event diverged (`c5 ...` in a transcript line), if a client's.
    pub fn client(&self) -> Option<usize> {
        let line = self.first.as_deref().or(self.second.as_deref())?;
        let actor = line.split_whitespace().nth(1)?;
        actor.strip_prefix('c')?.parse().ok()
    }

    /// The likeliest reason two runs of one seed differed here, for a person to check
    /// first.
    pub fn likely_cause(&self) -> &'static str {
        let clock_like = match (self.first.as_deref(), self.second.as_deref()) {
            (Some(a), Some(b)) => {
                a.len() == b.len()
                    && (a.contains(" reply ") || a.contains(" note reply "))
                    && a.bytes().zip(b.bytes()).enumerate().all(|(at, (x, y))| {
                        x == y || (x.is_ascii_digit() && y.is_ascii_digit() && !escaped(a, at))
                    })
            }
            _ => false,
        };
        if clock_like {
            "the replies differ only in digits: wall-clock time in a reply (an HTTP date header, a timestamp): read time from tokio::time, or leave it out under test"
        } else {
            UNORDERED
        }
    }
}

/// Whether byte `at` of `line` is a hex digit of a `\xNN` escape (a binary byte, not a
/// decimal digit of a date or a counter).
fn escaped(line: &str, at: usize) -> bool {
    let line = line.as_bytes();
    (at >= 2 && &line[at - 2..at] == b"\\x") || (at >= 3 && &line[at - 3..at - 1] == b"\\x")
}

/// Runs `scenario` twice; returns the transcript hash, or the first diverging event.
pub fn check_determinism(scenario: &Scenario) -> Result<u64, Divergence> {
    let options = RunOptions {
        keep_transcript: true,
        ..RunOptions::default()
    };
    let first = run(scenario, options).transcript;
    let second = run(scenario, options).transcript;
    match Divergence::between(&first.lines(), &second.lines()) {
        None => Ok(first.hash()),
        Some(d) => Err(d),
    }
}

/// The likely cause of a divergence no other cause fits, or of one that did not show again.
pub(crate) const UNORDERED: &str = "an order that differs between runs: a tokio::select! without `biased;` (tokio draws its branch order from an unseeded RNG unless built with RUSTFLAGS=\"--cfg tokio_unstable\", when the simulation seeds it), the iteration order of a HashMap or HashSet, thread_rng or OS randomness, or a real thread";

#[cfg(test)]
mod divergence_tests {
    use super::Divergence;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn the_likely_cause_follows_what_differs() {
        let date = |s: &str| {
            format!(
                "    12.000ms c3 note reply HTTP/1.1 200 OK\\r\\ndate: Mon, 07 Dec 2026 02:{s} GMT"
            )
        };
        let d = Divergence::between(&lines(&date("31:07")), &lines(&date("31:08"))).unwrap();
        assert_eq!(d.client(), Some(3));
        assert!(
            d.likely_cause().contains("wall-clock"),
            "{}",
            d.likely_cause()
        );
        let first =
            lines("     1.000ms c0 write 3 |abc|\n   130.000ms c1 connect 192.168.0.2:49160");
        let second =
            lines("     1.000ms c0 write 3 |abc|\n   130.000ms c2 connect 192.168.0.3:49160");
        let d = Divergence::between(&first, &second).unwrap();
        assert!(d.likely_cause().contains("biased"));
        // Binary replies that differ in an escaped byte are not a clock.
        let binary = |b: &str| lines(&format!("    12.000ms c3 note reply \\x00\\x{b}ok"));
        let d = Divergence::between(&binary("01"), &binary("02")).unwrap();
        assert!(d.likely_cause().contains("biased"), "{}", d.likely_cause());
    }
}
