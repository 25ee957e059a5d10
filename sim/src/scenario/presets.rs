//! The named scenarios: what `framesim --scenario` and the seeded suites run.

use super::{sim_limits, swarm, Commands, Delivery, Faults, Roles, Scenario, Target};
use crate::seeds::{self, Stream};
use clap::builder::PossibleValue;
use clap::ValueEnum;
use framesim_server::framing::Endian;
use framesim_server::protocol::Framing;
use std::fmt;
use std::time::Duration;

/// A named scenario; the seed fills in the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// The main job: 10,000 clients.
    Default,
    /// A few clients, for sweeps.
    Small,
    /// Every misbehaving role and every stream fault at once.
    Hostile,
    /// Every request written one byte at a time.
    Bytewise,
    /// The server host crashes and restarts mid-run.
    Restart,
    /// The server shuts down gracefully mid-run and its host restarts.
    Drain,
    /// The seed draws every option (the swarm, as the `simulation` fuzz target does).
    Adversarial,
    /// Clients that reach the limits (bulk loaders, at-limit, unfinished requests) and
    /// edge values, in the seed's framing.
    Limits,
}

impl Preset {
    /// The command-line name (`--scenario`), also the scenario's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Default => "default",
            Preset::Small => "small",
            Preset::Hostile => "hostile",
            Preset::Bytewise => "bytewise",
            Preset::Restart => "restart",
            Preset::Drain => "drain",
            Preset::Adversarial => "adversarial",
            Preset::Limits => "limits",
        }
    }

    /// One line on what it runs, for `--help` and `framesim list`.
    pub fn about(self) -> &'static str {
        match self {
            Preset::Default => "10,000 clients x 10 pipelined RESP requests in chunks of 1..=64 bytes, partial reads on, arriving over 200ms",
            Preset::Small => "16 clients x 8 requests over 2 hosts: for sweeps",
            Preset::Hostile => "200 clients; slowloris, idle, disconnecting, half-closing, oversized and malformed clients among them; partial and coalesced reads, short writes, spurious Pending",
            Preset::Bytewise => "8 clients writing every request one byte at a time, partial reads and short writes",
            Preset::Restart => "50 clients; the server host crashes and restarts mid-run, clients reconnect",
            Preset::Drain => "50 clients, pausing between batches; the server shuts down gracefully mid-run (in-flight requests get 250ms), its host restarts, clients reconnect; no request it began to read may be dropped, no idle connection kept",
            Preset::Adversarial => "the seed draws every option the swarm varies (framing and its delimiter or header, chunking, faults, roles, edge values, limits, latency, a restart): the default of sweeps",
            Preset::Limits => "24 clients; bulk loaders, at-limit and unfinished-request clients among them, edge values; the seed picks one of 10 framings (RESP, 4 delimiters, 5 headers)",
        }
    }
}

impl ValueEnum for Preset {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            Preset::Default,
            Preset::Small,
            Preset::Hostile,
            Preset::Bytewise,
            Preset::Restart,
            Preset::Drain,
            Preset::Adversarial,
            Preset::Limits,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()).help(self.about()))
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Preset::value_variants()
            .iter()
            .find(|p| p.name() == s)
            .copied()
            .ok_or_else(|| {
                let names: Vec<&str> = Preset::value_variants().iter().map(|p| p.name()).collect();
                format!("unknown scenario '{s}' (one of: {})", names.join(", "))
            })
    }
}

impl Scenario {
    /// The starting point of every preset: 16 clients x 8 RESP requests over 2 hosts,
    /// default delivery and faults, no misbehaving roles, the simulation's limits.
    pub fn base(name: &str, seed: u64) -> Scenario {
        Scenario {
            name: name.to_string(),
            seed,
            clients: 16,
            requests: 8,
            edge_values: 0.0,
            commands: Commands::All,
            client_hosts: 2,
            framing: Framing::Resp,
            delivery: Delivery::default(),
            faults: Faults::default(),
            roles: Roles::default(),
            limits: sim_limits(),
            latency: (Duration::from_micros(100), Duration::from_millis(1)),
            restart_at: None,
            restart_grace: Duration::ZERO,
            ramp: Duration::ZERO,
            latency_bound: Duration::from_millis(250),
            only_clients: None,
            tape: None,
            scripts: Vec::new(),
            connections: Vec::new(),
            target: Target::Framesim,
        }
    }

    /// The preset `preset` for `seed`.
    pub fn preset(preset: Preset, seed: u64) -> Scenario {
        let mut s = Scenario::base(preset.name(), seed);
        match preset {
            Preset::Default => {
                s.clients = 10_000;
                s.requests = 10;
                s.client_hosts = 25;
                s.delivery.max_chunk = 64;
                s.ramp = Duration::from_millis(200);
            }
            Preset::Small => {}
            Preset::Hostile => {
                s.clients = 200;
                s.client_hosts = 4;
                s.faults = Faults {
                    partial_read_chance: 0.5,
                    short_write_chance: 0.3,
                    spurious_pending_chance: 0.1,
                    coalesce_chance: 0.3,
                    ..Faults::none()
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
            Preset::Bytewise => {
                s.clients = 8;
                s.client_hosts = 1;
                s.delivery.byte_at_a_time = 1.0;
                s.faults.short_write_chance = 0.5;
            }
            Preset::Restart | Preset::Drain => {
                s.clients = 50;
                s.client_hosts = 2;
                s.requests = 20;
                s.delivery.max_gap = Duration::from_millis(10);
                s.restart_at = Some(Duration::from_millis(40));
                if preset == Preset::Drain {
                    s.restart_grace = Duration::from_millis(250);
                    // Some clients are quiet when the shutdown begins: they must be let go.
                    s.delivery.max_pause = Duration::from_millis(600);
                }
            }
            Preset::Adversarial => {
                swarm::draw(&mut seeds::rng(seed, Stream::Swarm), &mut s);
            }
            Preset::Limits => {
                s.clients = 24;
                s.client_hosts = 3;
                s.edge_values = 0.3;
                s.roles = Roles {
                    bulk_loader: 0.1,
                    at_limit: 0.1,
                    unfinished_args: 0.1,
                    ..Roles::default()
                };
                s.limits.frame_deadline = Duration::from_millis(250);
                let framings = [
                    Framing::Resp,
                    Framing::line(),
                    Framing::Line {
                        delimiter: b"\r\n".to_vec(),
                    },
                    Framing::Line {
                        delimiter: b"\r\n\0".to_vec(),
                    },
                    Framing::Line {
                        delimiter: b"\x00\xff".to_vec(),
                    },
                    Framing::length(),
                    Framing::Length {
                        header_len: 1,
                        endian: Endian::Little,
                    },
                    Framing::Length {
                        header_len: 2,
                        endian: Endian::Big,
                    },
                    Framing::Length {
                        header_len: 2,
                        endian: Endian::Little,
                    },
                    Framing::Length {
                        header_len: 8,
                        endian: Endian::Little,
                    },
                ];
                // The seed itself picks: no generator stream needed for one choice.
                s.framing = framings[(seed % framings.len() as u64) as usize].clone();
            }
        }
        s
    }
}
