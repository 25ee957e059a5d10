//! Where each framing's limits fall, worked out from the server's decoders.
//!
//! A length header of `n` bytes says at most `2^(8n) - 1`: a 1-byte header cannot announce
//! a frame over 255 bytes, whatever `max_frame` says.

use framesim_server::framing::Endian;

/// Largest value a length header of `header_len` bytes holds.
pub fn header_max(header_len: usize) -> u64 {
    if header_len >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * header_len)) - 1
    }
}

/// A length header of `header_len` bytes in `endian` order holding `value` (which must fit).
pub fn length_header(header_len: usize, endian: Endian, value: u64) -> Vec<u8> {
    debug_assert!(value <= header_max(header_len));
    match endian {
        Endian::Big => value.to_be_bytes()[8 - header_len..].to_vec(),
        Endian::Little => value.to_le_bytes()[..header_len].to_vec(),
    }
}
