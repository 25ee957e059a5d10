//! Options files replay exactly: whatever options a run had, the file written for them and
//! laid over the test's own options gives them back, field for field.

use framesim::harness::{options_from_env, Delivery, Options};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

fn duration(rng: &mut SmallRng) -> Duration {
    match rng.random_range(0..4) {
        0 => Duration::ZERO,
        1 => Duration::from_millis(rng.random_range(1..10_000)),
        2 => Duration::from_micros(rng.random_range(1..10_000_000)),
        _ => Duration::from_nanos(rng.random_range(1..u64::from(u32::MAX))),
    }
}

fn chance(rng: &mut SmallRng) -> f64 {
    match rng.random_range(0..3) {
        0 => 0.0,
        1 => 1.0,
        _ => rng.random(),
    }
}

fn count(rng: &mut SmallRng) -> Option<usize> {
    rng.random_bool(0.5).then(|| rng.random_range(0..1000))
}

/// Options with every field drawn.
fn options(rng: &mut SmallRng) -> Options {
    let mut o = Options {
        clients: rng.random_range(0..5000),
        hosts: rng.random_range(0..64),
        delivery: Delivery {
            max_chunk: if rng.random_bool(0.2) {
                usize::MAX
            } else {
                rng.random_range(1..4096)
            },
            byte_at_a_time: chance(rng),
            max_gap: duration(rng),
            pipeline: rng.random_range(0..32),
            cut_at_boundaries: chance(rng),
            max_pause: duration(rng),
        },
        ramp: duration(rng),
        request_budget: duration(rng),
        reply_timeout: duration(rng),
        settle: duration(rng),
        latency: (duration(rng), duration(rng)),
        restart_at: rng.random_bool(0.5).then(|| duration(rng)),
        restart_grace: duration(rng),
        max_requests: count(rng),
        max_connections: count(rng),
        max_request: rng.random_range(0..1 << 24),
        max_buffered: rng.random_range(0..1 << 24),
        idle_timeout: rng.random_bool(0.5).then(|| duration(rng)),
        write_timeout: rng.random_bool(0.5).then(|| duration(rng)),
        port: rng.random(),
        keep_transcript: rng.random(),
        only_clients: rng.random_bool(0.3).then(|| {
            (0..rng.random_range(0..6))
                .map(|_| rng.random_range(0..64))
                .collect()
        }),
        ..Options::default()
    };
    let f = &mut o.faults;
    f.partial_read_chance = chance(rng);
    f.short_write_chance = chance(rng);
    f.spurious_pending_chance = chance(rng);
    f.coalesce_chance = chance(rng);
    f.accept_error_chance = chance(rng);
    f.window = rng.random_range(1..1 << 30);
    let r = &mut o.roles;
    r.slowloris = rng.random_range(0..8);
    r.slowloris_interval = duration(rng);
    r.slowloris_bound = duration(rng);
    r.disconnect = rng.random_range(0..8);
    r.idle = rng.random_range(0..8);
    r.idle_for = duration(rng);
    r.half_close = rng.random_range(0..8);
    r.never_reader = rng.random_range(0..8);
    r.oversized = rng.random_range(0..8);
    r.malformed = rng.random_range(0..8);
    r.at_limit = rng.random_range(0..8);
    r.slow_reader = rng.random_range(0..8);
    o
}

#[test]
fn any_options_written_over_any_others_read_back_exactly() {
    let mut rng = SmallRng::seed_from_u64(0x0f11e);
    for case in 0..2000 {
        let (ours, base) = (options(&mut rng), options(&mut rng));
        let text = ours.toml_over(&base);
        let back = base
            .overlaid(&text)
            .unwrap_or_else(|e| panic!("case {case}: {e}\n{text}"));
        assert_eq!(back, ours, "case {case}: over {base:?}\n{text}");
        let text = ours.toml_over(&Options::default());
        assert_eq!(
            Options::from_toml(&text).unwrap(),
            ours,
            "case {case}\n{text}"
        );
        // Only what differs is written.
        assert_eq!(ours.toml_over(&ours), "", "case {case}");
    }
}

#[test]
fn a_partial_table_keeps_the_other_fields_of_what_it_is_laid_over() {
    let base = Options::default();
    let o = Options::from_toml("[faults]\nshort_write_chance = 0.0\n").unwrap();
    assert_eq!(o.faults.short_write_chance, 0.0);
    assert_eq!(o.faults.coalesce_chance, base.faults.coalesce_chance);
    assert_eq!(
        o.faults.partial_read_chance,
        base.faults.partial_read_chance
    );
    // A limit laid over none, and none laid over a limit.
    let limited = base.overlaid("max_requests = 3").unwrap();
    assert_eq!(limited.max_requests, Some(3));
    assert_eq!(
        limited
            .overlaid("max_requests = \"none\"")
            .unwrap()
            .max_requests,
        None
    );
    for bad in [
        "client = 2",
        "[faults]\ncoalesce = 0.1",
        "max_requests = \"some\"",
        "only_clients = \"most\"",
        "ramp = 5",
    ] {
        let e = Options::from_toml(bad).expect_err(bad);
        let named = bad
            .split([' ', '\n', '='])
            .find(|w| !w.is_empty() && !w.starts_with('['));
        assert!(
            e.contains(named.unwrap()) || e.contains("expected"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn framesim_options_layers_over_the_tests_own_options() {
    let dir = std::env::temp_dir().join(format!("framesim-options-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("replay.toml");
    std::fs::write(&file, "max_requests = 2\n[roles]\nidle = 1\n").unwrap();
    let own = Options {
        clients: 9,
        max_connections: Some(4),
        ..Options::default()
    };
    // The only test in this file that reads the environment.
    std::env::set_var("FRAMESIM_OPTIONS", &file);
    let layered = options_from_env(&own);
    std::fs::write(&file, "clients = many\n").unwrap();
    let broken = options_from_env(&own);
    std::env::remove_var("FRAMESIM_OPTIONS");
    std::fs::remove_dir_all(&dir).unwrap();
    let layered = layered.unwrap();
    assert_eq!(
        (
            layered.clients,
            layered.max_connections,
            layered.max_requests
        ),
        (9, Some(4), Some(2))
    );
    assert_eq!(layered.roles.idle, 1);
    assert_eq!(layered.roles.slowloris, own.roles.slowloris);
    let e = broken.expect_err("a bad file is an error");
    assert!(
        e.starts_with("FRAMESIM_OPTIONS=") && e.contains("replay.toml"),
        "{e}"
    );
}
