//! How many complete requests a connection's bytes hold, counted apart from the server's
//! decoders: the most times the server may call its service for that connection.
//!
//! The count reads the framing as a client lays requests out, and leans high where the
//! server may refuse: a request over a limit, or a line of spaces, still counts. So a
//! connection whose service calls outnumber it ran a request nobody sent whole: a truncated
//! one at the end of the stream, one twice, or one made of garbage. The requests every
//! framing skips without a reply — an empty line, an empty RESP array (`*0`, `*-1`) or
//! inline line, a length frame of no bytes — are not requests: their bytes are counted
//! apart ([`FrameCount::skipped`]), and a server that runs one is caught.

use framesim_server::framing::Endian;
use framesim_server::protocol::Framing;

/// Counts complete requests in a byte stream fed in pieces of any size.
#[derive(Debug, Clone)]
pub struct FrameCount {
    state: State,
    /// Complete requests seen so far.
    complete: u64,
    /// Bytes of the empty requests seen so far, which get no reply.
    skipped: u64,
    /// The RESP header line read so far (kept between headers: no allocation per line).
    line: Vec<u8>,
}

#[derive(Debug, Clone)]
enum State {
    /// Lines ending in `delimiter`; `matched` of its bytes are the last ones read, and
    /// `fallback[i]` is how many still match when byte `i` of it does not (a KMP table).
    Line {
        delimiter: Vec<u8>,
        fallback: Vec<usize>,
        matched: usize,
        /// Bytes since the last delimiter.
        len: usize,
    },
    /// Length-prefixed frames: `header` bytes of the next one read so far, or `body` bytes
    /// of the current one still to come.
    Length {
        header_len: usize,
        endian: Endian,
        header: Vec<u8>,
        body: u64,
    },
    Resp(Resp),
    /// The bytes no longer parse as requests: nothing after this point is one.
    Broken,
}

#[derive(Debug, Clone)]
enum Resp {
    /// Between requests.
    Start,
    /// Inside an inline request: it ends at the next `\n`; `blank` while its bytes so far
    /// are none or one `\r`.
    Inline { len: usize, blank: bool },
    /// Reading a header line (`*N` or `$N`) up to its `\n`; `args` left after it.
    Header { array: bool, args: u64 },
    /// Skipping `left` bytes of an argument and its `\r\n`; then `args` more.
    Bulk { left: u64, args: u64 },
}

/// Header lines are short; a longer one is not a request.
const MAX_HEADER: usize = 32;

impl FrameCount {
    /// A counter for requests in `framing`.
    pub fn new(framing: &Framing) -> Self {
        let state = match framing {
            Framing::Line { delimiter } if !delimiter.is_empty() => State::Line {
                fallback: fallback(delimiter),
                delimiter: delimiter.clone(),
                matched: 0,
                len: 0,
            },
            Framing::Line { .. } => State::Broken,
            Framing::Length { header_len, endian } => State::Length {
                header_len: *header_len,
                endian: *endian,
                header: Vec::with_capacity(*header_len),
                body: 0,
            },
            Framing::Resp => State::Resp(Resp::Start),
        };
        FrameCount {
            state,
            complete: 0,
            skipped: 0,
            line: Vec::new(),
        }
    }

    /// Complete requests in the bytes fed so far.
    pub fn complete(&self) -> u64 {
        self.complete
    }

    /// Bytes of the empty requests fed so far: read, and rightly never answered.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Whether the bytes fed so far end where a request ends (or none came): no request is
    /// in progress. False once the stream stopped parsing.
    pub fn at_boundary(&self) -> bool {
        match &self.state {
            State::Line { len, .. } => *len == 0,
            State::Length { header, body, .. } => header.is_empty() && *body == 0,
            State::Resp(resp) => matches!(resp, Resp::Start),
            State::Broken => false,
        }
    }

    /// Feeds the next bytes of the stream.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let used = match &mut self.state {
                State::Broken => return,
                State::Line {
                    delimiter,
                    fallback,
                    matched,
                    len,
                } => {
                    for &b in bytes {
                        *len += 1;
                        while *matched > 0 && delimiter[*matched] != b {
                            *matched = fallback[*matched - 1];
                        }
                        if delimiter[*matched] == b {
                            *matched += 1;
                        }
                        if *matched == delimiter.len() {
                            if *len == delimiter.len() {
                                self.skipped += *len as u64;
                            } else {
                                self.complete += 1;
                            }
                            *matched = 0;
                            *len = 0;
                        }
                    }
                    bytes.len()
                }
                State::Length {
                    header_len,
                    endian,
                    header,
                    body,
                } => {
                    if *body > 0 {
                        let n = (*body).min(bytes.len() as u64);
                        *body -= n;
                        if *body == 0 {
                            self.complete += 1;
                        }
                        n as usize
                    } else {
                        let n = (*header_len - header.len()).min(bytes.len());
                        header.extend_from_slice(&bytes[..n]);
                        if header.len() == *header_len {
                            *body = length(header, *endian);
                            header.clear();
                            if *body == 0 {
                                self.skipped += *header_len as u64;
                            }
                        }
                        n
                    }
                }
                State::Resp(resp) => match step(
                    resp,
                    bytes,
                    &mut self.line,
                    &mut self.complete,
                    &mut self.skipped,
                ) {
                    Some(used) => used,
                    None => {
                        self.state = State::Broken;
                        return;
                    }
                },
            };
            bytes = &bytes[used..];
        }
    }
}

/// One step of RESP: how many of `bytes` it used, or `None` once they are not requests.
fn step(
    resp: &mut Resp,
    bytes: &[u8],
    line: &mut Vec<u8>,
    complete: &mut u64,
    skipped: &mut u64,
) -> Option<usize> {
    match resp {
        Resp::Start => {
            *resp = if bytes[0] == b'*' {
                Resp::Header {
                    array: true,
                    args: 0,
                }
            } else {
                Resp::Inline {
                    len: 0,
                    blank: true,
                }
            };
            Some(0)
        }
        Resp::Inline { len, blank } => {
            let (take, done) = match bytes.iter().position(|&b| b == b'\n') {
                Some(end) => (end + 1, true),
                None => (bytes.len(), false),
            };
            let content = &bytes[..take - usize::from(done)];
            *blank &= *len + content.len() <= 1 && content.iter().all(|&b| b == b'\r');
            *len += take;
            if done {
                if *blank {
                    *skipped += *len as u64;
                } else {
                    *complete += 1;
                }
                *resp = Resp::Start;
            }
            Some(take)
        }
        Resp::Header { array, args } => {
            let (take, done) = match bytes.iter().position(|&b| b == b'\n') {
                Some(end) => (end + 1, true),
                None => (bytes.len(), false),
            };
            line.extend_from_slice(&bytes[..take]);
            if line.len() > MAX_HEADER + 3 {
                return None;
            }
            if !done {
                return Some(take);
            }
            let whole = std::mem::take(line);
            let text = whole.strip_suffix(b"\n")?;
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            let (kind, digits) = text.split_first()?;
            let n: i64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
            let next = match (*array, kind) {
                (true, b'*') if n <= 0 => {
                    *skipped += whole.len() as u64;
                    Resp::Start
                }
                (true, b'*') => Resp::Header {
                    array: false,
                    args: n as u64,
                },
                (false, b'$') if n >= 0 => Resp::Bulk {
                    left: n as u64 + 2,
                    args: *args - 1,
                },
                _ => return None,
            };
            *line = whole;
            line.clear();
            *resp = next;
            Some(take)
        }
        Resp::Bulk { left, args } => {
            let n = (*left).min(bytes.len() as u64);
            *left -= n;
            if *left == 0 {
                *resp = if *args == 0 {
                    *complete += 1;
                    Resp::Start
                } else {
                    Resp::Header {
                        array: false,
                        args: *args,
                    }
                };
            }
            Some(n as usize)
        }
    }
}

/// The frame length a header says.
fn length(header: &[u8], endian: Endian) -> u64 {
    let fold = |n: u64, &b: &u8| (n << 8) | u64::from(b);
    match endian {
        Endian::Big => header.iter().fold(0, fold),
        Endian::Little => header.iter().rev().fold(0, fold),
    }
}

/// KMP's failure table for `pattern`: entry `i` is the length of the longest proper prefix
/// of `pattern[..=i]` that is also its suffix.
fn fallback(pattern: &[u8]) -> Vec<usize> {
    let mut table = vec![0; pattern.len()];
    let mut k = 0;
    for i in 1..pattern.len() {
        while k > 0 && pattern[i] != pattern[k] {
            k = table[k - 1];
        }
        if pattern[i] == pattern[k] {
            k += 1;
        }
        table[i] = k;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts `bytes` fed whole, then one byte at a time: the same either way.
    fn count(framing: &Framing, bytes: &[u8]) -> u64 {
        let mut whole = FrameCount::new(framing);
        whole.feed(bytes);
        let mut bytewise = FrameCount::new(framing);
        for b in bytes {
            bytewise.feed(std::slice::from_ref(b));
        }
        assert_eq!(whole.complete(), bytewise.complete(), "{framing}");
        assert_eq!(whole.skipped(), bytewise.skipped(), "{framing}");
        whole.complete()
    }

    /// Bytes of empty requests in `bytes`.
    fn skipped(framing: &Framing, bytes: &[u8]) -> u64 {
        let mut c = FrameCount::new(framing);
        c.feed(bytes);
        c.skipped()
    }

    #[test]
    fn resp_counts_arrays_and_inline_requests_not_a_truncated_one() {
        let two = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n";
        assert_eq!(count(&Framing::Resp, two), 2);
        assert_eq!(count(&Framing::Resp, &two[..two.len() - 1]), 1);
        assert_eq!(count(&Framing::Resp, &two[..19]), 0);
        // A bulk holding "\r\n" and "*" is data, not framing.
        assert_eq!(count(&Framing::Resp, b"*1\r\n$4\r\n*\r\n\n\r\n"), 1);
        // Empty arrays are no request; garbage ends the count.
        assert_eq!(count(&Framing::Resp, b"*0\r\n*-1\r\n"), 0);
        assert_eq!(skipped(&Framing::Resp, b"*0\r\n*-1\r\n"), 9);
        // Blank inline lines too; a line of spaces counts (the server may refuse it).
        assert_eq!(count(&Framing::Resp, b"\r\n\nPING\n \r\n"), 2);
        assert_eq!(skipped(&Framing::Resp, b"\r\n\nPING\n \r\n"), 3);
        assert_eq!(count(&Framing::Resp, b"*1\r\n$x\r\nPING\r\n"), 0);
        assert_eq!(count(&Framing::Resp, b"*1\r\n+4\r\nPING\r\n"), 0);
    }

    #[test]
    fn lines_count_every_delimiter_even_split_or_overlapping() {
        assert_eq!(count(&Framing::line(), b"a\nb\n\nc"), 2);
        assert_eq!(skipped(&Framing::line(), b"a\nb\n\nc"), 1);
        let crlf = Framing::Line {
            delimiter: b"\r\n".to_vec(),
        };
        assert_eq!(count(&crlf, b"a\r\r\nb\n\r\n"), 2);
        assert_eq!(count(&crlf, b"\r\n\r\nx\r\n"), 1);
        assert_eq!(skipped(&crlf, b"\r\n\r\nx\r\n"), 4);
        let odd = Framing::Line {
            delimiter: b"aab".to_vec(),
        };
        assert_eq!(count(&odd, b"xaaab aab aa"), 2);
    }

    #[test]
    fn a_boundary_is_where_a_request_ends() {
        for (framing, whole, part) in [
            (
                Framing::Resp,
                &b"*1\r\n$4\r\nPING\r\n"[..],
                &b"*1\r\n$4\r"[..],
            ),
            (Framing::line(), b"GET k\n", b"GET"),
            (Framing::length(), &[0, 0, 0, 1, b'x'], &[0, 0]),
        ] {
            let mut c = FrameCount::new(&framing);
            assert!(c.at_boundary(), "{framing}");
            c.feed(part);
            assert!(!c.at_boundary(), "{framing}");
            let mut c = FrameCount::new(&framing);
            c.feed(whole);
            assert!(c.at_boundary(), "{framing}");
        }
    }

    #[test]
    fn length_prefixed_frames_count_when_their_last_byte_comes() {
        let big = Framing::length();
        let mut bytes = vec![0, 0, 0, 3, b'a', b'b', b'c', 0, 0, 0, 0];
        assert_eq!(count(&big, &bytes), 1);
        assert_eq!(skipped(&big, &bytes), 4);
        bytes.extend([0, 0, 0, 2, b'x']);
        assert_eq!(count(&big, &bytes), 1);
        let little = Framing::Length {
            header_len: 2,
            endian: Endian::Little,
        };
        assert_eq!(count(&little, &[1, 0, b'z', 0, 1]), 1);
    }
}
