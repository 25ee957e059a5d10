//! The server under test: framesim's own `serve`, or a deliberately naive server kept as a
//! fixture to prove the oracles have teeth.

use crate::stream::SimListener;
use bytes::BytesMut;
use framesim_server::framing::Decoder;
use framesim_server::protocol::{ReplyEncoder, RequestDecoder};
use framesim_server::{Config, Listener, Reply, Service, Stats};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Which server a run puts on the server host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `framesim_server::serve`, unchanged.
    Framesim,
    /// Treats the bytes of each read as one whole request.
    OneReadOneRequest,
    /// Reads a length header with one read and trusts it has all of it.
    SingleReadHeader,
    /// `serve` with no frame deadline to speak of (slowloris keeps its connection).
    NoFrameDeadline,
    /// Answers only the first request of each read (no pipelining).
    FirstFrameOnly,
}

/// Every target with its command-line name.
pub const TARGETS: &[(Target, &str)] = &[
    (Target::Framesim, "framesim"),
    (Target::OneReadOneRequest, "naive-one-read"),
    (Target::SingleReadHeader, "naive-single-read-header"),
    (Target::NoFrameDeadline, "naive-no-deadline"),
    (Target::FirstFrameOnly, "naive-first-frame-only"),
];

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = TARGETS
            .iter()
            .find(|(t, _)| t == self)
            .map(|(_, n)| *n)
            .unwrap_or("?");
        f.write_str(name)
    }
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TARGETS
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(t, _)| *t)
            .ok_or_else(|| {
                let names: Vec<&str> = TARGETS.iter().map(|(_, n)| *n).collect();
                format!("unknown target '{s}' (one of: {})", names.join(", "))
            })
    }
}

impl Target {
    /// Serves `listener` with this target's accept loop until `shutdown` (naive servers
    /// ignore it and serve forever).
    pub async fn serve<S: Service>(
        self,
        listener: SimListener,
        service: S,
        mut config: Config,
        stats: Stats,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        match self {
            Target::Framesim => {
                let _ = framesim_server::serve(listener, service, config, stats, shutdown).await;
            }
            Target::NoFrameDeadline => {
                config.limits.frame_deadline = Duration::from_secs(3600);
                let _ = framesim_server::serve(listener, service, config, stats, shutdown).await;
            }
            naive => naive_loop(naive, listener, Arc::new(service), Arc::new(config)).await,
        }
    }
}

async fn naive_loop<S: Service>(
    target: Target,
    mut listener: SimListener,
    service: Arc<S>,
    config: Arc<Config>,
) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let (service, config) = (service.clone(), config.clone());
        tokio::spawn(async move {
            let mut scratch = vec![0u8; 4096];
            loop {
                let n = match target {
                    Target::SingleReadHeader => single_read_header(&mut stream, &mut scratch).await,
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
                            if target == Target::FirstFrameOnly {
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
async fn single_read_header(
    stream: &mut crate::stream::FaultyStream<turmoil::net::TcpStream>,
    scratch: &mut [u8],
) -> usize {
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
