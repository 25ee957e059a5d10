//! `framesim-server`: the request-framing server on real TCP.

use clap::Parser;
use framesim_server::framing::Endian;
use framesim_server::protocol::{Framing, Limits};
use framesim_server::{serve, Config, Kv};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// An async request-framing server with an in-memory key-value service.
///
/// Speaks RESP (redis-cli and redis-benchmark work), newline-delimited commands, or
/// binary length-prefixed commands. Ctrl-C shuts down gracefully.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6380")]
    listen: SocketAddr,
    /// Request framing: resp, line or length.
    #[arg(long, default_value = "resp")]
    framing: String,
    /// Line delimiter for `--framing line`; `\n`, `\r` and `\xHH` escapes are understood.
    #[arg(long, default_value = "\\n")]
    delimiter: String,
    /// Header size in bytes for `--framing length`: 1, 2, 4 or 8.
    #[arg(long, default_value_t = 4)]
    header_len: usize,
    /// Little-endian length headers (default big-endian).
    #[arg(long)]
    little_endian: bool,
    /// Longest line or inline command, in bytes.
    #[arg(long, default_value_t = Limits::default().max_line)]
    max_line: usize,
    /// Longest length-prefixed frame or RESP bulk string, in bytes.
    #[arg(long, default_value_t = Limits::default().max_frame)]
    max_frame: usize,
    /// Most unanswered bytes one connection may buffer (default: max-frame + max-line).
    #[arg(long)]
    max_buffered: Option<usize>,
    /// Milliseconds from a request's first byte to its last before the connection is cut.
    #[arg(long, default_value_t = 10_000)]
    frame_deadline_ms: u64,
    /// Seconds a connection may stay idle.
    #[arg(long, default_value_t = 300)]
    idle_timeout_s: u64,
    /// Most connections served at once.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Milliseconds in-flight requests get to finish after Ctrl-C.
    #[arg(long, default_value_t = 5_000)]
    grace_ms: u64,
    /// Runtime worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Concurrency model: async (tokio tasks) or threads (one OS thread per connection,
    /// blocking sockets; for comparison, see bench/async-vs-threads.sh).
    #[arg(long, default_value = "async", value_parser = ["async", "threads"])]
    mode: String,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    match config(&args).and_then(|config| run(&args, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("framesim-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn config(args: &Args) -> Result<Config, String> {
    let framing = match args.framing.as_str() {
        "resp" => Framing::Resp,
        "line" => Framing::Line {
            delimiter: unescape(&args.delimiter)?,
        },
        "length" => Framing::Length {
            header_len: args.header_len,
            endian: if args.little_endian {
                Endian::Little
            } else {
                Endian::Big
            },
        },
        other => {
            return Err(format!(
                "unknown framing '{other}' (expected resp, line or length)"
            ))
        }
    };
    let limits = Limits {
        max_line: args.max_line,
        max_frame: args.max_frame,
    };
    let config = Config {
        framing,
        limits,
        max_buffered: args
            .max_buffered
            .unwrap_or(limits.max_frame.saturating_add(limits.max_line)),
        frame_deadline: Duration::from_millis(args.frame_deadline_ms),
        idle_timeout: Duration::from_secs(args.idle_timeout_s),
        max_connections: args.max_connections,
        grace: Duration::from_millis(args.grace_ms),
        ..Config::default()
    };
    config.validate()?;
    Ok(config)
}

fn run(args: &Args, config: Config) -> Result<(), String> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let listener =
            listen(args.listen).map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        if args.mode == "threads" {
            // Same socket and backlog as the async mode, served by blocking threads.
            let listener = listener.into_std().map_err(|e| e.to_string())?;
            listener.set_nonblocking(false).map_err(|e| e.to_string())?;
            tracing::info!(%addr, framing = %config.framing, "listening, thread per connection");
            let kv = std::sync::Arc::new(Kv::new());
            return framesim_server::threaded::serve_threaded(listener, kv, &config)
                .map_err(|e| e.to_string());
        }
        tracing::info!(%addr, framing = %config.framing, "listening");
        let stats = config.stats.clone();
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        };
        serve(listener, Kv::new(), config, shutdown)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(stats = ?stats.snapshot(), "stopped");
        Ok(())
    })
}

/// Binds with a deep accept queue: with the default 128, a burst of thousands of connects
/// overflows it and the dropped clients retry only after a 1 s SYN timeout (Linux caps the
/// value at `net.core.somaxconn`).
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// `\n`, `\r`, `\t`, `\\` and `\xHH` escapes in a delimiter given on the command line.
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("bad escape in delimiter '{s}'");
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1).ok_or_else(bad)? {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = s.get(i + 2..i + 4).ok_or_else(bad)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            _ => return Err(bad()),
        }
        i += 2;
    }
    if out.is_empty() {
        return Err("the delimiter must not be empty".into());
    }
    Ok(out)
}
