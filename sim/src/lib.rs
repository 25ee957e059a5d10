//! framesim: test your async tokio server under turmoil's simulated network, unchanged.
//!
//! Your server accepts from a [`framesim_listener::Listener`] (tokio's `TcpListener` in
//! production); under test it accepts from the simulated [`harness::Listener`], whose
//! connections deliver requests in seeded chunks, partial and coalesced reads and short
//! writes, from clients that pipeline, trickle, leave mid-request, never read, half-close
//! or send too much. Your [`harness::Workload`] says what a client sends and what must come
//! back; every oracle that does not depend on the protocol judges the rest
//! ([`Oracle::any_server`]). A seed's transcript is the same every time; a failing seed
//! prints the command that replays it and shrinks to the fewest clients that fail.
//!
//! ```
//! use framesim::harness::{length_prefixed, Draws, Harness, Request, Session, Workload};
//! use framesim_listener::Listener;
//! use std::time::Duration;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! /// A server of frames: a 4-byte length, then the body; it echoes each one.
//! async fn serve(mut listener: impl Listener, shutdown: impl std::future::Future<Output = ()>) {
//!     tokio::pin!(shutdown);
//!     let mut tasks = tokio::task::JoinSet::new();
//!     loop {
//!         tokio::select! {
//!             biased;
//!             _ = &mut shutdown => break,
//!             accepted = listener.accept() => match accepted {
//!                 Ok((mut stream, _)) => drop(tasks.spawn(async move {
//!                     let mut frame = vec![0u8; 4];
//!                     while stream.read_exact(&mut frame[..1]).await.is_ok() {
//!                         let rest = async {
//!                             stream.read_exact(&mut frame[1..4]).await?;
//!                             let len = u32::from_be_bytes(frame[..4].try_into().unwrap());
//!                             if len > 65536 {
//!                                 return Err(std::io::ErrorKind::InvalidData.into());
//!                             }
//!                             frame.resize(4 + len as usize, 0);
//!                             stream.read_exact(&mut frame[4..]).await
//!                         };
//!                         match tokio::time::timeout(Duration::from_millis(500), rest).await {
//!                             Ok(Ok(_)) if stream.write_all(&frame).await.is_ok() => frame.truncate(4),
//!                             _ => return,
//!                         }
//!                     }
//!                 })),
//!                 Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
//!             },
//!         }
//!     }
//!     tasks.shutdown().await;
//! }
//!
//! struct Echo;
//! impl Workload for Echo {
//!     fn session(&self, _client: usize) -> Box<dyn Session> { Box::new(Hello(4)) }
//!     fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> { Box::new(length_prefixed(4)) }
//! }
//! struct Hello(usize);
//! impl Session for Hello {
//!     fn next_request(&mut self, _rng: &mut Draws) -> Option<Request> {
//!         self.0 = self.0.checked_sub(1)?;
//!         Some(Request::new(&b"\0\0\0\x05hello"[..]).with_boundaries([4]))
//!     }
//!     fn expect(&mut self, request: &Request) -> Option<bytes::Bytes> {
//!         Some(request.bytes.clone())
//!     }
//! }
//!
//! // In a #[test]: 16 seeds, hostile by default, on every core.
//! let tally = framesim::sweep!(Harness::new(serve, Echo), 0..4);
//! assert_eq!(tally.requests, tally.replies);
//! ```
//!
//! Start with [`harness`]; [`harness::cli`] gives a binary of yours framesim's subcommands.
//! [`kv`] is framesim's own world, which the `framesim` binary runs: its key-value server
//! ([`framesim_server`]) under [`Scenario`](kv::Scenario)s drawn by the swarm, judged by
//! [`Oracle`]s, summed up in a [`Report`](kv::Report), shrunk ([`kv::shrink`]), lifted to
//! scripts ([`script`]) and explored ([`kv::explore`]). Both record into a [`transcript`],
//! and both sweep seeds on the one engine of [`sweep`](mod@sweep).
//!
//! Modules, from the top: `world` (a scenario as turmoil hosts) runs `client`s and a
//! `target` behind `net`, both ends sharing each connection's `window`; clients use `model`
//! to predict replies, `boundary` to find where each limit falls and `oracle` to judge them;
//! everything lands in `transcript`, summed up by `report` and written by `output`.
//! `scenario` is plain data, drawn by `seeds`' streams; `shrink` makes a failing one small.
//! `panics` keeps a run's panics for its report.

#![deny(missing_docs)]

mod boundary;
mod client;
mod clock;
mod ddmin;
pub mod harness;
pub mod kv;
mod model;
mod naive;
mod net;
mod oracle;
mod output;
mod panics;
mod report;
mod role;
mod scenario;
pub mod script;
mod seeds;
mod stage;
pub mod sweep;
mod target;
pub mod transcript;
mod watchdog;
mod window;
mod world;

pub use harness::{Harness, Options, Outcome, ReplyFramer, Request, Session, Workload};
pub use oracle::{Oracle, Violation};
