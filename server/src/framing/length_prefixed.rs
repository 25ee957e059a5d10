use std::fmt;

use bytes::{Buf, BufMut, BytesMut};

use super::{Decoder, FrameError, DEFAULT_MAX_FRAME};

/// Byte order of a length header.
///
/// # Example
/// ```
/// use framesim_server::framing::{Endian, LengthPrefixed};
///
/// let codec = LengthPrefixed::new().with_endian(Endian::Little);
/// assert_eq!(codec.endian(), Endian::Little);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Endian {
    /// Most significant byte first (network order).
    #[default]
    Big,
    /// Least significant byte first.
    Little,
}

/// A [`LengthPrefixed`] setting that cannot work.
///
/// # Example
/// ```
/// use framesim_server::framing::{ConfigError, LengthPrefixed};
///
/// let err = LengthPrefixed::new().with_header_len(3).unwrap_err();
/// assert_eq!(err, ConfigError::HeaderLen(3));
/// assert_eq!(err.to_string(), "a length header is 1, 2, 4 or 8 bytes, not 3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The header length is not 1, 2, 4 or 8 bytes.
    HeaderLen(usize),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::HeaderLen(n) => {
                write!(f, "a length header is 1, 2, 4 or 8 bytes, not {n}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Frames that start with a binary length header: `[len][payload]`.
///
/// The payload length is the header's value plus [`adjustment`](Self::adjustment)
/// (as in tokio-util's `LengthDelimitedCodec`). It is checked against the limit as soon as
/// the header is complete, before anything is reserved; then the buffer reserves room for
/// the whole payload once. Payloads are split off the buffer and carry their memory with
/// them. The settings have accessors so that another layer can encode with the same ones.
///
/// # Example
/// ```
/// use bytes::BytesMut;
/// use framesim_server::framing::{Decoder, Endian, LengthPrefixed};
///
/// let mut codec = LengthPrefixed::new().with_header_len(2)?.with_endian(Endian::Little);
/// let mut buf = BytesMut::new();
/// codec.encode(b"hello", &mut buf)?;
/// assert_eq!(&buf[..], b"\x05\x00hello");
/// assert_eq!(codec.decode(&mut buf)?.unwrap(), &b"hello"[..]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LengthPrefixed {
    header_len: usize,
    endian: Endian,
    adjustment: i64,
    max_frame_len: usize,
    /// Payload length of the frame whose header has been consumed.
    pending: Option<usize>,
    /// Stream offset of the buffer's first byte.
    offset: u64,
    failed: Option<FrameError>,
}

impl Default for LengthPrefixed {
    fn default() -> Self {
        Self::new()
    }
}

impl LengthPrefixed {
    /// A 4-byte big-endian header, no adjustment, payloads up to [`DEFAULT_MAX_FRAME`].
    pub fn new() -> Self {
        LengthPrefixed {
            header_len: 4,
            endian: Endian::Big,
            adjustment: 0,
            max_frame_len: DEFAULT_MAX_FRAME,
            pending: None,
            offset: 0,
            failed: None,
        }
    }

    /// A fresh decoder taking over a stream between frames: its first byte is at `offset`.
    pub(crate) fn resume_at(&mut self, offset: u64) {
        self.offset = offset;
    }

    /// Sets the header length in bytes: 1, 2, 4 or 8.
    pub fn with_header_len(mut self, n: usize) -> Result<Self, ConfigError> {
        if !matches!(n, 1 | 2 | 4 | 8) {
            return Err(ConfigError::HeaderLen(n));
        }
        self.header_len = n;
        Ok(self)
    }

    /// Sets the header's byte order.
    pub fn with_endian(mut self, endian: Endian) -> Self {
        self.endian = endian;
        self
    }

    /// Sets what is added to the header's value to get the payload length, e.g. `-4` when
    /// a 4-byte header counts itself.
    pub fn with_adjustment(mut self, adjustment: i64) -> Self {
        self.adjustment = adjustment;
        self
    }

    /// Sets the longest payload accepted, in bytes.
    pub fn with_max_frame_len(mut self, max: usize) -> Self {
        self.max_frame_len = max;
        self
    }

    /// The header length in bytes.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The header's byte order.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// What is added to the header's value to get the payload length.
    pub fn adjustment(&self) -> i64 {
        self.adjustment
    }

    /// The longest payload accepted, in bytes.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// Writes the header and `payload` to `dst`.
    ///
    /// Fails with [`FrameError::TooLarge`] if the payload is over the limit, and with
    /// [`FrameError::Malformed`] if its header value (length minus adjustment) is negative
    /// or does not fit the header. On error `dst` is left as it was.
    pub fn encode(&self, payload: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        if payload.len() > self.max_frame_len {
            return Err(FrameError::TooLarge {
                limit: self.max_frame_len,
                at: 0,
            });
        }
        let value = payload.len() as i128 - i128::from(self.adjustment);
        let bits = 8 * self.header_len as u32;
        if value < 0 || value >> bits != 0 {
            return Err(FrameError::Malformed {
                what: format!(
                    "header value {value} does not fit a {}-byte length header",
                    self.header_len
                ),
                at: 0,
            });
        }
        dst.reserve(self.header_len + payload.len());
        let h = self.header_len;
        match self.endian {
            Endian::Big => dst.put_slice(&(value as u64).to_be_bytes()[8 - h..]),
            Endian::Little => dst.put_slice(&(value as u64).to_le_bytes()[..h]),
        }
        dst.put_slice(payload);
        Ok(())
    }

    /// Lends the payload of every complete frame in `buf` to `each`, in order, and advances
    /// the buffer once: no per-frame split or refcount. Returns how many frames it lent.
    /// Same frames and the same error as [`Decoder::decode`], which it may be mixed with.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use framesim_server::framing::LengthPrefixed;
    ///
    /// let mut codec = LengthPrefixed::new();
    /// let mut buf = BytesMut::new();
    /// codec.encode(b"one", &mut buf)?;
    /// codec.encode(b"two", &mut buf)?;
    /// buf.extend_from_slice(b"\x00\x00");
    /// let mut seen = Vec::new();
    /// assert_eq!(codec.decode_each(&mut buf, |p| seen.push(p.to_vec()))?, 2);
    /// assert_eq!(seen, [b"one".to_vec(), b"two".to_vec()]);
    /// assert_eq!(&buf[..], b"\x00\x00");
    /// # Ok::<(), framesim_server::framing::FrameError>(())
    /// ```
    pub fn decode_each(
        &mut self,
        buf: &mut BytesMut,
        mut each: impl FnMut(&[u8]),
    ) -> Result<usize, FrameError> {
        let mut frames = 0;
        // A frame whose header `decode` already took is finished the owned way.
        if self.pending.is_some() || self.failed.is_some() {
            match self.decode(buf)? {
                Some(payload) => {
                    each(&payload);
                    frames += 1;
                }
                None => return Ok(0),
            }
        }
        let h = self.header_len;
        let mut start = 0;
        let result = loop {
            let Some(header) = buf.get(start..start + h) else {
                break Ok(());
            };
            let len = match self.payload_len(header, self.offset + start as u64) {
                Ok(len) => len,
                Err(e) => break Err(e),
            };
            let Some(payload) = buf.get(start + h..start + h + len) else {
                break Ok(());
            };
            each(payload);
            frames += 1;
            start += h + len;
        };
        buf.advance(start);
        self.offset += start as u64;
        result.map_err(|e| self.fail(e))?;
        Ok(frames)
    }

    /// The payload length announced by a complete header at stream offset `at`.
    fn payload_len(&self, header: &[u8], at: u64) -> Result<usize, FrameError> {
        let fold = |v: u64, &b: &u8| (v << 8) | u64::from(b);
        let value = match self.endian {
            Endian::Big => header.iter().fold(0, fold),
            Endian::Little => header.iter().rev().fold(0, fold),
        };
        let len = i128::from(value) + i128::from(self.adjustment);
        if len < 0 {
            return Err(FrameError::Malformed {
                what: format!("negative frame length {len}"),
                at,
            });
        }
        if len > self.max_frame_len as i128 {
            return Err(FrameError::TooLarge {
                limit: self.max_frame_len,
                at,
            });
        }
        Ok(len as usize)
    }

    fn fail(&mut self, e: FrameError) -> FrameError {
        self.failed = Some(e.clone());
        e
    }
}

impl Decoder for LengthPrefixed {
    type Item = BytesMut;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let len = match self.pending {
            Some(len) => len,
            None => {
                if buf.len() < self.header_len {
                    return Ok(None);
                }
                let len = match self.payload_len(&buf[..self.header_len], self.offset) {
                    Ok(len) => len,
                    Err(e) => return Err(self.fail(e)),
                };
                buf.advance(self.header_len);
                self.offset += self.header_len as u64;
                self.pending = Some(len);
                buf.reserve(len.saturating_sub(buf.len()));
                len
            }
        };
        if buf.len() < len {
            return Ok(None);
        }
        self.pending = None;
        self.offset += len as u64;
        Ok(Some(buf.split_to(len)))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        let at = match self.pending {
            Some(_) => self.offset - self.header_len as u64,
            None if buf.is_empty() => return Ok(None),
            None => self.offset,
        };
        Err(self.fail(FrameError::UnexpectedEof { at }))
    }

    /// True once a header has been taken off the buffer and its payload is awaited.
    fn in_frame(&self) -> bool {
        self.pending.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames and the final error, fed in `cuts`, through `decode` or `decode_each`.
    fn feed(input: &[u8], cuts: &[usize], each: bool) -> (Vec<Vec<u8>>, Option<FrameError>) {
        let mut codec = LengthPrefixed::new()
            .with_header_len(2)
            .unwrap()
            .with_max_frame_len(40);
        let (mut buf, mut frames, mut at) = (BytesMut::new(), Vec::new(), 0);
        for &cut in cuts.iter().chain([&input.len()]) {
            buf.extend_from_slice(&input[at..cut.max(at)]);
            at = cut.max(at);
            let got = if each {
                codec
                    .decode_each(&mut buf, |p| frames.push(p.to_vec()))
                    .map(|_| ())
            } else {
                loop {
                    match codec.decode(&mut buf) {
                        Ok(Some(p)) => frames.push(p.to_vec()),
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                }
            };
            if let Err(e) = got {
                return (frames, Some(e));
            }
        }
        (frames, None)
    }

    #[test]
    fn decode_each_lends_the_same_frames_and_errors_as_decode() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for _ in 0..2000 {
            let mut input = Vec::new();
            for _ in 0..rng.random_range(0..6) {
                let len = rng.random_range(0..48u16); // some over the 40-byte limit
                input.extend_from_slice(&len.to_be_bytes());
                input.extend((0..len).map(|_| rng.random::<u8>()));
            }
            input.truncate(rng.random_range(0..=input.len()));
            let mut cuts: Vec<usize> = (0..rng.random_range(0..5))
                .map(|_| rng.random_range(0..=input.len()))
                .collect();
            cuts.sort_unstable();
            assert_eq!(
                feed(&input, &cuts, true),
                feed(&input, &cuts, false),
                "{input:?} {cuts:?}"
            );
        }
    }

    #[test]
    fn header_lengths_and_byte_orders() {
        for n in [1, 2, 4, 8] {
            for endian in [Endian::Big, Endian::Little] {
                let mut c = LengthPrefixed::new()
                    .with_header_len(n)
                    .unwrap()
                    .with_endian(endian);
                let mut buf = BytesMut::new();
                c.encode(b"abc", &mut buf).unwrap();
                c.encode(b"", &mut buf).unwrap();
                assert_eq!(buf.len(), 2 * n + 3);
                assert_eq!(&c.decode(&mut buf).unwrap().unwrap()[..], b"abc");
                assert_eq!(&c.decode(&mut buf).unwrap().unwrap()[..], b"");
                assert_eq!(c.decode_eof(&mut buf), Ok(None));
            }
        }
        assert_eq!(
            LengthPrefixed::new().with_header_len(0).unwrap_err(),
            ConfigError::HeaderLen(0)
        );
    }

    #[test]
    fn adjustment_counts_the_header() {
        let mut c = LengthPrefixed::new().with_adjustment(-4);
        let mut buf = BytesMut::new();
        c.encode(b"xy", &mut buf).unwrap();
        assert_eq!(&buf[..4], &[0, 0, 0, 6]);
        assert_eq!(&c.decode(&mut buf).unwrap().unwrap()[..], b"xy");
        let mut bad = BytesMut::from(&[0u8, 0, 0, 3][..]);
        let e = c.decode(&mut bad).unwrap_err();
        assert!(matches!(e, FrameError::Malformed { at: 6, .. }), "{e}");
        assert!(c.encode(b"", &mut buf).is_ok());
        let small = LengthPrefixed::new().with_adjustment(4);
        assert!(small.encode(b"abc", &mut buf).is_err());
    }

    #[test]
    fn too_large_is_checked_on_the_header() {
        let mut c = LengthPrefixed::new()
            .with_header_len(8)
            .unwrap()
            .with_max_frame_len(10);
        let mut buf = BytesMut::from(&[0xffu8; 8][..]);
        let cap = buf.capacity();
        let e = FrameError::TooLarge { limit: 10, at: 0 };
        assert_eq!(c.decode(&mut buf), Err(e.clone()));
        assert_eq!(buf.capacity(), cap);
        assert_eq!(c.decode_eof(&mut buf), Err(e));
    }

    #[test]
    fn reserves_the_payload_once_the_header_is_known() {
        let mut c = LengthPrefixed::new();
        let mut buf = BytesMut::from(&[0u8, 0, 0x10, 0][..]);
        assert_eq!(c.decode(&mut buf), Ok(None));
        assert!(buf.capacity() >= 4096);
        assert!(c.in_frame());
        assert_eq!(
            c.decode_eof(&mut buf),
            Err(FrameError::UnexpectedEof { at: 0 })
        );
    }
}
