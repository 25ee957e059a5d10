//! A run: hyper's server on one turmoil host behind `FaultyStream`, the virtual clients on
//! the others, a monitor that checks what the server still holds at the end.

use crate::client::Client;
use crate::model;
use crate::role::Role;
use crate::rt::{Io, SimTimer};
use framesim::{Actor, Event, Faults, FaultyStream, Transcript};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The port hyper listens on.
pub const PORT: u16 = 80;

/// Everything a run depends on.
#[derive(Debug, Clone)]
pub struct Config {
    /// Every random choice of the run follows from it.
    pub seed: u64,
    /// Virtual clients.
    pub clients: usize,
    /// Client hosts they are spread over.
    pub hosts: usize,
    /// hyper's `header_read_timeout`; `None` turns it off (and slowloris must then win).
    pub header_timeout: Option<Duration>,
    /// hyper's `max_buf_size`.
    pub max_buf_size: usize,
    /// hyper's `pipeline_flush`: hold responses back while more requests are buffered.
    pub pipeline_flush: bool,
    /// Time between the bytes a slowloris or a slow body trickles.
    pub slowloris_interval: Duration,
    /// What the stream adapter does to the server's reads and writes.
    pub faults: Faults,
    /// Keep every event (determinism checks, small runs); otherwise only the hash.
    pub keep_events: bool,
    /// Every client plays this role, instead of each its own (focused runs).
    pub only: Option<Role>,
}

impl Config {
    /// The run CI makes: a thousand clients over 25 hosts, a 1 s header timeout, a 16 KiB
    /// buffer limit, and every stream fault.
    pub fn new(seed: u64) -> Self {
        Config {
            seed,
            clients: 1000,
            hosts: 25,
            header_timeout: Some(Duration::from_secs(1)),
            max_buf_size: 16 * 1024,
            pipeline_flush: true,
            slowloris_interval: Duration::from_millis(250),
            faults: Faults::every_kind(),
            keep_events: false,
            only: None,
        }
    }

    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        let mut cmd = format!(
            "cargo run --release -p framesim-hyper -- --seed {} --clients {} --hosts {}",
            self.seed, self.clients, self.hosts
        );
        let default = Config::new(self.seed);
        match self.header_timeout {
            None => cmd.push_str(" --no-header-timeout"),
            Some(t) if Some(t) != default.header_timeout => {
                cmd.push_str(&format!(" --header-timeout-ms {}", t.as_millis()))
            }
            Some(_) => {}
        }
        if self.max_buf_size != default.max_buf_size {
            cmd.push_str(&format!(" --max-buf-size {}", self.max_buf_size));
        }
        if !self.pipeline_flush {
            cmd.push_str(" --no-pipeline-flush");
        }
        if self.faults != default.faults {
            cmd.push_str(" --no-faults");
        }
        if let Some(role) = self.only {
            cmd.push_str(&format!(" --only {}", role.name()));
        }
        cmd
    }
}

/// What the run shows about the server beyond pass or fail.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Responses checked against the model.
    pub responses: u64,
    /// Of those, on pipelined connections.
    pub pipelined: u64,
    /// Clients that left mid-request.
    pub disconnects: u64,
    /// Per slowloris: virtual ms from its connect to the server's close.
    pub slowloris_cut_ms: Vec<u64>,
    /// What slowloris clients were told before the close, counted.
    pub slowloris_replies: BTreeMap<String, u64>,
    /// Per slow body: virtual ms from its head to its response.
    pub slow_body_ms: Vec<u64>,
    /// Per lingerer: virtual ms from its response to the server's close.
    pub idle_cut_ms: Vec<u64>,
    /// Lingerers still open after three header timeouts.
    pub idle_kept: u64,
    /// What oversized heads got, counted.
    pub oversized: BTreeMap<String, u64>,
    /// What requests whose body the handler left unread got, counted.
    pub unread_bodies: BTreeMap<String, u64>,
    /// What clients that waited before their first byte got, counted.
    pub latecomers: BTreeMap<String, u64>,
    /// Heads of half to nearly all of the buffer limit that were served.
    pub large_heads: u64,
    /// How hyper's connections ended (`serve_connection`'s result), counted.
    pub server_ends: BTreeMap<String, u64>,
    /// Requests the handler saw.
    pub handled: u64,
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The run's configuration.
    pub config: Config,
    /// Everything the oracles refused, in the order it happened.
    pub violations: Vec<String>,
    /// Hash of every event, for the determinism check.
    pub hash: u64,
    /// Events recorded.
    pub events: u64,
    /// The events, when kept.
    pub lines: Vec<String>,
    /// Counts of the stream faults injected.
    pub counts: framesim::Counts,
    /// What the run shows about the server.
    pub findings: Findings,
    /// Virtual time the run took.
    pub virtual_time: Duration,
}

impl Outcome {
    /// Passed every oracle.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// What the run did and found, a few lines.
    pub fn summary(&self) -> String {
        let f = &self.findings;
        let c = &self.counts;
        let spread = |v: &[u64]| match (v.iter().min(), v.iter().max()) {
            (Some(lo), Some(hi)) => format!("{} in {lo}..={hi} ms", v.len()),
            _ => "none".to_string(),
        };
        let mut out = format!(
            "seed {}: {} clients over {} hosts, {:.1} s virtual, {} events, hash {:016x}\n",
            self.config.seed,
            self.config.clients,
            self.config.hosts,
            self.virtual_time.as_secs_f64(),
            self.events,
            self.hash
        );
        out.push_str(&format!(
            "  {} requests handled, {} responses checked ({} pipelined), {} client writes\n",
            f.handled, f.responses, f.pipelined, c.writes
        ));
        out.push_str(&format!(
            "  stream faults: {} partial reads, {} coalesced reads, {} short writes, {} spurious pendings\n",
            c.partial_reads, c.coalesced_reads, c.short_writes, c.pendings
        ));
        out.push_str(&format!(
            "  slowloris cut: {}, told {:?}\n",
            spread(&f.slowloris_cut_ms),
            f.slowloris_replies
        ));
        out.push_str(&format!(
            "  idle keep-alive cut: {} after the response ({} kept open)\n",
            spread(&f.idle_cut_ms),
            f.idle_kept
        ));
        out.push_str(&format!(
            "  slow bodies served: {}\n",
            spread(&f.slow_body_ms)
        ));
        out.push_str(&format!(
            "  oversized heads: {:?}; large heads served: {}; disconnects: {}\n",
            f.oversized, f.large_heads, f.disconnects
        ));
        out.push_str(&format!("  unread bodies: {:?}\n", f.unread_bodies));
        out.push_str(&format!("  latecomers: {:?}\n", f.latecomers));
        out.push_str(&format!("  connections ended: {:?}\n", f.server_ends));
        out
    }

    /// The first violations, the seed and the replay command.
    pub fn failure(&self) -> String {
        let mut out = format!(
            "{} violation(s), seed {}:\n",
            self.violations.len(),
            self.config.seed
        );
        for v in self.violations.iter().take(10) {
            out.push_str(&format!("  {v}\n"));
        }
        out.push_str(&format!("replay: {}\n", self.config.replay_command()));
        out
    }
}

/// What every client and the server share.
#[derive(Clone)]
pub struct Shared {
    /// The run's configuration.
    pub config: Arc<Config>,
    /// The run's events.
    pub transcript: Transcript,
    violations: Arc<Mutex<Vec<String>>>,
    findings: Arc<Mutex<Findings>>,
}

impl Shared {
    /// Notes a violation.
    pub fn violation(&self, what: String) {
        self.transcript.record(
            Actor::Sim,
            Event::Note {
                text: format!("violation: {what}"),
            },
        );
        self.violations.lock().expect("violations").push(what);
    }

    /// Updates the findings.
    pub fn findings(&self, f: impl FnOnce(&mut Findings)) {
        f(&mut self.findings.lock().expect("findings"));
    }

    /// Client `id`'s own random stream.
    pub fn rng_for(&self, id: usize) -> SmallRng {
        SmallRng::seed_from_u64(derive(self.config.seed, id as u64))
    }
}

/// A seed for stream `n` of the run seeded `seed` (splitmix64).
fn derive(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Names how `serve_connection` ended.
fn ending(result: Result<(), hyper::Error>) -> String {
    match result {
        Ok(()) => "ok".into(),
        Err(e) if e.is_timeout() => "header timeout".into(),
        Err(e) if e.is_parse_too_large() => "head too large".into(),
        Err(e) if e.is_incomplete_message() => "incomplete message".into(),
        Err(e) if e.is_parse() => format!("parse error: {e}"),
        Err(e) => e.to_string(),
    }
}

/// Runs `config` to its end.
pub fn run(config: Config) -> Outcome {
    let shared = Shared {
        config: Arc::new(config.clone()),
        transcript: Transcript::new(config.keep_events),
        violations: Arc::default(),
        findings: Arc::default(),
    };
    let hosts = config.hosts.clamp(1, config.clients.max(1));
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(3600))
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        // turmoil's per-stream capacity is also the accept backlog, which panics when full.
        .tcp_capacity(config.clients + 64)
        .rng_seed(derive(config.seed, u64::MAX))
        .build();

    let open = Arc::new(AtomicUsize::new(0));
    let handled = Arc::new(AtomicU64::new(0));
    let (server_shared, server_open, server_handled) =
        (shared.clone(), open.clone(), handled.clone());
    sim.host("server", move || {
        let (shared, open, handled) = (
            server_shared.clone(),
            server_open.clone(),
            server_handled.clone(),
        );
        async move {
            let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
            let cfg = shared.config.clone();
            let mut builder = http1::Builder::new();
            builder
                .timer(SimTimer)
                .keep_alive(true)
                .pipeline_flush(cfg.pipeline_flush)
                .header_read_timeout(cfg.header_timeout)
                .max_buf_size(cfg.max_buf_size);
            let mut accepted = 0u64;
            loop {
                let (stream, peer) = listener.accept().await?;
                accepted += 1;
                let seed = derive(cfg.seed, (1 << 40) | accepted);
                let stream = FaultyStream::new(stream, peer, cfg.faults, seed)
                    .with_transcript(shared.transcript.clone());
                let handled = handled.clone();
                let service = service_fn(move |req| {
                    handled.fetch_add(1, Ordering::Relaxed);
                    model::handle(req)
                });
                let conn = builder.serve_connection(Io(stream), service);
                open.fetch_add(1, Ordering::SeqCst);
                let (shared, open) = (shared.clone(), open.clone());
                tokio::spawn(async move {
                    let end = ending(conn.await);
                    shared.transcript.record(
                        Actor::Server,
                        Event::Note {
                            text: format!("{peer}: {end}"),
                        },
                    );
                    shared.findings(|f| *f.server_ends.entry(end).or_default() += 1);
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        }
    });

    let done = Arc::new(AtomicUsize::new(0));
    for h in 0..hosts {
        let ids: Vec<usize> = (0..config.clients).filter(|id| id % hosts == h).collect();
        let (shared, done) = (shared.clone(), done.clone());
        sim.client(format!("client{h}"), async move {
            let mut tasks = tokio::task::JoinSet::new();
            for id in ids {
                tasks.spawn(Client::new(id, shared.clone()).run());
            }
            while let Some(joined) = tasks.join_next().await {
                if let Err(e) = joined {
                    std::panic::resume_unwind(e.into_panic());
                }
            }
            done.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
    }

    let monitor = shared.clone();
    sim.client("monitor", async move {
        while done.load(Ordering::SeqCst) < hosts {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Every connection the clients left must end: hyper sees the close, or its header
        // timeout ends an idle one.
        let settle = monitor.config.header_timeout.unwrap_or_default() + Duration::from_secs(1);
        let start = tokio::time::Instant::now();
        while open.load(Ordering::SeqCst) > 0 && start.elapsed() < settle {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let left = open.load(Ordering::SeqCst);
        if left > 0 {
            monitor.violation(format!(
                "the server still holds {left} connection(s) {} ms after the last client",
                settle.as_millis()
            ));
        }
        Ok(())
    });

    if let Err(e) = sim.run() {
        shared.violation(format!("simulation: {e}"));
    }
    let virtual_time = sim.elapsed();
    let mut findings = shared.findings.lock().expect("findings").clone();
    findings.handled = handled.load(Ordering::SeqCst);
    let violations = shared.violations.lock().expect("violations").clone();
    Outcome {
        config,
        violations,
        hash: shared.transcript.hash(),
        events: shared.transcript.len(),
        lines: shared.transcript.lines(),
        counts: shared.transcript.counts(),
        findings,
        virtual_time,
    }
}
