//! What the clients of a harness run ask, and how their replies are told apart and judged.

use super::linear::Spec;
use crate::seeds::Draws;
use crate::transcript::Expected;
use bytes::{Bytes, BytesMut};
use framesim_server::Command;

/// One request's bytes, and where its protocol structure has seams (a header's end, a
/// delimiter, an argument's length): chunked delivery cuts at these offsets and one byte
/// either side of them, besides anywhere at random. A request in framesim's key-value
/// vocabulary also says what it means ([`KvRequest`]).
///
/// ```
/// use framesim::harness::Request;
///
/// let request = Request::new(&b"\x00\x00\x00\x05hello"[..]).with_boundaries([4]);
/// assert_eq!(request.bytes.len(), 9);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Everything the client writes for this request: one frame of the protocol, after
    /// `skipped` bytes of frames the server answers nothing for.
    pub bytes: Bytes,
    /// Offsets inside `bytes` where chunked delivery likes to cut (the frame's end is one
    /// already).
    pub boundaries: Vec<usize>,
    /// The command and the model's expectation, for a request of framesim's key-value
    /// protocol (in any of its framings): the transcript then shows the command and its
    /// expected reply rather than bytes. `None` for any other protocol.
    pub kv: Option<KvRequest>,
    /// Leading bytes of `bytes` that are requests of their own which get no reply (an
    /// empty one): a server that has read only these is still between requests.
    pub skipped: usize,
    /// The server closes the connection once it has answered this request (see
    /// [`Request::closing`]).
    pub closes: bool,
    /// The server sends no reply to this request (see [`Request::no_reply`]).
    pub no_reply: bool,
}

/// A key-value request as framesim's model sees it: what [`KvWorkload`](super::KvWorkload)
/// attaches to each [`Request`] it draws.
#[derive(Debug, Clone, PartialEq)]
pub struct KvRequest {
    /// The command the bytes encode.
    pub command: Command,
    /// What the server must answer.
    pub expect: Expected,
}

impl Request {
    /// A request of `bytes`, with no seams marked inside it.
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        Request {
            bytes: bytes.into(),
            boundaries: Vec::new(),
            kv: None,
            skipped: 0,
            closes: false,
            no_reply: false,
        }
    }

    /// The same request, to which the server sends no reply (a chat line it broadcasts to
    /// the other clients, a message it publishes): a client reads nothing for it. What the
    /// server does with it shows, if anywhere, in frames it pushes
    /// ([`Session::pushed`]).
    ///
    /// ```
    /// use framesim::harness::Request;
    ///
    /// assert!(Request::new(&b"hello, all\n"[..]).no_reply().no_reply);
    /// ```
    pub fn no_reply(mut self) -> Self {
        self.no_reply = true;
        self
    }

    /// The same request, after whose reply the server closes the connection: an HTTP/1.0
    /// request or one with `Connection: close`, every request of a protocol of one request
    /// per connection. A client sends nothing behind it on that connection, judges its
    /// reply, then waits for the close (`[quit]` if none comes within 100 ms, or more
    /// bytes do) and goes on with its session's next request on a new connection.
    ///
    /// ```
    /// use framesim::harness::Request;
    ///
    /// let request = Request::new(&b"GET / HTTP/1.0\r\n\r\n"[..]).closing();
    /// assert!(request.closes);
    /// ```
    pub fn closing(mut self) -> Self {
        self.closes = true;
        self
    }

    /// The same request with seams at `offsets` (out-of-range ones are dropped).
    pub fn with_boundaries(mut self, offsets: impl IntoIterator<Item = usize>) -> Self {
        let len = self.bytes.len();
        self.boundaries
            .extend(offsets.into_iter().filter(|&o| o > 0 && o < len));
        self.boundaries.sort_unstable();
        self.boundaries.dedup();
        self
    }
}

/// One client's side of the protocol: the requests it sends, in order, and what it makes of
/// each reply. Its state is the model of what the server should answer.
///
/// A session lives inside its client's task, which may move between threads: it is `Send`.
pub trait Session: Send {
    /// The next request, or `None` when this client is done. Draw anything random from
    /// `rng` (the client's own seeded stream), never from elsewhere.
    fn next_request(&mut self, rng: &mut Draws) -> Option<Request>;

    /// The exact reply frame the model predicts for `request`, if it predicts one; a reply
    /// that differs is a `[reply]` violation. Called in request order, as each reply
    /// arrives, before [`check_reply`](Self::check_reply).
    fn expect(&mut self, request: &Request) -> Option<Bytes> {
        let _ = request;
        None
    }

    /// A request of more than `size` bytes that the server must refuse, with a reply or a
    /// close, before it has read it all: a line that goes on past the limit, a header
    /// announcing a body larger than it. For an oversized client
    /// ([`Role::Oversized`](super::Role::Oversized)); `None`, the default, when the
    /// protocol has no way to make one, and that client then behaves well.
    fn oversized(&mut self, rng: &mut Draws, size: usize) -> Option<Request> {
        let _ = (rng, size);
        None
    }

    /// A whole request the server cannot take as one (a header that is not one, a length
    /// that is not a number, bytes outside the protocol), for a malformed client
    /// ([`Role::Malformed`](super::Role::Malformed)): the server must answer it with at most
    /// one reply (judged by [`check_error`](Self::check_error)) and then close the
    /// connection, or go on answering the requests that follow it correctly. It goes in one
    /// batch after a few of the session's requests, drawn before it is asked for. `None`,
    /// the default: that client behaves well, those requests first.
    fn malformed(&mut self, rng: &mut Draws) -> Option<Request> {
        let _ = rng;
        None
    }

    /// What the server does once it has answered a [`malformed`](Self::malformed)
    /// request: [`AfterError::Either`], the default, leaves it free; a protocol that says
    /// more declares it, and a malformed client holds the server to it.
    fn after_error(&self) -> AfterError {
        AfterError::Either
    }

    /// Judges the server's answer to a [`malformed`](Self::malformed) request: an `Err` is
    /// a `[protocol-error]` violation. The default takes any answer.
    fn check_error(&mut self, request: &Request, reply: &[u8]) -> Result<(), String> {
        let _ = (request, reply);
        Ok(())
    }

    /// A request of exactly `size` bytes (the declared [`Options::max_request`]) that the
    /// server must accept and answer as the model says, for an at-limit client
    /// ([`Role::AtLimit`](super::Role::AtLimit)), which sends it first and then behaves
    /// well: a limit one byte short is a `[wrongful-close]`. `None`, the default: that
    /// client behaves well.
    ///
    /// [`Options::max_request`]: super::Options::max_request
    fn at_limit(&mut self, rng: &mut Draws, size: usize) -> Option<Request> {
        let _ = (rng, size);
        None
    }

    /// A request whose reply is large (tens of KiB), for a slow reader
    /// ([`Role::SlowReader`](super::Role::SlowReader)), which sends it first and takes its
    /// replies a few hundred bytes at a time: the server's writes must wait for it and
    /// deliver every reply whole. `None`, the default: the slow reader asks only its
    /// session's requests. A store that must be filled first can put a request that fills
    /// it (one that gets no reply, or whose reply is judged as any other) ahead of the one
    /// that reads it back, as separate requests of its session or, for one with no reply,
    /// in the same bytes with [`Request::skipped`] counting it.
    fn large_reply(&mut self, rng: &mut Draws) -> Option<Request> {
        let _ = rng;
        None
    }

    /// A request that asks the server to close the connection (`QUIT`), for a quitting
    /// client ([`Role::Quit`](super::Role::Quit)), which pipelines a batch of its
    /// session's requests and this one (asked for after they are drawn), in half the
    /// seeds with the session's next request behind it: it must get every reply, the
    /// quit's own last (judged like any other), then a close and nothing more (`quit`).
    /// `None`, the default: the quitting client quits with the session's next request
    /// marked [`Request::closing`], if it makes one, or else behaves well.
    fn quit(&mut self, rng: &mut Draws) -> Option<Request> {
        let _ = rng;
        None
    }

    /// Whether the server answers the request to close ([`Session::quit`]) before it
    /// closes: `true`, the default (Redis's `+OK`, SMTP's `221`); `false` for a protocol
    /// whose server closes without a word (memcached's `quit`), whose quitting client then
    /// owes a reply to every request but the quit.
    fn quit_answered(&self) -> bool {
        true
    }

    /// Whether `frame` is one the server sent of its own accord, not a reply (a chat line
    /// from another client, a published message, a notification): `Some` takes it out of
    /// the replies, with the session's check of it (`Err`: a `[reply]` violation); `None`,
    /// the default, makes it the next reply. A client takes such frames wherever it reads;
    /// the start of one left after its last reply is read to its end first. A
    /// never-reader writes the same requests again and again: what they push to others
    /// comes again and again too.
    fn pushed(&mut self, frame: &[u8]) -> Option<Result<(), String>> {
        let _ = frame;
        None
    }

    /// Judges one reply frame (as the [`ReplyFramer`] cut it) to `request`: an `Err` is a
    /// `[reply]` violation with that text.
    fn check_reply(&mut self, request: &Request, reply: &[u8]) -> Result<(), String> {
        let _ = (request, reply);
        Ok(())
    }
}

/// What a server does after it answers a malformed request, as its session declares it
/// ([`Session::after_error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterError {
    /// At most one answer, then a close (within 100 ms) or correct replies to what follows
    /// on the connection kept open; a close with no answer is a refusal too.
    #[default]
    Either,
    /// One error reply, and the server reads on right after it, as a line protocol does
    /// with a command it does not know, or a codec that skips to the next delimiter: a
    /// malformed client pipelines one of the session's requests behind its malformed one,
    /// whose reply must follow the error; a close anywhere is a `[protocol-error]` (but
    /// for the server's restart).
    ReadsOn,
    /// One error reply, then a close within 100 ms, as a protocol whose error ends the
    /// connection: no answer (a close alone, or a reset that took the reply: close only
    /// once the request is read whole) or a connection kept open is a `[protocol-error]`.
    Closes,
}

/// Splits the byte stream a client reads into reply frames.
///
/// Any `FnMut(&mut BytesMut) -> Result<Option<Bytes>, String> + Send` is one: take the next whole
/// frame off the front of the buffer, or leave the buffer be and return `Ok(None)` until
/// more arrives.
pub trait ReplyFramer: Send {
    /// The next complete reply frame, taken off the front of `buf`; `Ok(None)` when more
    /// bytes are needed; `Err` when the bytes cannot be a reply (a `[framing]` violation).
    fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, String>;
}

impl<F> ReplyFramer for F
where
    F: FnMut(&mut BytesMut) -> Result<Option<Bytes>, String> + Send,
{
    fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, String> {
        self(buf)
    }
}

/// Everything the clients of a run do with the protocol: a [`Session`] per client and a
/// [`ReplyFramer`] per connection. Shared by every client of a run.
pub trait Workload: Send + Sync {
    /// Client `client`'s session. Sessions of different clients should not share keys or
    /// other state the server keeps, unless their checks allow for any interleaving.
    fn session(&self, client: usize) -> Box<dyn Session>;

    /// A fresh framer for one connection's replies.
    fn framer(&self) -> Box<dyn ReplyFramer>;

    /// Whether a run records a history of its clients' key-value requests
    /// ([`Request::kv`]: GET, SET, DEL, INCR, EXISTS, MGET, MSET, in RESP) and checks at its
    /// end that it is linearizable (`[linearizable]`): for workloads whose clients share
    /// keys, whose replies no one client's model can predict. `false`, the default.
    fn linearizable(&self) -> bool {
        false
    }

    /// The sequential model a run's history is checked against, with the way this
    /// workload's request and reply bytes become its operations ([`Spec`]): a run records
    /// a history and checks it (`[linearizable]`) when this is `Some`. The default is
    /// framesim's key-value model over RESP ([`Spec::kv`]) when
    /// [`linearizable`](Self::linearizable) says so, else `None`. A workload of another
    /// protocol, or with a model of its own, returns its own; see [`Spec::new`] for a
    /// counter over lines.
    fn model(&self) -> Option<Spec> {
        self.linearizable().then(Spec::kv)
    }
}

/// Replies framed by a big-endian length header of `header_len` bytes (1 to 8) that counts
/// the bytes after it; the frame returned includes its header.
///
/// ```
/// use bytes::BytesMut;
/// use framesim::harness::{length_prefixed, ReplyFramer};
///
/// let mut framer = length_prefixed(2);
/// let mut buf = BytesMut::from(&b"\x00\x02hi\x00"[..]);
/// assert_eq!(framer.next_frame(&mut buf).unwrap().as_deref(), Some(&b"\x00\x02hi"[..]));
/// assert_eq!(framer.next_frame(&mut buf).unwrap(), None);
/// ```
pub fn length_prefixed(header_len: usize) -> impl ReplyFramer {
    let header_len = header_len.clamp(1, 8);
    move |buf: &mut BytesMut| {
        if buf.len() < header_len {
            return Ok(None);
        }
        let len = buf[..header_len]
            .iter()
            .fold(0u64, |n, &b| (n << 8) | u64::from(b));
        let total = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(header_len))
            .ok_or_else(|| format!("reply length {len} does not fit in memory"))?;
        if buf.len() < total {
            return Ok(None);
        }
        Ok(Some(buf.split_to(total).freeze()))
    }
}

/// The replies `decoder` finds, each as the bytes of the item it decodes: any tokio-util
/// [`Decoder`](tokio_util::codec::Decoder) is a framer, the codec your server frames with
/// among them (`LengthDelimitedCodec` with the header its builder describes, `LinesCodec`,
/// `AnyDelimiterCodec`, one of your own). The frame a session judges is the item, so
/// without what the codec strips (a line's newline, a header `num_skip` skips). An error of
/// the decoder is a `[framing]` violation.
///
/// ```
/// use bytes::BytesMut;
/// use framesim::harness::{decoded, ReplyFramer};
/// use tokio_util::codec::LengthDelimitedCodec;
///
/// // A 4-byte length at offset 2 of a 6-byte header, counting the bytes after the header;
/// // the frame keeps its header (nothing skipped, the header's 6 bytes added to the length).
/// let codec = LengthDelimitedCodec::builder()
///     .length_field_offset(2)
///     .length_field_length(4)
///     .length_adjustment(6)
///     .num_skip(0)
///     .new_codec();
/// let mut framer = decoded(codec);
/// let mut buf = BytesMut::from(&b"\x81\x00\x00\x00\x00\x02ok\x81"[..]);
/// let frame = framer.next_frame(&mut buf).unwrap().unwrap();
/// assert_eq!(&frame[..], b"\x81\x00\x00\x00\x00\x02ok");
/// assert_eq!(framer.next_frame(&mut buf).unwrap(), None);
/// ```
pub fn decoded<D>(mut decoder: D) -> impl ReplyFramer
where
    D: tokio_util::codec::Decoder + Send,
    D::Item: AsRef<[u8]>,
    D::Error: std::fmt::Display,
{
    move |buf: &mut BytesMut| match decoder.decode(buf) {
        Ok(Some(item)) => Ok(Some(Bytes::copy_from_slice(item.as_ref()))),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("the decoder refused the reply: {e}")),
    }
}

/// `framer` after the first frame of each connection, which it drops: for a server that
/// greets every client before any request (SMTP's `220`, a banner, a prompt), so that
/// each reply still answers a request. The greeting must come whole before the first
/// reply; a connection that ends before it has no reply at all.
///
/// ```
/// use bytes::BytesMut;
/// use framesim::harness::{delimited, greeted, ReplyFramer};
///
/// let mut framer = greeted(delimited(b"\r\n"));
/// let mut buf = BytesMut::from(&b"220 ready\r\n250 ok\r\n"[..]);
/// assert_eq!(framer.next_frame(&mut buf).unwrap().as_deref(), Some(&b"250 ok\r\n"[..]));
/// assert_eq!(framer.next_frame(&mut buf).unwrap(), None);
/// ```
pub fn greeted(mut framer: impl ReplyFramer) -> impl ReplyFramer {
    let mut greeted = false;
    move |buf: &mut BytesMut| loop {
        let Some(frame) = framer.next_frame(buf)? else {
            return Ok(None);
        };
        if std::mem::replace(&mut greeted, true) {
            return Ok(Some(frame));
        }
    }
}

/// Replies framed by `delimiter` at their end; the frame returned includes it. The framer
/// remembers how far it has searched its connection's buffer, so a long reply read a little
/// at a time costs one pass (give it one buffer, grown at its end, as the harness does).
///
/// ```
/// use bytes::BytesMut;
/// use framesim::harness::{delimited, ReplyFramer};
///
/// let mut framer = delimited(b"\r\n");
/// let mut buf = BytesMut::from(&b"+OK\r\n+PO"[..]);
/// assert_eq!(framer.next_frame(&mut buf).unwrap().as_deref(), Some(&b"+OK\r\n"[..]));
/// assert_eq!(framer.next_frame(&mut buf).unwrap(), None);
/// ```
pub fn delimited(delimiter: &[u8]) -> impl ReplyFramer {
    let finder = memchr::memmem::Finder::new(delimiter).into_owned();
    // Bytes at the front of the buffer already searched: a long reply read a little at a
    // time is searched once, not again at each read.
    let mut searched = 0;
    move |buf: &mut BytesMut| {
        let len = finder.needle().len();
        if len == 0 {
            return Err("an empty delimiter frames nothing".to_string());
        }
        let from = searched.min(buf.len());
        match finder.find(&buf[from..]) {
            Some(at) => {
                searched = 0;
                Ok(Some(buf.split_to(from + at + len).freeze()))
            }
            None => {
                searched = buf.len().saturating_sub(len - 1);
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fed a byte at a time, the delimiter split across any two reads, several frames at
    /// once: each frame comes out whole, at its delimiter, once.
    #[test]
    fn a_delimited_framer_finds_every_delimiter_however_the_bytes_arrive() {
        let wire = b"+OK\r\n:1\r\n\r\n$3\r\n\r\r\n+last\r\n";
        let want: Vec<&[u8]> = vec![
            b"+OK\r\n",
            b":1\r\n",
            b"\r\n",
            b"$3\r\n",
            b"\r\r\n",
            b"+last\r\n",
        ];
        for step in 1..=wire.len() {
            let mut framer = delimited(b"\r\n");
            let (mut buf, mut got) = (BytesMut::new(), Vec::new());
            for chunk in wire.chunks(step) {
                buf.extend_from_slice(chunk);
                while let Some(frame) = framer.next_frame(&mut buf).unwrap() {
                    got.push(frame);
                }
            }
            assert_eq!(got, want, "read {step} byte(s) at a time");
            assert!(buf.is_empty());
        }
        assert!(delimited(b"")
            .next_frame(&mut BytesMut::from(&b"x"[..]))
            .is_err());
    }
}
