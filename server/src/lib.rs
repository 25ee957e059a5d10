//! The framesim request-framing server.
//!
//! Bytes arrive in arbitrary chunks; a [`framing`] decoder finds where each request ends,
//! the [`Service`] answers it, and the reply is written back. [`serve`] is the one accept
//! loop, generic over a [`Listener`], so the same code runs on real tokio sockets and on a
//! simulated network.

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod checks;
mod command;
mod config;
mod connection;
pub mod framing;
mod kv;
mod listener;
pub mod protocol;
mod reply;
mod server;
mod service;
mod session;
mod stats;
mod stopping;
pub mod threaded;

pub use command::Command;
pub use config::Config;
pub use kv::Kv;
pub use listener::Listener;
pub use reply::Reply;
pub use server::serve;
pub use service::{Response, Service};
pub use stats::{Snapshot, Stats};
