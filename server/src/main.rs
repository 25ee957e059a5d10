//! `framesim-server`: the request-framing server on real TCP.

use clap::{Parser, ValueEnum};
use framesim_server::framing::Endian;
use framesim_server::protocol::Framing;
use framesim_server::{serve, Config, Kv, Limits, Stats};
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
    /// Request framing.
    #[arg(long, value_enum, default_value_t = FramingKind::Resp)]
    framing: FramingKind,
    /// Line delimiter for `--framing line`; `\n`, `\r`, `\t`, `\\` and `\xHH` escapes are
    /// understood.
    #[arg(long, default_value = "\\n", value_parser = unescape)]
    delimiter: Vec<u8>,
    /// Header size in bytes for `--framing length`.
    #[arg(long, default_value = "4", value_parser = header_len())]
    header_len: usize,
    /// Little-endian length headers (default big-endian).
    #[arg(long)]
    little_endian: bool,
    /// Longest line or inline command, in bytes.
    #[arg(long, default_value_t = DEFAULTS.limits.max_line)]
    max_line: usize,
    /// Longest length-prefixed frame or RESP bulk string, in bytes.
    #[arg(long, default_value_t = DEFAULTS.limits.max_frame)]
    max_frame: usize,
    /// Most unanswered bytes one connection may buffer (default: max-frame + max-line).
    #[arg(long)]
    max_buffered: Option<usize>,
    /// Milliseconds from a request's first byte to its last before the connection is cut.
    #[arg(long, default_value_t = DEFAULTS.limits.frame_deadline.as_millis() as u64)]
    frame_deadline_ms: u64,
    /// Seconds a connection may stay idle, or take to read its replies.
    #[arg(long, default_value_t = DEFAULTS.limits.idle_timeout.as_secs())]
    idle_timeout_s: u64,
    /// Most connections served at once.
    #[arg(long, default_value_t = DEFAULTS.max_connections)]
    max_connections: usize,
    /// Milliseconds in-flight requests get to finish after Ctrl-C.
    #[arg(long, default_value_t = DEFAULTS.grace.as_millis() as u64)]
    grace_ms: u64,
    /// Runtime worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Concurrency model (threads: one OS thread per connection, blocking sockets; for
    /// comparison, see bench/async-vs-threads.sh).
    #[arg(long, value_enum, default_value_t = Mode::Async)]
    mode: Mode,
}

/// The one source of defaults: [`Config::default`].
static DEFAULTS: std::sync::LazyLock<Config> = std::sync::LazyLock::new(Config::default);

/// `--framing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FramingKind {
    /// RESP2, the Redis protocol.
    Resp,
    /// One command per delimited line.
    Line,
    /// Binary length-prefixed frames.
    Length,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// tokio tasks.
    Async,
    /// One OS thread per connection.
    Threads,
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

/// The typed arguments as one validated [`Config`].
fn config(args: &Args) -> Result<Config, String> {
    let framing = match args.framing {
        FramingKind::Resp => Framing::Resp,
        FramingKind::Line => Framing::Line {
            delimiter: args.delimiter.clone(),
        },
        FramingKind::Length => Framing::Length {
            header_len: args.header_len,
            endian: if args.little_endian {
                Endian::Little
            } else {
                Endian::Big
            },
        },
    };
    let limits = Limits {
        max_line: args.max_line,
        max_frame: args.max_frame,
        max_buffered: args
            .max_buffered
            .unwrap_or(args.max_frame.saturating_add(args.max_line)),
        frame_deadline: Duration::from_millis(args.frame_deadline_ms),
        idle_timeout: Duration::from_secs(args.idle_timeout_s),
    };
    let config = Config {
        framing,
        limits,
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
        let stats = Stats::default();
        if args.mode == Mode::Threads {
            // Same socket and backlog as the async mode, served by blocking threads.
            let listener = listener.into_std().map_err(|e| e.to_string())?;
            listener.set_nonblocking(false).map_err(|e| e.to_string())?;
            tracing::info!(%addr, framing = %config.framing, "listening, thread per connection");
            let kv = std::sync::Arc::new(Kv::new());
            return framesim_server::serve_threaded(listener, kv, &config, stats)
                .map_err(|e| e.to_string());
        }
        tracing::info!(%addr, framing = %config.framing, "listening");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        };
        serve(listener, Kv::new(), config, stats.clone(), shutdown)
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

/// `--header-len`: 1, 2, 4 or 8, listed in `--help` and in the error for any other value.
fn header_len() -> impl clap::builder::TypedValueParser<Value = usize> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["1", "2", "4", "8"])
        .map(|s| s.parse().expect("one of the listed values"))
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
