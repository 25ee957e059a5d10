//! The byte-level framer targets: [`delimited`] and [`length_prefixed`], each run with a
//! few fixed settings over the same input.

use crate::harness::{check_error_shape, decode_whole, drain};
use bytes::BytesMut;
use framesim_server::framing::{Delimited, Endian, FrameError, LengthPrefixed};

/// Settings the byte-level `delimited` target runs every input through.
const DELIMITED: &[(&[u8], usize)] = &[
    (b"\n", 64 * 1024),
    (b"\r\n", 8),
    (b"\n", 0),
    (b"\r\n\r\n", 32),
    (b"aab", 5),
    (b"\0", 1),
];

/// [`Delimited`] on arbitrary bytes, for each of a few settings: every frame is the bytes
/// before the *first* delimiter and fits the limit; `TooLarge` only when the buffer proves
/// no frame can end within the limit; `UnexpectedEof` only for a non-empty tail without a
/// delimiter; `decode_each` agrees with `decode`; every frame re-encodes to its own bytes.
pub fn delimited(data: &[u8]) {
    for &(delim, max) in DELIMITED {
        check_delimited(data, delim, max);
    }
}

fn check_delimited(data: &[u8], delim: &[u8], max: usize) {
    let d = delim.len();
    let out = decode_whole(&mut Delimited::new(delim, max), data, data.len().max(64));
    let mut offset = 0;
    for frame in &out.items {
        let rest = &data[offset..];
        assert!(frame.len() <= max, "frame of {} > max {max}", frame.len());
        assert_eq!(
            find(rest, delim),
            Some(frame.len()),
            "frame does not end at the first delimiter (delimiter {:?}, frame {:?})",
            delim.escape_ascii().to_string(),
            frame.escape_ascii().to_string()
        );
        assert_eq!(&rest[..frame.len()], &frame[..]);
        offset += frame.len() + d;
    }
    let rest = &data[offset..];
    match &out.error {
        None => assert!(rest.is_empty(), "decode_eof left {} bytes", rest.len()),
        Some(FrameError::TooLarge { limit, at }) => {
            assert_eq!((*limit, *at), (max, offset as u64), "TooLarge fields");
            assert!(
                find(rest, delim).is_none_or(|p| p > max) && rest.len() > max,
                "TooLarge although a frame within {max} bytes may still end: {:?}",
                rest.escape_ascii().to_string()
            );
        }
        Some(FrameError::UnexpectedEof { at }) => {
            assert_eq!(*at, offset as u64, "UnexpectedEof offset");
            assert!(!rest.is_empty() && find(rest, delim).is_none());
            assert!(
                rest.len() < max + d,
                "a tail over the limit is TooLarge, not EOF"
            );
        }
        Some(e @ FrameError::Malformed { .. }) => panic!("Delimited cannot be malformed: {e}"),
    }
    if let Some(e) = &out.error {
        check_error_shape(e, data.len());
    }

    // decode_each must give the same frames and the same error.
    let mut dec = Delimited::new(delim, max);
    let mut buf = BytesMut::from(data);
    let mut frames = Vec::new();
    let each = dec.decode_each(&mut buf, |f| frames.push(BytesMut::from(f)));
    let error = match each {
        Err(e) => Some(e),
        Ok(n) => {
            assert_eq!(n, frames.len(), "decode_each's count");
            let eof = drain(&mut dec, &mut buf, &mut frames, true, data.len());
            eof.err()
        }
    };
    assert_eq!(
        (&frames, &error),
        (&out.items, &out.error),
        "decode_each differs from decode"
    );

    // Every decoded frame encodes back to its own bytes.
    let codec = Delimited::new(delim, max);
    let mut offset = 0;
    for frame in &out.items {
        let mut dst = BytesMut::new();
        codec
            .encode(frame, &mut dst)
            .unwrap_or_else(|e| panic!("a decoded frame does not re-encode: {e}"));
        assert_eq!(&dst[..], &data[offset..offset + frame.len() + d]);
        offset += frame.len() + d;
    }
}

// ---- length-prefixed -------------------------------------------------------------------

/// (header bytes, byte order, adjustment, max payload) the byte-level target runs.
const LENGTH: &[(usize, Endian, i64, usize)] = &[
    (4, Endian::Big, 0, 1 << 16),
    (2, Endian::Little, 0, 300),
    (1, Endian::Big, 0, 255),
    (8, Endian::Little, 0, 64),
    (4, Endian::Big, -4, 1024),
    (2, Endian::Big, 3, 16),
    (1, Endian::Little, -1, 0),
];

/// [`LengthPrefixed`] on arbitrary bytes, for each of a few settings: frames and errors
/// equal a plain reference model exactly; the buffer never grows past the limit (the header
/// is checked before anything is reserved); every frame re-encodes to its own bytes.
pub fn length_prefixed(data: &[u8]) {
    for &(h, endian, adj, max) in LENGTH {
        let codec = LengthPrefixed::new()
            .with_header_len(h)
            .expect("valid header length")
            .with_endian(endian)
            .with_adjustment(adj)
            .with_max_frame_len(max);
        let bound = 4 * (data.len() + max) + 64;
        let out = decode_whole(&mut codec.clone(), data, bound);
        let (frames, error) = length_reference(data, h, endian, adj, max);
        let got: Vec<&[u8]> = out.items.iter().map(|f| &f[..]).collect();
        assert_eq!(
            got, frames,
            "frames differ from the model ({h}-byte header)"
        );
        match (&out.error, &error) {
            (Some(FrameError::Malformed { at, .. }), Some(FrameError::Malformed { at: b, .. })) => {
                assert_eq!(at, b, "Malformed offset")
            }
            (got, want) => assert_eq!(got, want, "error differs from the model"),
        }
        if let Some(e) = &out.error {
            check_error_shape(e, data.len());
        }
        let mut offset = 0;
        for frame in &out.items {
            let mut dst = BytesMut::new();
            codec
                .encode(frame, &mut dst)
                .unwrap_or_else(|e| panic!("a decoded frame does not re-encode: {e}"));
            assert_eq!(&dst[..], &data[offset..offset + h + frame.len()]);
            offset += h + frame.len();
        }
    }
}

/// The length-prefixed format, written as plainly as possible.
fn length_reference(
    data: &[u8],
    h: usize,
    endian: Endian,
    adj: i64,
    max: usize,
) -> (Vec<&[u8]>, Option<FrameError>) {
    let mut frames = Vec::new();
    let mut offset = 0;
    loop {
        let rest = &data[offset..];
        let at = offset as u64;
        if rest.is_empty() {
            return (frames, None);
        }
        if rest.len() < h {
            return (frames, Some(FrameError::UnexpectedEof { at }));
        }
        let mut header = [0u8; 8];
        header[..h].copy_from_slice(&rest[..h]);
        if endian == Endian::Big {
            header[..h].reverse();
        }
        let len = i128::from(u64::from_le_bytes(header)) + i128::from(adj);
        if len < 0 {
            let what = "negative".into();
            return (frames, Some(FrameError::Malformed { what, at }));
        }
        if len > max as i128 {
            return (frames, Some(FrameError::TooLarge { limit: max, at }));
        }
        let len = len as usize;
        if rest.len() < h + len {
            return (frames, Some(FrameError::UnexpectedEof { at }));
        }
        frames.push(&rest[h..h + len]);
        offset += h + len;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}
