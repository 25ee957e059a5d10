//! The framesim request-framing server.
//!
//! Bytes arrive in arbitrary chunks; a [`framing`] decoder finds where each request ends,
//! the [`Service`] answers it, and the reply is written back. [`serve`] is the one accept
//! loop, generic over a [`Listener`] (a [`framesim_listener::Listener`] with a policy for
//! running out of file descriptors), so the same code runs on real tokio sockets and on a
//! simulated network.

#![deny(missing_docs)]

mod command;
mod config;
mod connection;
pub mod fd_budget;
pub mod framing;
mod kv;
mod limits;
mod listener;
pub mod protocol;
mod reply;
mod serve;
mod service;
mod shutdown;
mod stats;
pub mod text;

pub use command::Command;
pub use config::Config;
pub use connection::threads::serve_threaded;
/// The trait [`Listener`] extends: implement both for a listener of your own.
pub use framesim_listener;
pub use kv::Kv;
pub use limits::Limits;
pub use listener::Listener;
pub use reply::Reply;
pub use serve::serve;
pub use service::{Response, Service};
pub use stats::{Snapshot, Stats};
