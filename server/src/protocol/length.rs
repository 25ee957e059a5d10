//! The binary protocol: length-prefixed frames.
//!
//! A request frame's payload is its arguments, each a length-prefixed frame with the same
//! header; a reply frame's payload is the reply's RESP encoding. Arguments and replies are
//! binary-safe and found without scanning.

use crate::framing::{Decoder, FrameError, LengthPrefixed};
use crate::protocol::resp;
use crate::{Command, Reply};
use bytes::BytesMut;

/// Decodes length-prefixed requests into [`Command`]s. A frame with no arguments is skipped.
#[derive(Debug)]
pub struct RequestDecoder {
    frames: LengthPrefixed,
    offset: u64,
    failed: Option<FrameError>,
}

impl RequestDecoder {
    /// A decoder over `frames`; arguments inside use the same header format.
    pub fn new(frames: LengthPrefixed) -> Self {
        RequestDecoder {
            frames,
            offset: 0,
            failed: None,
        }
    }

    /// A fresh decoder taking over a stream between frames: its first byte is at `offset`.
    pub(crate) fn resume_at(&mut self, offset: u64) {
        self.offset = offset;
        self.frames.resume_at(offset);
    }

    fn command(&mut self, mut payload: BytesMut) -> Result<Option<Command>, FrameError> {
        let at = self.offset;
        self.offset += (self.frames.header_len() + payload.len()) as u64;
        let mut args = Vec::new();
        let mut inner = self.frames.clone().with_max_frame_len(payload.len());
        let parsed = loop {
            match inner.decode_eof(&mut payload) {
                Ok(Some(arg)) => args.push(arg.freeze()),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match parsed {
            Ok(()) if args.is_empty() => Ok(None),
            Ok(()) => Ok(Some(Command { args })),
            Err(e) => {
                // Worded without stream offsets, as every error reply is (they go to the log).
                let detail = match &e {
                    FrameError::Malformed { what, .. } => what.as_str(),
                    _ => "an argument runs past the end of its frame",
                };
                let err = FrameError::Malformed {
                    what: format!("length request: bad argument inside the frame ({detail})"),
                    at,
                };
                self.failed = Some(err.clone());
                Err(err)
            }
        }
    }

    fn step(&mut self, buf: &mut BytesMut, eof: bool) -> Result<Option<Command>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        loop {
            let frame = if eof {
                self.frames.decode_eof(buf)?
            } else {
                self.frames.decode(buf)?
            };
            let Some(payload) = frame else {
                return Ok(None);
            };
            if let Some(cmd) = self.command(payload)? {
                return Ok(Some(cmd));
            }
        }
    }
}

impl Decoder for RequestDecoder {
    type Item = Command;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, FrameError> {
        self.step(buf, false)
    }

    fn in_frame(&self) -> bool {
        self.frames.in_frame()
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, FrameError> {
        self.step(buf, true)
    }
}

/// Writes `cmd` as one frame of argument frames; fails if it does not fit the header or the
/// frame limit.
pub fn encode_command(
    frames: &LengthPrefixed,
    cmd: &Command,
    dst: &mut BytesMut,
) -> Result<(), FrameError> {
    let mut payload = BytesMut::new();
    for arg in &cmd.args {
        frames.encode(arg, &mut payload)?;
    }
    frames.encode(&payload, dst)
}

/// Writes `reply` as one frame holding its RESP bytes. A reply too long for the header (a
/// 1-byte header holds 255 bytes) is replaced by an error reply that says so.
pub fn encode_reply(frames: &LengthPrefixed, reply: &Reply, dst: &mut BytesMut) {
    let mut payload = BytesMut::new();
    resp::encode_reply(reply, &mut payload);
    if frames.encode(&payload, dst).is_err() {
        payload.clear();
        resp::encode_reply(
            &Reply::error("ERR reply too long for the frame header"),
            &mut payload,
        );
        // The shortest header holds 255 bytes, enough for this message.
        let _ = frames.encode(&payload, dst);
    }
}

/// Decodes length-prefixed replies back into [`Reply`]s (the client side).
#[derive(Debug)]
pub struct ReplyDecoder {
    frames: LengthPrefixed,
    offset: u64,
    failed: Option<FrameError>,
}

impl ReplyDecoder {
    /// A decoder over `frames`.
    pub fn new(frames: LengthPrefixed) -> Self {
        ReplyDecoder {
            frames,
            offset: 0,
            failed: None,
        }
    }

    fn step(&mut self, buf: &mut BytesMut, eof: bool) -> Result<Option<Reply>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let frame = if eof {
            self.frames.decode_eof(buf)?
        } else {
            self.frames.decode(buf)?
        };
        let Some(mut payload) = frame else {
            return Ok(None);
        };
        let at = self.offset;
        self.offset += (self.frames.header_len() + payload.len()) as u64;
        let mut inner = resp::ReplyDecoder::new().max_bulk(payload.len());
        match inner.decode_eof(&mut payload) {
            Ok(Some(reply)) if payload.is_empty() => Ok(Some(reply)),
            other => {
                let err = FrameError::Malformed {
                    what: format!("length reply: payload is not one RESP reply ({other:?})"),
                    at,
                };
                self.failed = Some(err.clone());
                Err(err)
            }
        }
    }
}

impl Decoder for ReplyDecoder {
    type Item = Reply;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, FrameError> {
        self.step(buf, false)
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, FrameError> {
        self.step(buf, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::Endian;

    #[test]
    fn commands_and_replies_round_trip_for_every_header() {
        let cmd = Command::new([&b"SET"[..], b"k", b"\x00\r\n binary"]);
        let reply = Reply::Array(vec![Reply::bulk("v"), Reply::Null, Reply::Integer(7)]);
        for n in [1, 2, 4, 8] {
            for endian in [Endian::Big, Endian::Little] {
                let frames = LengthPrefixed::new()
                    .with_header_len(n)
                    .unwrap()
                    .with_endian(endian)
                    .with_max_frame_len(200);
                let mut buf = BytesMut::new();
                encode_command(&frames, &cmd, &mut buf).unwrap();
                let mut dec = RequestDecoder::new(frames.clone());
                assert_eq!(dec.decode(&mut buf).unwrap(), Some(cmd.clone()));
                encode_reply(&frames, &reply, &mut buf);
                let mut dec = ReplyDecoder::new(frames);
                assert_eq!(dec.decode(&mut buf).unwrap(), Some(reply.clone()));
            }
        }
    }

    #[test]
    fn a_truncated_argument_is_malformed_at_the_frame_start() {
        let frames = LengthPrefixed::new();
        let mut buf = BytesMut::new();
        encode_command(&frames, &Command::new(["PING"]), &mut buf).unwrap();
        // A second frame whose payload claims a 9-byte argument but holds 2 bytes.
        frames.encode(b"\x00\x00\x00\x09ab", &mut buf).unwrap();
        let mut dec = RequestDecoder::new(frames);
        assert_eq!(dec.decode(&mut buf).unwrap().unwrap().name(), "PING");
        let err = dec.decode(&mut buf).unwrap_err();
        let FrameError::Malformed { what, at: 12 } = &err else {
            panic!("{err}");
        };
        assert_eq!(
            what,
            "length request: bad argument inside the frame (an argument runs past the end of its frame)"
        );
    }
}
