//! Coverage of a sweep: what each run counted, added up over the sweep's seeds, and
//! `FRAMESIM_REQUIRE_COVERAGE=1` failing a sweep in which a role its options ask for never
//! happened. The tests run this test binary again with the variable set, on its own tests.

mod lines;
mod process;

use framesim::harness::{Options, RoleMix};
use lines::{echo, echo_of, Lines};
use process::{again, text};
use std::time::Duration;

/// Roles the line echo server answers every time, and no restart.
fn roles() -> RoleMix {
    RoleMix {
        slowloris: 1,
        disconnect: 1,
        idle: 1,
        half_close: 1,
        oversized: 1,
        ..RoleMix::none()
    }
}

/// The line echo server with a deadline, under [`roles`] and every fault.
fn everything() -> framesim::Harness {
    echo(Some(Duration::from_millis(300))).with(Options {
        roles: roles(),
        max_request: 4096,
        clients: 8,
        ..Options::default()
    })
}

/// Every role and fault of its options happens.
#[test]
fn everything_happens() {
    framesim::sweep!(everything(), 0..6);
}

/// A workload without an oversized request: the oversized client behaves well, and the
/// server never refuses one, which no option can ask of it.
#[test]
fn oversized_never_asked() {
    let harness =
        echo_of(Some(Duration::from_millis(300)), Lines { oversized: false }).with(Options {
            roles: roles(),
            max_request: 4096,
            clients: 8,
            ..Options::default()
        });
    framesim::sweep!(harness, 0..6);
}

/// Partial reads asked for, at a chance too small to happen.
#[test]
fn partial_reads_never_happen() {
    let mut options = everything().options().clone();
    options.faults.partial_read_chance = 1e-12;
    framesim::sweep!(everything().with(options), 0..6);
}

/// Runs the test `name` of this binary again with `FRAMESIM_REQUIRE_COVERAGE=1`: whether
/// it passed, and its stderr.
fn required(name: &str) -> (bool, String) {
    let run = again(name, &[("FRAMESIM_REQUIRE_COVERAGE", "1")]);
    (run.status.success(), text(&run.stderr))
}

#[test]
fn a_sweep_in_which_everything_happens_passes_the_requirement() {
    let (passed, err) = required("everything_happens");
    assert!(passed, "{err}");
    assert!(err.contains("coverage over 6 seeds"), "{err}");
    assert!(!err.contains("NEVER"), "{err}");
}

#[test]
fn a_fault_that_never_happens_fails_the_requirement_by_name() {
    let (passed, err) = required("partial_reads_never_happen");
    assert!(!passed, "{err}");
    assert!(
        err.contains("framesim: coverage: never happened in 6 seeds: partial reads (FRAMESIM_REQUIRE_COVERAGE=1)"),
        "{err}"
    );
    // Without the requirement the same sweep passes, and its table says so.
    let run = again("partial_reads_never_happen", &[]);
    let err = text(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("NEVER"), "{err}");
}

/// A role whose request the session cannot make is not asked for: the requirement holds
/// and the table marks the row `-`.
#[test]
fn a_role_the_session_makes_no_request_for_is_not_required() {
    let (passed, err) = required("oversized_never_asked");
    assert!(passed, "{err}");
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("oversized refused "))
        .unwrap_or_else(|| panic!("no oversized row in {err}"));
    assert!(line.trim_end().ends_with(" -"), "{line}");
}

#[test]
fn a_bad_requirement_is_an_error_naming_it() {
    let run = again(
        "everything_happens",
        &[("FRAMESIM_REQUIRE_COVERAGE", "yes")],
    );
    let err = text(&run.stderr);
    assert!(!run.status.success());
    assert!(err.contains("FRAMESIM_REQUIRE_COVERAGE=\"yes\""), "{err}");
}

/// The table's line for `name`: its count and the seeds it happened in.
fn row(table: &str, name: &str) -> (u64, u64) {
    let line = table
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{name}  ")))
        .unwrap_or_else(|| panic!("no line for {name} in {table}"));
    let numbers: Vec<u64> = line[name.len() + 2..]
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

/// One number of a run.
type Count = dyn Fn(&framesim::Outcome) -> u64;

#[test]
fn the_table_adds_up_the_runs_tallies_and_counts() {
    let run = again("everything_happens", &[]);
    let table = text(&run.stderr);
    assert!(run.status.success(), "{table}");
    let harness = everything();
    let outcomes: Vec<_> = (0..6).map(|seed| harness.run(seed)).collect();
    let sum = |of: &Count| -> (u64, u64) {
        let counts = outcomes.iter().map(of);
        (
            counts.clone().sum(),
            counts.filter(|&n| n > 0).count() as u64,
        )
    };
    let expected: [(&str, &Count); 10] = [
        ("requests sent", &|o| o.tally.requests),
        ("replies read", &|o| o.tally.replies),
        ("slowloris cut", &|o| o.tally.slowloris_cut),
        ("disconnects", &|o| o.tally.disconnects),
        ("idle", &|o| o.tally.idle),
        ("half-closed", &|o| o.tally.half_closed),
        ("oversized refused", &|o| o.tally.oversized_refused),
        ("partial reads", &|o| o.counts.partial_reads),
        ("coalesced reads", &|o| o.counts.coalesced_reads),
        ("accept failures", &|o| o.counts.accept_errors),
    ];
    for (name, of) in expected {
        assert_eq!(row(&table, name), sum(of), "{name}: {table}");
    }
    assert!(row(&table, "partial reads").0 > 0, "{table}");
}
