//! The split-invariance target: a decoder fed in chunks yields what it yields for the whole
//! input at once.

use crate::grammar::{Codec, SplitInput};
use crate::harness::{check_error_shape, decode_chunks, decode_whole};
use framesim_server::framing::{Decoder, Delimited};
use framesim_server::protocol::{self, resp};
use std::fmt::Debug;

/// Every decoder, fed `data` in the chunks the fuzzer chose, yields exactly what it yields
/// for the whole input at once: the same items, then the same error (or none). Checked for
/// the framers and for the three protocols' request and reply decoders, with sticky errors
/// and bounded buffer capacity on the chunked side too.
pub fn split_invariance(input: SplitInput) {
    let data = &input.data.0;
    let mut chunks: Vec<usize> = input
        .chunks
        .iter()
        .map(|&c| usize::from(c).max(1))
        .collect();
    let listed: usize = chunks.iter().sum();
    if input.then_bytewise {
        chunks.extend(std::iter::repeat_n(1, data.len().saturating_sub(listed)));
    }
    match &input.codec {
        Codec::Delimited { delimiter, max } => {
            let (d, max) = (delimiter.bytes(), usize::from(*max));
            compare_splits(|| Delimited::new(&d, max), data, &chunks, max + 4);
        }
        Codec::Length {
            header,
            adjustment,
            max,
        } => {
            let codec = header.codec(i64::from(*adjustment), usize::from(*max));
            compare_splits(|| codec.clone(), data, &chunks, usize::from(*max) + 8);
        }
        Codec::RespRequests {
            max_inline,
            max_bulk,
            max_array,
        } => {
            let make = || {
                resp::RequestDecoder::new()
                    .max_inline(usize::from(*max_inline))
                    .max_bulk(usize::from(*max_bulk))
                    .max_array(usize::from(*max_array))
            };
            let limit = usize::from(*max_bulk) + usize::from(*max_inline) + 2;
            compare_splits(make, data, &chunks, limit);
        }
        Codec::RespReplies {
            max_line,
            max_bulk,
            max_array,
            max_depth,
        } => {
            let make = || {
                resp::ReplyDecoder::new()
                    .max_line(usize::from(*max_line))
                    .max_bulk(usize::from(*max_bulk))
                    .max_array(usize::from(*max_array))
                    .max_depth(usize::from(*max_depth))
            };
            let limit = usize::from(*max_bulk) + usize::from(*max_line) + 2;
            compare_splits(make, data, &chunks, limit);
        }
        Codec::LineRequests { delimiter, max } => {
            let (d, max) = (delimiter.bytes(), usize::from(*max));
            let make = || protocol::line::RequestDecoder::new(Delimited::new(&d, max));
            compare_splits(make, data, &chunks, max + 4);
        }
        Codec::LineReplies { delimiter, max } => {
            let (d, max) = (delimiter.bytes(), usize::from(*max));
            let make = || protocol::line::ReplyDecoder::new(Delimited::new(&d, max));
            compare_splits(make, data, &chunks, max + 4);
        }
        Codec::LengthRequests { header, max } => {
            let codec = header.codec(0, usize::from(*max));
            let make = || protocol::length::RequestDecoder::new(codec.clone());
            compare_splits(make, data, &chunks, usize::from(*max) + 8);
        }
        Codec::LengthReplies { header, max } => {
            let codec = header.codec(0, usize::from(*max));
            let make = || protocol::length::ReplyDecoder::new(codec.clone());
            compare_splits(make, data, &chunks, usize::from(*max) + 8);
        }
    }
}

fn compare_splits<D, F>(make: F, data: &[u8], chunks: &[usize], limit: usize)
where
    D: Decoder,
    D::Item: PartialEq + Debug,
    F: Fn() -> D,
{
    let bound = 4 * (data.len() + limit) + 64;
    let whole = decode_whole(&mut make(), data, bound);
    let (split, _) = decode_chunks(&mut make(), data, chunks, bound);
    if let Some(e) = &whole.error {
        check_error_shape(e, data.len());
    }
    assert_eq!(
        split.items, whole.items,
        "chunked decoding yields other items (chunks {chunks:?})"
    );
    assert_eq!(
        split.error, whole.error,
        "chunked decoding fails differently (chunks {chunks:?})"
    );
}
