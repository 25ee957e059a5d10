//! hyper's HTTP/1.1 server under the simulation: the CI run, its determinism, and what it
//! shows about hyper's limits.

use framesim_hyper::client::Role;
use framesim_hyper::{run, Config, Outcome};
use std::time::Duration;

/// `FRAMESIM_SEED` replays one seed; else a fixed one, so CI is repeatable.
fn seed() -> u64 {
    std::env::var("FRAMESIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed)
}

fn passing(config: Config) -> Outcome {
    let outcome = run(config);
    assert!(outcome.passed(), "{}", outcome.failure());
    outcome
}

fn focused(role: Role, clients: usize) -> Config {
    Config {
        clients,
        hosts: 4,
        only: Some(role),
        ..Config::new(seed())
    }
}

#[test]
fn a_thousand_clients_get_what_the_model_predicts() {
    let outcome = passing(Config::new(seed()));
    println!("{}", outcome.summary());
    let (f, c) = (&outcome.findings, &outcome.counts);
    // Every role ran, and every stream fault happened: a run that exercised nothing passes
    // nothing.
    assert!(f.responses > 2000, "{}", outcome.summary());
    assert!(f.pipelined > 500, "{}", outcome.summary());
    assert_eq!(f.slowloris_cut_ms.len(), 50);
    assert_eq!(f.slow_body_ms.len(), 50);
    assert_eq!(f.large_heads, 50);
    assert_eq!(f.oversized.values().sum::<u64>(), 50);
    assert!(f.disconnects >= 40);
    assert!(f.unread_bodies.values().sum::<u64>() > 0);
    for n in [
        c.partial_reads,
        c.coalesced_reads,
        c.short_writes,
        c.pendings,
    ] {
        assert!(n > 100, "{}", outcome.summary());
    }
}

#[test]
fn the_same_seed_gives_the_same_events() {
    let config = Config {
        clients: 200,
        hosts: 8,
        keep_events: true,
        ..Config::new(seed())
    };
    let (a, b) = (run(config.clone()), run(config.clone()));
    if let Some(i) =
        (0..a.lines.len().max(b.lines.len())).find(|&i| a.lines.get(i) != b.lines.get(i))
    {
        panic!(
            "seed {}: runs diverge at event {i}:\n  {:?}\n  {:?}\nreplay: {}",
            config.seed,
            a.lines.get(i),
            b.lines.get(i),
            config.replay_command()
        );
    }
    assert_eq!((a.hash, a.events), (b.hash, b.events));
    assert!(a.events > 10_000);
    let other = run(Config {
        seed: config.seed + 1,
        ..config
    });
    assert_ne!(other.hash, a.hash, "another seed, other events");
}

#[test]
fn without_a_header_timeout_slowloris_is_never_cut() {
    let outcome = run(Config {
        header_timeout: None,
        ..focused(Role::Slowloris, 8)
    });
    assert_eq!(outcome.violations.len(), 8, "{}", outcome.failure());
    assert!(
        outcome.violations[0].contains("slowloris not cut"),
        "{}",
        outcome.failure()
    );
    let failure = outcome.failure();
    assert!(failure.contains(&format!("--seed {}", seed())), "{failure}");
    assert!(
        failure.contains("--no-header-timeout --only slowloris"),
        "{failure}"
    );
}

#[test]
fn the_header_timeout_runs_from_accept_and_covers_no_body() {
    let ms = |role| {
        let o = passing(focused(role, 12));
        (o.findings, o.counts)
    };
    // Slowloris: a byte every 250 ms, 4 per timeout, yet cut at 1 s from the connect: the
    // timer is not reset by reads. hyper says nothing before it closes.
    let (slow, _) = ms(Role::Slowloris);
    assert!(
        slow.slowloris_cut_ms
            .iter()
            .all(|&t| (1000..1100).contains(&t)),
        "{slow:?}"
    );
    assert_eq!(slow.slowloris_replies.get("nothing"), Some(&12), "{slow:?}");
    // Silent for 700 ms, then a head in 500 ms: cut at 1 s from the accept, never served.
    let (late, _) = ms(Role::Latecomer);
    assert!(
        late.latecomers.keys().all(|k| !k.starts_with("served")),
        "{late:?}"
    );
    // An idle keep-alive connection is cut one timeout after its last response.
    let (idle, _) = ms(Role::Lingerer);
    assert!(
        idle.idle_cut_ms.iter().all(|&t| (900..1100).contains(&t)),
        "{idle:?}"
    );
    assert_eq!(idle.idle_cut_ms.len(), 12);
    // A body trickled for 3 s, three timeouts, is read to its end and answered.
    let (body, _) = ms(Role::SlowBody);
    assert!(body.slow_body_ms.iter().all(|&t| t >= 3000), "{body:?}");
    assert_eq!(body.slow_body_ms.len(), 12);
}

#[test]
fn pipeline_flush_swallows_the_431_for_an_oversized_head() {
    let answered = |pipeline_flush| {
        let o = passing(Config {
            pipeline_flush,
            faults: framesim::kv::Faults::none(),
            ..focused(Role::Oversized, 40)
        });
        let with_431: u64 = o
            .findings
            .oversized
            .iter()
            .filter(|(k, _)| k.starts_with("431"))
            .map(|(_, n)| n)
            .sum();
        (with_431, o.findings.oversized)
    };
    let (on, seen) = answered(true);
    assert_eq!(on, 0, "{seen:?}");
    let (off, seen) = answered(false);
    assert!(off >= 20, "{seen:?}");
}

#[test]
fn heads_just_under_the_buffer_limit_are_served() {
    let o = passing(Config {
        max_buf_size: 8192,
        ..focused(Role::LargeHead, 40)
    });
    assert_eq!(o.findings.large_heads, 40);
}

#[test]
fn a_config_replays_with_every_option_it_changed() {
    let c = Config {
        header_timeout: Some(Duration::from_millis(300)),
        max_buf_size: 9000,
        pipeline_flush: false,
        ..focused(Role::Pipeliner, 7)
    };
    assert_eq!(
        c.replay_command(),
        format!(
            "cargo run --release -p framesim-hyper -- --seed {} --clients 7 --hosts 4 \
             --header-timeout-ms 300 --max-buf-size 9000 --no-pipeline-flush --only pipeliner",
            seed()
        )
    );
}
