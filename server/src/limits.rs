//! The limits one connection lives under, in one place: the server's [`Config`](crate::Config)
//! holds them, the simulation's scenarios hold the same type, and the connection's
//! [`Session`](crate::connection) enforces each of them at one site.

use crate::framing::{DEFAULT_MAX_FRAME, DEFAULT_MAX_LINE};
use std::time::Duration;

/// Default [`Limits::max_output`]: 1 MiB of replies held per connection.
pub const DEFAULT_MAX_OUTPUT: usize = 1024 * 1024;

/// What one connection may cost the server, and how long it may take.
///
/// ```
/// use framesim_server::Limits;
/// use std::time::Duration;
///
/// let limits = Limits { frame_deadline: Duration::from_secs(2), ..Limits::default() };
/// assert!(limits.validate().is_ok());
/// assert!(Limits { max_buffered: 1, ..limits }.validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct Limits {
    /// Longest line or inline command, in bytes.
    pub max_line: usize,
    /// Longest length-prefixed frame or RESP bulk string, in bytes.
    pub max_frame: usize,
    /// Most bytes one connection may hold for requests it has not answered yet (buffered
    /// bytes and arguments already parsed out of an unfinished request); beyond it the
    /// connection gets an error reply and is closed.
    pub max_buffered: usize,
    /// Most reply bytes one connection may hold unwritten: once its pending replies reach
    /// it, the connection answers nothing more until the peer has taken them (a single
    /// larger reply is still sent whole). A peer that takes nothing for `idle_timeout` is cut.
    pub max_output: usize,
    /// Longest time from a request's first byte to its last (cuts off slowloris clients).
    #[cfg_attr(feature = "serde", serde(with = "crate::text::duration"))]
    pub frame_deadline: Duration,
    /// Longest time a connection may sit with no request begun, or with replies the peer
    /// does not read.
    #[cfg_attr(feature = "serde", serde(with = "crate::text::duration"))]
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: DEFAULT_MAX_LINE,
            max_frame: DEFAULT_MAX_FRAME,
            max_buffered: DEFAULT_MAX_FRAME + DEFAULT_MAX_LINE,
            max_output: DEFAULT_MAX_OUTPUT,
            frame_deadline: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

impl Limits {
    /// Checks the limits make sense together.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_line == 0 || self.max_frame == 0 {
            return Err("frame limits must be at least 1 byte".into());
        }
        if self.max_buffered < self.max_line.min(self.max_frame) {
            return Err(format!(
                "max_buffered ({}) is smaller than the smallest frame limit",
                self.max_buffered
            ));
        }
        if self.max_output == 0 {
            return Err("max_output must be at least 1 byte".into());
        }
        if self.frame_deadline.is_zero() || self.idle_timeout.is_zero() {
            return Err("frame_deadline and idle_timeout must be positive".into());
        }
        Ok(())
    }
}
