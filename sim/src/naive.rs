//! Deliberately naive servers, kept as fixtures to prove the oracles have teeth: each makes
//! one classic mistake (most of them in framing), and some oracle must catch it.

use bytes::{Bytes, BytesMut};
use framesim_server::framing::{Decoder, FrameError};
use framesim_server::protocol::inline::{parse_int, split_args};
use framesim_server::protocol::{Framing, ReplyEncoder, RequestDecoder};
use framesim_server::{Command, Config, Limits, Listener, Reply, Response, Service, Stats};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout, timeout_at, Instant};

/// The mistake a naive accept loop makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naive {
    /// Treats the bytes of each read as whole requests.
    OneReadOneRequest,
    /// Reads a length header with one read and trusts it has all of it.
    SingleReadHeader,
    /// Answers only the first request of each read (no pipelining).
    FirstFrameOnly,
}

/// The real `serve` with a frame deadline of an hour: a slowloris client keeps its
/// connection.
pub async fn no_frame_deadline<L: Listener, S: Service>(
    listener: L,
    service: S,
    mut config: Config,
    stats: Stats,
    shutdown: impl std::future::Future<Output = ()>,
) {
    config.limits.frame_deadline = Duration::from_secs(3600);
    let _ = framesim_server::serve(listener, service, config, stats, shutdown).await;
}

/// The real `serve` as it was before back-pressure: no bound on pending replies (every
/// reply of a read is built before any is written) and an hour for a peer to take them.
pub async fn unbounded_output<L: Listener, S: Service>(
    listener: L,
    service: S,
    mut config: Config,
    stats: Stats,
    shutdown: impl std::future::Future<Output = ()>,
) {
    config.limits.max_output = usize::MAX;
    config.limits.idle_timeout = Duration::from_secs(3600);
    let _ = framesim_server::serve(listener, service, config, stats, shutdown).await;
}

/// Serves `listener` forever with the naive loop `naive`.
pub async fn serve<L: Listener, S: Service>(naive: Naive, listener: L, service: S, config: Config) {
    let mut listener = Limited::new(listener, &config);
    let (service, config) = (Arc::new(service), Arc::new(config));
    loop {
        let (mut stream, open) = listener.accept().await;
        let (service, config) = (service.clone(), config.clone());
        tokio::spawn(async move {
            let _open = open;
            let mut scratch = vec![0u8; 4096];
            loop {
                let n = match naive {
                    Naive::SingleReadHeader => single_read_header(&mut stream, &mut scratch).await,
                    _ => stream.read(&mut scratch).await.unwrap_or(0),
                };
                if n == 0 {
                    return;
                }
                // The naive assumption: these bytes are whole requests.
                let mut buf = BytesMut::from(&scratch[..n]);
                let mut decoder = RequestDecoder::new(&config.framing, &config.limits);
                let mut out = BytesMut::new();
                let encoder = ReplyEncoder::new(&config.framing);
                loop {
                    match decoder.decode_eof(&mut buf) {
                        Ok(Some(cmd)) => {
                            encoder.encode(&service.call(cmd).reply, &mut out);
                            if naive == Naive::FirstFrameOnly {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let err = Reply::error(format!("ERR Protocol error: {e}"));
                            encoder.encode(&err, &mut out);
                            break;
                        }
                    }
                }
                if stream.write_all(&out).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// Reads a 4-byte length header with a single read, then exactly that many bytes.
async fn single_read_header<S: AsyncRead + Unpin>(stream: &mut S, scratch: &mut [u8]) -> usize {
    let n = stream.read(&mut scratch[..4]).await.unwrap_or(0);
    if n == 0 {
        return 0;
    }
    let mut header = [0u8; 4];
    header[..n].copy_from_slice(&scratch[..n]);
    let len = (u32::from_be_bytes(header) as usize).min(scratch.len() - 4);
    if stream.read_exact(&mut scratch[4..4 + len]).await.is_err() {
        return 0;
    }
    4 + len
}

/// The real `serve` with `max_line` and `max_frame` one byte short, as a server that checks
/// `len < limit` where it means `len <= limit`: a request of exactly the largest size the
/// limits accept is refused.
pub async fn limit_off_by_one<L: Listener, S: Service>(
    listener: L,
    service: S,
    mut config: Config,
    stats: Stats,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let limits = &mut config.limits;
    limits.max_line = limits.max_line.saturating_sub(1).max(1);
    limits.max_frame = limits.max_frame.saturating_sub(1).max(1);
    let _ = framesim_server::serve(listener, service, config, stats, shutdown).await;
}

/// A service that answers INCR of an integer itself, with wrapping arithmetic: `INCR` of
/// `i64::MAX` gives `i64::MIN` where Redis refuses with "ERR increment or decrement would
/// overflow". It reads the value with a GET and writes the sum with a SET through the
/// service it wraps, so a run's transcript shows those frames instead of the INCR (and the
/// reply-backlog meter counts their replies as produced and never written: a few dozen bytes
/// per INCR). Everything else, and INCR of a missing key or of a value that is not a
/// canonical integer, goes to that service unchanged, so its errors are the real ones.
pub struct IncrWraps<S>(pub S);

impl<S: Service> Service for IncrWraps<S> {
    fn call(&self, cmd: Command) -> Response {
        if let [name, key] = &cmd.args[..] {
            if name.eq_ignore_ascii_case(b"INCR") {
                let get = Command::new([Bytes::from_static(b"GET"), key.clone()]);
                if let Reply::Bulk(value) = self.0.call(get).reply {
                    if let Some(n) = parse_int(&value) {
                        let next = n.wrapping_add(1);
                        let set = [
                            Bytes::from_static(b"SET"),
                            key.clone(),
                            next.to_string().into(),
                        ];
                        self.0.call(Command::new(set));
                        return Reply::Integer(next).into();
                    }
                }
            }
        }
        self.0.call(cmd)
    }
}

/// The one thing a [`careful`] loop gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slip {
    /// Line framing: each search for the delimiter starts at the buffer's length before the
    /// newest read, not `delimiter.len() - 1` bytes earlier, so a delimiter whose first
    /// bytes end one read and whose rest begins the next is never found.
    SplitDelimiter,
    /// The frame deadline runs from when the buffer last went from empty to not empty and
    /// is not restarted when a frame completes with bytes of the next one behind it: a
    /// client that pipelines requests back to back is timed per connection, not per frame.
    ConnectionDeadline,
    /// Only the buffer is held against `max_buffered`, not the arguments the decoder already
    /// parsed out of an unfinished request (`held()`).
    UncountedArgs,
    /// The idle timeout runs from when the connection was accepted, not from its last read
    /// or write: a client that pauses between requests is cut once the connection is older
    /// than the timeout, however busy it was.
    IdleFromAccept,
    /// Line framing: the end of the stream ends the last line too (as `BufRead::lines` and
    /// `LinesCodec::decode_eof` have it), so a request cut short by a client that left is
    /// run as it stands.
    LastLineAtEof,
    /// A protocol error throws away the replies of the requests before it in the same
    /// batch: only the error is written.
    ErrorDropsReplies,
    /// `QUIT` closes the connection at once: the replies of its batch, its own `+OK`
    /// included, are never written.
    QuitDropsReplies,
}

/// Bytes taken per read, as the real connection takes them.
const READ_CHUNK: usize = 4096;

/// Longest linger after an error reply, as the real connection's.
const LINGER_TIME: Duration = Duration::from_secs(1);

/// Most bytes read and thrown away while lingering after an error reply.
const LINGER_BYTES: usize = 256 * 1024;

/// A persistent-buffer loop that does what the real connection does, except for `slip`:
/// every complete frame answered (pipelining), at most `max_output` of replies built before
/// they are written, `max_buffered` counted with what the decoder holds, the frame
/// deadline, the idle timeout, a write deadline, and the real server's error replies, then
/// a linger so they are read. Only the oracle aimed at `slip` has a reason to fire.
pub async fn careful<L: Listener, S: Service>(slip: Slip, listener: L, service: S, config: Config) {
    let mut listener = Limited::new(listener, &config);
    let (service, config) = (Arc::new(service), Arc::new(config));
    loop {
        let (mut stream, open) = listener.accept().await;
        let (service, config) = (service.clone(), config.clone());
        tokio::spawn(async move {
            let _open = open;
            let connection = Careful::new(slip, &*service, &config);
            let end = connection.serve(&mut stream).await;
            let limits = &config.limits;
            if !matches!(end, End::Broken) {
                let _ = timeout(limits.idle_timeout, stream.shutdown()).await;
            }
            if matches!(end, End::Refuse) {
                let _ = timeout(limits.frame_deadline.min(LINGER_TIME), async {
                    let (mut discarded, mut sink) = (0, vec![0u8; READ_CHUNK]);
                    while discarded < LINGER_BYTES {
                        match stream.read(&mut sink).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => discarded += n,
                        }
                    }
                })
                .await;
            }
        });
    }
}

/// How a careful connection ends.
enum End {
    /// Close our side: the peer left, a deadline passed, or it asked to quit.
    Close,
    /// An error reply, or `QUIT`'s `+OK`, was sent: close, then linger.
    Refuse,
    /// Reading or writing failed: nothing more to say.
    Broken,
}

/// One connection of a [`careful`] loop.
struct Careful<'a, S: ?Sized> {
    slip: Slip,
    service: &'a S,
    limits: Limits,
    decoder: Box<dyn Decoder<Item = Command> + Send>,
    encoder: ReplyEncoder,
    /// Bytes of requests not decoded yet; kept across reads.
    buf: BytesMut,
    /// Replies not written yet.
    out: BytesMut,
    /// When the frame in progress began; `None` between frames.
    frame_started: Option<Instant>,
    /// When the connection last read or wrote.
    active: Instant,
    /// When the connection was accepted.
    accepted: Instant,
    /// The last batch of replies stopped at `max_output`: answer the rest before reading.
    backlog: bool,
    /// The line delimiter the stream's end stands for (the last-line slip only).
    eof_ends_line: Option<Vec<u8>>,
}

impl<'a, S: Service + ?Sized> Careful<'a, S> {
    fn new(slip: Slip, service: &'a S, config: &Config) -> Self {
        let limits = config.limits;
        let decoder: Box<dyn Decoder<Item = Command> + Send> = match &config.framing {
            Framing::Line { delimiter } if slip == Slip::SplitDelimiter => {
                Box::new(NewestReadLines::new(delimiter, limits.max_line))
            }
            framing => Box::new(RequestDecoder::new(framing, &limits)),
        };
        Careful {
            slip,
            service,
            limits,
            decoder,
            encoder: ReplyEncoder::new(&config.framing),
            buf: BytesMut::new(),
            out: BytesMut::new(),
            frame_started: None,
            active: Instant::now(),
            accepted: Instant::now(),
            backlog: false,
            eof_ends_line: match &config.framing {
                Framing::Line { delimiter } if slip == Slip::LastLineAtEof => {
                    Some(delimiter.clone())
                }
                _ => None,
            },
        }
    }

    fn mid_frame(&self) -> bool {
        !self.buf.is_empty() || self.decoder.in_frame()
    }

    /// Reads, answers and writes until the connection must end; returns how it ends.
    async fn serve<St: AsyncRead + AsyncWrite + Unpin>(mut self, stream: &mut St) -> End {
        let mut scratch = vec![0u8; READ_CHUNK];
        loop {
            let max = self.limits.max_buffered;
            let held = match self.slip {
                Slip::UncountedArgs => self.buf.len(),
                _ => self.buf.len() + self.decoder.held(),
            };
            let room = max.saturating_sub(held);
            if room == 0 {
                let msg = format!("ERR Protocol error: more than {max} bytes buffered");
                self.encoder.encode(&Reply::error(msg), &mut self.out);
                let _ = self.write(stream).await;
                return End::Refuse;
            }
            let deadline = match self.frame_started {
                Some(start) if self.mid_frame() => start + self.limits.frame_deadline,
                _ if self.slip == Slip::IdleFromAccept => self.accepted + self.limits.idle_timeout,
                _ => self.active + self.limits.idle_timeout,
            };
            let len = room.min(READ_CHUNK);
            let n = match timeout_at(deadline, stream.read(&mut scratch[..len])).await {
                Err(_) => return End::Close,
                Ok(Err(_)) => return End::Broken,
                Ok(Ok(n)) => n,
            };
            if n > 0 {
                self.buf.extend_from_slice(&scratch[..n]);
                self.active = Instant::now();
                self.frame_started.get_or_insert(self.active);
            }
            loop {
                let end = self.answer(n == 0);
                if let Err(end) = self.write(stream).await {
                    return end;
                }
                if let Some(end) = end {
                    return end;
                }
                if !self.backlog {
                    break;
                }
            }
            if n == 0 {
                return End::Close;
            }
        }
    }

    /// Decodes and answers buffered requests until their replies reach `max_output`;
    /// returns how the connection ends once they are written, if it must.
    fn answer(&mut self, eof: bool) -> Option<End> {
        let mut answered = 0;
        self.backlog = false;
        if let Some(delimiter) = self.eof_ends_line.as_ref().filter(|_| eof) {
            if !self.buf.is_empty() && !self.buf.ends_with(delimiter) {
                self.buf.extend_from_slice(delimiter);
            }
        }
        let end = loop {
            if self.out.len() >= self.limits.max_output {
                self.backlog = true;
                break None;
            }
            let decoded = if eof {
                self.decoder.decode_eof(&mut self.buf)
            } else {
                self.decoder.decode(&mut self.buf)
            };
            match decoded {
                Ok(Some(cmd)) => {
                    answered += 1;
                    let response = self.service.call(cmd);
                    self.encoder.encode(&response.reply, &mut self.out);
                    if response.close {
                        if self.slip == Slip::QuitDropsReplies {
                            self.out.clear();
                        }
                        break Some(End::Refuse);
                    }
                }
                Ok(None) => break None,
                Err(FrameError::UnexpectedEof { .. }) => break Some(End::Close),
                Err(e) => {
                    if self.slip == Slip::ErrorDropsReplies {
                        self.out.clear();
                    }
                    self.encoder.encode(&protocol_error(&e), &mut self.out);
                    break Some(End::Refuse);
                }
            }
        };
        if !self.mid_frame() {
            self.frame_started = None;
        } else if answered > 0 && self.slip != Slip::ConnectionDeadline {
            // What is left came in the latest read, after the last complete frame: the next
            // frame's time starts there. (The connection-deadline slip keeps the first
            // frame's start, so a pipelining client runs out of time.)
            self.frame_started = Some(self.active);
        }
        end
    }

    /// Writes the pending replies within the idle timeout. The time spent writing does not
    /// count against the frame in progress: its bytes may have waited unread all along.
    async fn write<St: AsyncWrite + Unpin>(&mut self, stream: &mut St) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let out = &self.out;
        let written = timeout(self.limits.idle_timeout, async {
            stream.write_all(out).await?;
            stream.flush().await
        })
        .await;
        match written {
            Err(_) => return Err(End::Close),
            Ok(Err(_)) => return Err(End::Broken),
            Ok(Ok(())) => {}
        }
        let now = Instant::now();
        if let Some(start) = &mut self.frame_started {
            *start += now - started;
        }
        self.active = now;
        self.out.clear();
        Ok(())
    }
}

/// The error reply for a framing error, worded as the real connection words it (no offset).
fn protocol_error(e: &FrameError) -> Reply {
    Reply::error(match e {
        FrameError::Malformed { what, .. } if what.starts_with("Protocol error") => {
            format!("ERR {what}")
        }
        FrameError::Malformed { what, .. } => format!("ERR Protocol error: {what}"),
        FrameError::TooLarge { limit, .. } => {
            format!("ERR Protocol error: frame longer than {limit} bytes")
        }
        FrameError::UnexpectedEof { .. } => "ERR Protocol error: unexpected end of stream".into(),
    })
}

/// Line requests found by a delimiter search that resumes at the end of the bytes it has
/// seen, instead of `delimiter.len() - 1` bytes before it: a delimiter whose first bytes end
/// one read (`\r`) and whose rest begins the next (`\n`) is never found, and its request
/// waits for a delimiter that already came. The rest is `protocol::line`'s: the line limit,
/// blank lines skipped, arguments split by `split_args`.
struct NewestReadLines {
    delimiter: Vec<u8>,
    max_line: usize,
    /// Where the next search starts: the buffer's length when the last one gave up.
    from: usize,
    /// Stream offset of the buffer's first byte, for error offsets.
    offset: u64,
    failed: Option<FrameError>,
}

impl NewestReadLines {
    fn new(delimiter: &[u8], max_line: usize) -> Self {
        NewestReadLines {
            delimiter: delimiter.to_vec(),
            max_line,
            from: 0,
            offset: 0,
            failed: None,
        }
    }

    fn fail(&mut self, e: FrameError) -> FrameError {
        self.failed = Some(e.clone());
        e
    }

    fn too_large(&mut self) -> FrameError {
        let (limit, at) = (self.max_line, self.offset);
        self.fail(FrameError::TooLarge { limit, at })
    }

    /// True when `buf` (no delimiter found) proves its line longer than `max_line`: more
    /// bytes than that before the first place a delimiter could still start.
    fn too_long(&self, buf: &[u8]) -> bool {
        let d = self.delimiter.len();
        let end = buf.len().min(self.max_line + d);
        let next = (end.saturating_sub(d - 1)..end)
            .find(|&p| self.delimiter.starts_with(&buf[p..end]))
            .unwrap_or(end);
        next > self.max_line
    }
}

impl Decoder for NewestReadLines {
    type Item = Command;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let d = self.delimiter.len();
        loop {
            let from = self.from.min(buf.len());
            let found = buf[from..].windows(d).position(|w| w == self.delimiter);
            let Some(pos) = found.map(|i| from + i) else {
                // The slip: the last `d - 1` bytes seen may begin a delimiter that the next
                // read ends, and the next search starts past them.
                self.from = buf.len();
                if self.too_long(buf) {
                    return Err(self.too_large());
                }
                return Ok(None);
            };
            if pos > self.max_line {
                return Err(self.too_large());
            }
            self.from = 0;
            let line = buf.split_to(pos + d);
            let at = self.offset;
            self.offset += line.len() as u64;
            match split_args(&line[..pos]) {
                Ok(args) if args.is_empty() => continue,
                Ok(args) => return Ok(Some(Command { args })),
                Err(what) => {
                    let what = what.to_string();
                    return Err(self.fail(FrameError::Malformed { what, at }));
                }
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, FrameError> {
        match self.decode(buf)? {
            Some(cmd) => Ok(Some(cmd)),
            None if buf.is_empty() => Ok(None),
            None => Err(self.fail(FrameError::UnexpectedEof { at: self.offset })),
        }
    }
}

/// The real `serve` admitting one connection more than `max_connections`.
pub async fn connection_limit_off_by_one<L: Listener, S: Service>(
    listener: L,
    service: S,
    mut config: Config,
    stats: Stats,
    shutdown: impl std::future::Future<Output = ()>,
) {
    config.max_connections += 1;
    let _ = framesim_server::serve(listener, service, config, stats, shutdown).await;
}

/// The real `serve` retrying a failed accept at once: out of descriptors, it spins.
pub async fn no_accept_backoff<L: Listener, S: Service>(
    listener: L,
    service: S,
    mut config: Config,
    stats: Stats,
    shutdown: impl std::future::Future<Output = ()>,
) {
    config.accept_backoff = Duration::ZERO;
    let _ = framesim_server::serve(listener, service, config, stats, shutdown).await;
}

/// The real `serve` behind an accept loop that ends at its first failed accept (the
/// `accept().await?` of many a server): the connections open go on, no new one is taken.
pub async fn accept_gives_up<L: Listener, S: Service>(
    listener: L,
    service: S,
    config: Config,
    stats: Stats,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let listener = GivesUp {
        inner: listener,
        failed: false,
    };
    let _ = framesim_server::serve(listener, service, config, stats, shutdown).await;
}

/// A listener that accepts nothing more once an accept has failed.
struct GivesUp<L> {
    inner: L,
    failed: bool,
}

impl<L: Listener> framesim_listener::Listener for GivesUp<L> {
    type Stream = L::Stream;

    async fn accept(&mut self) -> io::Result<(L::Stream, std::net::SocketAddr)> {
        if self.failed {
            return std::future::pending().await;
        }
        let accepted = self.inner.accept().await;
        self.failed = accepted.is_err();
        accepted
    }
}

impl<L: Listener> Listener for GivesUp<L> {}

/// How long a naive accept loop waits after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// A naive accept loop's listener, holding at most `max_connections` open and refusing the
/// rest with the real server's error: the fixtures' one mistake is elsewhere.
struct Limited<L> {
    inner: L,
    open: Arc<AtomicUsize>,
    max: usize,
    refusal: Bytes,
}

impl<L: Listener> Limited<L> {
    fn new(inner: L, config: &Config) -> Self {
        let mut refusal = BytesMut::new();
        let reply = Reply::error("ERR max number of clients reached");
        ReplyEncoder::new(&config.framing).encode(&reply, &mut refusal);
        Limited {
            inner,
            open: Arc::default(),
            max: config.max_connections,
            refusal: refusal.freeze(),
        }
    }

    /// The next connection within the limit, and what keeps it counted until dropped. A
    /// failed accept is tried again after a pause, as the real server does.
    async fn accept(&mut self) -> (L::Stream, Open) {
        loop {
            let Ok((mut stream, _)) = self.inner.accept().await else {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            };
            if self.open.load(Ordering::SeqCst) >= self.max {
                let refusal = self.refusal.clone();
                tokio::spawn(async move {
                    let _ = stream.write_all(&refusal).await;
                    let _ = stream.shutdown().await;
                });
                continue;
            }
            self.open.fetch_add(1, Ordering::SeqCst);
            return (stream, Open(self.open.clone()));
        }
    }
}

/// One connection counted open, until dropped with its task.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
