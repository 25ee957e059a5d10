//! Scripts and exhaustive split points: a run lifted into explicit steps replays the same
//! way (passing or failing) from its file, and `explore` cuts a small script's bytes at
//! every place, passing the real server and catching a fixture that mishandles a cut.

use framesim::kv::explore::explore;
use framesim::kv::lift;
use framesim::kv::shrink::Failure;
use framesim::kv::{run, Preset, RunOptions, Scenario, Target};
use framesim_server::protocol::Framing;

/// A small scenario: `clients` x `requests`, in `framing`, on `target`.
fn small(clients: usize, requests: usize, framing: Framing, target: Target) -> Scenario {
    let mut s = Scenario::preset(Preset::Small, 0);
    (s.clients, s.requests, s.framing, s.target) = (clients, requests, framing, target);
    s
}

#[test]
fn a_lifted_run_replays_passing_and_reads_back_from_its_file() {
    let s = small(2, 3, Framing::Resp, Target::Framesim);
    let original = run(&s, RunOptions::default());
    let script = lift(&s);
    assert_eq!(script.scripts.len(), 2);
    assert!(script.scripts.iter().all(|c| c.steps.len() > 4), "{script}");
    assert!(
        !script.connections.is_empty(),
        "the partial reads are in the plans"
    );
    let replay = run(&script, RunOptions::default());
    assert!(replay.passed(), "{}", replay.failure());
    // The server side plays back too: the same faults at the same polls, the same frames.
    let (a, b) = (original.counts, replay.counts);
    assert_eq!(
        (a.partial_reads, a.frames, a.writes),
        (b.partial_reads, b.frames, b.writes)
    );
    let path = std::env::temp_dir().join(format!("framesim-script-{}.toml", std::process::id()));
    script.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\n    \"at 0s connect\",\n"),
        "one step per line:\n{text}"
    );
    assert_eq!(Scenario::load(&path).unwrap(), script);
    std::fs::remove_file(&path).unwrap();
    // A script draws nothing: another seed changes only turmoil's latencies, and the
    // server's stream faults, not what the clients send.
    let reseeded = Scenario {
        seed: 99,
        ..script.clone()
    };
    assert!(run(&reseeded, RunOptions::default()).passed());
}

#[test]
fn a_lifted_failure_fails_the_same_way() {
    for (preset, target) in [
        (Preset::Small, Target::OneReadOneRequest),
        (Preset::Small, Target::FirstFrameOnly),
        (Preset::Hostile, Target::NoFrameDeadline),
        (Preset::Hostile, Target::UnboundedOutput),
    ] {
        let mut s = Scenario::preset(preset, 0);
        s.target = target;
        let failure = Failure::of(&run(&s, RunOptions::default()));
        assert!(failure.is_some(), "{target} passes {preset}");
        let script = lift(&s);
        let replay = run(&script, RunOptions::default());
        assert_eq!(
            Failure::of(&replay),
            failure,
            "{target}: {}",
            replay.failure()
        );
        // The same script against the real server passes.
        let fixed = Scenario {
            target: Target::Framesim,
            ..script
        };
        let report = run(&fixed, RunOptions::default());
        assert!(
            report.passed(),
            "{target} script on framesim: {}",
            report.failure()
        );
    }
}

#[test]
fn explore_passes_the_real_server_with_one_logical_view() {
    let script = lift(&small(1, 2, Framing::Resp, Target::Framesim));
    let found = explore(&script, 2).unwrap();
    assert!(found.failure.is_none(), "{found}");
    assert_eq!(found.logical_views, 1, "{found}");
    // Every 2-cut of some 60 bytes: well over a thousand runs, most of them different.
    assert!(found.runs > 1000, "{found}");
    assert!(found.distinct_runs > found.runs / 2, "{found}");
}

#[test]
fn explore_finds_a_fixture_that_loses_a_delimiter_split_across_reads() {
    let crlf = Framing::Line {
        delimiter: b"\r\n".to_vec(),
    };
    let script = lift(&small(1, 2, crlf, Target::Framesim));
    let mut broken = framesim::kv::explore::whole(&script);
    broken.target = Target::SplitDelimiter;
    assert!(
        run(&broken, RunOptions::default()).passed(),
        "whole writes do not show it"
    );
    let found = explore(&broken, 1).unwrap();
    let failed = found.failure.as_ref().expect("a cut that breaks it");
    assert!(failed.what.contains("cut at"), "{found}");
    // The failing variant was written as a script that replays to the same failure.
    let again = run(
        &Scenario::load(&failed.path).unwrap(),
        RunOptions::default(),
    );
    assert_eq!(Failure::of(&again), Failure::of(&failed.run));
}

#[test]
fn a_bad_script_is_refused_with_where_and_why() {
    let script = lift(&small(1, 1, Framing::Resp, Target::Framesim));
    let text = script.to_toml();
    for (from, to, says) in [
        ("\"read\"", "\"read twice\"", "script step 'read twice'"),
        ("at 0s connect", "at soon connect", "at soon connect"),
        ("id = 0", "id = 5", "client 5 must be below clients"),
    ] {
        assert!(text.contains(from), "{from} in\n{text}");
        let err = Scenario::from_toml(&text.replacen(from, to, 1)).unwrap_err();
        assert!(err.contains(says), "{err}");
    }
    assert!(explore(&small(1, 1, Framing::Resp, Target::Framesim), 1)
        .unwrap_err()
        .contains("no scripted clients"));
}

#[test]
fn every_regression_script_explores_clean_on_the_real_server_and_fails_its_fixture() {
    let dir = framesim::kv::shrink::regressions_dir();
    let mut explored = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let s = Scenario::load(&path).unwrap();
        if s.scripts.is_empty() {
            continue;
        }
        let fixed = Scenario {
            target: Target::Framesim,
            ..s.clone()
        };
        let found = explore(&fixed, 2).unwrap();
        assert!(found.failure.is_none(), "{}: {found}", path.display());
        assert_eq!(found.logical_views, 1, "{}: {found}", path.display());
        let broken = explore(&s, 1).unwrap();
        assert!(broken.failure.is_some(), "{}: {broken}", path.display());
        explored += 1;
    }
    assert!(explored >= 2, "{explored} scripts in {}", dir.display());
}

#[test]
fn a_lifted_hostile_run_plays_back_every_stream_fault() {
    let mut s = Scenario::preset(Preset::Hostile, 2);
    s.clients = 24;
    let original = run(&s, RunOptions::default());
    assert!(original.passed(), "{}", original.failure());
    let script = lift(&s);
    let replay = run(&script, RunOptions::default());
    assert!(replay.passed(), "{}", replay.failure());
    let (a, b) = (original.counts, replay.counts);
    assert!(
        a.partial_reads > 0 && a.short_writes > 0 && a.pendings > 0,
        "{a:?}"
    );
    assert_eq!(
        (a.partial_reads, a.short_writes, a.pendings, a.frames),
        (b.partial_reads, b.short_writes, b.pendings, b.frames)
    );
}
