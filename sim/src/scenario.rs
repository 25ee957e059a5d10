//! A run, as plain data: the seed, the clients, how the network delivers, what goes wrong.

use crate::naive::Target;
use framesim_server::protocol::Framing;
use framesim_server::Limits;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::fmt;
use std::time::Duration;

/// Everything one simulation run is made of. Same scenario, same transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Preset name this scenario came from.
    pub name: String,
    /// The seed every random choice of the run derives from.
    pub seed: u64,
    /// Virtual clients.
    pub clients: usize,
    /// Requests each well-behaved client sends.
    pub requests: usize,
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
    pub latency: (Duration, Duration),
    /// Restart the server host at this virtual time (clients reconnect).
    pub restart_at: Option<Duration>,
    /// Clients start at seeded times spread over this much virtual time (zero: all at once).
    pub ramp: Duration,
    /// Longest virtual time a well-behaved request may wait for its reply.
    pub latency_bound: Duration,
    /// The server under test.
    pub target: Target,
}

/// How clients write their requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delivery {
    /// Largest chunk a client writes at once; chunks are drawn from 1..=max_chunk.
    pub max_chunk: usize,
    /// Chance that a request is written one byte at a time.
    pub byte_at_a_time: f64,
    /// Longest virtual pause between two chunks.
    pub max_gap: Duration,
    /// Most requests sent as one pipelined batch before reading replies.
    pub pipeline: usize,
    /// Chance a request's chunks are cut exactly at delimiters / header ends.
    pub cut_at_boundaries: f64,
}

/// What the stream adapter on the server's side does to each read and write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Chance a read returns fewer bytes than are available (at least one).
    pub partial_reads: f64,
    /// Chance a write takes fewer bytes than offered (at least one).
    pub short_writes: f64,
    /// Chance a read or write returns `Pending` and wakes itself.
    pub spurious_pending: f64,
}

/// Shares of clients that misbehave (each a fraction of all clients, rounded down, at
/// least one when the fraction is positive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roles {
    /// Pause between two bytes of a slowloris client.
    pub slowloris_every: Duration,
    /// Send one byte every `slowloris_every` forever.
    pub slowloris: f64,
    /// Connect and send nothing.
    pub idle: f64,
    /// Send some requests, then part of one, then drop the connection.
    pub disconnect: f64,
    /// Send all requests, then close the write side, then read every reply.
    pub half_close: f64,
    /// Send one frame over the limit.
    pub oversized: f64,
    /// Send one malformed request.
    pub malformed: f64,
}

impl Default for Roles {
    fn default() -> Self {
        Roles {
            slowloris_every: Duration::from_millis(50),
            slowloris: 0.0,
            idle: 0.0,
            disconnect: 0.0,
            half_close: 0.0,
            oversized: 0.0,
            malformed: 0.0,
        }
    }
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            max_chunk: 16,
            byte_at_a_time: 0.02,
            max_gap: Duration::from_millis(2),
            pipeline: 4,
            cut_at_boundaries: 0.2,
        }
    }
}

impl Delivery {
    /// One write per request, no gaps, no pipelining: the reference for invariance checks.
    pub fn ideal() -> Self {
        Delivery {
            max_chunk: usize::MAX,
            byte_at_a_time: 0.0,
            max_gap: Duration::ZERO,
            pipeline: 1,
            cut_at_boundaries: 0.0,
        }
    }
}

impl Faults {
    /// No interference.
    pub fn none() -> Self {
        Faults {
            partial_reads: 0.0,
            short_writes: 0.0,
            spurious_pending: 0.0,
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            partial_reads: 0.3,
            short_writes: 0.0,
            spurious_pending: 0.0,
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

/// The presets `framesim list` shows, with one line each.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "default",
        "10,000 clients x 10 pipelined RESP requests in chunks of 1..=64 bytes, partial reads on, arriving over 200ms",
    ),
    ("small", "16 clients x 8 requests over 2 hosts: for sweeps"),
    (
        "hostile",
        "200 clients; slowloris, idle, disconnecting, half-closing, oversized and malformed clients among them; partial reads, short writes, spurious Pending",
    ),
    (
        "bytewise",
        "8 clients writing every request one byte at a time, partial reads and short writes",
    ),
    (
        "restart",
        "50 clients; the server host crashes and restarts mid-run, clients reconnect",
    ),
    (
        "adversarial",
        "the seed draws framing, chunking, faults and client roles: for sweeps",
    ),
];

impl Scenario {
    /// The preset `name` for `seed`, or an error naming the presets.
    pub fn preset(name: &str, seed: u64) -> Result<Scenario, String> {
        let mut s = Scenario {
            name: name.to_string(),
            seed,
            clients: 16,
            requests: 8,
            client_hosts: 2,
            framing: Framing::Resp,
            delivery: Delivery::default(),
            faults: Faults::default(),
            roles: Roles::default(),
            limits: sim_limits(),
            latency: (Duration::from_micros(100), Duration::from_millis(1)),
            restart_at: None,
            ramp: Duration::ZERO,
            latency_bound: Duration::from_millis(250),
            target: Target::Framesim,
        };
        match name {
            "default" => {
                s.clients = 10_000;
                s.requests = 10;
                s.client_hosts = 25;
                s.delivery.max_chunk = 64;
                s.ramp = Duration::from_millis(200);
            }
            "small" => {}
            "hostile" => {
                s.clients = 200;
                s.client_hosts = 4;
                s.faults = Faults {
                    partial_reads: 0.5,
                    short_writes: 0.3,
                    spurious_pending: 0.1,
                };
                s.roles = Roles {
                    slowloris: 0.05,
                    idle: 0.05,
                    disconnect: 0.05,
                    half_close: 0.05,
                    oversized: 0.05,
                    malformed: 0.05,
                    ..Roles::default()
                };
            }
            "bytewise" => {
                s.clients = 8;
                s.client_hosts = 1;
                s.delivery.byte_at_a_time = 1.0;
                s.faults.short_writes = 0.5;
            }
            "restart" => {
                s.clients = 50;
                s.client_hosts = 2;
                s.requests = 20;
                s.delivery.max_gap = Duration::from_millis(10);
                s.restart_at = Some(Duration::from_millis(40));
            }
            "adversarial" => s.draw(),
            other => {
                let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unknown scenario '{other}' (one of: {})",
                    names.join(", ")
                ));
            }
        }
        Ok(s)
    }

    /// Every option the seed decides, drawn in one place (printed by [`Scenario`]'s
    /// `Display`, so a failure report shows what the run was).
    fn draw(&mut self) {
        let mut rng = SmallRng::seed_from_u64(self.seed ^ 0x0d7a_5eed_0f7e_a11a);
        self.clients = rng.random_range(2..=24);
        self.client_hosts = rng.random_range(1..=3);
        self.requests = rng.random_range(1..=12);
        self.framing = match rng.random_range(0..3) {
            0 => Framing::Resp,
            1 => Framing::line(),
            _ => Framing::length(),
        };
        self.delivery = Delivery {
            max_chunk: [1, 2, 3, 7, 16, 64][rng.random_range(0..6)],
            byte_at_a_time: rng.random_range(0.0..0.3),
            max_gap: Duration::from_micros(rng.random_range(0..5_000)),
            pipeline: rng.random_range(1..=8),
            cut_at_boundaries: rng.random_range(0.0..0.5),
        };
        self.faults = Faults {
            partial_reads: rng.random_range(0.0..0.9),
            short_writes: rng.random_range(0.0..0.6),
            spurious_pending: rng.random_range(0.0..0.3),
        };
        let share = |rng: &mut SmallRng| {
            if rng.random_bool(0.3) {
                0.1
            } else {
                0.0
            }
        };
        self.roles = Roles {
            slowloris_every: self.roles.slowloris_every,
            slowloris: share(&mut rng),
            idle: share(&mut rng),
            disconnect: share(&mut rng),
            half_close: share(&mut rng),
            oversized: share(&mut rng),
            malformed: share(&mut rng),
        };
    }

    /// The same scenario with ideal delivery and no faults (the invariance reference).
    pub fn ideal(&self) -> Scenario {
        Scenario {
            delivery: Delivery::ideal(),
            faults: Faults::none(),
            ..self.clone()
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.delivery;
        let x = &self.faults;
        let r = &self.roles;
        let l = &self.limits;
        writeln!(f, "scenario {} seed {}", self.name, self.seed)?;
        writeln!(
            f,
            "  clients {} x {} requests over {} hosts, framing {}, target {}",
            self.clients, self.requests, self.client_hosts, self.framing, self.target
        )?;
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
        writeln!(
            f,
            "  faults: partial reads {:.2}, short writes {:.2}, spurious pending {:.2}, latency {:?}..={:?}, restart {:?}, ramp {:?}",
            x.partial_reads, x.short_writes, x.spurious_pending, self.latency.0, self.latency.1, self.restart_at, self.ramp
        )?;
        writeln!(
            f,
            "  roles: slowloris {:.2}, idle {:.2}, disconnect {:.2}, half-close {:.2}, oversized {:.2}, malformed {:.2}",
            r.slowloris, r.idle, r.disconnect, r.half_close, r.oversized, r.malformed
        )?;
        write!(
            f,
            "  limits: line {} B, frame {} B, buffered {} B, frame deadline {:?}, idle {:?}, latency bound {:?}",
            l.max_line, l.max_frame, l.max_buffered, l.frame_deadline, l.idle_timeout, self.latency_bound
        )
    }
}
