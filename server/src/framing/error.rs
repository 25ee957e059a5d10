use std::fmt;

/// Why a stream could not be framed. Offsets count bytes from the start of the stream,
/// so the same input yields the same error however it was split into chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A frame is longer than the configured limit.
    TooLarge {
        /// The configured limit in bytes.
        limit: usize,
        /// Stream offset of the frame's first byte.
        at: u64,
    },
    /// The bytes break the protocol.
    Malformed {
        /// What is wrong, in the protocol's words.
        what: String,
        /// Stream offset of the offending byte.
        at: u64,
    },
    /// The stream ended inside a frame.
    UnexpectedEof {
        /// Stream offset of the incomplete frame's first byte.
        at: u64,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { limit, at } => {
                write!(f, "frame at byte {at} exceeds the limit of {limit} bytes")
            }
            FrameError::Malformed { what, at } => write!(f, "{what} (at byte {at})"),
            FrameError::UnexpectedEof { at } => {
                write!(f, "stream ended inside the frame that starts at byte {at}")
            }
        }
    }
}

impl std::error::Error for FrameError {}
