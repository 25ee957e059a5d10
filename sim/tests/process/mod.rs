//! Child processes for the suites that run a sweep apart: the `framesim` binary, or the
//! test binary itself running one of its tests, each with none of the environment's
//! `FRAMESIM_*` or CI shard variables (a CI engine that splits this suite across machines
//! must not shard the sweeps inside it), only the ones a test gives.
#![allow(dead_code)]

use std::process::{Command, Output};

/// `command` with every `FRAMESIM_*` and shard variable removed, then `env` set, run.
fn clean(mut command: Command, env: &[(&str, &str)]) -> Output {
    for (var, _) in std::env::vars() {
        if var.starts_with("FRAMESIM_") {
            command.env_remove(var);
        }
    }
    for var in framesim::sweep::SHARD_VARIABLES {
        command.env_remove(var);
    }
    command.envs(env.iter().copied()).output().unwrap()
}

/// The `framesim` binary with `args` and `env`.
pub fn framesim(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_framesim"));
    command.args(args);
    clean(command, env)
}

/// This test binary running `test` alone, unshrunk, with `env`.
pub fn again(test: &str, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([test, "--exact", "--nocapture", "--test-threads", "1"]);
    let mut env = env.to_vec();
    env.insert(0, ("FRAMESIM_SHRINK", "0"));
    clean(command, &env)
}

/// A child's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
