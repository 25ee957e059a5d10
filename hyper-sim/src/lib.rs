//! hyper's HTTP/1.1 server, unchanged, under framesim's simulation.
//!
//! One turmoil host runs `hyper::server::conn::http1` over framesim's [`FaultyStream`]
//! (partial and coalesced reads, short writes, spurious `Pending`s); the others run a
//! thousand virtual clients that write HTTP/1.1 requests cut at random bytes: keep-alive,
//! pipelined, `Content-Length` and chunked bodies, slowloris, slow bodies, idle
//! connections, oversized heads, clients that leave mid-request. A model predicts every
//! response and an oracle parses and checks it; the same seed gives the same events.
//!
//! [`FaultyStream`]: framesim::kv::FaultyStream

pub mod client;
mod config;
pub mod model;
mod role;
pub mod rt;
mod shared;
pub mod world;

pub use world::{run, Config, Findings, Outcome};
