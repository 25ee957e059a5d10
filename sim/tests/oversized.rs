//! A server's answer to an oversized request is its only one: a server that answers, then
//! reads on inside the request and takes its bytes for requests of their own, is caught.

mod lines;

use bytes::{BufMut, Bytes, BytesMut};
use framesim::harness::{
    length_prefixed, Draws, Harness, Listener, Options, Request, RoleMix, Session, Shutdown,
    Workload,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The largest payload the server takes.
const LIMIT: usize = 1024;

/// `payload` behind its 2-byte big-endian length.
fn frame(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    out.put_u16(payload.len() as u16);
    out.put_slice(payload);
    out.freeze()
}

/// An echo of frames of a 2-byte length; one over [`LIMIT`] answered `ERR`, then closed,
/// or, if `reads_on`, its header skipped and its payload read as frames.
async fn echo(listener: Listener, shutdown: Shutdown, reads_on: bool) {
    lines::task_per_connection(listener, shutdown, move |mut conn| async move {
        let mut buf = BytesMut::new();
        loop {
            while buf.len() >= 2 {
                let len = u16::from_be_bytes([buf[0], buf[1]]) as usize;
                if len > LIMIT {
                    if conn.write_all(&frame(b"ERR")).await.is_err() || !reads_on {
                        return;
                    }
                    let _ = buf.split_to(2);
                    continue;
                }
                if buf.len() < 2 + len {
                    break;
                }
                let whole = buf.split_to(2 + len);
                if conn.write_all(&whole).await.is_err() {
                    return;
                }
            }
            match conn.read_buf(&mut buf).await {
                Ok(1..) => {}
                _ => return,
            }
        }
    })
    .await
}

/// Four echoed frames a client; an oversized one whose payload is frames of its own.
struct Frames;

struct FramesSession(usize);

impl Session for FramesSession {
    fn next_request(&mut self, _rng: &mut Draws) -> Option<Request> {
        self.0 = self.0.checked_sub(1)?;
        Some(Request::new(frame(format!("frame {}", self.0).as_bytes())).with_boundaries([2]))
    }

    fn expect(&mut self, request: &Request) -> Option<Bytes> {
        Some(request.bytes.clone())
    }

    fn oversized(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        let inner = frame(b"a");
        let payload: Vec<u8> = inner.iter().copied().cycle().take(LIMIT + 3).collect();
        let mut bytes = BytesMut::from(&frame(&payload)[..]);
        // Past `size`, more of the same.
        while bytes.len() <= size {
            bytes.put_slice(&inner);
        }
        Some(Request::new(bytes.freeze()))
    }

    fn check_error(&mut self, _request: &Request, reply: &[u8]) -> Result<(), String> {
        (reply == &frame(b"ERR")[..])
            .then_some(())
            .ok_or_else(|| "not ERR".into())
    }
}

impl Workload for Frames {
    fn session(&self, _client: usize) -> Box<dyn Session> {
        Box::new(FramesSession(4))
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(length_prefixed(2))
    }
}

/// The echo, `reads_on` or not, with oversized clients and well-behaved ones.
fn harness(reads_on: bool) -> Harness {
    Harness::new(move |l, s| echo(l, s, reads_on), Frames).with(Options {
        clients: 6,
        max_request: LIMIT + 2,
        roles: RoleMix {
            oversized: 2,
            ..RoleMix::none()
        },
        ..Options::default()
    })
}

#[test]
fn a_server_that_answers_an_oversized_request_once_passes_and_one_that_reads_on_inside_it_is_caught(
) {
    let tally = framesim::sweep!(harness(false), 0..8);
    assert!(tally.oversized_refused > 0);
    for seed in 0..4 {
        let outcome = harness(true).run(seed);
        let first = outcome.violations.first().expect("a violation");
        assert_eq!(
            first.oracle.name(),
            "oversized",
            "{}",
            outcome.first_failure()
        );
        assert!(
            first.detail.contains("a second answer"),
            "{}",
            outcome.first_failure()
        );
    }
}
