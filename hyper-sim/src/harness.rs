//! hyper under framesim's harness: the [`server`](crate::server) with a [`Config`], the
//! [`Http`] workload, and the limits hyper promises declared as the harness's options.

use crate::config::Config;
use crate::server::serve;
use crate::session::Http;
use framesim::harness::{Harness, Options, RoleMix};
use std::time::Duration;

/// How much longer than hyper's header timeout a slowloris may stay: hyper starts the
/// timer at the accept, the close then takes the network's latency to arrive.
pub const SLOWLORIS_SLACK: Duration = Duration::from_millis(100);

/// The options that declare what `config` promises, over the harness's hostile defaults:
/// the largest head hyper takes (`max_buf_size` bytes exactly) as `max_request`; its
/// header timeout as the time a silent connection may stay (`idle_timeout`) and, with a
/// little slack, as the bound on a slowloris.
pub fn options(config: &Config) -> Options {
    let defaults = Options::default();
    let bound = config
        .header_timeout
        .map_or(defaults.roles.slowloris_bound, |t| t + SLOWLORIS_SLACK);
    Options {
        max_request: config.max_buf_size,
        idle_timeout: config.header_timeout,
        roles: RoleMix {
            slowloris_bound: bound,
            ..defaults.roles
        },
        ..defaults
    }
}

/// hyper set up by `config`, under `workload`, with [`options`]`(config)`.
pub fn harness_with(config: Config, workload: Http) -> Harness {
    Harness::new(
        move |listener, shutdown| serve(listener, config, shutdown),
        workload,
    )
    .with(options(&config))
}

/// hyper set up by `config` under the default [`Http`] workload.
pub fn harness(config: Config) -> Harness {
    harness_with(config, Http::default())
}
