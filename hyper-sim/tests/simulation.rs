//! hyper's HTTP/1.1 server under the harness: a hostile sweep passes, and what it shows
//! about hyper 1's limits (docs/guide.md, "hyper under simulation").

use framesim::harness::{Harness, Options, Outcome, RoleMix};
use framesim_hyper::{harness, harness_with, options, Config, Http};

/// Only `roles` misbehave, among `clients`, under `config`'s declared options.
fn focused(config: Config, roles: RoleMix, clients: usize) -> Harness {
    harness(config).with(Options {
        clients,
        roles: RoleMix {
            slowloris_bound: options(&config).roles.slowloris_bound,
            ..roles
        },
        ..options(&config)
    })
}

/// The transcript's `closed` notes whose text holds `what`.
fn closes(outcome: &Outcome, what: &str) -> Vec<String> {
    outcome
        .transcript
        .lines()
        .into_iter()
        .filter(|l| l.contains(" closed ") && l.contains(what))
        .collect()
}

/// The oracles `outcome` found violated.
fn oracles(outcome: &Outcome) -> Vec<&'static str> {
    outcome.violations.iter().map(|v| v.oracle.name()).collect()
}

#[test]
fn a_hostile_sweep_passes_with_every_role() {
    let tally = framesim::sweep!(harness(Config::default()));
    assert_eq!(tally.requests, tally.replies);
    assert!(tally.requests > 1000, "{tally:?}");
    for (role, n) in [
        ("slowloris", tally.slowloris_cut),
        ("disconnect", tally.disconnects),
        ("idle", tally.idle),
        ("half-close", tally.half_closed),
        ("never-reader", tally.windows_filled),
        ("oversized", tally.oversized_refused),
        ("malformed", tally.malformed_refused),
        ("at-limit", tally.at_limit_served),
        ("slow reader", tally.slow_reads),
        ("quit", tally.quits),
        ("bulk loader", tally.bulk_loads),
    ] {
        assert_eq!(n, 16, "{role}: {tally:?}");
    }
}

#[test]
fn the_same_seed_gives_the_same_transcript() {
    let harness = harness(Config::default());
    let a = harness
        .check_determinism(3)
        .expect("seed 3 is deterministic");
    let b = harness
        .check_determinism(4)
        .expect("seed 4 is deterministic");
    assert_ne!(a, b, "another seed, another run");
}

#[test]
fn without_a_header_timeout_a_slowloris_is_caught() {
    let config = Config {
        header_timeout: None,
        ..Config::default()
    };
    let slowloris = RoleMix {
        slowloris: 4,
        ..RoleMix::none()
    };
    let outcome = focused(config, slowloris, 8).run(0);
    assert_eq!(oracles(&outcome), ["slowloris"; 4], "{}", outcome.summary());
    assert!(outcome.first_failure().contains("still open"));
}

/// hyper's header timer starts when it begins to wait for a head and no byte resets it:
/// a slowloris writing a byte every 100 ms (ten per timeout) is cut about 1 s after its
/// first byte, and a silent connection about 1 s after its connect.
#[test]
fn the_header_timeout_runs_from_the_accept_and_no_read_resets_it() {
    let roles = RoleMix {
        slowloris: 8,
        idle: 8,
        ..RoleMix::none()
    };
    let outcome = focused(Config::default(), roles, 20).replay(1);
    assert!(outcome.passed(), "{}", outcome.first_failure());
    let cut = closes(&outcome, "slowloris cut after");
    assert_eq!(cut.len(), 8, "{cut:?}");
    for line in &cut {
        let after = line.rsplit(' ').next().unwrap_or_default();
        assert!(
            after.starts_with("1.00") || after.starts_with("99"),
            "{line}"
        );
    }
    assert_eq!(
        closes(&outcome, "idle client closed by the server").len(),
        8
    );
}

/// With `pipeline_flush` on, hyper does not flush while its read buffer holds bytes, and
/// an oversized head fills it: the 431 it queues never goes out. Off, most of them do.
#[test]
fn pipeline_flush_swallows_the_431_for_an_oversized_head() {
    let answered = |pipeline_flush, seed| {
        let config = Config {
            pipeline_flush,
            ..Config::default()
        };
        let roles = RoleMix {
            oversized: 20,
            ..RoleMix::none()
        };
        let outcome = focused(config, roles, 24).replay(seed);
        assert!(outcome.passed(), "{}", outcome.first_failure());
        assert_eq!(outcome.tally.oversized_refused, 20);
        closes(&outcome, "answered after")
            .iter()
            .filter(|l| l.contains("HTTP/1.1 431 Request Header Fields Too Large"))
            .count()
    };
    // Off, most of the refusals go out (9 to 15 of 20 in seeds 0..8); on, none.
    let (mut on, mut off) = (0, 0);
    for seed in 0..4 {
        on += answered(true, seed);
        off += answered(false, seed);
    }
    assert_eq!(on, 0);
    assert!(off >= 40, "{off} of 80 refusals went out");
}

/// hyper takes a head of exactly `max_buf_size` bytes and refuses one a byte longer with
/// a 431: declared one byte too high, the limit fails the at-limit clients.
#[test]
fn a_head_of_max_buf_size_is_served_and_one_byte_more_gets_431() {
    for max_buf_size in [8192, 16 * 1024] {
        let config = Config {
            max_buf_size,
            ..Config::default()
        };
        let roles = RoleMix {
            at_limit: 8,
            ..RoleMix::none()
        };
        let at = focused(config, roles, 10);
        let outcome = at.run(2);
        assert!(outcome.passed(), "{}", outcome.first_failure());
        assert_eq!(outcome.tally.at_limit_served, 8);
        let over = at.clone().with(Options {
            max_request: max_buf_size + 1,
            ..at.options().clone()
        });
        let outcome = over.run(2);
        assert!(
            outcome.first_failure().contains("status 431"),
            "{}",
            outcome.first_failure()
        );
    }
}

/// hyper's `half_close` is off by default: a client that shuts its writing side after its
/// requests gets a close, not its replies.
#[test]
fn without_half_close_a_half_closed_connection_is_closed_unanswered() {
    let config = Config {
        half_close: false,
        ..Config::default()
    };
    let roles = RoleMix {
        half_close: 4,
        ..RoleMix::none()
    };
    let outcome = focused(config, roles, 6).run(0);
    assert!(
        oracles(&outcome).contains(&"half-close"),
        "{}",
        outcome.summary()
    );
}

/// With `pipeline_flush` on and `half_close` off, hyper's write buffer has no bound
/// (`can_buffer` is always true with `pipeline_flush`): it reads more than a MiB of
/// requests from a client that reads no reply. Either setting alone keeps it bounded.
#[test]
fn pipeline_flush_without_half_close_buffers_for_a_client_that_never_reads() {
    let roles = RoleMix {
        never_reader: 8,
        ..RoleMix::none()
    };
    let run = |pipeline_flush, half_close| {
        let config = Config {
            pipeline_flush,
            half_close,
            ..Config::default()
        };
        let outcome = focused(config, roles, 12).run(0);
        oracles(&outcome).contains(&"reply-backlog")
    };
    assert!(run(true, false));
    assert!(!run(true, true) && !run(false, false));
}

/// A request whose body the handler never reads (a `POST` answered 404): hyper answers
/// it, then may close the connection, without saying `connection: close`, when the body
/// is still arriving; a client that pipelined more requests behind it loses them.
#[test]
fn a_body_the_handler_leaves_unread_can_close_the_connection() {
    let workload = Http {
        unread_bodies: true,
    };
    let h = harness_with(Config::default(), workload).with(Options {
        clients: 16,
        ..Options::gentle()
    });
    let found: Vec<String> = (0..8)
        .map(|seed| h.run(seed))
        .filter(|o| !o.passed())
        .map(|o| o.first_failure())
        .collect();
    assert!(found.len() >= 4, "{found:#?}");
    assert!(
        found.iter().all(|f| f.starts_with("[unanswered]")),
        "{found:#?}"
    );
}

#[test]
fn a_failing_run_says_how_to_replay_it() {
    let config = Config {
        header_timeout: None,
        ..Config::default()
    };
    let outcome = harness(config).run(0);
    let report = outcome.failure("cargo run -p framesim-hyper -- run --seed 0");
    assert!(report.contains("[slowloris]"), "{report}");
    assert!(report.ends_with("replay: cargo run -p framesim-hyper -- run --seed 0"));
}
