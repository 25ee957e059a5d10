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
/// it, and the buffer keeps only the bytes after it.
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
    finder: Finder<'static>,
    /// The delimiter's length and first byte, kept at hand for the hot path.
    delim_len: usize,
    first: u8,
    max_len: usize,
    /// No delimiter starts before this index of the buffer (reset when a frame is taken).
    searched: usize,
    /// Stream offset of the buffer's first byte.
    offset: u64,
    failed: Option<FrameError>,
    scanned: u64,
}

/// Where the next delimiter is; see [`Delimited::search`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Search {
    /// The frame is `buf[..pos]`; the delimiter follows it.
    Found(usize),
    /// No delimiter yet, and the frame may still fit.
    Pending,
    /// The frame is longer than the limit.
    TooLong,
}

impl Delimited {
    /// Frames ending with `delimiter`, at most `max_len` bytes each (delimiter excluded).
    ///
    /// # Panics
    /// If `delimiter` is empty: that is a programming error, not a runtime condition.
    pub fn new(delimiter: &[u8], max_len: usize) -> Self {
        assert!(
            !delimiter.is_empty(),
            "Delimited: the delimiter must not be empty"
        );
        Delimited {
            finder: Finder::new(delimiter).into_owned(),
            delim_len: delimiter.len(),
            first: delimiter[0],
            max_len,
            searched: 0,
            offset: 0,
            failed: None,
            scanned: 0,
        }
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
        self.finder.needle()
    }

    /// The longest frame accepted, delimiter excluded.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Writes `frame` followed by the delimiter to `dst`.
    ///
    /// Fails with [`FrameError::TooLarge`] if `frame` is longer than the limit, and with
    /// [`FrameError::Malformed`] if the delimiter would occur before the frame's end (also
    /// where the frame's tail and the delimiter overlap); `at` is then the offset in `frame`.
    /// On error `dst` is left as it was.
    pub fn encode(&self, frame: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        if frame.len() > self.max_len {
            return Err(FrameError::TooLarge {
                limit: self.max_len,
                at: 0,
            });
        }
        let start = dst.len();
        dst.reserve(frame.len() + self.delim_len);
        dst.put_slice(frame);
        dst.put_slice(self.finder.needle());
        match self.finder.find(&dst[start..]) {
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
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let (mut start, mut frames) = (0, 0);
        let result = loop {
            match self.search(&buf[start..]) {
                Search::Found(pos) => {
                    each(&buf[start..start + pos]);
                    start += pos + self.delim_len;
                    frames += 1;
                }
                Search::Pending => break Ok(frames),
                Search::TooLong => {
                    break Err(FrameError::TooLarge {
                        limit: self.max_len,
                        at: self.offset + start as u64,
                    })
                }
            }
        };
        buf.advance(start);
        self.offset += start as u64;
        result.map_err(|e| self.fail(e))
    }

    /// Bytes examined by the delimiter search so far: a measure of the decoder's work.
    #[doc(hidden)]
    pub fn bytes_scanned(&self) -> u64 {
        self.scanned
    }

    /// Looks for the next delimiter in `buf` without consuming anything, resuming where the
    /// previous search stopped. After [`Search::Found`] the caller must consume the frame
    /// and its delimiter before searching again.
    #[inline]
    pub(crate) fn search(&mut self, buf: &[u8]) -> Search {
        let d = self.delim_len;
        // Looking further than this cannot find a frame that fits.
        let end = buf.len().min(self.max_len.saturating_add(d));
        let from = self.searched.min(end);
        let hay = &buf[from..end];
        self.scanned += hay.len() as u64;
        let hit = if d == 1 {
            memchr::memchr(self.first, hay)
        } else {
            self.finder.find(hay)
        };
        match hit {
            Some(i) => {
                self.searched = 0;
                Search::Found(from + i)
            }
            None => {
                // A delimiter can still start only where the buffer's tail is a prefix of it.
                let tail = end.saturating_sub(d - 1).max(from);
                self.scanned += (end - tail) as u64;
                let needle = self.finder.needle();
                let next = (tail..end)
                    .find(|&p| needle.starts_with(&buf[p..end]))
                    .unwrap_or(end);
                if next > self.max_len {
                    return Search::TooLong;
                }
                self.searched = next;
                Search::Pending
            }
        }
    }

    fn fail(&mut self, e: FrameError) -> FrameError {
        self.failed = Some(e.clone());
        e
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
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.search(buf) {
            Search::Found(pos) => {
                let mut frame = buf.split_to(pos + self.delim_len);
                frame.truncate(pos);
                self.offset += (pos + self.delim_len) as u64;
                Ok(Some(frame))
            }
            Search::Pending => Ok(None),
            Search::TooLong => Err(self.fail(FrameError::TooLarge {
                limit: self.max_len,
                at: self.offset,
            })),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        match self.decode(buf)? {
            Some(frame) => Ok(Some(frame)),
            None if buf.is_empty() => Ok(None),
            None => Err(self.fail(FrameError::UnexpectedEof { at: self.offset })),
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
