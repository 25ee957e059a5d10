use crate::protocol::Framing;
use crate::Limits;
use std::time::Duration;

/// Everything [`serve`](crate::serve) needs to know besides the listener, the service and
/// where to count: plain data, the one source of the server's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How requests and replies are framed.
    pub framing: Framing,
    /// What one connection may cost and how long it may take.
    pub limits: Limits,
    /// Most connections served at once; more are refused with an error reply.
    pub max_connections: usize,
    /// After shutdown, how long in-flight requests get to finish before connections are cut.
    pub grace: Duration,
    /// Pause after a failed `accept` (e.g. too many open files) before trying again.
    pub accept_backoff: Duration,
    /// How long a connection must have had nothing in progress (no partial request, no
    /// reply to write) before it is parked: its task ends and the server's parking lot
    /// holds its stream until the peer sends again, at a fraction of a task's memory. A
    /// connection just accepted is parked at once, until its first bytes. `None`: never
    /// park, one task per connection for its whole life.
    ///
    /// A connection that keeps sending never parks; one that pauses longer than this pays
    /// one task spawn when it speaks again. Limits, deadlines and counters are the same
    /// parked or not.
    pub park_after: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            framing: Framing::Resp,
            limits: Limits::default(),
            max_connections: 10_000,
            grace: Duration::from_secs(5),
            accept_backoff: Duration::from_millis(100),
            park_after: Some(Duration::from_secs(1)),
        }
    }
}

impl Config {
    /// Checks the settings; [`serve`](crate::serve) refuses to start with a bad one.
    pub fn validate(&self) -> Result<(), String> {
        self.framing.validate()?;
        self.limits.validate()?;
        if self.max_connections == 0 {
            return Err("max_connections must be at least 1".into());
        }
        Ok(())
    }
}
