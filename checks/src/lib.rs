//! The bodies of framesim's fuzz targets: plain functions that panic when a property breaks.
//!
//! cargo-fuzz calls them from `fuzz/fuzz_targets/` (one line each), and
//! `tests/fuzz_corpus.rs` replays every checked-in seed and every past crash through them
//! under plain `cargo test` on stable, so a bug found once stays found. They use only the
//! public API of `framesim_server`; the structured inputs ([`SplitInput`], ...) are built
//! with `arbitrary`, and [`connection`] runs on paused tokio time.
//!
//! | function | input | property |
//! | --- | --- | --- |
//! | [`delimited`] | bytes | frames end at the first delimiter and fit the limit; errors are proven |
//! | [`length_prefixed`] | bytes | frames and errors equal a reference model; no allocation past the limit |
//! | [`resp`] | bytes | commands and replies fit the limits; small limits only cut, never change, a parse |
//! | [`split_invariance`] | [`SplitInput`] | chunked decoding equals whole decoding, errors alike |
//! | [`roundtrip`] | [`RoundtripInput`] | encode then decode gives the command / reply back, every framing |
//! | [`connection`] | [`ConnectionInput`] | the real `serve` loop answers each complete request once, in order, and ends |
//!
//! Every decoder is also checked for sticky errors (a failed decoder keeps failing with the
//! same error) and for bounded buffer capacity.

mod connection;
mod framers;
mod grammar;
mod harness;
mod model;
mod resp;
mod roundtrip;
mod split;

pub use connection::connection;
pub use framers::{delimited, length_prefixed};
pub use grammar::{
    ArbCommand, ArbReply, Codec, ConnectionInput, Delimiter, FramingChoice, Header, HeaderSize,
    LimitsChoice, LineDelimiter, Piece, Raw, RoundtripInput, SplitInput, Step,
};
pub use resp::resp;
pub use roundtrip::roundtrip;
pub use split::split_invariance;
