//! What a run depends on: its [`Config`], and the port the server listens on.

use crate::role::Role;
use framesim::kv::Faults;
use std::time::Duration;

/// The port hyper listens on.
pub const PORT: u16 = 80;

/// Everything a run depends on.
#[derive(Debug, Clone)]
pub struct Config {
    /// Every random choice of the run follows from it.
    pub seed: u64,
    /// Virtual clients.
    pub clients: usize,
    /// Client hosts they are spread over.
    pub hosts: usize,
    /// hyper's `header_read_timeout`; `None` turns it off (and slowloris must then win).
    pub header_timeout: Option<Duration>,
    /// hyper's `max_buf_size`.
    pub max_buf_size: usize,
    /// hyper's `pipeline_flush`: hold responses back while more requests are buffered.
    pub pipeline_flush: bool,
    /// Time between the bytes a slowloris or a slow body trickles.
    pub slowloris_interval: Duration,
    /// What the stream adapter does to the server's reads and writes.
    pub faults: Faults,
    /// Keep every event (determinism checks, small runs); otherwise only the hash.
    pub keep_events: bool,
    /// Every client plays this role, instead of each its own (focused runs).
    pub only: Option<Role>,
}

impl Config {
    /// The run CI makes: a thousand clients over 25 hosts, a 1 s header timeout, a 16 KiB
    /// buffer limit, and every stream fault.
    pub fn new(seed: u64) -> Self {
        Config {
            seed,
            clients: 1000,
            hosts: 25,
            header_timeout: Some(Duration::from_secs(1)),
            max_buf_size: 16 * 1024,
            pipeline_flush: true,
            slowloris_interval: Duration::from_millis(250),
            faults: Faults::every_kind(),
            keep_events: false,
            only: None,
        }
    }

    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        let mut cmd = format!(
            "cargo run --release -p framesim-hyper -- --seed {} --clients {} --hosts {}",
            self.seed, self.clients, self.hosts
        );
        let default = Config::new(self.seed);
        match self.header_timeout {
            None => cmd.push_str(" --no-header-timeout"),
            Some(t) if Some(t) != default.header_timeout => {
                cmd.push_str(&format!(" --header-timeout-ms {}", t.as_millis()))
            }
            Some(_) => {}
        }
        if self.max_buf_size != default.max_buf_size {
            cmd.push_str(&format!(" --max-buf-size {}", self.max_buf_size));
        }
        if !self.pipeline_flush {
            cmd.push_str(" --no-pipeline-flush");
        }
        if self.faults != default.faults {
            cmd.push_str(" --no-faults");
        }
        if let Some(role) = self.only {
            cmd.push_str(&format!(" --only {}", role.name()));
        }
        cmd
    }
}
