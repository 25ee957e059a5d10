//! `framesim sweep` at scale: shards from a CI engine's variables, time and failure budgets,
//! results files that merge, and the failure database.

use std::process::{Command, Output};

fn framesim(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_framesim"));
    command.args(args).env_remove("FRAMESIM_SEED");
    for var in framesim::sweep::SHARD_VARIABLES {
        command.env_remove(var);
    }
    command.envs(env.iter().copied()).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The seeds of `--hashes` lines.
fn seeds(out: &Output) -> Vec<u64> {
    text(&out.stdout)
        .lines()
        .map(|l| {
            let rest = l
                .strip_prefix("{\"seed\":")
                .unwrap_or_else(|| panic!("{l}"));
            rest[..rest.find(',').unwrap()].parse().unwrap()
        })
        .collect()
}

#[test]
fn a_sweep_takes_its_shard_from_the_ci_engine() {
    let args = [
        "sweep",
        "--scenario",
        "small",
        "--seeds",
        "0..9",
        "--hashes",
    ];
    let out = framesim(&args, &[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(seeds(&out), [1, 4, 7], "GitLab's node 2 of 3 is shard 1/3");
    assert!(
        text(&out.stderr).contains("(shard 1/3 from GitLab CI_NODE_INDEX=2 CI_NODE_TOTAL=3, "),
        "{}",
        text(&out.stderr)
    );
    // --shard wins over the environment.
    let out = framesim(
        &[&args[..], &["--shard", "0/3"]].concat(),
        &[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")],
    );
    assert_eq!(seeds(&out), [0, 3, 6]);
    // A bad value stops the sweep before it starts, naming the variable.
    let out = framesim(&args, &[("CI_NODE_INDEX", "4"), ("CI_NODE_TOTAL", "3")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("CI_NODE_INDEX=4"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}
