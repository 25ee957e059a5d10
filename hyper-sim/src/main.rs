//! `framesim-hyper`: hyper's HTTP/1.1 server under framesim's harness, with framesim's
//! subcommands (`run`, `check`, `sweep`, `shrink`, `lift`, `replay`, `explore`). hyper's
//! settings come from `HYPER_HEADER_TIMEOUT_MS` (`0`: none), `HYPER_PIPELINE_FLUSH` (`0`
//! or `1`) and `HYPER_MAX_BUF_SIZE`.

use std::process::ExitCode;

fn main() -> ExitCode {
    match framesim_hyper::Config::from_env() {
        Ok(config) => framesim::harness::cli::main(framesim_hyper::harness(config)),
        Err(e) => {
            eprintln!("framesim-hyper: {e}");
            ExitCode::from(2)
        }
    }
}
