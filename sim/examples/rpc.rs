//! A length-prefixed RPC server and its model under the harness: the minimum a user writes
//! to test a server of their own. The server's code needs only `framesim_listener`; the
//! rest (the workload, the tests) is what a dev-dependency on `framesim` gives.
//!
//! A frame is a 4-byte big-endian length, then that many bytes: an opcode and its payload.
//! ADD (1) takes two big-endian u64s and answers their wrapping sum; ECHO (2) answers its
//! payload. A reply is a frame holding a status byte (0 ok, 1 unknown opcode) and the result.
//!
//! `cargo run -p framesim --example rpc` sweeps 16 seeds; `cargo test -p framesim --example
//! rpc` runs the tests below.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use framesim::harness::{
    length_prefixed, Draws, Harness, Options, Request, RoleMix, Session, Workload,
};
use framesim_listener::Listener;
use rand::Rng;
use std::future::Future;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const ADD: u8 = 1;
const ECHO: u8 = 2;
const MAX_FRAME: usize = 1 << 20;

/// Serves every connection `listener` accepts until `shutdown`. `one_read_one_frame` is the
/// classic bug: each read taken for one whole frame.
pub async fn serve(
    mut listener: impl Listener,
    shutdown: impl Future<Output = ()>,
    one_read_one_frame: bool,
) {
    tokio::pin!(shutdown);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => drop(connections.spawn(connection(stream, one_read_one_frame))),
                Err(e) => eprintln!("accept: {e}"),
            },
        }
    }
    connections.shutdown().await;
}

async fn connection(mut stream: impl AsyncRead + AsyncWrite + Unpin, one_read_one_frame: bool) {
    let mut buf = BytesMut::new();
    loop {
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut out = BytesMut::new();
        if one_read_one_frame {
            let read = buf.split().freeze();
            answer(&read.slice(4.min(read.len())..), &mut out);
        }
        // Every frame whose bytes have all arrived; the rest waits for the next read.
        while buf.len() >= 4 {
            let len = u32::from_be_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
            if len > MAX_FRAME {
                return;
            }
            if buf.len() < 4 + len {
                break;
            }
            buf.advance(4);
            answer(&buf.split_to(len).freeze(), &mut out);
        }
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Appends the reply to `frame` (opcode + payload) to `out`.
fn answer(frame: &Bytes, out: &mut BytesMut) {
    let (status, body) = match (frame.first(), frame.len()) {
        (Some(&ADD), 17) => {
            let sum = u64_at(frame, 1).wrapping_add(u64_at(frame, 9));
            (0, Bytes::copy_from_slice(&sum.to_be_bytes()))
        }
        (Some(&ECHO), _) => (0, frame.slice(1..)),
        _ => (1, Bytes::new()),
    };
    out.put_u32(1 + body.len() as u32);
    out.put_u8(status);
    out.put_slice(&body);
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Every client sends ten ADDs and ECHOs; replies are frames with a 4-byte length.
struct Rpc;

impl Workload for Rpc {
    fn session(&self, _client: usize) -> Box<dyn Session> {
        Box::new(RpcSession { left: 10 })
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(length_prefixed(4))
    }
}

/// One client: its requests left, and the model (a pure function of each request).
struct RpcSession {
    left: usize,
}

impl Session for RpcSession {
    fn next_request(&mut self, rng: &mut Draws) -> Option<Request> {
        self.left = self.left.checked_sub(1)?;
        let mut body = BytesMut::new();
        if rng.random_bool(0.5) {
            body.put_u8(ADD);
            body.put_u64(rng.random());
            body.put_u64(rng.random());
        } else {
            body.put_u8(ECHO);
            (0..rng.random_range(0..40)).for_each(|_| body.put_u8(rng.random()));
        }
        let mut bytes = BytesMut::new();
        bytes.put_u32(body.len() as u32);
        bytes.put_slice(&body);
        // Seams: the header's end, the opcode's end, the first operand's end.
        Some(Request::new(bytes.freeze()).with_boundaries([4, 5, 13]))
    }

    fn expect(&mut self, request: &Request) -> Option<Bytes> {
        let body = &request.bytes[4..];
        let result = match body[0] {
            ADD => u64_at(body, 1)
                .wrapping_add(u64_at(body, 9))
                .to_be_bytes()
                .to_vec(),
            _ => body[1..].to_vec(),
        };
        let mut reply = BytesMut::new();
        reply.put_u32(1 + result.len() as u32);
        reply.put_u8(0);
        reply.put_slice(&result);
        Some(reply.freeze())
    }
}

/// The RPC server under the harness: 32 clients, two of them leaving mid-request, two idle.
fn harness(one_read_one_frame: bool) -> Harness {
    let roles = RoleMix {
        disconnect: 2,
        idle: 2,
        ..RoleMix::default()
    };
    let options = Options {
        clients: 32,
        roles,
        ..Options::default()
    };
    Harness::new(
        move |listener, shutdown| serve(listener, shutdown, one_read_one_frame),
        Rpc,
    )
    .with(options)
}

fn main() {
    let tally = framesim::sweep!(harness(false));
    println!("passed: {tally:?}");
}

#[test]
fn the_rpc_server_answers_every_request_as_the_model_says() {
    let tally = framesim::sweep!(harness(false));
    assert_eq!(tally.requests, tally.replies);
    assert!(tally.replies >= 28 * 10);
}

#[test]
fn taking_each_read_for_one_frame_is_caught() {
    for seed in 0..8 {
        let outcome = harness(true).run(seed);
        let oracle = outcome.violations.first().map(|v| v.oracle);
        assert!(
            matches!(oracle, Some("model" | "unanswered" | "framing")),
            "seed {seed}: {}",
            outcome.summary()
        );
    }
}
