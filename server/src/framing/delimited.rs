use bytes::{Buf, BufMut, BytesMut};
use memchr::memmem::Finder;

use super::{Decoder, FrameError, DEFAULT_MAX_LINE};

/// Splits a stream into frames that each end with a delimiter (`\n`, `\r\n`, any bytes).
///
/// The search resumes where the previous call stopped (a delimiter may straddle two
/// chunks), so a frame fed one byte at a time still costs linear time. A frame longer than
/// `max_len` (delimiter not counted) is rejected as soon as the buffer proves it, without
/// waiting for its delimiter, so a valid frame never needs more than `max_len` plus the
/// delimiter buffered.
///
/// Frames are split off the front of the buffer: each frame carries its memory away with
/// it, and the buffer keeps only the bytes after it. [`Delimited::decode_each`] is the
/// faster path for many small frames: it lends them in place instead.
///
/// # Example
/// ```
/// use bytes::BytesMut;
/// use framesim_server::framing::{Decoder, Delimited};
///
/// let mut lines = Delimited::lines();
/// let mut buf = BytesMut::from(&b"GET a\nGET"[..]);
/// assert_eq!(lines.decode(&mut buf).unwrap().unwrap(), &b"GET a"[..]);
/// assert_eq!(lines.decode(&mut buf).unwrap(), None); // "GET" waits for the rest
/// buf.extend_from_slice(b" b\n");
/// assert_eq!(lines.decode(&mut buf).unwrap().unwrap(), &b"GET b"[..]);
/// ```
#[derive(Debug, Clone)]
pub struct Delimited {
    scanner: Scanner,
    /// Stream offset of the buffer's first byte.
    offset: u64,
    failed: Option<Failure>,
}

/// What a failed decoder keeps to repeat its error: plain words, so the error is rebuilt in
/// registers and never shares a stack slot with the frame on the hot path.
#[derive(Debug, Clone, Copy)]
enum Failure {
    TooLarge { at: u64 },
    UnexpectedEof { at: u64 },
}

impl Delimited {
    /// Frames ending with `delimiter`, at most `max_len` bytes each (delimiter excluded).
    ///
    /// # Panics
    /// If `delimiter` is empty: that is a programming error, not a runtime condition.
    pub fn new(delimiter: &[u8], max_len: usize) -> Self {
        Delimited {
            scanner: Scanner::new(delimiter, max_len),
            offset: 0,
            failed: None,
        }
    }

    /// A fresh decoder taking over a stream between frames: its first byte is at `offset`.
    pub(crate) fn resume_at(&mut self, offset: u64) {
        self.offset = offset;
    }

    /// Lines ending with `\n` (a `\r` before it stays in the frame), at most
    /// [`DEFAULT_MAX_LINE`] bytes.
    pub fn lines() -> Self {
        Self::new(b"\n", DEFAULT_MAX_LINE)
    }

    /// Lines ending with `\r\n`, at most [`DEFAULT_MAX_LINE`] bytes.
    pub fn crlf() -> Self {
        Self::new(b"\r\n", DEFAULT_MAX_LINE)
    }

    /// The delimiter that ends each frame.
    pub fn delimiter(&self) -> &[u8] {
        self.scanner.needle.bytes()
    }

    /// The longest frame accepted, delimiter excluded.
    pub fn max_len(&self) -> usize {
        self.scanner.max_len
    }

    /// Writes `frame` followed by the delimiter to `dst`.
    ///
    /// Fails with [`FrameError::TooLarge`] if `frame` is longer than the limit, and with
    /// [`FrameError::Malformed`] if the delimiter would occur before the frame's end (also
    /// where the frame's tail and the delimiter overlap); `at` is then the offset in `frame`.
    /// On error `dst` is left as it was.
    pub fn encode(&self, frame: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        if frame.len() > self.max_len() {
            return Err(FrameError::TooLarge {
                limit: self.max_len(),
                at: 0,
            });
        }
        let start = dst.len();
        let delimiter = self.delimiter();
        dst.reserve(frame.len() + delimiter.len());
        dst.put_slice(frame);
        dst.put_slice(delimiter);
        match self.scanner.needle.find(&dst[start..]) {
            Some(pos) if pos == frame.len() => Ok(()),
            found => {
                dst.truncate(start);
                Err(FrameError::Malformed {
                    what: "frame contains the delimiter".into(),
                    at: found.unwrap_or(0) as u64,
                })
            }
        }
    }

    /// Calls `each` with every complete frame in `buf`, borrowed in place, then removes them
    /// from `buf` in one step; returns how many there were.
    ///
    /// The frames and the error are the same as from calling [`Decoder::decode`] until it
    /// returns `None`, but no frame is split off or reference-counted: the fast path for
    /// many small frames. On error, the frames before the bad one have been passed to `each`.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use framesim_server::framing::Delimited;
    ///
    /// let mut lines = Delimited::lines();
    /// let mut buf = BytesMut::from(&b"a\nbb\nc"[..]);
    /// let mut seen = Vec::new();
    /// assert_eq!(lines.decode_each(&mut buf, |f| seen.push(f.to_vec()))?, 2);
    /// assert_eq!(seen, [b"a".to_vec(), b"bb".to_vec()]);
    /// assert_eq!(&buf[..], b"c");
    /// # Ok::<(), framesim_server::framing::FrameError>(())
    /// ```
    pub fn decode_each(
        &mut self,
        buf: &mut BytesMut,
        mut each: impl FnMut(&[u8]),
    ) -> Result<usize, FrameError> {
        if let Some(f) = self.failed {
            return Err(self.error(f));
        }
        let d = self.scanner.len;
        let (mut start, mut frames) = (0, 0);
        let result = loop {
            match self.scanner.search(&buf[start..]) {
                Scan::Found(pos) => {
                    each(&buf[start..start + pos]);
                    start += pos + d;
                    frames += 1;
                }
                Scan::Pending => break Ok(frames),
                Scan::TooLong => {
                    break Err(Failure::TooLarge {
                        at: self.offset + start as u64,
                    })
                }
            }
        };
        buf.advance(start);
        self.offset += start as u64;
        result.map_err(|f| self.fail(f))
    }

    /// Bytes examined by the delimiter search so far: a measure of the decoder's work.
    #[doc(hidden)]
    pub fn bytes_scanned(&self) -> u64 {
        self.scanner.scanned
    }

    fn fail(&mut self, f: Failure) -> FrameError {
        self.failed = Some(f);
        self.error(f)
    }

    fn error(&self, f: Failure) -> FrameError {
        match f {
            Failure::TooLarge { at } => FrameError::TooLarge {
                limit: self.max_len(),
                at,
            },
            Failure::UnexpectedEof { at } => FrameError::UnexpectedEof { at },
        }
    }
}

impl Default for Delimited {
    /// [`Delimited::lines`].
    fn default() -> Self {
        Self::lines()
    }
}

impl Decoder for Delimited {
    type Item = BytesMut;

    #[inline]
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        if let Some(f) = self.failed {
            return Err(self.error(f));
        }
        match self.scanner.search(buf) {
            Scan::Found(pos) => {
                let taken = pos + self.scanner.len;
                let mut frame = buf.split_to(taken);
                frame.truncate(pos);
                self.offset += taken as u64;
                Ok(Some(frame))
            }
            Scan::Pending => Ok(None),
            Scan::TooLong => Err(self.fail(Failure::TooLarge { at: self.offset })),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        match self.decode(buf)? {
            Some(frame) => Ok(Some(frame)),
            None if buf.is_empty() => Ok(None),
            None => Err(self.fail(Failure::UnexpectedEof { at: self.offset })),
        }
    }
}

/// A delimiter, searched the cheapest way for its length (no searcher state for 1 or 2
/// bytes, which keeps line decoders small).
#[derive(Debug, Clone)]
enum Needle {
    One([u8; 1]),
    Two([u8; 2]),
    Many(Box<Finder<'static>>),
}

impl Needle {
    fn bytes(&self) -> &[u8] {
        match self {
            Needle::One(b) => b,
            Needle::Two(b) => b,
            Needle::Many(f) => f.needle(),
        }
    }

    /// Where the first whole delimiter in `hay` starts.
    #[inline]
    fn find(&self, hay: &[u8]) -> Option<usize> {
        match self {
            Needle::One([b]) => memchr::memchr(*b, hay),
            // Each byte is looked at once: find the second byte, check the one before it.
            // (`i` indexes `hay[1..]`, so the byte before the match is `hay[i]`.)
            Needle::Two([a, b]) => memchr::memchr_iter(*b, hay.get(1..)?).find(|&i| hay[i] == *a),
            Needle::Many(f) => f.find(hay),
        }
    }
}

/// Finds where frames end in a growing buffer, resuming where the last search stopped, and
/// tells when a frame has provably outgrown the limit.
#[derive(Debug, Clone)]
pub(crate) struct Scanner {
    needle: Needle,
    /// The delimiter's length, at hand for the hot path.
    len: usize,
    max_len: usize,
    /// No delimiter starts before this index of the buffer (reset when one is found).
    searched: usize,
    scanned: u64,
}

/// What [`Scanner::search`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The frame is `buf[..pos]`; the delimiter follows it.
    Found(usize),
    /// No delimiter yet, and the frame may still fit.
    Pending,
    /// The frame is longer than the limit.
    TooLong,
}

impl Scanner {
    /// Panics if `delimiter` is empty.
    pub(crate) fn new(delimiter: &[u8], max_len: usize) -> Self {
        let needle = match *delimiter {
            [] => panic!("Delimited: the delimiter must not be empty"),
            [a] => Needle::One([a]),
            [a, b] => Needle::Two([a, b]),
            _ => Needle::Many(Box::new(Finder::new(delimiter).into_owned())),
        };
        Scanner {
            needle,
            len: delimiter.len(),
            max_len,
            searched: 0,
            scanned: 0,
        }
    }

    /// Bytes examined so far.
    pub(crate) fn scanned(&self) -> u64 {
        self.scanned
    }

    /// Looks for the next delimiter in `buf` without consuming anything, resuming where the
    /// previous search stopped. After [`Scan::Found`] the caller must consume the frame and
    /// its delimiter before searching again.
    #[inline]
    pub(crate) fn search(&mut self, buf: &[u8]) -> Scan {
        let d = self.len;
        // Looking further than this cannot find a frame that fits.
        let end = buf.len().min(self.max_len.saturating_add(d));
        let from = self.searched.min(end);
        match self.needle.find(&buf[from..end]) {
            Some(i) => {
                self.scanned += (i + d) as u64;
                self.searched = 0;
                Scan::Found(from + i)
            }
            None => {
                self.scanned += (end - from) as u64;
                // A delimiter can still start only where the buffer's tail is a prefix of it.
                let needle = self.needle.bytes();
                let next = (end.saturating_sub(d - 1).max(from)..end)
                    .find(|&p| needle.starts_with(&buf[p..end]))
                    .unwrap_or(end);
                if next > self.max_len {
                    return Scan::TooLong;
                }
                self.searched = next;
                Scan::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(d: &mut Delimited, buf: &mut BytesMut) -> Vec<BytesMut> {
        std::iter::from_fn(|| d.decode(buf).unwrap()).collect()
    }

    #[test]
    fn splits_lines_and_keeps_the_rest() {
        let mut d = Delimited::crlf();
        let mut buf = BytesMut::from(&b"a\r\n\r\nbc\r"[..]);
        assert_eq!(all(&mut d, &mut buf), [&b"a"[..], b""]);
        assert_eq!(&buf[..], b"bc\r");
        buf.extend_from_slice(b"\n");
        assert_eq!(all(&mut d, &mut buf), [&b"bc"[..]]);
        assert!(buf.is_empty());
    }

    #[test]
    fn overlapping_delimiter_prefixes() {
        let mut d = Delimited::new(b"aab", 16);
        let mut buf = BytesMut::new();
        for &b in b"xaaab" {
            buf.put_u8(b);
            if let Some(f) = d.decode(&mut buf).unwrap() {
                assert_eq!(&f[..], b"xa");
            }
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn two_byte_delimiters() {
        for (delim, input, want) in [
            (&b"\r\n"[..], &b"\n\r\r\n\r"[..], &[&b"\n\r"[..]][..]),
            (b"\n\n", b"a\n\n\nb\n\n", &[b"a", b"\nb"]),
            (b"ab", b"bbaab", &[b"bba"]),
        ] {
            let mut d = Delimited::new(delim, 16);
            let mut buf = BytesMut::from(input);
            assert_eq!(all(&mut d, &mut buf), want, "{}", input.escape_ascii());
        }
    }

    #[test]
    fn too_long_before_the_delimiter_arrives() {
        let mut d = Delimited::new(b"\r\n", 3);
        let mut buf = BytesMut::from(&b"ab\r\nabc"[..]);
        assert_eq!(&d.decode(&mut buf).unwrap().unwrap()[..], b"ab");
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.put_u8(b'\r'); // "abc\r\n" would still fit
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.put_u8(b'x');
        let e = FrameError::TooLarge { limit: 3, at: 4 };
        assert_eq!(d.decode(&mut buf), Err(e.clone()));
        assert_eq!(d.decode_eof(&mut buf), Err(e));
    }

    #[test]
    fn eof_inside_a_frame() {
        let mut d = Delimited::lines();
        let mut buf = BytesMut::from(&b"a\nb"[..]);
        assert_eq!(&d.decode_eof(&mut buf).unwrap().unwrap()[..], b"a");
        let e = FrameError::UnexpectedEof { at: 2 };
        assert_eq!(d.decode_eof(&mut buf), Err(e.clone()));
        assert_eq!(d.decode(&mut buf), Err(e));
        let mut empty = BytesMut::new();
        assert_eq!(Delimited::lines().decode_eof(&mut empty), Ok(None));
    }

    #[test]
    fn encode_rejects_the_delimiter_inside() {
        let d = Delimited::new(b"abab", 8);
        let mut dst = BytesMut::new();
        d.encode(b"xyz", &mut dst).unwrap();
        assert_eq!(&dst[..], b"xyzabab");
        let err = d.encode(b"xab", &mut dst).unwrap_err();
        assert!(matches!(err, FrameError::Malformed { at: 1, .. }), "{err}");
        assert_eq!(&dst[..], b"xyzabab");
        assert!(matches!(
            d.encode(b"123456789", &mut dst),
            Err(FrameError::TooLarge { limit: 8, .. })
        ));
    }

    #[test]
    #[should_panic(expected = "must not be empty")]
    fn empty_delimiter_panics() {
        Delimited::new(b"", 1);
    }
}
