//! What a client of framesim's own world does: its role, and the role's name in scripts
//! and scenario files.

/// What a client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends its requests and checks every reply.
    Normal,
    /// Sends one byte every `slowloris_every`, forever; must be cut off.
    Slowloris,
    /// Connects and sends nothing; must be closed after the idle timeout.
    Idle,
    /// Sends half its requests, then part of one, then drops the connection.
    Disconnect,
    /// Sends every request, closes its write side, then reads every reply.
    HalfClose,
    /// Sends a frame over the limit; must get a protocol error and a close.
    Oversized,
    /// Sends a malformed request; must get a protocol error and a close.
    Malformed,
    /// Pipelines reads of a large value and never reads a reply: the server must bound
    /// what it holds and cut the connection once its writes stall.
    NeverReader,
    /// Pipelines reads of a large value and reads the replies slowly: must get every reply
    /// right, or be cut.
    SlowReader,
    /// Pipelines large requests in chunks with gaps for longer than the frame deadline,
    /// every frame on time; checks every reply and must never be cut.
    BulkLoader,
    /// Sends requests of exactly the largest size the framing accepts (answered as the
    /// model says), then one byte more (a protocol error and a close).
    AtLimit,
    /// Announces a request of many arguments and sends small complete ones quickly, never
    /// finishing; must be cut by the buffer limit (or the frame deadline) in time.
    UnfinishedArgs,
    /// Sends its requests like a normal client, its last batch ending in `QUIT` followed by
    /// requests that must not run: every reply, `+OK`, then a close.
    Quit,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 13] = [
        Role::Normal,
        Role::Slowloris,
        Role::Idle,
        Role::Disconnect,
        Role::HalfClose,
        Role::Oversized,
        Role::Malformed,
        Role::NeverReader,
        Role::SlowReader,
        Role::BulkLoader,
        Role::AtLimit,
        Role::UnfinishedArgs,
        Role::Quit,
    ];

    /// Its name in scripts: `normal`, `slowloris`, `never-reader`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Normal => "normal",
            Role::Slowloris => "slowloris",
            Role::Idle => "idle",
            Role::Disconnect => "disconnect",
            Role::HalfClose => "half-close",
            Role::Oversized => "oversized",
            Role::Malformed => "malformed",
            Role::NeverReader => "never-reader",
            Role::SlowReader => "slow-reader",
            Role::BulkLoader => "bulk-loader",
            Role::AtLimit => "at-limit",
            Role::UnfinishedArgs => "unfinished-args",
            Role::Quit => "quit",
        }
    }
}
