//! Driving a decoder over a stream the way the connection loop does, with the checks every
//! decoder must pass whatever it decodes: no item without consuming input, bounded buffer
//! capacity, sticky errors, error offsets inside the input.

use bytes::BytesMut;
use framesim_server::framing::{Decoder, FrameError};

/// What a decoder made of a stream: its items, then the error that stopped it, if any.
#[derive(Debug, PartialEq)]
pub(crate) struct Outcome<T> {
    pub(crate) items: Vec<T>,
    pub(crate) error: Option<FrameError>,
    /// The error came from `decode_eof` (the only place `UnexpectedEof` may come from).
    pub(crate) at_eof: bool,
}

/// Calls `decode` (or `decode_eof`) until it wants more bytes or fails.
pub(crate) fn drain<D: Decoder>(
    dec: &mut D,
    buf: &mut BytesMut,
    items: &mut Vec<D::Item>,
    eof: bool,
    budget: usize,
) -> Result<(), FrameError> {
    loop {
        let next = if eof {
            dec.decode_eof(buf)?
        } else {
            dec.decode(buf)?
        };
        match next {
            Some(item) => items.push(item),
            None => return Ok(()),
        }
        // Every item takes at least one byte off the stream; more items than bytes means a
        // decoder that yields without consuming (it would loop forever in the server).
        assert!(
            items.len() <= budget,
            "decoder yielded {} items from {budget} bytes",
            items.len()
        );
    }
}

/// Feeds `data` in the given chunks (one chunk: the whole input), then ends the stream.
/// Checks after every step that the buffer's capacity stays below `cap_bound`.
pub(crate) fn decode_chunks<D: Decoder>(
    dec: &mut D,
    data: &[u8],
    chunks: &[usize],
    cap_bound: usize,
) -> (Outcome<D::Item>, BytesMut) {
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut at = 0;
    let mut result = Ok(());
    for &len in chunks {
        let end = (at + len).min(data.len());
        buf.extend_from_slice(&data[at..end]);
        at = end;
        result = drain(dec, &mut buf, &mut items, false, data.len());
        check_capacity(&buf, cap_bound);
        if result.is_err() {
            break;
        }
    }
    let at_eof = result.is_ok();
    if at_eof {
        buf.extend_from_slice(&data[at..]);
        result = drain(dec, &mut buf, &mut items, false, data.len());
        if result.is_ok() {
            result = drain(dec, &mut buf, &mut items, true, data.len());
        }
        check_capacity(&buf, cap_bound);
    }
    let error = result.err();
    let at_eof = at_eof && error.is_some();
    if let Some(e) = &error {
        assert!(
            at_eof || !matches!(e, FrameError::UnexpectedEof { .. }),
            "UnexpectedEof from decode() before the stream ended: {e:?}"
        );
        check_sticky(dec, &mut buf, e);
    }
    (
        Outcome {
            items,
            error,
            at_eof,
        },
        buf,
    )
}

/// The whole input in one buffer, then the end of the stream.
pub(crate) fn decode_whole<D: Decoder>(
    dec: &mut D,
    data: &[u8],
    cap_bound: usize,
) -> Outcome<D::Item> {
    decode_chunks(dec, data, &[data.len()], cap_bound).0
}

fn check_capacity(buf: &BytesMut, bound: usize) {
    assert!(
        buf.capacity() <= bound,
        "buffer capacity {} exceeds the bound {bound} (limits + input)",
        buf.capacity()
    );
}

/// A failed decoder returns the same error again, whatever arrives after.
fn check_sticky<D: Decoder>(dec: &mut D, buf: &mut BytesMut, e: &FrameError) {
    buf.extend_from_slice(b"PING\r\n*1\r\n$4\r\nPING\r\n\x00\x00\x00\x01a\n");
    let again = dec.decode(buf).err();
    assert_eq!(again.as_ref(), Some(e), "error not sticky (decode)");
    let again = dec.decode_eof(buf).err();
    assert_eq!(again.as_ref(), Some(e), "error not sticky (decode_eof)");
}

/// Offsets point into the input; messages say something.
pub(crate) fn check_error_shape(e: &FrameError, len: usize) {
    let at = match e {
        FrameError::TooLarge { at, .. } | FrameError::UnexpectedEof { at } => *at,
        FrameError::Malformed { what, at } => {
            assert!(!what.is_empty(), "Malformed error without a message");
            *at
        }
    };
    assert!(
        at <= len as u64,
        "error offset {at} is past the input's {len} bytes: {e:?}"
    );
    assert!(!e.to_string().is_empty());
}
