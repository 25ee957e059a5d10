//! Test your own server: run any tokio server under the simulation with a workload of your
//! protocol, and sweep seeds from a `#[test]`.
//!
//! You give
//! - the **server**: a closure taking the simulated [`Listener`] (each accepted
//!   [`Connection`] is an `AsyncRead + AsyncWrite` with partial and coalesced reads, short
//!   writes and spurious `Pending`s) and a [`Shutdown`], serving until the shutdown. A
//!   server generic over the trait [`framesim_listener::Listener`] takes it unchanged, and
//!   a `tokio::net::TcpListener` in production: that small crate is all of framesim it
//!   depends on outside its tests;
//! - a [`Workload`]: per client a [`Session`] (the next request's bytes with their seams,
//!   the model's expected reply, a check of each reply) and a [`ReplyFramer`] that cuts the
//!   replies apart ([`length_prefixed`], [`delimited`], [`decoded`] over a tokio-util codec, or a closure);
//! - [`Options`]: clients, hosts, [`Delivery`], [`Faults`],
//!   misbehaving clients ([`RoleMix`]).
//!
//! The harness gives clients spread over hosts, seeded chunked delivery with gaps and
//! pipelining, the stream faults and failing accepts, clients of every misbehaving role
//! ([`Role`]), and every oracle that does not depend on the protocol ([`Oracle::any_server`];
//! `docs/oracles.md` lists them all): every request answered, in order, as the model and
//! the session's check say; a slowloris cut in time; a half-closing client answered, then
//! closed; what the server reads from a client that does not read, and of a request that
//! is too large, bounded; every connection let go once its client has left; the server
//! returning on shutdown; accepts that go on after failing; no panic; and the same
//! transcript for the same seed. [`Options::default`] is hostile; [`Options::gentle`]
//! is not. A run is a transcript whose hash is the same for the same seed;
//! [`sweep!`](crate::sweep!) runs many seeds on every core, says how to replay a failing
//! one, and shrinks it ([`Harness::shrink`]) to the fewest clients and smallest
//! [`Options`] that still fail the same way, written as a TOML file that
//! `FRAMESIM_OPTIONS` lays over the test's own options. [`Options::restart_at`] crashes and
//! restarts the server host mid-run, or, with [`Options::restart_grace`], shuts it down
//! gracefully and holds it to answering every request it began to read within the grace
//! (`drain`); [`Options::max_connections`] probes the server's connection limit once the
//! clients have left (`connection-limit`).
//!
//! A failing seed, shrunk, lifts to a [`Script`] ([`Harness::lift`]): each client's bytes
//! as its delivery cut them and what each reply must be, written as a file that
//! [`Harness::replay_script`] (or [`Harness::replay_scripts`], a folder of them) replays
//! against the server with every oracle, and [`Harness::explore`] runs under every 1- and
//! 2-cut of its bytes.
//!
//! `framesim run` is built from the same parts: framesim's own server is a server closure
//! over this [`Listener`], its well-behaved clients draw from [`KvWorkload`] through
//! [`Session`], and both play on one simulation stage (hosts, monitor, restart).
//!
//! framesim's own key-value server through it, in every framing ([`KvWorkload`]), hostile
//! defaults and all (a slowloris must be cut within a second: the server's frame deadline
//! is set below it):
//!
//! ```
//! use framesim::harness::{Harness, KvWorkload};
//! use framesim_server::protocol::Framing;
//! use framesim_server::{serve, Config, Kv, Limits, Stats};
//! use std::time::Duration;
//!
//! for framing in [Framing::Resp, Framing::line(), Framing::length()] {
//!     let limits = Limits { frame_deadline: Duration::from_millis(500), ..Limits::default() };
//!     let config = Config { framing: framing.clone(), limits, ..Config::default() };
//!     let harness = Harness::new(
//!         move |listener, shutdown| {
//!             let config = config.clone();
//!             async move {
//!                 serve(listener, Kv::new(), config, Stats::default(), shutdown).await.unwrap();
//!             }
//!         },
//!         KvWorkload::new(framing),
//!     )
//!     .clients(12);
//!     framesim::sweep!(harness, 0..2);
//! }
//! ```

pub mod against;
mod asked;
#[cfg(feature = "axum")]
mod axum;
mod buffers;
mod bulk;
pub mod cli;
mod cli_scripts;
mod client;
mod contention;
mod coverage;
mod edges;
mod env;
mod hostile;
pub mod http;
#[cfg(feature = "stream")]
mod incoming;
mod kv;
mod lift;
pub(crate) mod limit;
pub mod linear;
mod listener;
mod options;
mod outcome;
mod play;
mod pushed;
mod reads;
mod record;
mod recorder;
mod run;
mod script;
mod shared;
mod shrink;
mod swarm;
mod sweep;
mod workload;

pub use crate::oracle::Oracle;
pub use crate::script::cuts::Exploration;
pub use crate::seeds::Draws;
pub use contention::ContentionWorkload;
/// The framings [`KvWorkload`] speaks (RESP, lines, length headers), so that a test of a
/// key-value server needs no dependency on framesim's own server.
pub use framesim_server::protocol::Framing;
#[cfg(feature = "stream")]
pub use incoming::Incoming;
pub use kv::KvWorkload;
pub(crate) use listener::Accepted;
pub use listener::{Connection, Listener, Shutdown};
pub use options::{Delivery, Faults, Options, Role, RoleMix};
pub use outcome::{Outcome, Tally, Violation};
/// rand's `Rng`: its methods (`random_range`, `random_bool`, `fill`) draw from a session's
/// [`Draws`], with no rand dependency of your own (`use framesim::harness::Rng;`).
pub use rand::Rng;
pub use recorder::{ran, RunHistory};
pub use run::Harness;
pub(crate) use run::{server_fn, ServerFn};
pub use script::Script;
pub use shrink::Shrunk;
pub use sweep::{
    options_from_env, seeds_from_env, shard_from_env, sweep, target_flag, Replay, DEFAULT_SEEDS,
};
pub use workload::{
    decoded, delimited, greeted, length_prefixed, AfterError, KvRequest, ReplyFramer, Request,
    Session, Workload,
};
