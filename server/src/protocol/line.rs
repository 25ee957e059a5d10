//! The line protocol: one command per delimited line, one line per reply element.
//!
//! Requests split like Redis inline commands: `SET k "a b"`. Replies use RESP2's type marks,
//! one element per line, with the bytes escaped so no reply can contain the delimiter:
//!
//! ```text
//! +OK            simple string
//! -ERR message   error
//! :42            integer
//! $a\x0ab        bulk string ("a\nb"): `\\` and `\xHH` escapes
//! _              null
//! *2             array of the next 2 elements
//! ```

use crate::framing::{Decoder, Delimited, FrameError};
use crate::protocol::inline::split_args;
use crate::{Command, Reply};
use bytes::{BufMut, Bytes, BytesMut};

/// Decodes line requests into [`Command`]s. Blank lines are skipped.
#[derive(Debug)]
pub struct RequestDecoder {
    lines: Delimited,
    /// Stream offset of the next line's first byte, for error offsets.
    offset: u64,
    failed: Option<FrameError>,
}

impl RequestDecoder {
    /// A decoder over `lines`.
    pub fn new(lines: Delimited) -> Self {
        RequestDecoder {
            lines,
            offset: 0,
            failed: None,
        }
    }

    /// A fresh decoder taking over a stream between frames: its first byte is at `offset`.
    pub(crate) fn resume_at(&mut self, offset: u64) {
        self.offset = offset;
        self.lines.resume_at(offset);
    }

    fn command(&mut self, line: BytesMut) -> Result<Option<Command>, FrameError> {
        let at = self.offset;
        self.offset += (line.len() + self.lines.delimiter().len()) as u64;
        match split_args(&line) {
            Ok(args) if args.is_empty() => Ok(None),
            Ok(args) => Ok(Some(Command { args })),
            Err(what) => {
                let err = FrameError::Malformed {
                    what: what.to_string(),
                    at,
                };
                self.failed = Some(err.clone());
                Err(err)
            }
        }
    }
}

impl Decoder for RequestDecoder {
    type Item = Command;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        while let Some(line) = self.lines.decode(buf)? {
            if let Some(cmd) = self.command(line)? {
                return Ok(Some(cmd));
            }
        }
        Ok(None)
    }

    fn in_frame(&self) -> bool {
        self.lines.in_frame()
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        while let Some(line) = self.lines.decode_eof(buf)? {
            if let Some(cmd) = self.command(line)? {
                return Ok(Some(cmd));
            }
        }
        Ok(None)
    }
}

/// Writes `cmd` as one line; arguments are quoted when they need it.
///
/// No byte of the delimiter appears before the line's end (such bytes are written as
/// `\xHH` inside quotes), so a delimiter can never be found inside an argument, even where
/// an argument's tail and the delimiter overlap. The delimiter itself must pass
/// [`Framing::validate`](super::Framing::validate) (control or non-ASCII bytes only).
pub fn encode_command(cmd: &Command, delimiter: &[u8], dst: &mut BytesMut) {
    for (i, arg) in cmd.args.iter().enumerate() {
        if i > 0 {
            dst.put_u8(b' ');
        }
        let plain = !arg.is_empty()
            && arg.iter().all(|&b| {
                b.is_ascii_graphic() && !b"\"'\\".contains(&b) && !delimiter.contains(&b)
            });
        if plain {
            dst.extend_from_slice(arg);
        } else {
            dst.put_u8(b'"');
            for &b in arg.iter() {
                match b {
                    b'"' | b'\\' => dst.extend_from_slice(&[b'\\', b]),
                    _ if (b.is_ascii_graphic() || b == b' ') && !delimiter.contains(&b) => {
                        dst.put_u8(b)
                    }
                    _ => hex(b, dst),
                }
            }
            dst.put_u8(b'"');
        }
    }
    dst.extend_from_slice(delimiter);
}

/// Writes `reply`, one line per element.
pub fn encode_reply(reply: &Reply, delimiter: &[u8], dst: &mut BytesMut) {
    match reply {
        Reply::Simple(s) => mark(b'+', s.as_bytes(), delimiter, dst),
        Reply::Error(s) => mark(b'-', s.as_bytes(), delimiter, dst),
        Reply::Integer(n) => mark(b':', n.to_string().as_bytes(), delimiter, dst),
        Reply::Bulk(b) => mark(b'$', b, delimiter, dst),
        Reply::Null => mark(b'_', b"", delimiter, dst),
        Reply::Array(items) => {
            mark(b'*', items.len().to_string().as_bytes(), delimiter, dst);
            for item in items {
                encode_reply(item, delimiter, dst);
            }
        }
    }
}

fn mark(kind: u8, body: &[u8], delimiter: &[u8], dst: &mut BytesMut) {
    dst.put_u8(kind);
    for &b in body {
        if b == b'\\' {
            dst.extend_from_slice(b"\\\\");
        } else if (b.is_ascii_graphic() || b == b' ') && !delimiter.contains(&b) {
            dst.put_u8(b);
        } else {
            hex(b, dst);
        }
    }
    dst.extend_from_slice(delimiter);
}

fn hex(b: u8, dst: &mut BytesMut) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    dst.extend_from_slice(&[
        b'\\',
        b'x',
        DIGITS[(b >> 4) as usize],
        DIGITS[(b & 15) as usize],
    ]);
}

fn unescape(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\\' => match body.get(i + 1)? {
                b'\\' => {
                    out.push(b'\\');
                    i += 2;
                }
                b'x' => {
                    let hi = (*body.get(i + 2)? as char).to_digit(16)?;
                    let lo = (*body.get(i + 3)? as char).to_digit(16)?;
                    out.push((hi * 16 + lo) as u8);
                    i += 4;
                }
                _ => return None,
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Decodes line replies back into [`Reply`]s (the client side).
#[derive(Debug)]
pub struct ReplyDecoder {
    lines: Delimited,
    offset: u64,
    /// Arrays still being filled: (elements so far, elements expected).
    open: Vec<(Vec<Reply>, usize)>,
    failed: Option<FrameError>,
}

impl ReplyDecoder {
    /// A decoder over `lines`.
    pub fn new(lines: Delimited) -> Self {
        ReplyDecoder {
            lines,
            offset: 0,
            open: Vec::new(),
            failed: None,
        }
    }

    fn element(&mut self, line: &[u8], at: u64) -> Result<Option<Reply>, FrameError> {
        let malformed = |what: &str| FrameError::Malformed {
            what: format!("line reply: {what}"),
            at,
        };
        let (&kind, body) = line.split_first().ok_or_else(|| malformed("empty line"))?;
        let body = unescape(body).ok_or_else(|| malformed("bad escape"))?;
        let text = || String::from_utf8(body.clone()).map_err(|_| malformed("not UTF-8"));
        let number = || {
            std::str::from_utf8(&body)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| malformed("bad number"))
        };
        let reply = match kind {
            b'+' => Reply::Simple(text()?),
            b'-' => Reply::Error(text()?),
            b':' => Reply::Integer(number()?),
            b'$' => Reply::Bulk(Bytes::from(body)),
            b'_' if body.is_empty() => Reply::Null,
            b'*' => {
                let n = usize::try_from(number()?).map_err(|_| malformed("bad array length"))?;
                if n > 0 {
                    self.open.push((Vec::with_capacity(n.min(1024)), n));
                    return Ok(None);
                }
                Reply::Array(Vec::new())
            }
            _ => return Err(malformed("unknown type mark")),
        };
        Ok(Some(reply))
    }

    /// Adds a finished element to the innermost open array; returns a top-level reply.
    fn nest(&mut self, mut reply: Reply) -> Option<Reply> {
        while let Some((items, want)) = self.open.last_mut() {
            items.push(reply);
            if items.len() < *want {
                return None;
            }
            let (items, _) = self.open.pop().expect("an open array");
            reply = Reply::Array(items);
        }
        Some(reply)
    }

    fn step(&mut self, buf: &mut BytesMut, eof: bool) -> Result<Option<Reply>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        loop {
            let line = if eof {
                self.lines.decode_eof(buf)
            } else {
                self.lines.decode(buf)
            };
            let line = match line {
                Ok(Some(line)) => line,
                Ok(None) if eof && !self.open.is_empty() => {
                    let err = FrameError::UnexpectedEof { at: self.offset };
                    self.failed = Some(err.clone());
                    return Err(err);
                }
                Ok(None) => return Ok(None),
                Err(err) => {
                    self.failed = Some(err.clone());
                    return Err(err);
                }
            };
            let at = self.offset;
            self.offset += (line.len() + self.lines.delimiter().len()) as u64;
            match self.element(&line, at) {
                Ok(Some(reply)) => {
                    if let Some(done) = self.nest(reply) {
                        return Ok(Some(done));
                    }
                }
                Ok(None) => {}
                Err(err) => {
                    self.failed = Some(err.clone());
                    return Err(err);
                }
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

    fn roundtrip(reply: Reply, delimiter: &[u8]) {
        let mut buf = BytesMut::new();
        encode_reply(&reply, delimiter, &mut buf);
        let mut dec = ReplyDecoder::new(Delimited::new(delimiter, 1024));
        assert_eq!(dec.decode(&mut buf).unwrap(), Some(reply));
        assert!(buf.is_empty());
    }

    #[test]
    fn replies_round_trip_with_any_delimiter() {
        for delim in [&b"\n"[..], b"\r\n", b"\0", b"\x1e\x1f", b"\xff"] {
            roundtrip(Reply::ok(), delim);
            roundtrip(Reply::error("ERR bad; thing\n"), delim);
            roundtrip(Reply::Integer(-42), delim);
            roundtrip(Reply::bulk(&b"a\nb\\c;END\x00 \xff"[..]), delim);
            roundtrip(Reply::Null, delim);
            roundtrip(Reply::Array(vec![]), delim);
            roundtrip(
                Reply::Array(vec![
                    Reply::bulk("x"),
                    Reply::Null,
                    Reply::Array(vec![Reply::Integer(1)]),
                ]),
                delim,
            );
        }
    }

    #[test]
    fn commands_round_trip_through_the_request_decoder() {
        let cmd = Command::new([&b"SET"[..], b"k y", b"a\"b\\c\n\x01", b""]);
        for delim in [&b"\n"[..], b"\r\n"] {
            let mut buf = BytesMut::new();
            encode_command(&cmd, delim, &mut buf);
            let mut dec = RequestDecoder::new(Delimited::new(delim, 1024));
            assert_eq!(dec.decode(&mut buf).unwrap(), Some(cmd.clone()));
        }
    }

    #[test]
    fn an_argument_whose_tail_overlaps_the_delimiter_round_trips() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"\0\0", b"x\0"),
            (b"\x01\x02", b"\x01"),
            (b"\r\n", b"a\r"),
            (b"\xfe\xff", b"\xfe\xfe"),
        ];
        for (delim, arg) in cases {
            assert_eq!(
                super::super::Framing::Line {
                    delimiter: delim.to_vec()
                }
                .validate(),
                Ok(())
            );
            let cmd = Command::new([&b"ECHO"[..], arg]);
            let mut buf = BytesMut::new();
            encode_command(&cmd, delim, &mut buf);
            let mut dec = RequestDecoder::new(Delimited::new(delim, 1024));
            assert_eq!(
                dec.decode(&mut buf).unwrap(),
                Some(cmd),
                "delimiter {delim:?}"
            );
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn printable_delimiters_are_refused() {
        for delim in [&b";"[..], b"END", b"x", b"\n5", b" "] {
            let framing = super::super::Framing::Line {
                delimiter: delim.to_vec(),
            };
            assert!(framing.validate().is_err(), "{delim:?}");
        }
    }

    #[test]
    fn blank_lines_are_skipped_and_bad_quotes_fail_with_offset() {
        let mut dec = RequestDecoder::new(Delimited::new(b"\n", 1024));
        let mut buf = BytesMut::from(&b"\n  \nPING\nSET \"k\n"[..]);
        assert_eq!(dec.decode(&mut buf).unwrap().unwrap().name(), "PING");
        let err = dec.decode(&mut buf).unwrap_err();
        assert!(matches!(err, FrameError::Malformed { at: 9, .. }), "{err}");
        assert_eq!(dec.decode(&mut buf).unwrap_err(), err);
    }
}
