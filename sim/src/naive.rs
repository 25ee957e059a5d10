//! Deliberately naive servers, kept as fixtures to prove the oracles have teeth: each makes
//! one classic framing mistake, and some oracle must catch it.

use bytes::BytesMut;
use framesim_server::framing::Decoder;
use framesim_server::protocol::{ReplyEncoder, RequestDecoder};
use framesim_server::{Config, Listener, Reply, Service, Stats};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

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

/// A careful loop with one hole: its buffer lives across reads and the decoder takes
/// every complete frame, but only `buf.len()` is held against `max_buffered`, not the
/// arguments the decoder already parsed out of an unfinished request (`held()`).
pub async fn uncounted_args<L: Listener, S: Service>(mut listener: L, service: S, config: Config) {
    let (service, config) = (Arc::new(service), Arc::new(config));
    while let Ok((mut stream, _)) = listener.accept().await {
        let (service, config) = (service.clone(), config.clone());
        tokio::spawn(async move {
            let mut buf = BytesMut::new();
            let mut decoder = RequestDecoder::new(&config.framing, &config.limits);
            let encoder = ReplyEncoder::new(&config.framing);
            let max = config.limits.max_buffered;
            loop {
                let mut out = BytesMut::new();
                let room = max.saturating_sub(buf.len());
                if room == 0 {
                    let msg = format!("ERR Protocol error: more than {max} bytes buffered");
                    encoder.encode(&Reply::error(msg), &mut out);
                    let _ = stream.write_all(&out).await;
                    return;
                }
                let mut scratch = vec![0u8; room.min(4096)];
                let n = stream.read(&mut scratch).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&scratch[..n]);
                let failed = loop {
                    match decoder.decode(&mut buf) {
                        Ok(Some(cmd)) => encoder.encode(&service.call(cmd).reply, &mut out),
                        Ok(None) => break false,
                        Err(e) => {
                            let err = Reply::error(format!("ERR Protocol error: {e}"));
                            encoder.encode(&err, &mut out);
                            break true;
                        }
                    }
                };
                if stream.write_all(&out).await.is_err() || failed {
                    return;
                }
            }
        });
    }
}

/// Serves `listener` forever with the naive loop `naive`.
pub async fn serve<L: Listener, S: Service>(
    naive: Naive,
    mut listener: L,
    service: S,
    config: Config,
) {
    let (service, config) = (Arc::new(service), Arc::new(config));
    while let Ok((mut stream, _)) = listener.accept().await {
        let (service, config) = (service.clone(), config.clone());
        tokio::spawn(async move {
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
