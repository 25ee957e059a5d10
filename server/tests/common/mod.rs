//! A real server on loopback and a small client for the integration tests.
#![allow(dead_code)]

use bytes::BytesMut;
use framesim_server::framing::Decoder;
use framesim_server::protocol::{encode_command, Framing, ReplyDecoder};
use framesim_server::{serve, Command, Config, Kv, Reply, Snapshot, Stats};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running `serve` on a real loopback socket in this test's runtime.
pub struct Server {
    pub addr: SocketAddr,
    pub stats: Stats,
    pub framing: Framing,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(config: Config) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let stats = Stats::default();
        let framing = config.framing.clone();
        let task = tokio::spawn(serve(listener, Kv::new(), config, stats.clone(), async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stats,
            framing,
            stop: Some(stop),
            task,
        }
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr, self.framing.clone()).await
    }

    pub fn stats(&self) -> Snapshot {
        self.stats.snapshot()
    }

    /// Waits (up to 10 s) until `cond` holds for the counters.
    pub async fn wait_for(&self, what: &str, cond: impl Fn(&Snapshot) -> bool) -> Snapshot {
        for _ in 0..1000 {
            let s = self.stats();
            if cond(&s) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}: {:?}", self.stats());
    }

    /// Triggers graceful shutdown and waits for `serve` to return.
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

/// A client speaking any framing over a real socket.
pub struct Client {
    pub stream: TcpStream,
    framing: Framing,
    decoder: ReplyDecoder,
    buf: BytesMut,
}

impl Client {
    pub async fn connect(addr: SocketAddr, framing: Framing) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            decoder: ReplyDecoder::new(&framing, 1 << 26),
            framing,
            buf: BytesMut::new(),
        }
    }

    pub fn encode(&self, args: &[&str]) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_command(
            &self.framing,
            &Command::new(args.iter().map(|a| a.to_string())),
            &mut out,
        )
        .unwrap();
        out.to_vec()
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next reply, or `None` when the server closed the connection.
    pub async fn reply(&mut self) -> Option<Reply> {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(r) = self.decoder.decode(&mut self.buf).unwrap() {
                    return Some(r);
                }
                let n = self.stream.read_buf(&mut self.buf).await.unwrap_or(0);
                if n == 0 {
                    return self.decoder.decode_eof(&mut self.buf).unwrap();
                }
            }
        })
        .await
        .expect("a reply or a close within 10 s")
    }

    pub async fn call(&mut self, args: &[&str]) -> Reply {
        let bytes = self.encode(args);
        self.send(&bytes).await;
        self.reply().await.expect("a reply")
    }

    /// True once the server has closed the connection (EOF or reset) within 10 s.
    pub async fn closed(&mut self) -> bool {
        self.reply().await.is_none()
    }
}
