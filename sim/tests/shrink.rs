//! Shrinking: each naive fixture's first failure shrinks to a handful of clients and
//! requests, failing the same way; the shrunk scenario replays to the same violation.

mod common;

use common::first_caught;
use framesim::shrink::{shrink, Failure};
use framesim::{run, Preset, RunOptions, Target};

fn shrinks(preset: Preset, target: Target) {
    let (seed, report) = first_caught(preset, target, 0..5)
        .unwrap_or_else(|| panic!("{target} passed 5 seeds of '{preset}'"));
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
        s.requests,
        shrunk.runs,
        shrunk.elapsed
    );
    assert!(clients <= 2, "{clients} clients left:\n{s}");
    assert!(s.requests <= 3, "{} requests left:\n{s}", s.requests);
    // The shrunk scenario replays to the same failure, with the whole transcript kept.
    let replay = run(
        s,
        RunOptions {
            keep_transcript: true,
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
fn a_passing_scenario_does_not_shrink() {
    let s = framesim::Scenario::preset(Preset::Small, 0);
    let err = shrink(&s, |_| {}).unwrap_err();
    assert!(err.contains("passes"), "{err}");
}
