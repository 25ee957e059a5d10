//! Incremental framers: find where each request ends in a stream of chunks.
//!
//! Every decoder here is fed a [`BytesMut`] that grows by arbitrary chunks. It yields each
//! complete frame as soon as its last byte is buffered, never rescans bytes it has already
//! searched, and gives the same frames and the same error for every way the input is split
//! (chunk-split invariance). After an error a decoder is *failed*: every later call returns
//! the same error again.

mod delimited;
mod error;
mod length_prefixed;

pub use delimited::Delimited;
pub(crate) use delimited::{Scan, Scanner};
pub use error::FrameError;
pub use length_prefixed::{ConfigError, Endian, LengthPrefixed};

use bytes::BytesMut;

/// Default limit for one line or inline command: 64 KiB, as Redis's inline limit.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;
/// Default limit for a length-prefixed frame or one RESP bulk string: 16 MiB
/// (Redis allows 512 MiB; a smaller default bounds what one client can make the server hold).
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// An incremental decoder over a growing buffer.
pub trait Decoder {
    /// What one complete frame decodes to.
    type Item;

    /// Takes the next complete frame off the front of `buf`, or returns `Ok(None)` when
    /// more bytes are needed. Bytes of an incomplete frame stay in `buf` (or in the
    /// decoder's state) until the rest arrives.
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, FrameError>;

    /// Called once the stream has ended: returns the last frames like [`Decoder::decode`],
    /// then [`FrameError::UnexpectedEof`] if an incomplete frame remains.
    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, FrameError>;

    /// True while the decoder itself holds part of an unfinished frame (bytes already taken
    /// off the buffer, e.g. the first arguments of a RESP array). The connection uses it with
    /// `!buf.is_empty()` to know a frame is in progress, so its deadline applies.
    fn in_frame(&self) -> bool {
        false
    }

    /// Bytes the decoder itself holds for the unfinished frame (parts already parsed off the
    /// buffer, and their bookkeeping). The connection counts them with the buffer against
    /// its limit, so a request cannot grow past it piece by piece.
    fn held(&self) -> usize {
        0
    }
}
