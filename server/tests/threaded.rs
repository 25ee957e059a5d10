//! The thread-per-connection mode serves the same protocol with the same limits.

use bytes::BytesMut;
use framesim_server::framing::Decoder;
use framesim_server::protocol::{encode_command, Framing, ReplyDecoder};
use framesim_server::{serve_threaded, Command, Config, Kv, Limits, Reply, Stats};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

fn start(config: Config) -> (SocketAddr, Stats) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Stats::default();
    let counting = stats.clone();
    std::thread::spawn(move || serve_threaded(listener, Arc::new(Kv::new()), &config, counting));
    (addr, stats)
}

/// Reads replies until `n` are decoded or the server closes.
fn replies(stream: &mut TcpStream, n: usize) -> Vec<Reply> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut decoder = ReplyDecoder::new(&Framing::Resp, 1 << 20);
    let (mut buf, mut out, mut chunk) = (BytesMut::new(), Vec::new(), [0u8; 4096]);
    while out.len() < n {
        while let Some(r) = decoder.decode(&mut buf).unwrap() {
            out.push(r);
        }
        if out.len() == n {
            break;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    out
}

#[test]
fn pipelined_requests_byte_by_byte_get_every_reply_in_order() {
    let (addr, stats) = start(Config::default());
    let mut s = TcpStream::connect(addr).unwrap();
    let mut bytes = BytesMut::new();
    for i in 0..50 {
        let v = i.to_string();
        encode_command(
            &Framing::Resp,
            &Command::new(["SET".to_string(), "k".to_string(), v]),
            &mut bytes,
        )
        .unwrap();
        encode_command(&Framing::Resp, &Command::new(["GET", "k"]), &mut bytes).unwrap();
    }
    for b in bytes.iter() {
        s.write_all(&[*b]).unwrap();
    }
    let got = replies(&mut s, 100);
    assert_eq!(got.len(), 100);
    for (i, pair) in got.chunks(2).enumerate() {
        assert_eq!(pair, [Reply::ok(), Reply::bulk(i.to_string())]);
    }
    assert_eq!(stats.snapshot().frames, 100);
}

#[test]
fn a_slowloris_thread_is_cut_off_by_the_frame_deadline() {
    let (addr, stats) = start(Config {
        limits: Limits {
            frame_deadline: Duration::from_millis(200),
            ..Limits::default()
        },
        ..Config::default()
    });
    let mut s = TcpStream::connect(addr).unwrap();
    let mut cut = false;
    for _ in 0..100 {
        if s.write_all(b"a").is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        if stats.snapshot().frame_timeouts == 1 {
            cut = true;
            break;
        }
    }
    assert!(cut, "the trickling connection was never cut off");
    assert_eq!(
        replies(&mut s, 1),
        Vec::<Reply>::new(),
        "closed without a reply"
    );
}

#[test]
fn a_malformed_request_gets_a_protocol_error() {
    let (addr, _) = start(Config::default());
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"*1\r\n:1\r\n").unwrap();
    match replies(&mut s, 1).as_slice() {
        [Reply::Error(e)] => assert!(e.starts_with("ERR Protocol error"), "{e}"),
        other => panic!("expected one protocol error, got {other:?}"),
    }
}
