//! `framesim-server`: the request-framing server on real TCP.

use clap::{Parser, ValueEnum};
use framesim_server::framing::Endian;
use framesim_server::protocol::Framing;
use framesim_server::{fd_budget, serve, Config, Kv, Limits, Stats};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// An async request-framing server with an in-memory key-value service.
///
/// Speaks RESP (redis-cli and redis-benchmark work), newline-delimited commands, or
/// binary length-prefixed commands. Ctrl-C and SIGTERM shut down gracefully (in-flight
/// requests get --grace-ms to finish); SIGHUP is ignored.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6380")]
    listen: SocketAddr,
    /// Request framing.
    #[arg(long, value_enum, default_value_t = FramingKind::Resp)]
    framing: FramingKind,
    /// Line delimiter for `--framing line`; `\n`, `\r`, `\t`, `\0`, `\\` and `\xHH` escapes
    /// are understood.
    #[arg(long, default_value = "\\n", value_parser = Delimiter::parse)]
    delimiter: Delimiter,
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
    /// Most bytes one connection may hold for requests not answered yet, parsed arguments
    /// of an unfinished request included (default: max-frame + max-line).
    #[arg(long)]
    max_buffered: Option<usize>,
    /// Most reply bytes one connection may hold unwritten; past it the connection answers
    /// nothing more until the client reads (a single larger reply is still sent whole).
    #[arg(long, default_value_t = DEFAULTS.limits.max_output)]
    max_output: usize,
    /// Milliseconds from a request's first byte to its last before the connection is cut.
    #[arg(long, default_value_t = DEFAULTS.limits.frame_deadline.as_millis() as u64)]
    frame_deadline_ms: u64,
    /// Seconds a connection may stay idle, or take to read its replies.
    #[arg(long, default_value_t = DEFAULTS.limits.idle_timeout.as_secs())]
    idle_timeout_s: u64,
    /// Most connections served at once (lowered to what the file-descriptor limit allows,
    /// after raising the soft limit to the hard one).
    #[arg(long, default_value_t = DEFAULTS.max_connections)]
    max_connections: usize,
    /// Milliseconds a connection must have had nothing in progress before it is parked:
    /// its task ends and the server's parking lot holds the socket until the client sends
    /// again (a new connection is parked until its first bytes). 0: never park.
    #[arg(long, default_value_t = DEFAULTS.park_after.map_or(0, |d| d.as_millis() as u64))]
    park_after_ms: u64,
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
            delimiter: args.delimiter.0.clone(),
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
        max_output: args.max_output,
        frame_deadline: Duration::from_millis(args.frame_deadline_ms),
        idle_timeout: Duration::from_secs(args.idle_timeout_s),
    };
    let config = Config {
        framing,
        limits,
        max_connections: within_fd_budget(args.max_connections),
        grace: Duration::from_millis(args.grace_ms),
        park_after: (args.park_after_ms > 0).then(|| Duration::from_millis(args.park_after_ms)),
        ..Config::default()
    };
    config.validate()?;
    Ok(config)
}

/// `max_connections` lowered to what the file-descriptor limit allows (raised to the hard
/// limit first), logged once when lowered, as redis-server does with maxclients.
fn within_fd_budget(max_connections: usize) -> usize {
    let nofile = match fd_budget::raise_nofile_limit() {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("cannot read the file-descriptor limit: {e}");
            return max_connections;
        }
    };
    let budget = fd_budget::connection_budget(nofile);
    if max_connections > budget {
        tracing::warn!(
            "max connections lowered from {max_connections} to {budget}: the process may open {nofile} files, {} are kept back",
            fd_budget::FD_RESERVE
        );
        return budget;
    }
    max_connections
}

/// Installs the signal handlers at once (before the server says it listens, so no signal
/// meets a default action), and returns a future that completes on Ctrl-C or SIGTERM;
/// SIGHUP is logged and ignored.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    Ok(async move {
        let why = loop {
            tokio::select! {
                biased;
                _ = int.recv() => break "SIGINT",
                _ = term.recv() => break "SIGTERM",
                _ = hup.recv() => tracing::info!("SIGHUP ignored"),
            }
        };
        tracing::info!("{why}: shutting down");
    })
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
            // No graceful shutdown in this mode (SIGTERM and Ctrl-C end the process), but
            // SIGHUP must not: a handler, once registered, replaces its default action.
            let _hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
            // Same socket and backlog as the async mode, served by blocking threads.
            let listener = listener.into_std().map_err(|e| e.to_string())?;
            listener.set_nonblocking(false).map_err(|e| e.to_string())?;
            tracing::info!(%addr, framing = %config.framing, "listening, thread per connection");
            let kv = std::sync::Arc::new(Kv::new());
            return framesim_server::serve_threaded(listener, kv, &config, stats)
                .map_err(|e| e.to_string());
        }
        let shutdown = shutdown_signal().map_err(|e| format!("cannot handle signals: {e}"))?;
        tracing::info!(%addr, framing = %config.framing, "listening");
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

/// `--delimiter`, its escapes undone.
#[derive(Debug, Clone)]
struct Delimiter(Vec<u8>);

impl Delimiter {
    fn parse(s: &str) -> Result<Delimiter, String> {
        let bytes = framesim_server::text::unescape(s)?;
        if bytes.is_empty() {
            return Err("the delimiter must not be empty".into());
        }
        Ok(Delimiter(bytes))
    }
}
