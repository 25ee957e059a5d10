use crate::protocol::{Framing, Limits};
use crate::Stats;
use std::time::Duration;

/// Everything [`serve`](crate::serve) needs to know besides the listener and the service.
#[derive(Debug, Clone)]
pub struct Config {
    /// How requests and replies are framed.
    pub framing: Framing,
    /// Size limits of one request.
    pub limits: Limits,
    /// Most bytes one connection may hold unanswered (its read buffer); beyond it the
    /// connection gets an error reply and is closed.
    pub max_buffered: usize,
    /// Longest time from a request's first byte to its last (cuts off slowloris clients).
    pub frame_deadline: Duration,
    /// Longest time a connection may sit with no request begun, or with replies the peer
    /// does not read.
    pub idle_timeout: Duration,
    /// Most connections served at once; more are refused with an error reply.
    pub max_connections: usize,
    /// After shutdown, how long in-flight requests get to finish before connections are cut.
    pub grace: Duration,
    /// Pause after a failed `accept` (e.g. too many open files) before trying again.
    pub accept_backoff: Duration,
    /// Counters, shared with whoever holds a clone.
    pub stats: Stats,
}

impl Default for Config {
    fn default() -> Self {
        let limits = Limits::default();
        Config {
            framing: Framing::Resp,
            limits,
            max_buffered: limits.max_frame + limits.max_line,
            frame_deadline: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            max_connections: 10_000,
            grace: Duration::from_secs(5),
            accept_backoff: Duration::from_millis(100),
            stats: Stats::default(),
        }
    }
}

impl Config {
    /// Checks the settings; [`serve`](crate::serve) refuses to start with a bad one.
    pub fn validate(&self) -> Result<(), String> {
        self.framing.validate()?;
        if self.limits.max_line == 0 || self.limits.max_frame == 0 {
            return Err("frame limits must be at least 1 byte".into());
        }
        if self.max_buffered < self.limits.max_line.min(self.limits.max_frame) {
            return Err(format!(
                "max_buffered ({}) is smaller than the smallest frame limit",
                self.max_buffered
            ));
        }
        if self.max_connections == 0 {
            return Err("max_connections must be at least 1".into());
        }
        if self.frame_deadline.is_zero() || self.idle_timeout.is_zero() {
            return Err("frame_deadline and idle_timeout must be positive".into());
        }
        Ok(())
    }
}
