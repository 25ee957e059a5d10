//! Bad inputs get the same bytes back as from redis-server 7: `tests/data/redis_errors.txt`
//! holds each input and redis-server 7.0's whole answer, recorded by
//! `tests/data/record_redis_errors.py` (see its header to re-record).

mod common;

use common::Server;
use framesim_server::Config;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Undoes the table's escapes: `\\`, `\r`, `\n`, `\t`, `\xHH`, `\'`, `\"`.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let (byte, len) = match b[i + 1] {
            b'r' => (b'\r', 2),
            b'n' => (b'\n', 2),
            b't' => (b'\t', 2),
            b'x' => (u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap(), 4),
            other => (other, 2),
        };
        out.push(byte);
        i += len;
    }
    out
}

/// Everything the server writes back until it closes, or goes quiet for 300 ms once `want`
/// bytes arrived (10 s at most).
async fn answer(server: &Server, input: &[u8], want: usize) -> Vec<u8> {
    let mut c = server.client().await;
    let _ = c.stream.write_all(input).await;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let quiet = if got.len() >= want {
            Duration::from_millis(300)
        } else {
            deadline.saturating_duration_since(tokio::time::Instant::now())
        };
        match tokio::time::timeout(quiet, c.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&chunk[..n]),
            _ => return got,
        }
    }
}

#[tokio::test]
async fn protocol_errors_are_byte_identical_to_redis() {
    let table = include_str!("data/redis_errors.txt");
    let server = Server::start(Config::default()).await;
    let mut checked = 0;
    for line in table.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [input, pad, want] = fields[..] else {
            panic!("bad table line: {line:?}");
        };
        let mut bytes = unescape(input);
        if let Some((n, byte)) = pad.split_once('*') {
            bytes.extend(std::iter::repeat_n(byte.as_bytes()[0], n.parse().unwrap()));
        }
        let want = unescape(want);
        let got = answer(&server, &bytes, want.len()).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "input {input:?} (padding {pad})"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} inputs in the table");
    server.shutdown().await;
}
