//! A run, as plain data: the seed, the clients, how the network delivers, what goes wrong.
//!
//! `presets` names the scenarios the CLI and the suites run, [`swarm`] draws every option
//! of a scenario from a source of choices (a seeded generator, or a fuzzer's bytes),
//! `roles` says which clients misbehave, and `file` writes a scenario as TOML and reads it
//! back.

pub(crate) mod file;
mod presets;
mod roles;
pub mod swarm;

pub use crate::net::Faults;
pub use crate::role::Role;
pub use crate::target::Target;
use crate::window::DEFAULT_WINDOW;
pub(crate) use file::{safe_name, target_dir};
pub use file::{shown, work_dir};
pub use presets::Preset;
pub use roles::Roles;

use crate::kv::plan::ConnectionPlan;
use crate::script::ClientScript;

use framesim_server::framing::Endian;
use framesim_server::protocol::Framing;
use framesim_server::Limits;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Everything one simulation run is made of. Same scenario, same transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name this scenario goes by: its preset's, or its own (snapshots, fuzz inputs).
    pub name: String,
    /// The seed every random choice of the run derives from.
    pub seed: u64,
    /// Virtual clients.
    pub clients: usize,
    /// Requests each well-behaved client sends.
    pub requests: usize,
    /// Chance a request of the model's workload uses an edge value (integers at the ends of
    /// i64, non-canonical integers, empty, binary and RESP-looking values); 0 in the presets
    /// that predate it, so their transcripts keep their bytes (and in files that predate it).
    #[serde(default)]
    pub edge_values: f64,
    /// Which commands the model's workload draws: all of them, or GET and SET only (for a
    /// server that knows no more, like mini-redis).
    #[serde(default, skip_serializing_if = "Commands::is_all")]
    pub commands: Commands,
    /// Client hosts the clients are spread over (turmoil's cost grows with in-flight
    /// messages per host pair).
    pub client_hosts: usize,
    /// Request framing.
    pub framing: Framing,
    /// How clients put requests on the wire.
    pub delivery: Delivery,
    /// What the server's side of each stream does.
    pub faults: Faults,
    /// Which clients misbehave, and how.
    pub roles: Roles,
    /// Server limits.
    pub limits: Limits,
    /// Network latency per message, min..=max.
    #[serde(with = "file::form::duration_pair")]
    pub latency: (Duration, Duration),
    /// Restart the server host at this virtual time (clients reconnect).
    #[serde(default, with = "file::form::duration_or_never")]
    pub restart_at: Option<Duration>,
    /// How the restart stops the server: zero crashes it (every connection cut at once);
    /// more is a graceful shutdown, in-flight requests given this long to finish before
    /// the host comes back. Well-behaved clients then hold it to the promise: no request
    /// it had begun to read is dropped before the grace runs out (`[drain]`).
    #[serde(
        default,
        skip_serializing_if = "Duration::is_zero",
        with = "framesim_server::text::duration"
    )]
    pub restart_grace: Duration,
    /// Clients start at seeded times spread over this much virtual time (zero: all at once).
    #[serde(with = "framesim_server::text::duration")]
    pub ramp: Duration,
    /// Longest virtual time a well-behaved request may wait for its reply.
    #[serde(with = "framesim_server::text::duration")]
    pub latency_bound: Duration,
    /// The server under test.
    pub target: Target,
    /// Only these client ids run (`None`: all). Ids, roles and random streams stay those
    /// of the full run, so a client behaves the same whichever others run beside it: what
    /// shrinking a failure relies on.
    #[serde(default)]
    pub only_clients: Option<Vec<usize>>,
    /// Bytes every draw of the run reads before its seed (a fuzzer's input past the
    /// scenario's options; see `seeds::Draws`). `None` in every preset.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "file::form::hex"
    )]
    pub tape: Option<Vec<u8>>,
    /// Scripted clients (a run lifted by `framesim lift` or `framesim shrink`): when any,
    /// exactly these clients run, each playing its steps instead of drawing them, and
    /// `clients`, `requests`, `delivery`, `ramp` and `roles` no longer shape them.
    #[serde(default, rename = "script", skip_serializing_if = "Vec::is_empty")]
    pub scripts: Vec<ClientScript>,
    /// The server side of a scripted run: each connection's polls (see `plan`). A scripted
    /// connection without one reads and writes plainly: `faults` no longer applies.
    #[serde(default, rename = "connection", skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<ConnectionPlan>,
}

/// The commands a workload draws from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Commands {
    /// SET, GET, INCR, DEL, EXISTS, MGET, MSET, PING, ECHO.
    #[default]
    All,
    /// SET and GET only.
    GetSet,
}

impl Commands {
    /// All of them (left out of scenario files, which predate the choice).
    pub fn is_all(&self) -> bool {
        *self == Commands::All
    }
}

/// How clients write their requests. In a scenario file, an option left out takes its
/// [`Delivery::default`] value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// Largest chunk a client writes at once; chunks are drawn from 1..=max_chunk.
    #[serde(with = "file::form::chunk")]
    pub max_chunk: usize,
    /// Chance that a request is written one byte at a time.
    pub byte_at_a_time: f64,
    /// Longest virtual pause between two chunks.
    #[serde(with = "framesim_server::text::duration")]
    pub max_gap: Duration,
    /// Most requests sent as one pipelined batch before reading replies.
    pub pipeline: usize,
    /// Chance a request's chunks are cut exactly at delimiters / header ends.
    pub cut_at_boundaries: f64,
    /// Longest virtual pause a well-behaved client takes between one batch's replies and
    /// its next batch (thinking), before about one batch in three; zero: none. Pauses
    /// longer than the frame deadline, on connections that outlive the idle timeout, hold a
    /// server to timing a request from its own first byte and idleness from the last
    /// activity.
    #[serde(default, with = "framesim_server::text::duration")]
    pub max_pause: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            max_chunk: 16,
            byte_at_a_time: 0.02,
            max_gap: Duration::from_millis(2),
            pipeline: 4,
            cut_at_boundaries: 0.2,
            max_pause: Duration::ZERO,
        }
    }
}

impl Delivery {
    /// A well-behaved client's pause before its next batch: before about one batch in
    /// three, up to `max_pause`; none (and nothing drawn) without pauses.
    pub(crate) fn pause(&self, rng: &mut crate::seeds::Draws) -> Option<Duration> {
        use rand::Rng;
        let most = self.max_pause;
        (!most.is_zero() && rng.random_bool(1.0 / 3.0))
            .then(|| rng.random_range(Duration::ZERO..=most))
    }

    /// One write per request, no gaps, no pipelining: the reference for invariance checks.
    pub fn ideal() -> Self {
        Delivery {
            max_chunk: usize::MAX,
            byte_at_a_time: 0.0,
            max_gap: Duration::ZERO,
            pipeline: 1,
            cut_at_boundaries: 0.0,
            max_pause: Duration::ZERO,
        }
    }
}

/// The limits every preset starts from: small enough that the roles reach them quickly.
pub fn sim_limits() -> Limits {
    Limits {
        max_line: 1024,
        max_frame: 4096,
        max_buffered: 8192,
        frame_deadline: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(5),
        max_output: 64 * 1024,
    }
}

impl Scenario {
    /// The same scenario with ideal delivery and no faults (the invariance reference).
    pub fn ideal(&self) -> Scenario {
        Scenario {
            delivery: Delivery::ideal(),
            faults: Faults::none(),
            ..self.clone()
        }
    }

    /// What client `id` does in this run.
    pub fn role_of(&self, id: usize) -> Role {
        match self.script_of(id) {
            Some(script) => script.role,
            None => self.roles.role_of(self.clients, id),
        }
    }

    /// Requests a client sends at most: `requests`, or for a scripted run the most
    /// expectations any script holds.
    pub fn requests_per_client(&self) -> usize {
        match self.scripts.iter().map(ClientScript::expectations).max() {
            Some(most) => most,
            None => self.requests,
        }
    }

    /// Client `id`'s script, if the run is scripted.
    pub fn script_of(&self, id: usize) -> Option<&ClientScript> {
        self.scripts.iter().find(|s| s.id == id)
    }

    /// How many clients of this run play `role`.
    pub fn clients_playing(&self, role: Role) -> usize {
        self.client_ids()
            .filter(|&id| self.role_of(id) == role)
            .count()
    }

    /// The ids of the clients that run, in order.
    pub fn client_ids(&self) -> impl Iterator<Item = usize> + '_ {
        let ids: Vec<usize> = if self.scripts.is_empty() {
            (0..self.clients).collect()
        } else {
            self.scripts.iter().map(|s| s.id).collect()
        };
        ids.into_iter().filter(|id| {
            self.only_clients
                .as_ref()
                .is_none_or(|only| only.binary_search(id).is_ok())
        })
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.delivery;
        let x = &self.faults;
        let r = &self.roles;
        let l = &self.limits;
        writeln!(f, "scenario {} seed {}", self.name, self.seed)?;
        // Edge values (like the roles and the output limit below) are printed only when
        // drawn, so the headers recorded before them keep their bytes.
        write!(
            f,
            "  clients {} x {} requests over {} hosts, framing {}, target {}{}",
            self.clients,
            self.requests,
            self.client_hosts,
            framing_label(&self.framing),
            self.target,
            match &self.only_clients {
                Some(only) => format!(", only clients {only:?}"),
                None => String::new(),
            }
        )?;
        if self.edge_values > 0.0 {
            write!(f, ", edge values {:.2}", self.edge_values)?;
        }
        if self.commands == Commands::GetSet {
            f.write_str(", GET/SET only")?;
        }
        if !self.scripts.is_empty() {
            let steps: usize = self.scripts.iter().map(|s| s.steps.len()).sum();
            let faults: usize = self.connections.iter().map(ConnectionPlan::faults).sum();
            write!(f, ", scripted ({steps} steps, {faults} stream faults)")?;
        }
        if let Some(tape) = &self.tape {
            write!(f, ", draws from a {}-byte tape first", tape.len())?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  delivery: chunks {}, byte-at-a-time {:.2}, gaps <= {:?}, pipeline <= {}, cut at boundaries {:.2}",
            if d.max_chunk == usize::MAX {
                "whole".to_string()
            } else {
                format!("1..={}", d.max_chunk)
            },
            d.byte_at_a_time, d.max_gap, d.pipeline, d.cut_at_boundaries
        )?;
        // Printed only when drawn, so the headers recorded before it keep their bytes.
        if !d.max_pause.is_zero() {
            writeln!(f, "  pauses between batches <= {:?}", d.max_pause)?;
        }
        writeln!(
            f,
            "  faults: partial reads {:.2}, short writes {:.2}, spurious pending {:.2}, latency {:?}..={:?}, restart {:?}, ramp {:?}",
            x.partial_read_chance, x.short_write_chance, x.spurious_pending_chance, self.latency.0, self.latency.1, self.restart_at, self.ramp
        )?;
        // Printed only when drawn, so the headers recorded before it keep their bytes.
        if !self.restart_grace.is_zero() {
            writeln!(f, "  restart: graceful, grace {:?}", self.restart_grace)?;
        }
        write!(
            f,
            "  roles: slowloris {:.2}, idle {:.2}, disconnect {:.2}, half-close {:.2}, oversized {:.2}, malformed {:.2}",
            r.slowloris, r.idle, r.disconnect, r.half_close, r.oversized, r.malformed
        )?;
        // Printed only when drawn, so the headers recorded before these roles keep their bytes.
        if r.bulk_loader > 0.0 || r.at_limit > 0.0 || r.unfinished_args > 0.0 {
            write!(
                f,
                ", bulk loader {:.2}, at limit {:.2}, unfinished args {:.2}",
                r.bulk_loader, r.at_limit, r.unfinished_args
            )?;
        }
        if r.quit > 0.0 {
            write!(f, ", quit {:.2}", r.quit)?;
        }
        writeln!(f)?;
        write!(
            f,
            "  limits: line {} B, frame {} B, buffered {} B, frame deadline {:?}, idle {:?}, latency bound {:?}",
            l.max_line, l.max_frame, l.max_buffered, l.frame_deadline, l.idle_timeout, self.latency_bound
        )?;
        if l.max_output != sim_limits().max_output {
            write!(f, ", output {} B", l.max_output)?;
        }
        // Printed only when set, so the scenarios that leave them alone read as before.
        if x.coalesce_chance > 0.0 || x.window != DEFAULT_WINDOW {
            write!(
                f,
                "\n  stream: coalesced reads {:.2}, window {} B",
                x.coalesce_chance, x.window
            )?;
        }
        if x.accept_error_chance > 0.0 {
            write!(f, "\n  accept errors {:.2}", x.accept_error_chance)?;
        }
        if r.never_reader > 0.0 || r.slow_reader > 0.0 {
            write!(
                f,
                "\n  holding roles: never-reader {:.2}, slow-reader {:.2}",
                r.never_reader, r.slow_reader
            )?;
        }
        Ok(())
    }
}

/// The framing's name, with its settings when they are not the default ones (whose
/// transcripts were recorded before there were others): `line \r\n`, `length 1-byte le`.
fn framing_label(framing: &Framing) -> String {
    match framing {
        Framing::Line { delimiter } if *framing != Framing::line() => {
            format!("line {}", delimiter.escape_ascii())
        }
        Framing::Length { header_len, endian } if *framing != Framing::length() => {
            let order = match endian {
                Endian::Big => "be",
                Endian::Little => "le",
            };
            format!("length {header_len}-byte {order}")
        }
        _ => framing.to_string(),
    }
}
