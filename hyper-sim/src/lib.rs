//! hyper's HTTP/1.1 server, unchanged, under framesim's harness.
//!
//! The [`server`] is hyper 1's `http1::Builder::serve_connection` in an accept loop over
//! any `framesim_listener::Listener`, set up by a [`Config`] (header-read timeout,
//! `pipeline_flush`, `max_buf_size`) and serving the [`model`]'s handler. The [`session`]
//! is an HTTP [`Workload`](framesim::harness::Workload) of keep-alive, pipelined,
//! `Content-Length` and chunked requests, each reply judged by the model, with every hook
//! the harness's misbehaving clients need: an oversized head, one at the limit, a
//! malformed header, a large reply, `Connection: close`. [`harness`] puts them together,
//! hyper's limits declared as the harness's options.
//!
//! ```no_run
//! let tally = framesim::sweep!(framesim_hyper::harness(framesim_hyper::Config::default()));
//! assert_eq!(tally.requests, tally.replies);
//! ```

mod config;
mod harness;
pub mod model;
pub mod server;
pub mod session;

pub use config::{Config, MIN_BUF_SIZE};
pub use harness::{harness, harness_with, options, SLOWLORIS_SLACK};
pub use session::Http;
