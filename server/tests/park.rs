//! Parked connections (idle, held by the parking lot without a task): woken and served by
//! their next bytes, however split; closed at their idle timeout and at shutdown; counted
//! as open, so `max_connections` holds. In-memory streams and tokio's paused clock: every
//! "after N seconds" below is virtual time, exact and instant.

use framesim_server::{serve, Config, Kv, Limits, Snapshot, Stats};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::sleep;

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
const PONG: &[u8] = b"+PONG\r\n";

/// Connections handed to `serve` through a channel.
struct Pipe(mpsc::UnboundedReceiver<DuplexStream>);

impl framesim_listener::Listener for Pipe {
    type Stream = DuplexStream;

    async fn accept(&mut self) -> io::Result<(DuplexStream, SocketAddr)> {
        match self.0.recv().await {
            Some(stream) => Ok((stream, SocketAddr::from(([127, 0, 0, 1], 1)))),
            None => std::future::pending().await,
        }
    }
}

impl framesim_server::Listener for Pipe {}

struct Server {
    connect: mpsc::UnboundedSender<DuplexStream>,
    stats: Stats,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    fn start(config: Config) -> Server {
        let (connect, accepted) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let stats = Stats::default();
        let task = tokio::spawn(serve(
            Pipe(accepted),
            Kv::new(),
            config,
            stats.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        Server {
            connect,
            stats,
            stop,
            task,
        }
    }

    /// A new client connection, once the server has taken it in.
    async fn connect(&self) -> DuplexStream {
        let (client, server) = duplex(64 * 1024);
        self.connect.send(server).unwrap();
        settle().await;
        client
    }

    fn stats(&self) -> Snapshot {
        self.stats.snapshot()
    }

    async fn shutdown(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Lets every task run until all wait (the paused clock moves on only then).
async fn settle() {
    sleep(Duration::from_millis(1)).await;
}

async fn send(client: &mut DuplexStream, bytes: &[u8]) {
    client.write_all(bytes).await.unwrap();
    settle().await;
}

async fn expect_reply(client: &mut DuplexStream, want: &[u8]) {
    let mut got = vec![0; want.len()];
    client.read_exact(&mut got).await.unwrap();
    assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&got));
}

/// True when the server has closed the connection (its side shut down).
async fn closed(client: &mut DuplexStream) -> bool {
    let mut byte = [0];
    matches!(
        tokio::time::timeout(Duration::ZERO, client.read(&mut byte)).await,
        Ok(Ok(0))
    )
}

fn config() -> Config {
    Config {
        limits: Limits {
            idle_timeout: Duration::from_secs(10),
            ..Limits::default()
        },
        park_after: Some(Duration::from_secs(1)),
        ..Config::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_connection_is_parked_counted_open_and_served_when_it_speaks() {
    let server = Server::start(config());
    let mut c = server.connect().await;
    let s = server.stats();
    assert_eq!((s.connections_open, s.connections_parked), (1, 1));

    send(&mut c, PING).await;
    expect_reply(&mut c, PONG).await;
    let s = server.stats();
    assert_eq!((s.connections_open, s.connections_parked), (1, 0));
    assert_eq!(s.frames, 1);

    // A connection parked since its accept and woken by part of a frame is not counted as
    // woken mid-frame: that counter is for connections parked after a quiet spell.
    let mut fresh = server.connect().await;
    send(&mut fresh, &PING[..5]).await;
    assert_eq!(server.stats().connections_parked, 0);
    send(&mut fresh, &PING[5..]).await;
    expect_reply(&mut fresh, PONG).await;
    assert_eq!(server.stats().woken_mid_frame, 0);
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_request_split_across_the_wake_up_is_served() {
    let server = Server::start(config());
    let mut c = server.connect().await;
    send(&mut c, PING).await;
    expect_reply(&mut c, PONG).await;
    sleep(Duration::from_secs(2)).await;
    assert_eq!(
        server.stats().connections_parked,
        1,
        "idle for more than park_after"
    );

    // The first bytes wake the parked connection; the rest reach its task.
    assert_eq!(server.stats().woken_mid_frame, 0);
    send(&mut c, &PING[..1]).await;
    assert_eq!(server.stats().connections_parked, 0);
    assert_eq!(server.stats().woken_mid_frame, 1);
    send(&mut c, &PING[1..9]).await;
    send(&mut c, &PING[9..]).await;
    expect_reply(&mut c, PONG).await;

    // Mid-frame for longer than park_after: not parked (the frame deadline applies).
    send(&mut c, &PING[..5]).await;
    sleep(Duration::from_secs(3)).await;
    assert_eq!(server.stats().connections_parked, 0);
    send(&mut c, &PING[5..]).await;
    expect_reply(&mut c, PONG).await;

    // Parked again, then woken by a pipelined batch in one write: whole frames.
    sleep(Duration::from_secs(2)).await;
    assert_eq!(server.stats().connections_parked, 1);
    send(&mut c, &[PING, PING, PING].concat()).await;
    expect_reply(&mut c, &[PONG, PONG, PONG].concat()).await;
    assert_eq!(server.stats().frames, 6);

    // Woken by two whole frames and the start of a third.
    sleep(Duration::from_secs(2)).await;
    send(&mut c, &[PING, PING, &PING[..3]].concat()).await;
    expect_reply(&mut c, &[PONG, PONG].concat()).await;
    send(&mut c, &PING[3..]).await;
    expect_reply(&mut c, PONG).await;
    assert_eq!(server.stats().frames, 9);
    assert_eq!(
        server.stats().woken_mid_frame,
        2,
        "the first wake and this one"
    );
    assert_eq!(
        server.stats().parks,
        4,
        "at accept, then after each quiet spell"
    );
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_parked_connection_is_closed_at_its_idle_timeout() {
    let server = Server::start(config());
    let mut quiet = server.connect().await; // parked since accept
    let mut served = server.connect().await;
    send(&mut served, PING).await;
    expect_reply(&mut served, PONG).await; // parked 1 s later

    sleep(Duration::from_millis(9_900)).await;
    let s = server.stats();
    assert_eq!((s.connections_open, s.connections_parked), (2, 2));
    assert!(!closed(&mut quiet).await && !closed(&mut served).await);
    assert_eq!(s.idle_timeouts, 0);

    sleep(Duration::from_millis(200)).await;
    assert!(closed(&mut quiet).await && closed(&mut served).await);
    let s = server.stats();
    assert_eq!((s.connections_open, s.connections_parked), (0, 0));
    assert_eq!(s.idle_timeouts, 2);
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_request_resets_the_idle_deadline_of_a_parked_connection() {
    let server = Server::start(config());
    let mut c = server.connect().await;
    sleep(Duration::from_secs(8)).await;
    send(&mut c, PING).await;
    expect_reply(&mut c, PONG).await;
    sleep(Duration::from_secs(8)).await; // 16 s after accept, 8 s after the request
    assert!(!closed(&mut c).await);
    assert_eq!(server.stats().connections_parked, 1);
    sleep(Duration::from_secs(3)).await;
    assert!(closed(&mut c).await);
    assert_eq!(server.stats().idle_timeouts, 1);
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn parked_connections_are_closed_at_shutdown() {
    let server = Server::start(config());
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(server.connect().await);
    }
    send(&mut clients[0], PING).await;
    expect_reply(&mut clients[0], PONG).await;
    sleep(Duration::from_secs(2)).await;
    assert_eq!(server.stats().connections_parked, 3);

    let stats = server.stats.clone();
    server.shutdown().await;
    for c in &mut clients {
        assert!(closed(c).await);
    }
    let s = stats.snapshot();
    assert_eq!((s.connections_open, s.connections_parked), (0, 0));
    assert_eq!(s.idle_timeouts, 0);
}

#[tokio::test(start_paused = true)]
async fn max_connections_counts_parked_connections() {
    let server = Server::start(Config {
        max_connections: 2,
        ..config()
    });
    let a = server.connect().await;
    let mut b = server.connect().await;
    assert_eq!(server.stats().connections_parked, 2);

    let mut extra = server.connect().await;
    expect_reply(&mut extra, b"-ERR max number of clients reached\r\n").await;
    assert!(closed(&mut extra).await);
    assert_eq!(server.stats().connections_refused, 1);

    // A parked client that leaves frees its place.
    drop(a);
    settle().await;
    assert_eq!(server.stats().connections_open, 1);
    let mut c = server.connect().await;
    send(&mut c, PING).await;
    expect_reply(&mut c, PONG).await;
    send(&mut b, PING).await;
    expect_reply(&mut b, PONG).await;
    assert_eq!(server.stats().connections_refused, 1);
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn many_parked_connections_each_wake_alone() {
    let server = Server::start(config());
    let mut clients = Vec::new();
    for _ in 0..1000 {
        clients.push(server.connect().await);
    }
    assert_eq!(server.stats().connections_parked, 1000);
    for (i, c) in clients.iter_mut().enumerate().step_by(7) {
        send(c, b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n").await;
        let want = format!(":{}\r\n", i / 7 + 1);
        expect_reply(c, want.as_bytes()).await;
    }
    let s = server.stats();
    assert_eq!(s.connections_open, 1000);
    assert_eq!(s.connections_parked, 1000 - 143);
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn without_park_after_connections_keep_their_task() {
    let server = Server::start(Config {
        park_after: None,
        ..config()
    });
    let mut c = server.connect().await;
    sleep(Duration::from_secs(5)).await;
    assert_eq!(server.stats().connections_parked, 0);
    send(&mut c, PING).await;
    expect_reply(&mut c, PONG).await;
    sleep(Duration::from_secs(11)).await;
    assert!(closed(&mut c).await);
    assert_eq!(server.stats().idle_timeouts, 1);
    server.shutdown().await;
}
