//! The server under test: framesim's own `serve`, or one of the naive fixtures.

use crate::naive;
use clap::builder::PossibleValue;
use clap::ValueEnum;
use framesim_server::{Config, Kv, Listener, Service, Stats};
use std::fmt;

/// Which server a run puts on the server host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `framesim_server::serve`, unchanged.
    Framesim,
    /// Treats the bytes of each read as whole requests.
    OneReadOneRequest,
    /// Reads a length header with one read and trusts it has all of it.
    SingleReadHeader,
    /// `serve` with no frame deadline to speak of (slowloris keeps its connection).
    NoFrameDeadline,
    /// Answers only the first request of each read (no pipelining).
    FirstFrameOnly,
    /// `serve` with no bound on pending replies: every reply of a read is built before
    /// writing, and writes wait an hour.
    UnboundedOutput,
    /// Keeps its buffer across reads but limits only the buffer, not the arguments the
    /// decoder already parsed out of it.
    UncountedArgs,
    /// Looks for a line's delimiter only in the bytes of the newest read: a delimiter split
    /// across two reads is never found.
    SplitDelimiter,
    /// Times a frame from when its buffer was last empty, not from the frame's own first
    /// byte: a client pipelining large requests back to back is cut.
    ConnectionDeadline,
    /// `serve` with `max_line` and `max_frame` one byte short: a request of exactly the
    /// largest accepted size is refused.
    LimitOffByOne,
    /// `serve` with INCR done by wrapping arithmetic: `INCR` at `i64::MAX` gives `i64::MIN`.
    IncrWraps,
    /// `serve` admitting one connection more than `max_connections`.
    ConnectionLimitOffByOne,
    /// `serve` that cuts every connection the moment it is told to shut down, whatever
    /// grace it was given: requests it was reading or answering are dropped.
    NoGrace,
    /// Ends the last line at the end of the stream: a line request cut short by a client
    /// that left is run anyway.
    LastLineAtEof,
    /// Times idleness from the accept, not the last activity: a connection older than the
    /// idle timeout is cut at its first pause.
    IdleFromAccept,
    /// Throws away the replies it owed when it meets a malformed request: a client that
    /// pipelined good requests before a bad one gets only the protocol error.
    ErrorDropsReplies,
    /// Closes at a `QUIT` without writing the replies of its batch: the `+OK` and those of
    /// the requests pipelined before it are lost.
    QuitDropsReplies,
    /// `serve` behind an accept loop that ends at its first failed accept: no connection
    /// after it is ever taken.
    AcceptGivesUp,
    /// `serve` retrying a failed accept at once: out of descriptors, it spins.
    NoAcceptBackoff,
}

impl Target {
    /// The command-line name (`--target`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Framesim => "framesim",
            Target::OneReadOneRequest => "naive-one-read",
            Target::SingleReadHeader => "naive-single-read-header",
            Target::NoFrameDeadline => "naive-no-deadline",
            Target::FirstFrameOnly => "naive-first-frame-only",
            Target::UnboundedOutput => "naive-unbounded-output",
            Target::UncountedArgs => "naive-uncounted-args",
            Target::SplitDelimiter => "naive-split-delimiter",
            Target::ConnectionDeadline => "naive-connection-deadline",
            Target::LimitOffByOne => "naive-limit-off-by-one",
            Target::IncrWraps => "naive-incr-wraps",
            Target::ConnectionLimitOffByOne => "naive-connection-limit",
            Target::NoGrace => "naive-no-grace",
            Target::LastLineAtEof => "naive-last-line-at-eof",
            Target::IdleFromAccept => "naive-idle-from-accept",
            Target::ErrorDropsReplies => "naive-error-drops-replies",
            Target::QuitDropsReplies => "naive-quit-drops-replies",
            Target::AcceptGivesUp => "naive-accept-gives-up",
            Target::NoAcceptBackoff => "naive-no-accept-backoff",
        }
    }

    /// One line on what it is, for `--help` and `framesim list`.
    pub fn about(self) -> &'static str {
        match self {
            Target::Framesim => "the framesim server's serve, unchanged",
            Target::OneReadOneRequest => "naive: the bytes of each read are whole requests",
            Target::SingleReadHeader => "naive: reads a length header with one read",
            Target::NoFrameDeadline => "naive: serve with no frame deadline",
            Target::FirstFrameOnly => "naive: answers only the first request of each read",
            Target::UnboundedOutput => {
                "naive: serve with no bound on pending replies and hour-long writes"
            }
            Target::UncountedArgs => {
                "naive: limits its buffer, not the arguments already parsed out of it"
            }
            Target::SplitDelimiter => {
                "naive: looks for a line's delimiter only in the newest read's bytes"
            }
            Target::ConnectionDeadline => {
                "naive: times frames from when its buffer was last empty, not per frame"
            }
            Target::LimitOffByOne => "naive: serve with max_line and max_frame one byte short",
            Target::IncrWraps => "naive: serve with an INCR that wraps around at i64::MAX",
            Target::ConnectionLimitOffByOne => {
                "naive: serve admitting one connection more than max_connections"
            }
            Target::NoGrace => "naive: serve cutting every connection at shutdown, no grace",
            Target::LastLineAtEof => {
                "naive: the end of the stream ends the last line; a cut request runs"
            }
            Target::IdleFromAccept => {
                "naive: times idleness from the accept, not the last activity"
            }
            Target::ErrorDropsReplies => {
                "naive: a protocol error throws away the replies owed before it"
            }
            Target::QuitDropsReplies => "naive: closes at QUIT without writing its batch's replies",
            Target::AcceptGivesUp => {
                "naive: serve whose accept loop ends at its first failed accept"
            }
            Target::NoAcceptBackoff => "naive: serve retrying a failed accept at once (spins)",
        }
    }

    /// The key-value store this target serves: framesim's [`Kv`], with INCR done by
    /// wrapping arithmetic for [`Target::IncrWraps`] (a slip in the store, not the loop).
    pub fn store(self) -> Box<dyn Service> {
        match self {
            Target::IncrWraps => Box::new(naive::IncrWraps(Kv::new())),
            _ => Box::new(Kv::new()),
        }
    }

    /// Serves `listener` with this target's accept loop until `shutdown` (naive servers
    /// ignore it and serve forever). Its slip in the store, if any, is [`store`](Self::store)'s.
    pub async fn serve<L: Listener, S: Service>(
        self,
        listener: L,
        service: S,
        config: Config,
        stats: Stats,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        match self {
            Target::Framesim => {
                let _ = framesim_server::serve(listener, service, config, stats, shutdown).await;
            }
            Target::NoFrameDeadline => {
                naive::no_frame_deadline(listener, service, config, stats, shutdown).await
            }
            Target::OneReadOneRequest => {
                naive::serve(naive::Naive::OneReadOneRequest, listener, service, config).await
            }
            Target::SingleReadHeader => {
                naive::serve(naive::Naive::SingleReadHeader, listener, service, config).await
            }
            Target::FirstFrameOnly => {
                naive::serve(naive::Naive::FirstFrameOnly, listener, service, config).await
            }
            Target::UnboundedOutput => {
                naive::unbounded_output(listener, service, config, stats, shutdown).await
            }
            Target::UncountedArgs => {
                naive::careful(naive::Slip::UncountedArgs, listener, service, config).await
            }
            Target::SplitDelimiter => {
                naive::careful(naive::Slip::SplitDelimiter, listener, service, config).await
            }
            Target::ConnectionDeadline => {
                naive::careful(naive::Slip::ConnectionDeadline, listener, service, config).await
            }
            Target::LimitOffByOne => {
                naive::limit_off_by_one(listener, service, config, stats, shutdown).await
            }
            // Its slip is in the store: `Target::store`.
            Target::IncrWraps => {
                let _ = framesim_server::serve(listener, service, config, stats, shutdown).await;
            }
            Target::ConnectionLimitOffByOne => {
                naive::connection_limit_off_by_one(listener, service, config, stats, shutdown).await
            }
            Target::LastLineAtEof => {
                naive::careful(naive::Slip::LastLineAtEof, listener, service, config).await
            }
            Target::IdleFromAccept => {
                naive::careful(naive::Slip::IdleFromAccept, listener, service, config).await
            }
            Target::ErrorDropsReplies => {
                naive::careful(naive::Slip::ErrorDropsReplies, listener, service, config).await
            }
            Target::QuitDropsReplies => {
                naive::careful(naive::Slip::QuitDropsReplies, listener, service, config).await
            }
            Target::AcceptGivesUp => {
                naive::accept_gives_up(listener, service, config, stats, shutdown).await
            }
            Target::NoAcceptBackoff => {
                naive::no_accept_backoff(listener, service, config, stats, shutdown).await
            }
            Target::NoGrace => {
                let config = Config {
                    grace: std::time::Duration::ZERO,
                    ..config
                };
                let _ = framesim_server::serve(listener, service, config, stats, shutdown).await;
            }
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl ValueEnum for Target {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            Target::Framesim,
            Target::OneReadOneRequest,
            Target::SingleReadHeader,
            Target::NoFrameDeadline,
            Target::FirstFrameOnly,
            Target::UnboundedOutput,
            Target::UncountedArgs,
            Target::SplitDelimiter,
            Target::ConnectionDeadline,
            Target::LimitOffByOne,
            Target::IncrWraps,
            Target::ConnectionLimitOffByOne,
            Target::NoGrace,
            Target::LastLineAtEof,
            Target::IdleFromAccept,
            Target::ErrorDropsReplies,
            Target::QuitDropsReplies,
            Target::AcceptGivesUp,
            Target::NoAcceptBackoff,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()).help(self.about()))
    }
}

/// A target's command-line name, in scenario files too.
impl serde::Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Target::value_variants()
            .iter()
            .find(|t| t.name() == s)
            .copied()
            .ok_or_else(|| {
                let names: Vec<&str> = Target::value_variants().iter().map(|t| t.name()).collect();
                format!("unknown target '{s}' (one of: {})", names.join(", "))
            })
    }
}
