//! framesim's naive servers under the public harness alone: a key-value workload, the
//! limits the server declares, the hostile defaults. Each slip is named by the oracle
//! aimed at it within a few seeds, and the real server passes the same options.

use framesim::harness::{Framing, Harness, KvWorkload, Options, RoleMix};
use framesim::kv::{sim_limits, Target};
use framesim_server::{Config, Limits, Stats};
use std::time::Duration;

/// Seeds a slip has to show its oracle in.
const SEEDS: u64 = 16;

/// How long the server's graceful shutdown lets requests in flight finish.
const GRACE: Duration = Duration::from_millis(500);

/// The world's limits with a short idle timeout and frame deadline (a run outlasts the
/// idle timeout only by quiet clients).
fn limits() -> Limits {
    Limits {
        idle_timeout: Duration::from_secs(1),
        frame_deadline: Duration::from_millis(250),
        ..sim_limits()
    }
}

/// `target` serving `framing`, asked by a limited key-value workload; the options declare
/// its limits: the largest request (a line and its delimiter, a frame and its header), the
/// idle timeout (which is also its write deadline), the connection limit, a request's
/// bytes within half its frame deadline and a slowloris cut within twice it, and the grace
/// of a graceful shutdown, for a restart a third of a second in when `restart`.
fn harness(target: Target, framing: Framing, restart: bool, edge: bool) -> Harness {
    let limits = limits();
    let config = Config {
        framing: framing.clone(),
        limits,
        max_connections: 64,
        grace: GRACE,
        ..Config::default()
    };
    let max_request = match &framing {
        Framing::Line { delimiter } => limits.max_line + delimiter.len(),
        _ => limits.max_frame + 4,
    };
    Harness::new(
        move |listener, shutdown| {
            let config = config.clone();
            async move {
                let stats = Stats::default();
                target
                    .serve(listener, target.store(), config, stats, shutdown)
                    .await
            }
        },
        workload(framing, edge),
    )
    .with(Options {
        max_request,
        max_buffered: limits.max_buffered + limits.max_line,
        idle_timeout: Some(limits.idle_timeout),
        write_timeout: Some(limits.idle_timeout),
        restart_at: restart.then_some(Duration::from_millis(300)),
        restart_grace: GRACE,
        max_connections: Some(64),
        request_budget: limits.frame_deadline / 2,
        roles: RoleMix {
            slowloris_bound: limits.frame_deadline * 2,
            ..RoleMix::default()
        },
        ..Options::default()
    })
}

/// A limited key-value workload in `framing`; with `edge`, one of edge values half the time
/// (an integer at the end of `i64`, then INCR of its key) and longer sessions.
fn workload(framing: Framing, edge: bool) -> KvWorkload {
    let workload = KvWorkload::new(framing).limited();
    if edge {
        workload.edge_values(0.5).requests(16)
    } else {
        workload
    }
}

fn crlf() -> Framing {
    Framing::Line {
        delimiter: b"\r\n".to_vec(),
    }
}

/// Each slip, the framing it shows in, and the oracle that must name it.
fn slips() -> Vec<(Target, Framing, &'static str)> {
    vec![
        (Target::OneReadOneRequest, Framing::Resp, "reply"),
        (Target::SingleReadHeader, Framing::length(), "reply"),
        (Target::NoFrameDeadline, Framing::Resp, "slowloris"),
        (Target::FirstFrameOnly, Framing::line(), "reply"),
        (Target::SplitDelimiter, crlf(), "reply"),
        (Target::ConnectionDeadline, Framing::Resp, "wrongful-close"),
        (Target::LimitOffByOne, Framing::line(), "wrongful-close"),
        (
            Target::ConnectionLimitOffByOne,
            Framing::Resp,
            "connection-limit",
        ),
        (Target::LastLineAtEof, Framing::line(), "executed"),
        (Target::IdleFromAccept, Framing::Resp, "wrongful-close"),
        (Target::ErrorDropsReplies, Framing::Resp, "reply"),
        (Target::QuitDropsReplies, Framing::Resp, "quit"),
        (Target::AcceptGivesUp, Framing::Resp, "connect"),
        (Target::NoAcceptBackoff, Framing::Resp, "accept"),
        (Target::UnboundedOutput, Framing::Resp, "stalled-reader"),
        (Target::NoGrace, Framing::Resp, "drain"),
        (Target::UncountedArgs, Framing::Resp, "oversized"),
        (Target::IncrWraps, Framing::Resp, "reply"),
    ]
}

#[test]
fn every_slip_is_named_by_the_oracle_aimed_at_it() {
    let mut missed = Vec::new();
    for (target, framing, oracle) in slips() {
        let (restart, edge) = (target == Target::NoGrace, target == Target::IncrWraps);
        let harness = harness(target, framing.clone(), restart, edge);
        let named = (0..SEEDS).any(|seed| {
            let outcome = harness.run(seed);
            outcome.violations.iter().any(|v| v.oracle.name() == oracle)
        });
        if !named {
            missed.push(format!("{} ({framing}): no [{oracle}]", target.name()));
        }
    }
    assert!(missed.is_empty(), "missed in {SEEDS} seeds: {missed:?}");
}

#[test]
fn the_real_server_passes_the_same_options() {
    for framing in [Framing::Resp, Framing::line(), crlf(), Framing::length()] {
        for (restart, edge) in [(false, false), (true, false), (false, true)] {
            let harness = harness(Target::Framesim, framing.clone(), restart, edge);
            for seed in 0..4 {
                let outcome = harness.run(seed);
                assert!(
                    outcome.passed(),
                    "{framing} seed {seed} (restart: {restart}, edge values: {edge}): {}",
                    outcome.first_failure()
                );
            }
        }
    }
}
