//! How a harness run is set up: plain data, every field with a default.

pub use crate::net::Faults;
pub use crate::role::Role;
use crate::scenario::file::form;
pub use crate::scenario::Delivery;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Everything about a harness run besides the server, the workload and the seed.
///
/// The defaults are hostile: besides the stream faults and failing accepts, a few clients
/// of every misbehaving role ([`RoleMix::default`]) and the buffer oracles against
/// [`max_request`](Options::max_request) and [`max_buffered`](Options::max_buffered).
/// [`Options::gentle`] is the opposite: well-behaved clients on a plain stream.
///
/// ```
/// use framesim::harness::{Options, Role, RoleMix};
/// let options = Options {
///     clients: 64,
///     roles: RoleMix { slowloris: 4, ..RoleMix::none() },
///     ..Options::default()
/// };
/// assert_eq!(options.roles.of(0), Role::Slowloris);
/// assert_eq!(options.roles.of(4), Role::Normal);
/// assert_eq!(Options::default().roles.of(0), Role::Slowloris);
/// ```
///
/// In a TOML file (what a shrunk failure is written as, see [`sweep`](super::sweep())), a
/// field left out takes its default, durations read `"250ms"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// What the server's stream does to its reads and writes and accepts, and the receive
    /// window of each client.
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
    /// Most requests a well-behaved client sends (its session may end sooner); `None`
    /// (`"none"` in a file) for as many as its session has.
    #[serde(with = "form::count_or_none")]
    pub max_requests: Option<usize>,
    /// The server's limit on connections open at once, if it has one: once the clients
    /// have left, the harness probes it (`connection-limit`): that many clients at once
    /// are served, one more is closed unserved, a freed slot is given back. `"none"` in a
    /// file.
    #[serde(with = "form::count_or_none")]
    pub max_connections: Option<usize>,
    /// The largest request the server accepts, in bytes: an oversized client
    /// ([`Role::Oversized`]) sends one larger, which the server must refuse (reply or
    /// close) before it has read this many bytes of it and one read more (`oversized`).
    pub max_request: usize,
    /// The most request bytes the server may read from one connection while its client
    /// has a whole receive window of replies unread: past it, the server is buffering what
    /// it cannot send (`reply-backlog`; a [`Role::NeverReader`] fills the window).
    pub max_buffered: usize,
    /// How long the server lets a connection stay silent before it closes it, if it
    /// promises to: an idle client ([`Role::Idle`]) then stays until the server closes it,
    /// which must come within this and a tenth more (`idle`). `None` (`"never"` in a
    /// file): an idle client leaves after [`RoleMix::idle_for`], nothing judged.
    #[serde(with = "form::duration_or_never")]
    pub idle_timeout: Option<Duration>,
    /// How long the server lets a write wait on a client that reads nothing, if it promises
    /// to cut such a client: a never-reader ([`Role::NeverReader`]) whose window filled then
    /// stays until the server closes it, which must come within this and a tenth more of
    /// the server's last write to it (`stalled-reader`). `None` (`"never"`): not judged.
    #[serde(with = "form::duration_or_never")]
    pub write_timeout: Option<Duration>,
    /// The port the server's listener binds on host `server`.
    pub port: u16,
    /// Keep every transcript line (else only its hash and counts).
    pub keep_transcript: bool,
    /// Only these client ids run (`None`, `"all"` in a file: every one of `clients`). Ids,
    /// roles, hosts and random streams stay those of the full run, so a client behaves the
    /// same whichever others run beside it: what shrinking a failure to one client relies
    /// on.
    #[serde(with = "form::ids_or_all")]
    pub only_clients: Option<Vec<usize>>,
    /// Each seed runs with options of its own, drawn from the seed within these (swarm
    /// testing, see [`Options::for_seed`]): fewer clients, a role or a fault off, other
    /// chunk sizes. A failure's shrunk options are the drawn ones, swarm off.
    pub swarm: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clients: 32,
            hosts: 4,
            delivery: Delivery::default(),
            faults: Faults::hostile(),
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
            max_request: 1024 * 1024,
            max_buffered: 1024 * 1024,
            idle_timeout: None,
            write_timeout: None,
            port: 6379,
            keep_transcript: false,
            only_clients: None,
            swarm: false,
        }
    }
}

impl Options {
    /// Options from TOML text (the form [`Options::toml_over`] writes) over
    /// [`Options::default`]: fields left out, in a table too, keep their defaults; an
    /// unknown field or a bad value is an error naming it.
    ///
    /// ```
    /// use framesim::harness::Options;
    /// let options = Options::from_toml("clients = 2\nmax_requests = 3\n[roles]\nslowloris = 1\n").unwrap();
    /// assert_eq!((options.clients, options.max_requests, options.roles.slowloris), (2, Some(3), 1));
    /// assert!(Options::from_toml("client = 2").is_err());
    /// ```
    pub fn from_toml(text: &str) -> Result<Options, String> {
        Options::default().overlaid(text)
    }

    /// Well-behaved clients on a plain stream: no misbehaving role, no stream or accept
    /// fault, a window no client fills. For a first run, or to tell a protocol bug from a
    /// robustness one.
    ///
    /// ```
    /// use framesim::harness::{Options, Role};
    /// let gentle = Options::gentle();
    /// assert!((0..gentle.clients).all(|id| gentle.roles.of(id) == Role::Normal));
    /// ```
    pub fn gentle() -> Options {
        Options {
            faults: Faults::none(),
            roles: RoleMix::none(),
            ..Options::default()
        }
    }

    /// These options with what TOML `text` sets laid over them, field by field (a table's
    /// fields one by one, not the table whole): what `FRAMESIM_OPTIONS` does to a test's
    /// own options.
    ///
    /// ```
    /// use framesim::harness::Options;
    /// let mine = Options { clients: 7, ..Options::default() };
    /// let replay = mine.overlaid("[faults]\ncoalesce_chance = 0.0\n").unwrap();
    /// assert_eq!(replay.clients, 7);
    /// assert_eq!(replay.faults.coalesce_chance, 0.0);
    /// assert_eq!(replay.faults.partial_read_chance, mine.faults.partial_read_chance);
    /// ```
    pub fn overlaid(&self, text: &str) -> Result<Options, String> {
        let over: toml::Table = toml::from_str(text).map_err(one_line)?;
        let mut merged = toml::Value::try_from(self).map_err(one_line)?;
        overlay(&mut merged, over);
        merged.try_into().map_err(one_line)
    }

    /// The ids of the clients that run: [`only_clients`](Options::only_clients) (those
    /// below `clients`), else `0..clients`.
    pub fn client_ids(&self) -> Vec<usize> {
        match &self.only_clients {
            Some(ids) => ids
                .iter()
                .copied()
                .filter(|&id| id < self.clients)
                .collect(),
            None => (0..self.clients).collect(),
        }
    }

    /// A hash of these options, the same on every machine and in every process: what a
    /// sweep's results name as the scenario, and what its failure database is kept under.
    pub fn fingerprint(&self) -> u64 {
        let value = toml::Value::try_from(self).expect("options are plain data");
        crate::sweep::stable_hash(&value.to_string())
    }

    /// The TOML that, laid over `base` ([`Options::overlaid`]), gives exactly these options:
    /// only the fields that differ, so a shrunk failure's file says what it changed.
    ///
    /// ```
    /// use framesim::harness::Options;
    /// let base = Options::default();
    /// let shrunk = Options { clients: 1, max_requests: Some(2), ..base.clone() };
    /// let text = shrunk.toml_over(&base);
    /// assert_eq!(text, "clients = 1\nmax_requests = 2\n");
    /// assert_eq!(base.overlaid(&text).unwrap(), shrunk);
    /// ```
    pub fn toml_over(&self, base: &Options) -> String {
        let ours = toml::Value::try_from(self).expect("options are plain data");
        let base = toml::Value::try_from(base).expect("options are plain data");
        match difference(&ours, &base) {
            Some(toml::Value::Table(table)) => toml::to_string(&table).expect("a table serializes"),
            _ => String::new(),
        }
    }
}

/// A TOML error on one line (they come with a caret drawing under the source).
fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lays `over` on `base`: a table's keys one by one, any other value whole.
fn overlay(base: &mut toml::Value, over: toml::Table) {
    let toml::Value::Table(base) = base else {
        return;
    };
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(mine @ toml::Value::Table(_)), toml::Value::Table(theirs)) => {
                overlay(mine, theirs)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// What of `ours` differs from `base` (tables key by key), `None` if nothing. Every field of
/// [`Options`] is always written, so a key of `base` is a key of `ours`.
fn difference(ours: &toml::Value, base: &toml::Value) -> Option<toml::Value> {
    match (ours, base) {
        (toml::Value::Table(ours), toml::Value::Table(base)) => {
            let table: toml::Table = ours
                .iter()
                .filter_map(|(key, value)| match base.get(key) {
                    Some(b) => difference(value, b).map(|d| (key.clone(), d)),
                    None => Some((key.clone(), value.clone())),
                })
                .collect();
            (!table.is_empty()).then_some(toml::Value::Table(table))
        }
        _ => (ours != base).then(|| ours.clone()),
    }
}

/// The roles a [`RoleMix`] counts.
pub(super) const ROLES: usize = 11;

/// How many clients play each misbehaving role, by id: first the slowloris clients, then
/// the disconnecting, idle, half-closing, never-reading, oversized, malformed, at-limit,
/// slow-reading, quitting and bulk-loading ones; the rest behave.
///
/// The default has one of each (clients beyond [`Options::clients`] simply do not run);
/// [`RoleMix::none`] has none.
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
    /// Clients that half-close after their requests.
    pub half_close: usize,
    /// Clients that never read.
    pub never_reader: usize,
    /// Clients that send one request larger than the server's limit.
    pub oversized: usize,
    /// Clients that send a request the server cannot parse.
    pub malformed: usize,
    /// Clients that send a request of exactly the server's limit.
    pub at_limit: usize,
    /// Clients that read their replies slowly.
    pub slow_reader: usize,
    /// Clients that end with a request to close.
    pub quit: usize,
    /// Clients that upload their requests slowly, every request on time.
    pub bulk_loader: usize,
}

impl Default for RoleMix {
    fn default() -> Self {
        RoleMix {
            slowloris: 1,
            disconnect: 1,
            idle: 1,
            half_close: 1,
            never_reader: 1,
            oversized: 1,
            malformed: 1,
            at_limit: 1,
            slow_reader: 1,
            quit: 1,
            bulk_loader: 1,
            ..RoleMix::none()
        }
    }
}

impl RoleMix {
    /// No misbehaving client.
    pub fn none() -> Self {
        RoleMix {
            slowloris: 0,
            slowloris_interval: Duration::from_millis(100),
            slowloris_bound: Duration::from_secs(1),
            disconnect: 0,
            idle: 0,
            idle_for: Duration::from_millis(500),
            half_close: 0,
            never_reader: 0,
            oversized: 0,
            malformed: 0,
            at_limit: 0,
            slow_reader: 0,
            quit: 0,
            bulk_loader: 0,
        }
    }

    /// Every role's count, for a shrink that lowers them one at a time.
    pub(super) fn counts_mut(&mut self) -> [&mut usize; ROLES] {
        [
            &mut self.slowloris,
            &mut self.disconnect,
            &mut self.idle,
            &mut self.half_close,
            &mut self.never_reader,
            &mut self.oversized,
            &mut self.malformed,
            &mut self.at_limit,
            &mut self.slow_reader,
            &mut self.quit,
            &mut self.bulk_loader,
        ]
    }

    /// The role of client `id`.
    pub fn of(&self, id: usize) -> Role {
        let mut end = 0;
        for (count, role) in [
            (self.slowloris, Role::Slowloris),
            (self.disconnect, Role::Disconnect),
            (self.idle, Role::Idle),
            (self.half_close, Role::HalfClose),
            (self.never_reader, Role::NeverReader),
            (self.oversized, Role::Oversized),
            (self.malformed, Role::Malformed),
            (self.at_limit, Role::AtLimit),
            (self.slow_reader, Role::SlowReader),
            (self.quit, Role::Quit),
            (self.bulk_loader, Role::BulkLoader),
        ] {
            end += count;
            if id < end {
                return role;
            }
        }
        Role::Normal
    }
}
