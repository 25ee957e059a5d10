//! The oracles have teeth: each deliberately naive server is caught within a few seeds.

mod common;

use common::first_caught;
use framesim::{Oracle, Preset, Target};

fn caught(preset: Preset, target: Target, oracle: Oracle) {
    let (seed, report) = first_caught(preset, target, 0..5)
        .unwrap_or_else(|| panic!("{target} passed 5 seeds of '{preset}': the oracles are blind"));
    let v = report.violations.first().expect("a violation");
    assert_eq!(v.oracle, oracle, "{target} seed {seed}: {v}");
    let text = report.failure();
    assert!(text.contains(&format!("seed: {seed}")), "{text}");
    assert!(
        text.contains("replay: cargo run --release -p framesim -- replay"),
        "{text}"
    );
    assert!(text.contains("last events before it:"), "{text}");
    eprintln!("{target} caught on '{preset}' at seed {seed}:\n{text}\n");
}

#[test]
fn one_read_one_request_is_caught() {
    caught(Preset::Small, Target::OneReadOneRequest, Oracle::Reply);
}

#[test]
fn reading_the_length_header_with_a_single_read_is_caught() {
    let mut found = None;
    for seed in 0..5 {
        let mut s = framesim::Scenario::preset(Preset::Small, seed);
        s.framing = framesim_server::protocol::Framing::length();
        s.target = Target::SingleReadHeader;
        let r = framesim::run(&s, framesim::RunOptions::default());
        if !r.passed() {
            found = Some(seed);
            break;
        }
    }
    assert!(
        found.is_some(),
        "single-read-header passed 5 length-framed seeds"
    );
}

#[test]
fn no_frame_deadline_is_caught_by_the_slowloris_oracle() {
    caught(Preset::Hostile, Target::NoFrameDeadline, Oracle::Slowloris);
}

#[test]
fn answering_only_the_first_pipelined_request_is_caught() {
    caught(Preset::Small, Target::FirstFrameOnly, Oracle::Reply);
}
