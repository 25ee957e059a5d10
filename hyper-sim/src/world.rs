//! A run: hyper's server on one turmoil host behind `FaultyStream`, the virtual clients on
//! the others, a monitor that checks what the server still holds at the end.

use crate::client::Client;
use crate::model;
use crate::rt::{Io, SimTimer};
use crate::shared::derive;
use framesim::kv::FaultyStream;
use framesim::transcript::{Actor, Event, Transcript};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use crate::config::{Config, PORT};
pub use crate::shared::{Findings, Shared};

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
    pub counts: framesim::transcript::Counts,
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
