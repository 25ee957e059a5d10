//! The same scenario against a real server over real TCP (`framesim run --against`).
//!
//! The scenario's clients — their chunking, gaps, pipelining, roles, workload and model —
//! run on a tokio runtime with real sockets and real time, and check every reply with the
//! same oracles. What only the simulation can do does not apply and is said so: the
//! server-side stream faults and the restart (the server is not ours to wrap), the checks
//! of the server's counters and of what each connection holds (they read the server's
//! side), and the never-reader's cut (it reads the server's writes off the simulated
//! window). Timing oracles run on the wall clock; the latency bound is at least
//! [`MIN_LATENCY_BOUND`], as a real machine is noisier than virtual time. Each run writes
//! keys of its own (a prefix per run), so runs against one server do not see each other's.

use crate::client::{scenario_workload, KvClient, KvShared};
use crate::clock;
use crate::net::Faults;
use crate::oracle::Violations;
use crate::report::Report;
use crate::scenario::Scenario;
use crate::transcript::{Actor, Event, Transcript};
use crate::window::Windows;
use framesim_server::Stats;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The least latency bound a batch gets against a real server.
pub const MIN_LATENCY_BOUND: Duration = Duration::from_secs(2);

/// What of `scenario` runs against a real server, and a line for each part that does not.
pub fn applicable(scenario: &Scenario) -> (Scenario, Vec<String>) {
    let mut s = scenario.clone();
    let mut dropped = Vec::new();
    if s.faults != Faults::none() {
        s.faults = Faults::none();
        dropped.push("server-side stream faults (partial and coalesced reads, short writes, spurious Pending, the window): the server's sockets are not ours".to_string());
    }
    if s.restart_at.take().is_some() {
        dropped.push("the server restart: the server is not ours to crash".to_string());
    }
    if s.roles.never_reader > 0.0 {
        s.roles.never_reader = 0.0;
        dropped.push("never-reader clients: their cut is judged from the server's writes, which a real socket does not show".to_string());
    }
    if s.latency_bound < MIN_LATENCY_BOUND {
        dropped.push(format!(
            "latency bound {:?} raised to {MIN_LATENCY_BOUND:?} (wall clock)",
            s.latency_bound
        ));
        s.latency_bound = MIN_LATENCY_BOUND;
    }
    dropped.push(
        "server counters and per-connection backlog checks: they read the server's side".into(),
    );
    (s, dropped)
}

/// Runs `scenario`'s clients against the server at `addr` and checks every reply.
pub fn run(scenario: &Scenario, addr: SocketAddr, keep_transcript: bool) -> Report {
    let (s, _) = applicable(scenario);
    let s = Arc::new(s);
    let wall = Instant::now();
    let transcript = Transcript::new(keep_transcript);
    let violations = Violations::default();
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let prefix: Arc<str> = format!("r{:08x}:", crate::seeds::fresh() as u32).into();
    let shared = KvShared {
        scenario: s.clone(),
        transcript: transcript.clone(),
        violations: violations.clone(),
        latencies: latencies.clone(),
        windows: Windows::new(usize::MAX, usize::MAX),
        lifter: None,
        workload: scenario_workload(&s, &prefix),
        against: Some((addr, prefix)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let error = match runtime {
        Err(e) => Some(format!("could not start a runtime: {e}")),
        Ok(runtime) => clock::on_wall_clock(|| {
            runtime.block_on(async {
                transcript.record(
                    Actor::Sim,
                    Event::Note {
                        text: format!("start against {addr}"),
                    },
                );
                let mut clients = tokio::task::JoinSet::new();
                for id in s.client_ids() {
                    clients.spawn(KvClient::new(id, shared.clone()).run());
                }
                let mut error = None;
                while let Some(done) = clients.join_next().await {
                    if let Err(e) = done {
                        error.get_or_insert_with(|| format!("a client panicked: {e}"));
                    }
                }
                transcript.record(Actor::Sim, Event::Note { text: "end".into() });
                error
            })
        }),
    };
    let latencies = std::mem::take(&mut *latencies.lock().expect("latency lock"));
    let report = Report::new(
        scenario.clone(),
        violations.all(),
        error,
        transcript,
        Stats::default().snapshot(),
        latencies,
        wall.elapsed(),
        wall.elapsed(),
    );
    Report {
        against: Some(addr),
        ..report
    }
}

/// `addr` (`HOST:PORT`, as `--against` takes it) resolved to its first socket address.
pub fn resolve(addr: &str) -> Result<SocketAddr, String> {
    addr.to_socket_addrs()
        .map_err(|e| format!("--against {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("--against {addr}: no address"))
}

/// `framesim run --against HOST:PORT`: [`run`]s `scenario` against the server at `addr`
/// (each part that does not apply there said on stderr first) and writes its transcript to
/// `target/framesim/<stem>-against.txt`. Returns the report and that path as shown to a
/// developer ([`shown`](crate::kv::shown)).
pub fn run_to_file(scenario: &Scenario, addr: &str) -> Result<(Report, PathBuf), String> {
    let resolved = resolve(addr)?;
    let (_, dropped) = applicable(scenario);
    for line in dropped {
        eprintln!("framesim: not applicable against a real server: {line}");
    }
    let report = run(scenario, resolved, true);
    let path = crate::scenario::work_dir().join(format!("{}-against.txt", scenario.file_stem()));
    crate::output::write_transcript(&report, &path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let shown = PathBuf::from(crate::scenario::shown(&path));
    Ok((report, shown))
}
