//! framesim's own server with its clients sharing keys, under the harness's hostile
//! defaults and the swarm: every seed's history must be linearizable, whatever the roles,
//! faults, disconnects and drawn options do to it.
//!
//! `cargo run --release -p framesim --example contention -- sweep --seeds 0..10000 --jobs 2`
//! sweeps it from its own command line; `cargo test -p framesim --example contention` runs
//! the test below.

use framesim::harness::{ContentionWorkload, Harness, Options};
use framesim_server::{serve, Config, Kv, Stats};

/// framesim's server, its clients sharing three keys, every default role and fault, each
/// seed its own options.
fn harness() -> Harness {
    Harness::new(
        |listener, shutdown| async move {
            let served = serve(
                listener,
                Kv::new(),
                Config::default(),
                Stats::default(),
                shutdown,
            );
            served.await.expect("the server stops only at its shutdown");
        },
        ContentionWorkload::new().requests(12),
    )
    .with(Options {
        // The server cuts a request whose bytes take longer than its frame deadline.
        roles: framesim::harness::RoleMix {
            slowloris_bound: Config::default().limits.frame_deadline * 2,
            ..Default::default()
        },
        swarm: true,
        ..Options::default()
    })
}

fn main() -> std::process::ExitCode {
    framesim::harness::cli::main(harness())
}

#[test]
fn framesims_server_is_linearizable_under_every_default_role_and_fault() {
    let tally = framesim::sweep!(harness(), 0..32);
    assert!(tally.disconnects > 0 && tally.half_closed > 0 && tally.replies > 0);
}
