//! The roles a virtual client plays: what it does, named on the command line and dealt out
//! by client number.

/// What a virtual client does. Every client's role follows from its number, so every run
/// of 20 clients or more has each of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Keep-alive, one request at a time, on one or two connections.
    Regular,
    /// Writes all of a connection's requests before reading any response.
    Pipeliner,
    /// Leaves in the middle of a request.
    Disconnector,
    /// Trickles its header bytes, each in less time than the header timeout but all in
    /// more: it must be cut.
    Slowloris,
    /// Sends its head at once, then trickles its body for longer than the header timeout.
    SlowBody,
    /// Takes one response, then stays idle for longer than the header timeout.
    Lingerer,
    /// A head larger than the server's buffer limit.
    Oversized,
    /// A head of half to nearly all of the buffer limit: must be served.
    LargeHead,
    /// Connects, says nothing for most of the header timeout, then sends a request in a
    /// few pieces: when does the header timer start?
    Latecomer,
}

impl Role {
    /// Every role, in the order of `name`.
    pub const ALL: [Role; 9] = [
        Role::Regular,
        Role::Pipeliner,
        Role::Disconnector,
        Role::Slowloris,
        Role::SlowBody,
        Role::Lingerer,
        Role::Oversized,
        Role::LargeHead,
        Role::Latecomer,
    ];

    /// The role's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::Regular => "regular",
            Role::Pipeliner => "pipeliner",
            Role::Disconnector => "disconnector",
            Role::Slowloris => "slowloris",
            Role::SlowBody => "slow-body",
            Role::Lingerer => "lingerer",
            Role::Oversized => "oversized",
            Role::LargeHead => "large-head",
            Role::Latecomer => "latecomer",
        }
    }

    /// The role named `name`.
    pub fn named(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The role of client `id`.
    pub fn of(id: usize) -> Role {
        match id % 20 {
            0 => Role::Slowloris,
            1 => Role::SlowBody,
            2 => Role::Lingerer,
            3 => Role::Oversized,
            4 => Role::LargeHead,
            5 => Role::Disconnector,
            6 => Role::Latecomer,
            7..=10 => Role::Pipeliner,
            _ => Role::Regular,
        }
    }
}
