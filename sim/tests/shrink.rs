//! Shrinking: each naive fixture's first failure shrinks to a handful of clients and
//! requests, failing the same way; the shrunk scenario replays to the same violation.

mod common;

use framesim::kv::shrink::{shrink, Failure};
use framesim::kv::{run, Preset, RunOptions, Scenario, Target};
use framesim_server::protocol::Framing;

fn shrinks(preset: Preset, target: Target) {
    shrinks_from(target, |seed| Scenario::preset(preset, seed));
}

/// Shrinks the first of seeds 0..5 of `make` at which `target` fails.
fn shrinks_from(target: Target, make: impl Fn(u64) -> Scenario) {
    shrinks_within(0..5, target, make)
}

/// Shrinks the first of `seeds` of `make` at which `target` fails.
fn shrinks_within(mut seeds: std::ops::Range<u64>, target: Target, make: impl Fn(u64) -> Scenario) {
    let tried = seeds.end;
    let (seed, report) = seeds
        .find_map(|seed| {
            let mut s = make(seed);
            s.target = target;
            let r = run(&s, RunOptions::default());
            (!r.passed()).then_some((seed, r))
        })
        .unwrap_or_else(|| panic!("{target} passed seeds up to {tried}"));
    let preset = &report.scenario.name;
    let shrunk = shrink(&report.scenario, |step| {
        eprintln!(
            "  {:>7.2?} {:<28} clients {:>5} requests {:>3} events {:>7}",
            step.elapsed, step.what, step.clients, step.requests, step.events
        )
    })
    .expect("a failing scenario shrinks");
    let s = &shrunk.scenario;
    let clients = s.client_ids().count();
    eprintln!(
        "{target} on '{preset}' seed {seed}: {} -> {} events, {clients} clients x {} requests, {} runs in {:.2?}",
        shrunk.events_before,
        shrunk.report.transcript.len(),
        s.requests_per_client(),
        shrunk.runs,
        shrunk.elapsed
    );
    assert!(clients <= 2, "{clients} clients left:\n{s}");
    let requests = s.requests_per_client();
    assert!(requests <= 3, "{requests} requests left:\n{s}");
    // The shrunk scenario replays to the same failure, with the whole transcript kept.
    let replay = run(
        s,
        RunOptions {
            keep_transcript: true,
            ..RunOptions::default()
        },
    );
    assert_eq!(Failure::of(&replay), Some(shrunk.failure.clone()));
    assert_eq!(replay.transcript.hash(), shrunk.report.transcript.hash());
    let lines = replay.transcript.lines().len();
    assert!(
        lines <= 60,
        "{lines} transcript lines:\n{}",
        replay.transcript.lines().join("\n")
    );
}

#[test]
fn one_read_one_request_shrinks() {
    shrinks(Preset::Small, Target::OneReadOneRequest);
}

#[test]
fn first_frame_only_shrinks() {
    shrinks(Preset::Small, Target::FirstFrameOnly);
}

#[test]
fn no_frame_deadline_shrinks() {
    shrinks(Preset::Hostile, Target::NoFrameDeadline);
}

#[test]
fn single_read_header_shrinks() {
    shrinks_from(Target::SingleReadHeader, |seed| Scenario {
        framing: Framing::length(),
        ..Scenario::preset(Preset::Small, seed)
    });
}

#[test]
fn unbounded_output_shrinks() {
    shrinks_from(Target::UnboundedOutput, |seed| {
        let mut s = Scenario::preset(Preset::Small, seed);
        s.roles.never_reader = 0.1;
        s
    });
}

#[test]
fn uncounted_args_shrinks() {
    shrinks_from(Target::UncountedArgs, |seed| {
        let mut s = Scenario::preset(Preset::Small, seed);
        s.roles.unfinished_args = 0.1;
        s
    });
}

#[test]
fn split_delimiter_shrinks() {
    shrinks_from(Target::SplitDelimiter, common::crlf_lines);
}

#[test]
fn connection_deadline_shrinks() {
    shrinks_from(Target::ConnectionDeadline, common::with_bulk_loader);
}

#[test]
fn limit_off_by_one_shrinks() {
    shrinks_from(Target::LimitOffByOne, common::with_at_limit);
}

#[test]
fn incr_wraps_shrinks() {
    shrinks_from(Target::IncrWraps, common::incr_edges);
}

#[test]
fn a_passing_scenario_does_not_shrink() {
    let s = framesim::kv::Scenario::preset(Preset::Small, 0);
    let err = shrink(&s, |_| {}).unwrap_err();
    assert!(err.contains("passes"), "{err}");
}

/// A fuzz input: options from its first bytes, then `tail` as the run's tape.
fn fuzz_input(tail: u8) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(37) | 0x21).collect();
    bytes.extend(std::iter::repeat_n(tail, 600));
    bytes
}

#[test]
fn a_fuzz_inputs_tape_steers_the_draws_inside_the_run() {
    let (a, b) = (
        framesim::kv::fuzz::scenario_from_bytes(&fuzz_input(1)),
        framesim::kv::fuzz::scenario_from_bytes(&fuzz_input(0xc7)),
    );
    assert_ne!(a.tape, b.tape);
    let untaped = |s: &Scenario| Scenario {
        tape: None,
        ..s.clone()
    };
    assert_eq!(untaped(&a), untaped(&b), "the same options");
    let hash = |s: &Scenario| run(s, RunOptions::default()).transcript.hash();
    assert_eq!(hash(&a), hash(&a), "a tape replays exactly");
    assert_ne!(hash(&a), hash(&b), "another tape, another run");
    assert_ne!(
        hash(&a),
        hash(&untaped(&a)),
        "the tape is read before the seed"
    );
}

#[test]
fn a_failing_fuzz_input_shrinks_with_its_tape() {
    let mut s = framesim::kv::fuzz::scenario_from_bytes(&fuzz_input(0x5a));
    s.target = Target::OneReadOneRequest;
    let first = run(&s, RunOptions::default());
    assert!(!first.passed(), "{s}");
    let shrunk = shrink(&s, |_| {}).expect("a failing input shrinks");
    let small = &shrunk.scenario;
    assert!(small.client_ids().count() <= 2, "{small}");
    assert!(
        small.tape.as_ref().is_none_or(|t| t.len() < 600),
        "the tape is dropped or cut: {small}"
    );
    let replay = run(small, RunOptions::default());
    assert_eq!(Failure::of(&replay), Some(shrunk.failure.clone()));
}

/// The first seed of a default sweep (the `adversarial` preset) at which each fixture
/// fails shrinks to at most 2 clients x 3 requests and 60 transcript lines.
#[test]
fn every_fixtures_first_failing_sweep_seed_shrinks() {
    use clap::ValueEnum;
    for &target in Target::value_variants() {
        if target == Target::Framesim {
            continue;
        }
        shrinks_within(0..200, target, |seed| {
            Scenario::preset(Preset::Adversarial, seed)
        });
    }
}
