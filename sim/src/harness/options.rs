//! How a harness run is set up: plain data, every field with a default.

use crate::net::Faults;
use crate::scenario::file::form;
use crate::scenario::Delivery;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Everything about a harness run besides the server, the workload and the seed.
///
/// ```
/// use framesim::harness::{Options, RoleMix};
/// let options = Options {
///     clients: 64,
///     roles: RoleMix { slowloris: 4, ..RoleMix::default() },
///     ..Options::default()
/// };
/// assert_eq!(options.roles.of(0), framesim::harness::Role::Slowloris);
/// ```
///
/// In a TOML file (what a shrunk failure is written as, see [`sweep`](super::sweep())), a
/// field left out takes its default, durations read `"250ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Virtual clients.
    pub clients: usize,
    /// Client hosts they are spread over (client `i` on host `i % hosts`): turmoil's cost
    /// grows with the square of the messages in flight between two hosts.
    pub hosts: usize,
    /// How well-behaved clients put their bytes on the wire: chunk sizes, gaps, pipelined
    /// batches, cuts at seams.
    pub delivery: Delivery,
    /// What the server's stream does to its reads and writes (`window` does not apply).
    pub faults: Faults,
    /// How many clients misbehave, and how.
    pub roles: RoleMix,
    /// Clients start at a random time in `0..=ramp`.
    #[serde(with = "framesim_server::text::duration")]
    pub ramp: Duration,
    /// Most time the gaps inside one request add up to: keep it under the server's
    /// deadline for a request's bytes, so a well-behaved client is never cut.
    #[serde(with = "framesim_server::text::duration")]
    pub request_budget: Duration,
    /// How long a client waits for a reply before calling its request unanswered.
    #[serde(with = "framesim_server::text::duration")]
    pub reply_timeout: Duration,
    /// After the last client leaves: how long the server has to drop every connection, and
    /// then to return after [`Shutdown`](super::Shutdown).
    #[serde(with = "framesim_server::text::duration")]
    pub settle: Duration,
    /// Range of turmoil's one-way message latency.
    #[serde(with = "form::duration_pair")]
    pub latency: (Duration, Duration),
    /// When the server host crashes: its [`Shutdown`](super::Shutdown) completes (the
    /// server should drop every connection and return), then the host starts over, calling
    /// the server closure again with a new listener. A well-behaved client that loses its
    /// connection to the crash connects again with a new session; its requests in flight
    /// are not judged.
    #[serde(with = "form::duration_or_never")]
    pub restart_at: Option<Duration>,
    /// The grace the server gives requests in flight when it shuts down, if it promises one
    /// (zero: none, the restart is a crash). Then a well-behaved client whose connection
    /// the server closes after the restart began and before the grace ran out, with a
    /// request it had begun to read unanswered, breaks the promise (`drain`); requests the
    /// server had not begun to read may be cut.
    #[serde(with = "framesim_server::text::duration")]
    pub restart_grace: Duration,
    /// Most requests a well-behaved client sends (its session may end sooner); `None` for
    /// as many as its session has.
    pub max_requests: Option<usize>,
    /// The server's limit on connections open at once, if it has one: once the clients
    /// have left, the harness probes it (`connection-limit`): that many clients at once
    /// are served, one more is closed unserved, a freed slot is given back.
    pub max_connections: Option<usize>,
    /// The port the server's listener binds on host `server`.
    pub port: u16,
    /// Keep every transcript line (else only its hash and counts).
    pub keep_transcript: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clients: 32,
            hosts: 4,
            delivery: Delivery::default(),
            faults: Faults::every_kind(),
            roles: RoleMix::default(),
            ramp: Duration::from_millis(50),
            request_budget: Duration::from_millis(250),
            reply_timeout: Duration::from_secs(10),
            settle: Duration::from_secs(2),
            latency: (Duration::from_millis(1), Duration::from_millis(5)),
            restart_at: None,
            restart_grace: Duration::ZERO,
            max_requests: None,
            max_connections: None,
            port: 6379,
            keep_transcript: false,
        }
    }
}

impl Options {
    /// Options from TOML text (the form [`Shrunk::toml`](super::Shrunk::toml) writes):
    /// fields left out take their defaults; an unknown field or a bad value is an error
    /// naming it.
    ///
    /// ```
    /// use framesim::harness::Options;
    /// let options = Options::from_toml("clients = 2\nmax_requests = 3\n[roles]\nslowloris = 1\n").unwrap();
    /// assert_eq!((options.clients, options.max_requests, options.roles.slowloris), (2, Some(3), 1));
    /// assert!(Options::from_toml("client = 2").is_err());
    /// ```
    pub fn from_toml(text: &str) -> Result<Options, String> {
        toml::from_str(text).map_err(|e| {
            e.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
    }
}

/// What one client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends its session's requests, pipelined and chunked, and judges every reply; must
    /// get every reply, in order.
    WellBehaved,
    /// Trickles all but the last byte of its first request; must be closed within
    /// [`RoleMix::slowloris_bound`] of its first byte.
    Slowloris,
    /// Writes part of its first request and leaves.
    Disconnect,
    /// Connects and says nothing for [`RoleMix::idle_for`].
    Idle,
}

/// How many clients play each misbehaving role: the first `slowloris` clients trickle, the
/// next `disconnect` leave mid-request, the next `idle` say nothing; the rest behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoleMix {
    /// Clients that trickle a request they never finish.
    pub slowloris: usize,
    /// Time between two bytes of a slowloris.
    #[serde(with = "framesim_server::text::duration")]
    pub slowloris_interval: Duration,
    /// How soon after its first byte the server must close a slowloris.
    #[serde(with = "framesim_server::text::duration")]
    pub slowloris_bound: Duration,
    /// Clients that leave in the middle of a request.
    pub disconnect: usize,
    /// Clients that connect and say nothing.
    pub idle: usize,
    /// How long an idle client stays (the server may close it sooner).
    #[serde(with = "framesim_server::text::duration")]
    pub idle_for: Duration,
}

impl Default for RoleMix {
    fn default() -> Self {
        RoleMix {
            slowloris: 0,
            slowloris_interval: Duration::from_millis(100),
            slowloris_bound: Duration::from_secs(1),
            disconnect: 0,
            idle: 0,
            idle_for: Duration::from_millis(500),
        }
    }
}

impl RoleMix {
    /// The role of client `id`.
    pub fn of(&self, id: usize) -> Role {
        if id < self.slowloris {
            Role::Slowloris
        } else if id < self.slowloris + self.disconnect {
            Role::Disconnect
        } else if id < self.slowloris + self.disconnect + self.idle {
            Role::Idle
        } else {
            Role::WellBehaved
        }
    }
}
