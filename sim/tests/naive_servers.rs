//! The oracles have teeth: each deliberately naive server is caught within a few seeds.

mod common;

use common::{
    assert_passes_scenario, crlf_lines, first_caught, incr_edges, with_at_limit, with_bulk_loader,
};
use framesim::kv::{Preset, Scenario, Target};
use framesim::Oracle;

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
    caught(Preset::Small, Target::OneReadOneRequest, Oracle::Executed);
}

#[test]
fn reading_the_length_header_with_a_single_read_is_caught() {
    let mut found = None;
    for seed in 0..5 {
        let mut s = framesim::kv::Scenario::preset(Preset::Small, seed);
        s.framing = framesim_server::protocol::Framing::length();
        s.target = Target::SingleReadHeader;
        let r = framesim::kv::run(&s, framesim::kv::RunOptions::default());
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
    caught(Preset::Small, Target::FirstFrameOnly, Oracle::Executed);
}

/// Like `caught`, on a scenario `make` builds for each seed; the real server must pass every
/// seed tried, up to the one the fixture failed.
fn caught_on(make: impl Fn(u64) -> Scenario, target: Target, oracle: Oracle) {
    let found = (0..5).find_map(|seed| {
        let mut s = make(seed);
        s.target = target;
        let report = framesim::kv::run(
            &s,
            framesim::kv::RunOptions {
                keep_transcript: true,
                ..framesim::kv::RunOptions::default()
            },
        );
        (!report.passed()).then_some((s, report))
    });
    let (s, report) =
        found.unwrap_or_else(|| panic!("{target} passed 5 seeds: the oracles are blind"));
    let v = report.violations.first().expect("a violation");
    assert_eq!(v.oracle, oracle, "{target} seed {}: {v}", s.seed);
    eprintln!(
        "{target} caught at seed {}:\n{}\n",
        s.seed,
        report.failure()
    );
    for seed in 0..=s.seed {
        let mut real = make(seed);
        real.target = Target::Framesim;
        assert_passes_scenario(real);
    }
}

/// The small preset with one client that pipelines reads of a large value and never reads.
fn with_never_reader(seed: u64) -> Scenario {
    let mut s = Scenario::preset(Preset::Small, seed);
    s.roles.never_reader = 0.1;
    s
}

/// The small preset with one client sending an unfinished request of endless arguments.
fn with_unfinished_args(seed: u64) -> Scenario {
    let mut s = Scenario::preset(Preset::Small, seed);
    s.roles.unfinished_args = 0.1;
    s
}

#[test]
fn unbounded_pending_replies_are_caught_by_the_reply_backlog_oracle() {
    caught_on(
        with_never_reader,
        Target::UnboundedOutput,
        Oracle::ReplyBacklog,
    );
}

#[test]
fn a_limit_that_ignores_parsed_arguments_is_caught_by_the_request_backlog_oracle() {
    caught_on(
        with_unfinished_args,
        Target::UncountedArgs,
        Oracle::RequestBacklog,
    );
}

#[test]
fn a_delimiter_split_across_reads_is_caught_by_the_reply_oracle() {
    caught_on(crlf_lines, Target::SplitDelimiter, Oracle::Reply);
}

#[test]
fn a_deadline_per_connection_is_caught_by_the_wrongful_close_oracle() {
    caught_on(
        with_bulk_loader,
        Target::ConnectionDeadline,
        Oracle::WrongfulClose,
    );
}

#[test]
fn limits_one_byte_short_are_caught_by_the_at_limit_client() {
    caught_on(with_at_limit, Target::LimitOffByOne, Oracle::Reply);
}

#[test]
fn an_incr_that_wraps_at_i64_max_is_caught_by_the_reply_oracle() {
    caught_on(incr_edges, Target::IncrWraps, Oracle::Reply);
}

#[test]
fn cutting_connections_at_shutdown_is_caught_by_the_drain_oracle() {
    let drain = |seed| Scenario::preset(Preset::Drain, seed);
    caught_on(drain, Target::NoGrace, Oracle::Drain);
    // A crash may cut anything: the same fixture passes the restart preset.
    for seed in 0..3 {
        let mut s = Scenario::preset(Preset::Restart, seed);
        s.target = Target::NoGrace;
        assert_passes_scenario(s);
    }
}

/// The small preset in line framing, a quarter of its clients leaving mid-request.
fn lines_with_disconnects(seed: u64) -> Scenario {
    let mut s = Scenario::preset(Preset::Small, seed);
    s.framing = framesim_server::protocol::Framing::line();
    s.roles.disconnect = 0.25;
    s
}

#[test]
fn running_a_line_cut_short_at_the_end_of_the_stream_is_caught_by_the_executed_oracle() {
    caught_on(
        lines_with_disconnects,
        Target::LastLineAtEof,
        Oracle::Executed,
    );
}

/// The small preset with clients pausing up to 800 ms between batches, on a 1 s idle timeout.
fn with_pauses(seed: u64) -> Scenario {
    let mut s = Scenario::preset(Preset::Small, seed);
    s.requests = 12;
    s.limits.idle_timeout = std::time::Duration::from_secs(1);
    s.limits.frame_deadline = std::time::Duration::from_millis(250);
    s.delivery.max_pause = std::time::Duration::from_millis(800);
    s
}

#[test]
fn idleness_timed_from_the_accept_is_caught_by_the_wrongful_close_oracle() {
    caught_on(with_pauses, Target::IdleFromAccept, Oracle::WrongfulClose);
}

/// The hostile preset: oversized and malformed clients pipeline good requests before the bad
/// one.
fn hostile(seed: u64) -> Scenario {
    Scenario::preset(Preset::Hostile, seed)
}

/// The small preset with a quarter of its clients ending in QUIT.
fn with_quitters(seed: u64) -> Scenario {
    let mut s = Scenario::preset(Preset::Small, seed);
    s.roles.quit = 0.25;
    s
}

#[test]
fn replies_thrown_away_at_quit_are_caught_by_the_quit_oracle() {
    caught_on(with_quitters, Target::QuitDropsReplies, Oracle::Quit);
}

#[test]
fn replies_thrown_away_at_a_protocol_error_are_caught_by_the_reply_oracle() {
    caught_on(hostile, Target::ErrorDropsReplies, Oracle::Reply);
}

fn with_accept_errors(seed: u64) -> Scenario {
    let mut s = Scenario::preset(Preset::Small, seed);
    s.faults.accept_error_chance = 0.5;
    s
}

#[test]
fn an_accept_loop_that_ends_at_a_failed_accept_is_caught() {
    caught_on(with_accept_errors, Target::AcceptGivesUp, Oracle::Connect);
}

#[test]
fn an_accept_loop_that_spins_when_out_of_descriptors_is_caught_by_the_accept_oracle() {
    caught_on(with_accept_errors, Target::NoAcceptBackoff, Oracle::Accept);
}
