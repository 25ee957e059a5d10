//! A panic inside a run is one line of its report, with its location, and prints nothing —
//! no message per task, no backtrace, even with `RUST_BACKTRACE=1`.

use framesim::kv::{run, Preset, RunOptions, Scenario};
use std::process::Command;

/// Chunks of at most zero bytes: every client panics as it writes its first request.
fn panicking() -> Scenario {
    let mut s = Scenario::preset(Preset::Small, 1);
    s.delivery.max_chunk = 0;
    s
}

#[test]
fn a_panicking_simulation_is_one_line_with_its_location() {
    let report = run(&panicking(), RunOptions::default());
    assert!(!report.passed());
    let error = report.error.as_deref().expect("the simulation failed");
    assert!(
        error.contains("panic at sim/src/client/delivery.rs:"),
        "{error}"
    );
    assert!(!report.panics.is_empty());
    assert!(report.panics.iter().all(|p| p.starts_with("sim/src/")));
    let line = report.first_failure();
    assert!(
        line.starts_with("[panic] sim/src/client/delivery.rs:")
            && line.contains(": cannot sample empty range"),
        "{line}"
    );
    assert!(!line.contains('\n'));
    assert!(report
        .failure()
        .contains(&format!("simulation error: {error}")));

    // Panics outside a run are left to the hook that was there.
    let outside = std::panic::catch_unwind(|| panic!("not in a run"));
    assert!(outside.is_err());
    let again = run(&Scenario::preset(Preset::Small, 1), RunOptions::default());
    assert!(again.passed() && again.panics.is_empty());
}

/// Set in the process this test starts of itself: there it runs the panicking simulation and
/// prints the report's line; the parent reads everything that process printed.
const CHILD: &str = "FRAMESIM_PANICS_CHILD";

#[test]
fn a_panicking_run_prints_nothing() {
    if std::env::var_os(CHILD).is_some() {
        let report = run(&panicking(), RunOptions::default());
        println!("failure: {}", report.first_failure());
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_panicking_run_prints_nothing", "--nocapture"])
        .env(CHILD, "1")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("failure: [panic] sim/src/client/delivery.rs:"),
        "{stdout}"
    );
    for noise in [
        "panicked at",
        "stack backtrace",
        "cannot sample empty range\n",
    ] {
        assert!(
            !stderr.contains(noise) && !stdout.contains(noise),
            "`{noise}` printed:\n{stdout}\n{stderr}"
        );
    }
}
