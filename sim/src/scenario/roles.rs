//! Which clients misbehave, and how.

use crate::role::Role;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Shares of clients that misbehave (each a fraction of all clients, rounded down, at
/// least one when the fraction is positive).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Roles {
    /// Pause between two bytes of a slowloris client.
    #[serde(with = "framesim_server::text::duration")]
    pub slowloris_every: Duration,
    /// Send one byte every `slowloris_every` forever.
    pub slowloris: f64,
    /// Connect and send nothing.
    pub idle: f64,
    /// Send some requests, then part of one, then drop the connection.
    pub disconnect: f64,
    /// Send all requests, then close the write side, then read every reply.
    pub half_close: f64,
    /// Send one frame over the limit.
    pub oversized: f64,
    /// Send one malformed request.
    pub malformed: f64,
    /// Set one large value, pipeline reads of it worth many times `max_output`, never read.
    pub never_reader: f64,
    /// The same pipeline, then read it back a small chunk every few milliseconds.
    pub slow_reader: f64,
    /// Start a request of endless small arguments (RESP: an unfinished multibulk).
    /// Pipeline large requests, each on time, for longer than the frame deadline.
    pub bulk_loader: f64,
    /// Send requests of exactly the largest accepted size, then one byte more.
    pub at_limit: f64,
    /// Start a request and never finish it, adding small complete pieces quickly.
    pub unfinished_args: f64,
    /// Send every request, the last batch ending in `QUIT` and requests behind it.
    pub quit: f64,
}

impl Default for Roles {
    fn default() -> Self {
        Roles {
            slowloris_every: Duration::from_millis(50),
            slowloris: 0.0,
            idle: 0.0,
            disconnect: 0.0,
            half_close: 0.0,
            oversized: 0.0,
            malformed: 0.0,
            never_reader: 0.0,
            slow_reader: 0.0,
            bulk_loader: 0.0,
            at_limit: 0.0,
            unfinished_args: 0.0,
            quit: 0.0,
        }
    }
}

impl Roles {
    /// Role of client `id` of `clients`: misbehaving clients take the highest ids, in a
    /// fixed order, so a role's clients do not depend on the seed.
    pub fn role_of(&self, clients: usize, id: usize) -> Role {
        let count = |share: f64| {
            if share <= 0.0 {
                0
            } else {
                ((clients as f64 * share) as usize).max(1)
            }
        };
        let mut from_top = clients - 1 - id;
        for (share, role) in [
            (self.slowloris, Role::Slowloris),
            (self.idle, Role::Idle),
            (self.disconnect, Role::Disconnect),
            (self.half_close, Role::HalfClose),
            (self.oversized, Role::Oversized),
            (self.malformed, Role::Malformed),
            (self.never_reader, Role::NeverReader),
            (self.slow_reader, Role::SlowReader),
            (self.bulk_loader, Role::BulkLoader),
            (self.at_limit, Role::AtLimit),
            (self.unfinished_args, Role::UnfinishedArgs),
            (self.quit, Role::Quit),
        ] {
            let n = count(share);
            if from_top < n {
                return role;
            }
            from_top -= n;
        }
        Role::Normal
    }
}
