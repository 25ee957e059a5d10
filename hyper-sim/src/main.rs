//! `framesim-hyper`: one run of hyper's HTTP/1.1 server under the simulation, its findings,
//! and the command that replays it.

use clap::Parser;
use framesim_hyper::client::Role;
use framesim_hyper::{run, Config};
use std::process::ExitCode;
use std::time::Duration;

/// hyper's HTTP/1.1 server under framesim's simulation.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The run's seed; else FRAMESIM_SEED; else a fresh one, printed.
    #[arg(long, env = "FRAMESIM_SEED")]
    seed: Option<u64>,
    /// Virtual clients.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Client hosts.
    #[arg(long, default_value_t = 25)]
    hosts: usize,
    /// hyper's header_read_timeout, in ms.
    #[arg(long, default_value_t = 1000)]
    header_timeout_ms: u64,
    /// Run hyper without a header_read_timeout (slowloris clients then are not cut).
    #[arg(long)]
    no_header_timeout: bool,
    /// hyper's max_buf_size (at least 8192).
    #[arg(long, default_value_t = 16 * 1024)]
    max_buf_size: usize,
    /// Every client plays this role (regular, pipeliner, disconnector, slowloris,
    /// slow-body, lingerer, oversized, large-head).
    #[arg(long, value_parser = parse_role)]
    only: Option<Role>,
    /// Run hyper without pipeline_flush.
    #[arg(long)]
    no_pipeline_flush: bool,
    /// No stream faults: plain turmoil reads and writes.
    #[arg(long)]
    no_faults: bool,
    /// Print every event of the run.
    #[arg(long)]
    events: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(framesim::kv::fresh_seed);
    let mut config = Config::new(seed);
    config.clients = args.clients;
    config.hosts = args.hosts;
    config.header_timeout =
        (!args.no_header_timeout).then(|| Duration::from_millis(args.header_timeout_ms));
    config.max_buf_size = args.max_buf_size.max(8192);
    config.keep_events = args.events;
    config.only = args.only;
    config.pipeline_flush = !args.no_pipeline_flush;
    if args.no_faults {
        config.faults = framesim::kv::Faults::none();
    }
    let wall = std::time::Instant::now();
    let outcome = run(config);
    for line in &outcome.lines {
        println!("{line}");
    }
    print!("{}", outcome.summary());
    println!("  wall time {:.2} s", wall.elapsed().as_secs_f64());
    if outcome.passed() {
        println!("pass");
        ExitCode::SUCCESS
    } else {
        print!("{}", outcome.failure());
        ExitCode::FAILURE
    }
}

fn parse_role(name: &str) -> Result<Role, String> {
    Role::named(name).ok_or_else(|| {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
        format!("one of {}", names.join(", "))
    })
}
