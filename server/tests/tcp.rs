//! The real server on real loopback TCP: delivery, pipelining, limits, shutdown.

mod common;

use common::{Client, Server};
use framesim_server::protocol::{Framing, SHARE_MIN};
use framesim_server::Limits;
use framesim_server::{Config, Reply};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

fn config() -> Config {
    Config::default()
}

#[tokio::test]
async fn byte_at_a_time_in_every_framing() {
    for framing in [Framing::Resp, Framing::line(), Framing::length()] {
        let server = Server::start(Config {
            framing: framing.clone(),
            ..config()
        })
        .await;
        let mut c = server.client().await;
        let set = c.encode(&["SET", "key", "a value\nwith\r\nbreaks"]);
        for b in &set {
            c.send(&[*b]).await;
            c.stream.flush().await.unwrap();
        }
        assert_eq!(c.reply().await, Some(Reply::ok()), "{framing}");
        assert_eq!(
            c.call(&["GET", "key"]).await,
            Reply::bulk("a value\nwith\r\nbreaks"),
            "{framing}"
        );
        server.shutdown().await;
    }
}

#[tokio::test]
async fn a_pipelined_batch_in_one_write_gets_every_reply_in_order() {
    let server = Server::start(config()).await;
    let mut c = server.client().await;
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.extend(c.encode(&["INCR", "n"]));
        if i % 100 == 0 {
            batch.extend(c.encode(&["PING"]));
        }
    }
    c.send(&batch).await;
    let mut n = 0;
    for i in 0..500 {
        n += 1;
        assert_eq!(c.reply().await, Some(Reply::Integer(n)));
        if i % 100 == 0 {
            assert_eq!(c.reply().await, Some(Reply::Simple("PONG".into())));
        }
    }
    assert_eq!(server.stats().frames, 505);
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_split_across_writes_inside_headers() {
    let server = Server::start(Config {
        framing: Framing::length(),
        ..config()
    })
    .await;
    let mut c = server.client().await;
    let bytes = c.encode(&["ECHO", "hello"]);
    // Cut inside the outer header, inside an argument's header, and inside a payload.
    for part in [&bytes[..2], &bytes[2..6], &bytes[6..12], &bytes[12..]] {
        c.send(part).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(c.reply().await, Some(Reply::bulk("hello")));
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_frame_gets_an_error_and_the_connection_closes() {
    let server = Server::start(Config {
        limits: Limits {
            max_line: 100,
            max_frame: 1000,
            ..Limits::default()
        },
        ..config()
    })
    .await;
    let mut c = server.client().await;
    c.send(&[b'x'; 5000]).await;
    match c.reply().await {
        Some(Reply::Error(e)) => assert!(e.starts_with("ERR Protocol error"), "{e}"),
        other => panic!("expected an error reply, got {other:?}"),
    }
    assert!(c.closed().await);
    let mut c = server.client().await;
    let big = "v".repeat(2000);
    let set = c.encode(&["SET", "k", &big]);
    c.send(&set).await;
    assert!(matches!(c.reply().await, Some(Reply::Error(_))));
    assert!(c.closed().await);
    assert_eq!(server.stats().protocol_errors, 2);
    // The server still serves others.
    assert_eq!(
        server.client().await.call(&["PING"]).await,
        Reply::Simple("PONG".into())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn slowloris_is_cut_off_by_the_frame_deadline_while_others_are_served() {
    let server = Server::start(Config {
        limits: Limits {
            frame_deadline: Duration::from_millis(300),
            ..Limits::default()
        },
        ..config()
    })
    .await;
    let mut slow = server.client().await;
    let addr = server.addr;
    let trickle = tokio::spawn(async move {
        // One byte every 20 ms, forever: the frame never ends, each byte is "activity".
        for _ in 0..500 {
            if slow.stream.write_all(b"a").await.is_err() {
                return slow;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        slow
    });
    let mut fast = Client::connect(addr, Framing::Resp).await;
    for i in 0..20 {
        let v = i.to_string();
        assert_eq!(fast.call(&["SET", "k", &v]).await, Reply::ok());
        assert_eq!(fast.call(&["GET", "k"]).await, Reply::bulk(v));
    }
    server
        .wait_for("the frame deadline", |s| s.frame_timeouts == 1)
        .await;
    let mut slow = trickle.await.unwrap();
    assert!(slow.closed().await);
    server.shutdown().await;
}

#[tokio::test]
async fn an_abrupt_disconnect_mid_frame_is_counted_and_harmless() {
    let server = Server::start(config()).await;
    let mut c = server.client().await;
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nab").await;
    drop(c);
    let s = server
        .wait_for("the mid-frame EOF", |s| s.eof_mid_frame == 1)
        .await;
    assert_eq!(s.frames, 0);
    server
        .wait_for("the connection to close", |s| s.connections_open == 0)
        .await;
    let mut c = server.client().await;
    assert_eq!(c.call(&["GET", "k"]).await, Reply::Null);
    server.shutdown().await;
}

#[tokio::test]
async fn a_reply_of_share_min_bytes_is_counted_as_sent_by_reference_once() {
    for framing in [Framing::Resp, Framing::line(), Framing::length()] {
        let defaults = Limits::default();
        let limits = Limits {
            // A line holds the whole command.
            max_line: 2 * SHARE_MIN,
            max_buffered: defaults.max_frame + 2 * SHARE_MIN,
            ..defaults
        };
        let server = Server::start(Config {
            framing: framing.clone(),
            limits,
            ..config()
        })
        .await;
        let mut c = server.client().await;
        let (big, small) = ("b".repeat(SHARE_MIN), "s".repeat(SHARE_MIN - 1));
        for (key, value) in [("big", &big), ("small", &small)] {
            assert_eq!(c.call(&["SET", key, value]).await, Reply::ok(), "{framing}");
        }
        assert_eq!(c.call(&["GET", "small"]).await, Reply::bulk(small.clone()));
        assert_eq!(
            server.stats().shared_replies,
            0,
            "{framing}: one byte short"
        );
        assert_eq!(c.call(&["GET", "big"]).await, Reply::bulk(big.clone()));
        // Only RESP writes a bulk value as it is: the other framings encode it.
        let shared = u64::from(framing == Framing::Resp);
        assert_eq!(server.stats().shared_replies, shared, "{framing}");
        server.shutdown().await;
    }
}

#[tokio::test]
async fn beyond_max_connections_a_client_is_refused_politely() {
    let server = Server::start(Config {
        max_connections: 2,
        ..config()
    })
    .await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    assert_eq!(a.call(&["PING"]).await, Reply::Simple("PONG".into()));
    assert_eq!(b.call(&["PING"]).await, Reply::Simple("PONG".into()));
    let mut c = server.client().await;
    assert_eq!(
        c.reply().await,
        Some(Reply::error("ERR max number of clients reached"))
    );
    assert!(c.closed().await);
    assert_eq!(server.stats().connections_refused, 1);
    drop(a);
    server
        .wait_for("a slot to free", |s| s.connections_open == 1)
        .await;
    let mut d = server.client().await;
    assert_eq!(d.call(&["PING"]).await, Reply::Simple("PONG".into()));
    server.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests_then_closes() {
    let server = Server::start(config()).await;
    let mut idle = server.client().await;
    let mut busy = server.client().await;
    assert_eq!(idle.call(&["PING"]).await, Reply::Simple("PONG".into()));
    let set = busy.encode(&["SET", "k", "v"]);
    busy.send(&set[..7]).await;
    server
        .wait_for("the partial frame to arrive", |s| s.bytes_read >= 14 + 7)
        .await;
    let stats = server.stats.clone();
    let addr = server.addr;
    let stopping = tokio::spawn(server.shutdown());
    // The idle connection is closed at once; the busy one may finish its request.
    assert!(idle.closed().await);
    busy.send(&set[7..]).await;
    assert_eq!(busy.reply().await, Some(Reply::ok()));
    assert!(busy.closed().await);
    stopping.await.unwrap();
    assert_eq!(stats.snapshot().connections_open, 0);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_cuts_a_stalled_request_after_the_grace_period() {
    let server = Server::start(Config {
        grace: Duration::from_millis(200),
        ..config()
    })
    .await;
    let mut c = server.client().await;
    c.send(b"*1\r\n$4\r\nPI").await;
    server.wait_for("bytes", |s| s.bytes_read >= 10).await;
    let stats = server.stats.clone();
    server.shutdown().await;
    assert_eq!(stats.snapshot().connections_open, 0);
    assert!(c.closed().await);
}

#[tokio::test]
async fn an_invalid_config_is_refused_with_a_clear_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = Config {
        framing: Framing::Length {
            header_len: 3,
            endian: framesim_server::framing::Endian::Big,
        },
        ..config()
    };
    let err = framesim_server::serve(
        listener,
        framesim_server::Kv::new(),
        config,
        framesim_server::Stats::default(),
        async {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("1, 2, 4 or 8"), "{err}");
}

/// A listener whose first accepts fail like a process out of file descriptors.
struct Flaky {
    inner: tokio::net::TcpListener,
    failures: usize,
}

impl framesim_listener::Listener for Flaky {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> std::io::Result<(Self::Stream, std::net::SocketAddr)> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(std::io::Error::from_raw_os_error(24)); // EMFILE
        }
        framesim_listener::Listener::accept(&mut self.inner).await
    }
}

impl framesim_server::Listener for Flaky {}

#[tokio::test]
async fn accept_errors_back_off_and_the_loop_goes_on() {
    let inner = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = inner.local_addr().unwrap();
    let config = Config {
        accept_backoff: Duration::from_millis(5),
        ..config()
    };
    let stats = framesim_server::Stats::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(framesim_server::serve(
        Flaky { inner, failures: 3 },
        framesim_server::Kv::new(),
        config,
        stats.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let mut c = Client::connect(addr, Framing::Resp).await;
    assert_eq!(c.call(&["PING"]).await, Reply::Simple("PONG".into()));
    assert_eq!(stats.snapshot().accept_errors, 3);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// On real TCP a parked connection leaves the runtime (the lot holds the bare socket and
/// watches it itself): it is served again when it speaks, a request split around the
/// wake-up is whole, a silent one is closed at its idle timeout, the rest at shutdown.
#[tokio::test]
async fn parked_sockets_are_served_expired_and_closed_at_shutdown() {
    let server = Server::start(Config {
        park_after: Some(Duration::from_millis(20)),
        limits: Limits {
            idle_timeout: Duration::from_secs(1),
            ..Limits::default()
        },
        ..config()
    })
    .await;
    let mut quiet = server.client().await;
    let mut busy = server.client().await;
    server
        .wait_for("both parked", |s| s.connections_parked == 2)
        .await;
    assert_eq!(busy.call(&["SET", "k", "v"]).await, Reply::ok());
    // Parked again after its request: a request split across the wake-up.
    server
        .wait_for("parked after the request", |s| {
            s.connections_parked == 2 && s.parks == 3
        })
        .await;
    let get = busy.encode(&["GET", "k"]);
    busy.send(&get[..3]).await;
    busy.stream.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    busy.send(&get[3..]).await;
    assert_eq!(busy.reply().await, Some(Reply::bulk("v")));
    // The quiet one reaches its idle deadline while parked; the busy one keeps asking.
    for _ in 0..200 {
        if server.stats().idle_timeouts > 0 {
            break;
        }
        assert_eq!(busy.call(&["PING"]).await, Reply::Simple("PONG".into()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(quiet.closed().await);
    let s = server.stats();
    assert_eq!((s.connections_open, s.idle_timeouts), (1, 1));
    server
        .wait_for("parked once more", |s| s.connections_parked == 1)
        .await;
    let stats = server.stats.clone();
    server.shutdown().await;
    assert!(busy.closed().await);
    let s = stats.snapshot();
    assert_eq!((s.connections_open, s.connections_parked), (0, 0));
}
