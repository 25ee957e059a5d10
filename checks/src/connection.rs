//! The connection target: the real `serve` loop over a scripted in-memory stream.
//!
//! [`ScriptStream`] moves the client's bytes in the sizes the fuzzer chose, with `Pending`s,
//! short writes, virtual-time pauses and resets; [`OneConnection`] hands it to `serve` as
//! the only connection. The replies are checked against [`crate::model`].

use crate::grammar::{ConnectionInput, FramingChoice, LimitsChoice, Piece, Raw, Step};
use crate::model::{check_replies, decode_replies, expected_replies};
use bytes::BytesMut;
use framesim_server::protocol::{self, Framing};
use framesim_server::{framesim_listener, serve, Config, Kv, Limits, Stats};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The server side of one in-memory connection: reads and writes follow the script.
struct ScriptStream {
    input: Vec<u8>,
    read: usize,
    /// Reads fail after this many bytes; the stream ends cleanly if `None`.
    reset_after: Option<usize>,
    reads: Vec<Step>,
    next_read: usize,
    read_pended: bool,
    pauses: Vec<u16>,
    /// The pause before the current read step is over (or there is none).
    paused: bool,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    writes: Vec<Step>,
    next_write: usize,
    write_pended: bool,
    output: Arc<Mutex<Vec<u8>>>,
    /// Dropped with the stream: tells the harness the connection is over.
    _closed: tokio::sync::oneshot::Sender<()>,
}

/// Picks the next step of a cycling script; a `Pending` is returned at most once in a row,
/// so every script makes progress.
fn next_step(steps: &[Step], next: &mut usize, pended: &mut bool) -> Option<usize> {
    let step = if steps.is_empty() {
        Step {
            pending: false,
            len: 0,
        }
    } else {
        steps[*next % steps.len()]
    };
    if step.pending && !*pended {
        *pended = true;
        return None;
    }
    *pended = false;
    *next += 1;
    Some(if step.len == 0 {
        usize::MAX
    } else {
        usize::from(step.len)
    })
}

impl AsyncRead for ScriptStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if !me.paused && !me.pauses.is_empty() {
            let ms = me.pauses[me.next_read % me.pauses.len()];
            if ms > 0 {
                let pause = me.pause.get_or_insert_with(|| {
                    Box::pin(tokio::time::sleep(Duration::from_millis(ms.into())))
                });
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                me.pause = None;
            }
            me.paused = true;
        }
        let Some(len) = next_step(&me.reads, &mut me.next_read, &mut me.read_pended) else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        me.paused = false;
        let end = me.reset_after.unwrap_or(usize::MAX).min(me.input.len());
        if me.read >= end && me.reset_after.is_some_and(|r| r < me.input.len()) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let n = len.min(end - me.read).min(buf.remaining());
        buf.put_slice(&me.input[me.read..me.read + n]);
        me.read += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ScriptStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Some(len) = next_step(&me.writes, &mut me.next_write, &mut me.write_pended) else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        let n = len.min(data.len());
        me.output
            .lock()
            .expect("output")
            .extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A listener with one connection; later accepts wait forever.
struct OneConnection(Option<ScriptStream>);

impl framesim_listener::Listener for OneConnection {
    type Stream = ScriptStream;

    async fn accept(&mut self) -> io::Result<(ScriptStream, SocketAddr)> {
        match self.0.take() {
            Some(stream) => Ok((stream, SocketAddr::from(([127, 0, 0, 1], 40000)))),
            None => std::future::pending().await,
        }
    }
}

impl framesim_server::Listener for OneConnection {}

/// The real connection loop (`serve` over a one-connection listener, on a current-thread
/// runtime with paused time) reading the client's bytes in the sizes the fuzzer chose, with
/// `Pending`s and short writes: it answers every complete request exactly once and in order
/// (the replies equal a fresh [`Kv`] answering the requests a [`protocol::RequestDecoder`]
/// finds in the same bytes), stops at `QUIT`, adds one protocol error reply for bad input,
/// never panics, never buffers past `max_buffered`, and ends. With pauses, a connection cut
/// by the frame deadline or the idle timeout must have answered a prefix of those requests;
/// without them (no virtual time passes) no timeout may fire.
pub fn connection(input: ConnectionInput) {
    let framing = match &input.framing {
        FramingChoice::Resp => Framing::Resp,
        FramingChoice::Line(d) => Framing::Line {
            delimiter: d.bytes(),
        },
        FramingChoice::Length(h) => Framing::Length {
            header_len: h.size(),
            endian: h.endian(),
        },
    };
    if framing.validate().is_err() {
        return; // serve refuses it
    }
    let limits = match input.limits {
        LimitsChoice::Moderate => Limits {
            max_line: 1024,
            max_frame: 4096,
            ..Limits::default()
        },
        LimitsChoice::Small {
            max_line,
            max_frame,
        } => Limits {
            max_line: usize::from(max_line.max(1)),
            max_frame: usize::from(max_frame.max(1)),
            ..Limits::default()
        },
    };
    let max_buffered = if input.tight_buffer {
        limits.max_line.min(limits.max_frame)
    } else {
        // Room for any incomplete frame the limits allow, delimiter and header included.
        limits.max_line + limits.max_frame + 8
    };
    let mut bytes = BytesMut::new();
    for piece in &input.pieces {
        match piece {
            Piece::Raw(Raw(raw)) => bytes.extend_from_slice(raw),
            Piece::Command(cmd) => {
                // A command too long for a small length header is simply left out.
                let mut one = BytesMut::new();
                if protocol::encode_command(&framing, &cmd.0, &mut one).is_ok() {
                    bytes.extend_from_slice(&one);
                }
            }
        }
    }
    bytes.extend_from_slice(&input.tail.0);
    let data = bytes.to_vec();
    let reset_after = input.reset_after.map(usize::from);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    rt.block_on(async {
        let expected = expected_replies(&framing, limits, &data, reset_after);
        let output = Arc::new(Mutex::new(Vec::new()));
        let (closed, on_close) = tokio::sync::oneshot::channel();
        let stream = ScriptStream {
            input: data.clone(),
            read: 0,
            reset_after,
            reads: input.reads.clone(),
            next_read: 0,
            read_pended: false,
            pauses: input.pauses.clone(),
            paused: false,
            pause: None,
            writes: input.writes.clone(),
            next_write: 0,
            write_pended: false,
            output: output.clone(),
            _closed: closed,
        };
        let config = Config {
            framing: framing.clone(),
            limits: Limits {
                max_buffered,
                frame_deadline: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(60),
                ..limits
            },
            ..Config::default()
        };
        let stats = Stats::default();
        let served = tokio::time::timeout(
            Duration::from_secs(24 * 3600),
            serve(
                OneConnection(Some(stream)),
                Kv::new(),
                config,
                stats.clone(),
                async {
                    let _ = on_close.await;
                },
            ),
        )
        .await;
        let served = served.expect("the connection loop did not end");
        served.expect("serve refused a valid config");

        let snap = stats.snapshot();
        assert_eq!(snap.panics, 0, "a connection task panicked");
        let timeouts = snap.frame_timeouts + snap.idle_timeouts + snap.write_timeouts;
        assert!(timeouts <= 1, "{timeouts} timeouts on one connection");
        assert!(
            timeouts == 0 || input.pauses.iter().any(|&ms| ms > 0),
            "a timeout although no virtual time passed: {snap:?}"
        );
        assert_eq!(
            snap.connections_open, 0,
            "the connection is still counted open"
        );
        assert!(
            snap.max_buffered <= max_buffered as u64,
            "buffered {} bytes, max {max_buffered}",
            snap.max_buffered
        );

        let out = output.lock().expect("output").clone();
        let got = decode_replies(&framing, &out).unwrap_or_else(|e| {
            panic!(
                "the server wrote undecodable replies ({e}): {:?}",
                out.escape_ascii().to_string()
            )
        });
        check_replies(&got, &expected, snap.frames, timeouts > 0);
    });
}
