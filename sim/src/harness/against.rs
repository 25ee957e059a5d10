//! A workload's clients against a real server over real TCP, their history recorded from
//! a monotonic clock and checked linearizable by its model (the black-box check): for a
//! server framesim does not run, redis or a release binary.
//!
//! Each client connects once and asks its session's requests one at a time, each called
//! when its first byte is written and returned when its reply's last byte is read. A
//! request whose reply never comes (the connection broke, or no reply within the wait) is
//! indeterminate, and the client stops. The history is not the same from run to run (the
//! real scheduler orders it); its check is exact all the same.

use super::contention::ContentionWorkload;
use super::linear::DEFAULT_BUDGET;
use super::recorder::{Recorder, RunHistory};
use super::workload::Workload;
use crate::output::write_file;
use crate::scenario::{shown, work_dir};
use crate::seeds::{self, Stream};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Steps the check may take per group of keys: a real server's history is longer and
/// more concurrent than a simulated run's; past it the verdict is unknown, never a pass.
pub const BUDGET: u64 = 2 * DEFAULT_BUDGET;

/// How long a client waits for a connection or a reply before it stops.
const WAIT: Duration = Duration::from_secs(5);

/// What a check against a real server did and found.
#[derive(Debug, Clone)]
pub struct Against {
    /// The history and its check.
    pub history: RunHistory,
    /// Requests written.
    pub requests: usize,
    /// Replies read.
    pub replies: usize,
    /// Why a client stopped early, one line each.
    pub errors: Vec<String>,
    /// Wall time the clients took.
    pub run_time: Duration,
    /// Wall time the check took.
    pub check_time: Duration,
}

impl Against {
    /// Whether every client ran to its end and the history is known to be linearizable.
    pub fn passed(&self) -> bool {
        self.errors.is_empty() && self.history.checked.linearizable()
    }

    /// One line: what ran, what was checked, what it cost, the verdict.
    pub fn summary(&self) -> String {
        let c = &self.history.checked;
        format!(
            "{} requests, {} replies in {:.2?}; {} operation(s) over {} key group(s) checked in {:.2?} ({} search steps): {}{}",
            self.requests,
            self.replies,
            self.run_time,
            c.ops,
            c.partitions,
            self.check_time,
            c.steps,
            c.verdict,
            match self.errors.first() {
                Some(e) => format!("; {} client(s) stopped early, the first: {e}", self.errors.len()),
                None => String::new(),
            }
        )
    }
}

/// Runs `clients` clients of `workload` (seeded by `seed`) against the server at `addr`
/// and checks their history by the workload's model ([`Workload::model`]). An error when
/// the workload has none, or no runtime starts.
///
/// ```no_run
/// use framesim::harness::{against, ContentionWorkload};
///
/// let addr = "127.0.0.1:6379".parse().unwrap();
/// let workload = ContentionWorkload::new().requests(100).prefix("run1:");
/// let found = against::check(addr, &workload, 16, 7).unwrap();
/// println!("{}", found.summary());
/// assert!(found.passed());
/// ```
pub fn check(
    addr: SocketAddr,
    workload: &dyn Workload,
    clients: usize,
    seed: u64,
) -> Result<Against, String> {
    let spec = workload
        .model()
        .ok_or("the workload has no model to check its history by")?;
    let recorder = Arc::new(Recorder::new(&spec));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("could not start a runtime: {e}"))?;
    let start = Instant::now();
    let outcomes = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for id in 0..clients {
            let client = Client {
                id,
                recorder: recorder.clone(),
                start,
            };
            let session = workload.session(id);
            let framer = workload.framer();
            tasks.spawn(client.run(addr, session, framer, seed));
        }
        let mut outcomes = Vec::new();
        while let Some(done) = tasks.join_next().await {
            outcomes.push(done.unwrap_or_else(|e| (0, 0, Some(format!("a client panicked: {e}")))));
        }
        outcomes
    });
    let run_time = start.elapsed();
    let began = Instant::now();
    let checked = recorder.check_within(BUDGET);
    let check_time = began.elapsed();
    let (requests, replies) = outcomes
        .iter()
        .fold((0, 0), |(q, r), (q1, r1, _)| (q + q1, r + r1));
    let mut errors: Vec<String> = outcomes.into_iter().filter_map(|(_, _, e)| e).collect();
    errors.sort();
    Ok(Against {
        history: RunHistory::new(recorder, checked),
        requests,
        replies,
        errors,
        run_time,
        check_time,
    })
}

/// One client over real TCP.
struct Client {
    id: usize,
    recorder: Arc<Recorder>,
    start: Instant,
}

impl Client {
    /// Nanoseconds since the run began, on the monotonic clock.
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Its session's requests, one at a time: requests written, replies read, and why
    /// it stopped early, if it did.
    async fn run(
        self,
        addr: SocketAddr,
        mut session: Box<dyn super::Session>,
        mut framer: Box<dyn super::ReplyFramer>,
        seed: u64,
    ) -> (usize, usize, Option<String>) {
        let mut rng = seeds::rng(seed, Stream::Workload(self.id));
        let (mut requests, mut replies) = (0, 0);
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr)).await;
        let mut stream = match stream {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return (0, 0, Some(format!("client {}: connect: {e}", self.id))),
            Err(_) => {
                return (
                    0,
                    0,
                    Some(format!(
                        "client {}: connect: no answer within {WAIT:?}",
                        self.id
                    )),
                )
            }
        };
        let _ = stream.set_nodelay(true);
        let mut buf = BytesMut::new();
        let mut stopped = None;
        while let Some(request) = session.next_request(&mut rng) {
            let (id, at) = (self.id, self.now());
            self.recorder
                .with(|r| r.invoked(id, &request.bytes, request.skipped, at));
            requests += 1;
            if let Err(e) = stream.write_all(&request.bytes).await {
                stopped = Some(format!("client {id}: write: {e}"));
                break;
            }
            let reply = loop {
                match framer.next_frame(&mut buf) {
                    Ok(Some(frame)) => break Ok(frame),
                    Ok(None) => {}
                    Err(e) => break Err(format!("unreadable reply: {e}")),
                }
                match tokio::time::timeout(WAIT, stream.read_buf(&mut buf)).await {
                    Ok(Ok(0)) => break Err("the server closed the connection".to_string()),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => break Err(format!("read: {e}")),
                    Err(_) => break Err(format!("no reply within {WAIT:?}")),
                }
            };
            match reply {
                Ok(frame) => {
                    let at = self.now();
                    self.recorder
                        .with(|r| r.completed(id, &request.bytes, &frame, at, None));
                    replies += 1;
                    if let Err(e) = session.check_reply(&request, &frame) {
                        stopped = Some(format!("client {id}: {e}"));
                        break;
                    }
                }
                Err(e) => {
                    stopped = Some(format!("client {id}: {e}"));
                    break;
                }
            }
        }
        self.recorder.with(|r| r.unanswered(self.id));
        (requests, replies, stopped)
    }
}

/// A seed nobody chose, for a check started without one (print it: the same seed draws
/// the same requests again), or a prefix of keys no other run uses.
pub fn fresh_seed() -> u64 {
    seeds::fresh()
}

/// Writes `found`'s history as JSON lines to `path` (creating its folder) and, when it is
/// not linearizable, its timeline titled `title` beside it (`path` with `.html`): the
/// timeline's path, if written.
pub fn write(found: &Against, path: &Path, title: &str) -> std::io::Result<Option<PathBuf>> {
    write_file(path, found.history.json_lines())?;
    if found.history.checked.linearizable() {
        return Ok(None);
    }
    let timeline = path.with_extension("html");
    write_file(&timeline, found.history.timeline(title))?;
    Ok(Some(timeline))
}

/// `framesim run --against HOST:PORT --contention`, the black-box linearizability check:
/// `clients` clients (default 8) of a [`ContentionWorkload`] of `requests` requests each
/// over `keys` shared registers, against the server at `addr`, with `seed` (default a fresh
/// one) and keys of this run's own. Writes the history to `history` (default
/// `target/framesim/contention-<seed>-history.jsonl`), and a timeline beside it when it is
/// not linearizable; prints the summary and both paths. Returns whether it passed.
/// `addr` is `HOST:PORT`, resolved as `--against` takes it ([`crate::kv::against::resolve`]).
pub fn contend(
    addr: &str,
    seed: Option<u64>,
    clients: Option<usize>,
    requests: usize,
    keys: usize,
    history: Option<PathBuf>,
) -> Result<bool, String> {
    let resolved = crate::kv::against::resolve(addr)?;
    let seed = seed.unwrap_or_else(fresh_seed);
    let clients = clients.unwrap_or(8);
    // Keys of this run's own: the server may keep others' from before.
    let prefix = format!("c{:08x}:", fresh_seed() as u32);
    let workload = ContentionWorkload::new()
        .keys(keys)
        .requests(requests)
        .prefix(prefix);
    let found = check(resolved, &workload, clients, seed)?;
    let path =
        history.unwrap_or_else(|| work_dir().join(format!("contention-{seed}-history.jsonl")));
    let timeline = write(&found, &path, &format!("against {addr}"))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "against {addr}, {clients} clients, seed {seed}: {}",
        found.summary()
    );
    println!("history: {}", shown(&path));
    if let Some(timeline) = timeline {
        println!("timeline: {}", shown(&timeline));
    }
    Ok(found.passed())
}
