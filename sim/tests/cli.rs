//! A harness's own command line (`framesim::harness::cli`): each subcommand on a passing
//! and a failing server, and bad input refused with exit code 2.

mod lines;

use framesim::harness::cli::main_from;
use framesim::harness::Harness;
use lines::{echo, echo_of, Lines};
use std::process::ExitCode;
use std::time::Duration;

fn cli(harness: Harness, args: &str) -> ExitCode {
    main_from(
        harness,
        std::iter::once("harness")
            .chain(args.split_whitespace())
            .map(Into::into),
    )
}

#[test]
fn each_subcommand_passes_a_sound_server_and_fails_a_broken_one() {
    let (sound, broken) = (|| echo(Some(Duration::from_millis(300))), || echo(None));
    for args in [
        "run --seed 3",
        "check --seed 3",
        "sweep --seeds 0..6 --jobs 2",
        "sweep --seeds 0..9 --shard 1/3",
        "sweep --for 1s --root 7 --max-failures 1",
        "shrink --seed 3",
    ] {
        assert_eq!(cli(sound(), args), ExitCode::SUCCESS, "{args}");
    }
    for args in ["run --seed 3", "sweep --seeds 0..6 --jobs 2"] {
        assert_eq!(cli(broken(), args), ExitCode::FAILURE, "{args}");
    }
    // Shrunk, written, and run again from the file: it still fails.
    let dir = std::env::temp_dir().join(format!("framesim-cli-{}", std::process::id()));
    let file = dir.join("shrunk.toml");
    let out = format!("shrink --seed 3 --out {}", file.display());
    assert_eq!(cli(broken(), &out), ExitCode::FAILURE);
    let shrunk = broken()
        .options()
        .overlaid(&std::fs::read_to_string(&file).unwrap())
        .unwrap();
    assert_eq!(shrunk.client_ids().len(), 1, "{shrunk:?}");
    let rerun = format!(
        "--options {} run --seed 3 --transcript {}",
        file.display(),
        dir.join("t.txt").display()
    );
    assert_eq!(cli(broken(), &rerun), ExitCode::FAILURE);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_refused_with_what_was_wrong() {
    for args in [
        "sweep --seeds 5..2",
        "sweep --shard 3/3",
        "run --seed x",
        "--options /no/such/file run",
        "sweep --for 20",
        "sweep --root 3",
        "sweep --max-failures 0",
        "merge /no/such/results.jsonl",
        "fly",
    ] {
        assert_eq!(cli(echo(None), args), ExitCode::from(2), "{args}");
    }
}

#[test]
fn a_lifted_failure_replays_failing_and_passes_the_sound_server() {
    let (sound, broken) = (|| echo(Some(Duration::from_millis(300))), || echo(None));
    let dir = std::env::temp_dir().join(format!("framesim-cli-script-{}", std::process::id()));
    let file = dir.join("script.toml");
    let lift = format!("lift --seed 3 --out {}", file.display());
    assert_eq!(cli(broken(), &lift), ExitCode::SUCCESS);
    let replay = format!("replay --script {}", file.display());
    assert_eq!(cli(broken(), &replay), ExitCode::FAILURE);
    assert_eq!(cli(sound(), &replay), ExitCode::SUCCESS);
    let explore = format!("explore {} --cuts 1", file.display());
    assert_eq!(cli(sound(), &explore), ExitCode::SUCCESS);
    // A script that does not read is refused with code 2, like any bad input.
    std::fs::write(
        &file,
        "seed = 1\n[[script]]\nid = 0\nrole = \"normal\"\nsteps = [\"jump\"]\n",
    )
    .unwrap();
    assert_eq!(cli(sound(), &replay), ExitCode::from(2));
    assert_eq!(
        cli(sound(), "replay --script /no/such/file.toml"),
        ExitCode::from(2)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_sweep_writes_results_that_merge() {
    let sound = || echo(Some(Duration::from_millis(300)));
    let dir = std::env::temp_dir().join(format!("framesim-cli-results-{}", std::process::id()));
    let (a, b) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    for (file, shard) in [(&a, "0/2"), (&b, "1/2")] {
        let args = format!(
            "sweep --seeds 0..6 --shard {shard} --results {}",
            file.display()
        );
        assert_eq!(cli(sound(), &args), ExitCode::SUCCESS, "{args}");
        assert_eq!(std::fs::read_to_string(file).unwrap().lines().count(), 3);
    }
    let merge = format!("merge {} {}", a.display(), b.display());
    assert_eq!(cli(sound(), &merge), ExitCode::SUCCESS);
    // A broken server's results fail the merge.
    let args = format!("sweep --seeds 0..2 --results {}", b.display());
    assert_eq!(cli(echo(None), &args), ExitCode::FAILURE);
    assert_eq!(cli(sound(), &merge), ExitCode::FAILURE);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn require_coverage_fails_a_sweep_in_which_a_fault_never_happened() {
    let deadline = Some(Duration::from_millis(300));
    let args = "sweep --seeds 0..4 --require-coverage";
    // The line workload makes no malformed, at-limit or quit request, nor here an
    // oversized one: those clients behave well, and nothing asks them to be refused.
    let sound = || echo_of(deadline, Lines { oversized: false });
    assert_eq!(cli(sound(), args), ExitCode::SUCCESS);
    // Partial reads asked for at a chance too small to happen.
    let dead = || {
        let harness = sound();
        let mut options = harness.options().clone();
        options.faults.partial_read_chance = 1e-12;
        harness.with(options)
    };
    assert_eq!(cli(dead(), args), ExitCode::FAILURE);
    assert_eq!(cli(dead(), "sweep --seeds 0..4"), ExitCode::SUCCESS);
}
