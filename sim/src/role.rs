//! What a client does, in a harness run of any server and in framesim's own world, and
//! the role's name in scripts and scenario files.

/// What one client does.
///
/// A harness run draws its clients' roles from [`RoleMix`](crate::harness::RoleMix);
/// a role that needs the protocol (an oversized or malformed request, a request to close)
/// plays from its [`Session`](crate::harness::Session) hook, and behaves well where the
/// session has none. framesim's own world draws them from its scenario's shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends its session's requests, pipelined and chunked, and judges every reply; must
    /// get every reply, in order.
    Normal,
    /// Trickles all but the last byte of its first request (or, if that is too short to
    /// last until the bound, of its request of the declared limit); must be closed within
    /// [`RoleMix::slowloris_bound`](crate::harness::RoleMix::slowloris_bound) of its first
    /// byte (`slowloris`).
    Slowloris,
    /// Connects and says nothing; must be closed after the idle timeout the server
    /// promises, if it promises one (`idle`).
    Idle,
    /// Writes part of a request and leaves.
    Disconnect,
    /// Sends a batch of requests, then shuts its writing side (a half-close): must get
    /// every reply, then the server's close (`half-close`).
    HalfClose,
    /// Sends a request larger than the server's limit: the server must refuse it (reply
    /// or close) before reading it all (`oversized`).
    Oversized,
    /// Sends a request the server cannot parse behind a few good ones: those must be
    /// answered (`reply`), it must get at most an error reply, then a close or correct
    /// replies to what follows (`protocol-error`).
    Malformed,
    /// Writes requests and never reads a reply: once its receive window is full, the
    /// server must stop reading from it rather than buffer replies it cannot send
    /// (`reply-backlog`), and cut it if it promises to (`stalled-reader`).
    NeverReader,
    /// Reads its replies a few hundred bytes at a time, asking first for a large one:
    /// every reply must come whole, however long the server's writes wait.
    SlowReader,
    /// Pipelines its requests as one long upload in small chunks with pauses: each
    /// request arrives well within the request deadline of its first byte, the upload as
    /// a whole takes longer than one; must get every reply and never be cut
    /// (`wrongful-close`: a server that times requests from the connection's start, or
    /// does not restart the deadline when a request ends with the next one begun).
    BulkLoader,
    /// Sends first a request of exactly the largest size the server accepts, which must
    /// be answered (`wrongful-close`), then behaves well.
    AtLimit,
    /// Announces a RESP request of many arguments and sends small complete ones quickly,
    /// never finishing; must be cut by the buffer limit (or the frame deadline) in time.
    /// framesim's own world only.
    UnfinishedArgs,
    /// Pipelines a batch of requests and a request to close (in half the seeds one more
    /// request behind it): every reply, the quit's last, then a close and nothing more
    /// (`quit`).
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
