use bytes::Bytes;

/// A reply to one [`Command`](crate::Command), in RESP2's vocabulary.
///
/// The RESP framing writes it as Redis does; the line and length framings carry the same
/// values in their own encodings (see [`crate::protocol`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reply {
    /// `+OK`: a short status line (no CR or LF inside).
    Simple(String),
    /// `-ERR message`: an error line, starting with its error code (no CR or LF inside).
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nabc`: a binary-safe string.
    Bulk(Bytes),
    /// `$-1`: no value.
    Null,
    /// `*2 ...`: a list of replies.
    Array(Vec<Reply>),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    /// An error reply; `msg` starts with its code, e.g. `"ERR unknown command 'FOO'"`.
    pub fn error(msg: impl Into<String>) -> Reply {
        Reply::Error(msg.into())
    }

    /// A bulk string reply.
    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }
}
