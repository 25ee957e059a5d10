//! The public harness API on framesim's own server (which must pass in every framing, with
//! misbehaving clients) and on naive servers (which its oracles must catch).

mod lines;

use bytes::BytesMut;
use framesim::harness::{
    AfterError, Faults, Harness, KvWorkload, Listener, Options, RoleMix, Shutdown,
};
use framesim_server::framing::Decoder;
use framesim_server::protocol::{Framing, ReplyEncoder, RequestDecoder};
use framesim_server::{serve, Config, Kv, Limits, Reply, Service, Stats};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FRAME_DEADLINE: Duration = Duration::from_millis(500);

fn framings() -> [Framing; 3] {
    [Framing::Resp, Framing::line(), Framing::length()]
}

/// Two clients of every role but the oversized, at-limit and slow-reading ones (the
/// key-value workload makes no such request: they depend on the server's limits) beside
/// the well-behaved ones; a slowloris must be cut within twice the server's frame deadline.
fn options() -> Options {
    Options {
        clients: 24,
        roles: RoleMix {
            slowloris: 2,
            disconnect: 2,
            idle: 2,
            half_close: 2,
            never_reader: 2,
            oversized: 0,
            malformed: 2,
            quit: 2,
            bulk_loader: 2,
            slowloris_bound: FRAME_DEADLINE * 2,
            ..RoleMix::none()
        },
        ..Options::default()
    }
}

/// framesim's server, unchanged, with `config`, asked by `workload`.
fn serving(config: Config, workload: KvWorkload) -> Harness {
    Harness::new(
        move |listener, shutdown| {
            let config = config.clone();
            async move {
                serve(listener, Kv::new(), config, Stats::default(), shutdown)
                    .await
                    .expect("serve");
            }
        },
        workload,
    )
}

/// framesim's server, unchanged, with `limits`.
fn framesim(framing: Framing, limits: Limits) -> Harness {
    let config = Config {
        framing: framing.clone(),
        limits,
        grace: Duration::ZERO,
        ..Config::default()
    };
    serving(config, KvWorkload::new(framing)).with(options())
}

fn deadline() -> Limits {
    Limits {
        frame_deadline: FRAME_DEADLINE,
        ..Limits::default()
    }
}

#[test]
fn framesim_passes_in_every_framing() {
    for framing in framings() {
        let tally = framesim::sweep!(framesim(framing.clone(), deadline()), 0..4);
        let seeds =
            u64::try_from(framesim::harness::seeds_from_env(0..4).unwrap().count()).unwrap();
        // Every role ran: a run that exercised nothing passes nothing.
        assert_eq!(tally.requests, tally.replies, "{framing}");
        // 8 well-behaved clients of 8 requests, two half-closing ones of a batch of 4, two
        // quitting ones of a batch of 4 and the QUIT, two malformed ones of a batch of 4
        // before the malformed request (then closed), and two bulk loaders of as many of
        // their 8 as fill a deadline and a fifth.
        let others = seeds * (8 * 8 + 2 * 4 + 2 * 5 + 2 * 4);
        let bulk = tally.replies.saturating_sub(others);
        assert!(
            (seeds * 2 * 4..=seeds * 2 * 8).contains(&bulk),
            "{framing}: {bulk}"
        );
        assert_eq!(tally.malformed_refused, seeds * 2, "{framing}");
        assert_eq!(tally.quits, seeds * 2, "{framing}");
        assert_eq!(tally.bulk_loads, seeds * 2, "{framing}");
        assert_eq!(tally.slowloris_cut, seeds * 2, "{framing}");
        assert_eq!(tally.disconnects, seeds * 2, "{framing}");
        assert_eq!(tally.idle, seeds * 2, "{framing}");
        assert_eq!(tally.half_closed, seeds * 2, "{framing}");
        assert_eq!(tally.windows_filled, seeds * 2, "{framing}");
        assert_eq!(tally.clients_finished, seeds * 24, "{framing}");
    }
}

#[test]
fn the_stream_faults_happen() {
    let outcome = framesim(Framing::Resp, deadline()).clients(64).run(3);
    assert!(outcome.passed(), "{}", outcome.failure("-"));
    let c = outcome.counts;
    for (what, n) in [
        ("partial reads", c.partial_reads),
        ("coalesced reads", c.coalesced_reads),
        ("short writes", c.short_writes),
        ("spurious pendings", c.pendings),
    ] {
        assert!(n > 0, "no {what}: {}", outcome.summary());
    }
}

#[test]
fn the_same_seed_gives_the_same_transcript() {
    let harness = framesim(Framing::line(), deadline());
    let a = harness
        .check_determinism(5)
        .unwrap_or_else(|d| panic!("{d:?}"));
    let b = harness
        .check_determinism(6)
        .unwrap_or_else(|d| panic!("{d:?}"));
    assert_ne!(a, b, "two seeds, one transcript");
    assert!(harness.replay(5).transcript.len() > 500);
}

#[test]
fn without_a_frame_deadline_slowloris_is_caught() {
    let outcome = framesim(Framing::Resp, Limits::default()).run(1);
    assert!(!outcome.passed());
    assert_eq!(
        outcome.violations[0].oracle.name(),
        "slowloris",
        "{}",
        outcome.first_failure()
    );
    // The failure names the client's role.
    let client = outcome.violations[0]
        .client()
        .expect("a client's violation");
    assert!(
        outcome
            .first_failure()
            .contains(&format!("client {client} (slowloris) at")),
        "{}",
        outcome.first_failure()
    );
}

/// A server that takes each read for one whole request: right only when every request
/// arrives in one piece.
async fn one_read_one_request(mut listener: Listener, shutdown: Shutdown, framing: Framing) {
    let kv = Arc::new(Kv::new());
    tokio::pin!(shutdown);
    loop {
        let (mut conn, _) = tokio::select! {
            biased;
            _ = &mut shutdown => return,
            accepted = listener.accept() => accepted.expect("accept"),
        };
        let (kv, framing) = (kv.clone(), framing.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = conn.read(&mut buf).await {
                let mut bytes = BytesMut::from(&buf[..n]);
                let mut decoder = RequestDecoder::new(&framing, &Limits::default());
                let reply = match decoder.decode(&mut bytes) {
                    Ok(Some(cmd)) => kv.call(cmd).reply,
                    _ => Reply::error("ERR incomplete request"),
                };
                let mut out = BytesMut::new();
                ReplyEncoder::new(&framing).encode(&reply, &mut out);
                if conn.write_all(&out).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn naive(framing: Framing) -> Harness {
    let workload = KvWorkload::new(framing.clone());
    Harness::new(
        move |listener, shutdown| one_read_one_request(listener, shutdown, framing.clone()),
        workload,
    )
    .with(Options {
        clients: 8,
        roles: RoleMix::none(),
        faults: Faults {
            accept_error_chance: 0.0,
            ..Options::default().faults
        },
        ..Options::default()
    })
}

#[test]
fn a_server_that_takes_one_read_for_one_request_fails_every_framing() {
    for framing in framings() {
        for seed in 0..4 {
            let outcome = naive(framing.clone()).run(seed);
            let oracle = outcome.violations.first().map(|v| v.oracle.name());
            assert!(
                matches!(oracle, Some("reply" | "unanswered" | "framing")),
                "{framing} seed {seed}: {}",
                outcome.summary()
            );
        }
    }
}

#[test]
fn a_failing_sweep_names_the_seed_and_the_command_that_replays_it() {
    let harness = naive(Framing::Resp);
    let sweep = std::panic::AssertUnwindSafe(|| framesim::sweep!(harness, 3..5));
    let panic = std::panic::catch_unwind(sweep).expect_err("the naive server passed");
    let message = panic
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(!message.contains('\n'), "{message}");
    // Unless FRAMESIM_SEED names another, the first seed fails.
    let seed = std::env::var("FRAMESIM_SEED").unwrap_or_else(|_| "3".into());
    let replay = format!(
        "replay: FRAMESIM_SEED={seed} cargo test -p framesim --test harness -- \
         a_failing_sweep_names_the_seed_and_the_command_that_replays_it --exact"
    );
    assert!(
        message.starts_with(&format!("framesim: seed {seed} [")),
        "{message}"
    );
    // Then the smallest options that still fail, written to a file, and how to run them
    // (unless this run has them already).
    if std::env::var_os("FRAMESIM_OPTIONS").is_some() {
        return;
    }
    let (replayed, smallest) = message.split_once(" | smallest: ").expect("shrunk");
    assert!(replayed.ends_with(&replay), "{message}");
    let (file, rest) = smallest
        .strip_prefix("FRAMESIM_OPTIONS=")
        .and_then(|s| s.split_once(' '))
        .expect("an options file");
    assert!(replay.ends_with(rest), "{message}");
    let options = std::fs::read_to_string(file).expect("the shrunk options file");
    let options = naive(Framing::Resp)
        .options()
        .overlaid(&options)
        .expect("shrunk options parse");
    assert!(options.client_ids().len() <= 2, "{options:?}");
    let written = framesim::harness::Replay::new("framesim", "--test harness")
        .transcript_path(seed.parse().unwrap());
    let transcript = std::fs::read_to_string(&written).expect("the transcript file");
    assert!(transcript.contains("VIOLATION ["), "{}", written.display());
}

#[test]
fn a_server_that_keeps_connections_is_caught() {
    let harness = Harness::new(
        |mut listener: Listener, shutdown: Shutdown| async move {
            let mut kept = Vec::new();
            tokio::pin!(shutdown);
            loop {
                tokio::select! {
                    biased;
                    _ = &mut shutdown => return,
                    accepted = listener.accept() => kept.push(accepted.expect("accept")),
                }
            }
        },
        KvWorkload::new(Framing::Resp).requests(0),
    )
    .clients(3);
    let outcome = harness.run(0);
    assert_eq!(outcome.violations.len(), 1, "{}", outcome.summary());
    assert_eq!(outcome.violations[0].oracle.name(), "leak");
}

/// Each connection's lines (up to `\n`) answered by `answer`: its reply written, or the
/// connection closed at `None`.
async fn answering_lines<A>(listener: Listener, shutdown: Shutdown, answer: A)
where
    A: Fn(&[u8]) -> Option<Vec<u8>> + Clone + Send + 'static,
{
    use tokio::io::{AsyncBufReadExt, BufReader};
    lines::task_per_connection(listener, shutdown, move |conn| {
        let answer = answer.clone();
        async move {
            let (reader, mut writer) = tokio::io::split(conn);
            let mut reader = BufReader::new(reader);
            let mut line = Vec::new();
            while let Ok(1..) = reader.read_until(b'\n', &mut line).await {
                let Some(reply) = answer(&line) else { return };
                if writer.write_all(&reply).await.is_err() {
                    return;
                }
                line.clear();
            }
        }
    })
    .await
}

#[test]
fn a_panic_in_a_connection_task_fails_the_run() {
    let harness = Harness::new(
        |listener: Listener, shutdown: Shutdown| {
            lines::task_per_connection(listener, shutdown, |conn| async move {
                drop(conn);
                panic!("the connection task gave up");
            })
        },
        KvWorkload::new(Framing::Resp),
    )
    .clients(2);
    let outcome = harness.run(0);
    assert!(!outcome.passed());
    assert!(
        outcome.panics[0].ends_with("the connection task gave up"),
        "{:?}",
        outcome.panics
    );
}

/// framesim's server through a crash and restart: clients cut off by the crash connect
/// again with a new session; the server closure is called again for the new host.
fn restarting(serves: Arc<std::sync::atomic::AtomicUsize>, after_crash: bool) -> Harness {
    let config = Config {
        framing: Framing::Resp,
        grace: Duration::ZERO,
        ..Config::default()
    };
    Harness::new(
        move |listener, shutdown| {
            let (config, serves) = (config.clone(), serves.clone());
            async move {
                let incarnation = serves.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if incarnation > 0 && !after_crash {
                    return;
                }
                serve(listener, Kv::new(), config, Stats::default(), shutdown)
                    .await
                    .expect("serve");
            }
        },
        KvWorkload::new(Framing::Resp).requests(40),
    )
    .with(Options {
        clients: 16,
        restart_at: Some(Duration::from_millis(120)),
        roles: RoleMix::none(),
        ..Options::default()
    })
}

#[test]
fn a_restart_starts_the_server_again_and_its_clients_over() {
    let serves = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let outcome = restarting(serves.clone(), true).replay(3);
    assert!(outcome.passed(), "{}", outcome.failure("(test)"));
    assert_eq!(serves.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(outcome.tally.restarted > 0, "{}", outcome.summary());
    let lines = outcome.transcript.lines();
    assert!(lines
        .iter()
        .any(|l| l.contains("server host crash + restart")));

    // A server that does not come back is caught: its clients cannot connect again.
    let serves = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let outcome = restarting(serves, false).run(3);
    assert!(
        outcome
            .violations
            .iter()
            .any(|v| v.oracle.name() == "connect"),
        "{}",
        outcome.summary()
    );
}

/// framesim's server giving requests in flight `grace` at shutdown, restarted in a run
/// that holds it to 200 ms of grace.
fn draining(grace: Duration) -> Harness {
    let config = Config {
        framing: Framing::Resp,
        grace,
        ..Config::default()
    };
    serving(config, KvWorkload::new(Framing::Resp).requests(40)).with(Options {
        clients: 16,
        restart_at: Some(Duration::from_millis(120)),
        restart_grace: Duration::from_millis(200),
        roles: RoleMix::none(),
        ..Options::default()
    })
}

#[test]
fn a_graceful_restart_must_answer_what_it_began_to_read() {
    for seed in 0..4 {
        let outcome = draining(Duration::from_millis(200)).run(seed);
        assert!(outcome.passed(), "{}", outcome.failure("(test)"));
        assert!(outcome.tally.restarted > 0, "{}", outcome.summary());
    }
    // The same server cutting every connection at once breaks the promise.
    let caught = (0..4).find_map(|seed| {
        let outcome = draining(Duration::ZERO).run(seed);
        outcome
            .violations
            .first()
            .map(|v| (v.oracle.name(), v.detail.clone()))
    });
    let (oracle, detail) = caught.expect("a server with no grace is caught within 4 seeds");
    assert_eq!(oracle, "drain", "{detail}");
    assert!(detail.contains("graceful shutdown"), "{detail}");
}

#[test]
fn a_failing_seed_shrinks_to_one_client_and_a_request_or_two() {
    for framing in framings() {
        let harness = naive(framing.clone());
        let shrunk = harness.shrink(0).expect("seed 0 fails");
        let o = &shrunk.options;
        assert!(!shrunk.outcome.passed());
        assert_eq!(o.client_ids().len(), 1, "{framing}: {o:?}");
        assert!(o.max_requests.is_some_and(|n| n <= 2), "{framing}: {o:?}");
        assert!(
            shrunk.outcome.transcript.len() <= 60,
            "{}",
            shrunk.outcome.render()
        );
        // The file form runs the same failing run.
        let again = harness
            .clone()
            .with(Options::from_toml(&shrunk.toml()).expect("parses"))
            .run(shrunk.seed);
        assert_eq!(again.transcript.hash(), shrunk.outcome.transcript.hash());
    }
    // A passing seed has nothing to shrink.
    assert!(framesim(Framing::Resp, deadline()).shrink(0).is_none());
}

/// framesim's server holding `server_max` connections, probed for a limit of 8.
fn limited(server_max: usize) -> Harness {
    let config = Config {
        framing: Framing::Resp,
        max_connections: server_max,
        ..Config::default()
    };
    serving(config, KvWorkload::new(Framing::Resp)).with(Options {
        clients: 4,
        max_connections: Some(8),
        ..Options::gentle()
    })
}

#[test]
fn the_connection_limit_is_probed_once_the_clients_have_left() {
    let outcome = limited(8).run(1);
    assert!(outcome.passed(), "{}", outcome.failure("(test)"));
    for server_max in [7, 9] {
        let outcome = limited(server_max).run(1);
        let oracles: Vec<_> = outcome.violations.iter().map(|v| v.oracle.name()).collect();
        assert_eq!(
            oracles,
            ["connection-limit"],
            "{server_max}: {}",
            outcome.summary()
        );
    }
}

/// Accept failures injected: half of the connections' accepts fail first.
fn failing_accepts() -> Options {
    let mut o = options();
    o.faults.accept_error_chance = 0.5;
    o
}

#[test]
fn failing_accepts_pass_a_server_that_backs_off_and_catch_one_that_spins() {
    let config = |backoff| Config {
        accept_backoff: backoff,
        limits: deadline(),
        grace: Duration::ZERO,
        ..Config::default()
    };
    let workload = KvWorkload::new(Framing::Resp);
    let backs_off = serving(config(Duration::from_millis(100)), workload.clone());
    let outcome = backs_off.with(failing_accepts()).run(1);
    assert!(outcome.passed(), "{}", outcome.first_failure());
    assert!(outcome.counts.accept_errors > 0, "no accept failed");
    let spins = serving(config(Duration::ZERO), workload).with(failing_accepts());
    let failed = (1..=5).find_map(|seed| {
        let outcome = spins.run(seed);
        (!outcome.passed()).then_some(outcome)
    });
    let outcome = failed.expect("a server spinning on a failed accept passed 5 seeds");
    assert_eq!(
        outcome.violations[0].oracle.name(),
        "accept",
        "{}",
        outcome.first_failure()
    );
}

/// Lines and frames of at most 64 KiB.
fn small_limits() -> Limits {
    Limits {
        max_line: 64 * 1024,
        max_frame: 64 * 1024,
        max_buffered: 192 * 1024,
        ..deadline()
    }
}

/// framesim's server with `limits`, asked by a limited key-value workload whose declared
/// `max_request` is `declared`: two oversized and two at-limit clients among 8.
fn sized(framing: Framing, limits: Limits, declared: usize) -> Harness {
    let config = Config {
        framing: framing.clone(),
        limits,
        grace: Duration::ZERO,
        ..Config::default()
    };
    let options = Options {
        clients: 8,
        max_request: declared,
        roles: RoleMix {
            oversized: 2,
            at_limit: 2,
            ..RoleMix::none()
        },
        ..Options::default()
    };
    serving(config, KvWorkload::new(framing).limited()).with(options)
}

#[test]
fn a_limited_key_value_workload_holds_a_server_to_the_limit_it_declares() {
    for framing in framings() {
        // The whole request within a line's or a frame's limit.
        let declared = 64 * 1024;
        let tally = framesim::sweep!(sized(framing.clone(), small_limits(), declared), 0..4);
        assert_eq!(tally.oversized_refused, 4 * 2, "{framing}");
        assert_eq!(tally.at_limit_served, 4 * 2, "{framing}");
        // A server whose limit is far above the declared one reads the oversized request.
        let roomy = Limits {
            max_line: 1 << 20,
            max_frame: 1 << 20,
            max_buffered: 4 << 20,
            ..deadline()
        };
        let outcome = sized(framing.clone(), roomy, 4096).run(0);
        let oracles: Vec<_> = outcome.violations.iter().map(|v| v.oracle.name()).collect();
        assert!(oracles.contains(&"oversized"), "{framing}: {oracles:?}");
        // One whose limit is below it refuses a request it should serve.
        let outcome = sized(framing.clone(), small_limits(), 2 * declared).run(0);
        let oracles: Vec<_> = outcome.violations.iter().map(|v| v.oracle.name()).collect();
        assert!(
            oracles.contains(&"wrongful-close"),
            "{framing}: {oracles:?}"
        );
    }
}

#[test]
fn a_swarm_runs_each_seed_with_options_of_its_own_and_shrinks_to_the_drawn_ones() {
    let swarm = |h: Harness| {
        let options = Options {
            swarm: true,
            ..h.options().clone()
        };
        h.with(options)
    };
    // framesim's server passes its seeds, each with other options.
    let harness = swarm(framesim(Framing::line(), deadline()));
    let drawn: Vec<Options> = (0..8).map(|s| harness.options().for_seed(s)).collect();
    assert!(drawn.windows(2).any(|w| w[0] != w[1]));
    let tally = framesim::sweep!(harness.clone(), 0..8);
    assert_eq!(tally.requests, tally.replies);
    assert!(tally.clients_finished < 8 * 24, "no seed had fewer clients");
    // A failing seed's smallest options are the drawn ones, swarm off: they replay it.
    let naive = swarm(naive(Framing::Resp));
    let seed = (0..16)
        .find(|&s| !naive.run(s).passed())
        .expect("a failing seed");
    let shrunk = naive.shrink(seed).expect("it fails");
    assert!(!shrunk.options.swarm);
    let again = naive.clone().with(shrunk.options.clone()).run(shrunk.seed);
    assert_eq!(
        again.violations.first().map(|v| v.oracle),
        shrunk.outcome.violations.first().map(|v| v.oracle)
    );
    let file = shrunk.options.toml_over(naive.options());
    assert!(file.contains("swarm = false"), "{file}");
    let read = naive.options().overlaid(&file).unwrap();
    assert_eq!(read, shrunk.options);
}

/// A line echo server whose connection task `expect`s its writes, as the tokio tutorial's
/// echo does, or gives up on a failed one.
fn echo_writes(unwrap: bool) -> Harness {
    let server = move |listener: Listener, shutdown: Shutdown| {
        lines::task_per_connection(listener, shutdown, move |conn| echo_lines(conn, unwrap))
    };
    let roles = RoleMix {
        disconnect: 6,
        ..RoleMix::none()
    };
    Harness::new(server, lines::Lines { oversized: false }).with(Options {
        clients: 8,
        roles,
        ..Options::default()
    })
}

#[test]
fn a_client_that_leaves_its_replies_unread_resets_a_server_that_expects_its_writes() {
    let panicked = (0..8)
        .map(|seed| echo_writes(true).run(seed))
        .find(|outcome| !outcome.panics.is_empty())
        .expect("no write failed in 8 seeds");
    assert!(
        panicked.panics[0].contains("failed to write data to socket"),
        "{:?}",
        panicked.panics
    );
    let sound = echo_writes(false).run(panicked.seed);
    assert!(sound.passed(), "{}", sound.failure("-"));
}

/// What a server must answer a line, as [`LinesOf`] models it.
type LineReply = fn(&[u8]) -> Vec<u8>;

/// Lines from `line` (client, count from 1; `None`: done) cut at their `\n`, each reply
/// the one `reply` gives for its request, or not modelled at all.
#[derive(Clone, Copy)]
struct LinesOf {
    line: fn(usize, usize) -> Option<String>,
    reply: Option<LineReply>,
}

struct LinesOfSession {
    client: usize,
    sent: usize,
    of: LinesOf,
}

impl framesim::harness::Session for LinesOfSession {
    fn next_request(
        &mut self,
        _rng: &mut framesim::harness::Draws,
    ) -> Option<framesim::harness::Request> {
        self.sent += 1;
        (self.of.line)(self.client, self.sent).map(framesim::harness::Request::new)
    }

    fn expect(&mut self, request: &framesim::harness::Request) -> Option<bytes::Bytes> {
        self.of.reply.map(|reply| reply(&request.bytes).into())
    }
}

impl framesim::harness::Workload for LinesOf {
    fn session(&self, client: usize) -> Box<dyn framesim::harness::Session> {
        Box::new(LinesOfSession {
            client,
            sent: 0,
            of: *self,
        })
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(framesim::harness::delimited(b"\n"))
    }
}

/// A line echo that answers a line the stream ended inside with an error, as a correct
/// server may, under disconnecting clients and a workload with no model.
fn refusing_unfinished_lines() -> Harness {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let server = |listener: Listener, shutdown: Shutdown| {
        lines::task_per_connection(listener, shutdown, |conn| async move {
            let (reader, mut writer) = tokio::io::split(conn);
            let mut reader = BufReader::new(reader);
            let mut line = Vec::new();
            loop {
                line.clear();
                let answer: &[u8] = match reader.read_until(b'\n', &mut line).await {
                    Ok(_) if line.ends_with(b"\n") => &line,
                    Ok(1..) => b"ERR the stream ended inside a line\n",
                    _ => return,
                };
                if writer.write_all(answer).await.is_err() || !line.ends_with(b"\n") {
                    return;
                }
            }
        })
    };
    let roles = RoleMix {
        disconnect: 6,
        ..RoleMix::none()
    };
    // Six lines a client, with no model of their replies: no `expect`, no `check_reply`.
    let unmodelled = LinesOf {
        line: |client, n| (n <= 6).then(|| format!("line {client} {n}\n")),
        reply: None,
    };
    Harness::new(server, unmodelled).with(Options {
        clients: 8,
        roles,
        ..Options::default()
    })
}

#[test]
fn a_workload_with_no_model_judges_no_answer_to_an_unfinished_request() {
    let tally = framesim::sweep!(refusing_unfinished_lines(), 0..8);
    assert!(
        tally.disconnects > tally.left_unread,
        "no client left inside a request"
    );
}

/// The line workload with the framer its function makes.
struct Framed(fn() -> Box<dyn framesim::harness::ReplyFramer>);

impl framesim::harness::Workload for Framed {
    fn session(&self, client: usize) -> Box<dyn framesim::harness::Session> {
        lines::Lines { oversized: true }.session(client)
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        (self.0)()
    }
}

/// A line echo that greets every connection with `HELLO` before any request, and closes
/// one whose line is longer than `limit`.
fn greeting(framer: fn() -> Box<dyn framesim::harness::ReplyFramer>, limit: usize) -> Harness {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let server = move |listener: Listener, shutdown: Shutdown| {
        lines::task_per_connection(listener, shutdown, move |conn| async move {
            let (reader, mut writer) = tokio::io::split(conn);
            if writer.write_all(b"HELLO\n").await.is_err() {
                return;
            }
            let mut reader = BufReader::new(reader);
            let mut line = Vec::new();
            loop {
                line.clear();
                let mut bounded = (&mut reader).take(limit as u64 + 1);
                let read =
                    tokio::time::timeout(FRAME_DEADLINE, bounded.read_until(b'\n', &mut line));
                match read.await {
                    Ok(Ok(_)) if line.len() <= limit && line.ends_with(b"\n") => {}
                    _ => return,
                }
                if writer.write_all(&line).await.is_err() {
                    return;
                }
            }
        })
    };
    Harness::new(server, Framed(framer)).with(Options {
        clients: 12,
        max_request: 4096,
        ..Options::default()
    })
}

#[test]
fn a_server_that_greets_each_connection_is_framed_past_its_greeting() {
    let plain = || -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(framesim::harness::delimited(b"\n"))
    };
    let failed = (0..8)
        .map(|seed| greeting(plain, 4096).run(seed))
        .find(|outcome| !outcome.passed())
        .expect("the greeting passed for a reply");
    assert!(
        failed.first_failure().contains("HELLO"),
        "{}",
        failed.first_failure()
    );
    let greeted = || -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(framesim::harness::greeted(framesim::harness::delimited(
            b"\n",
        )))
    };
    let tally = framesim::sweep!(greeting(greeted, 4096), 0..8);
    assert!(tally.replies > 0 && tally.slowloris_cut > 0 && tally.oversized_refused > 0);
    // The greeting is no refusal: a server with no limit reads the oversized request.
    let unlimited = greeting(greeted, usize::MAX / 2).run(0);
    let oracles: Vec<_> = unlimited
        .violations
        .iter()
        .map(|v| v.oracle.name())
        .collect();
    assert!(oracles.contains(&"oversized"), "{oracles:?}");
}

/// A line echo behind an accept loop that takes one of `limit` permits before each accept
/// (mini-redis's way): the connection over the limit waits in the backlog until a
/// permit comes back, which it does when a connection ends, unless `leak`.
fn queueing(limit: usize, leak: bool) -> Harness {
    let server = move |mut listener: Listener, shutdown: Shutdown| async move {
        let permits = Arc::new(tokio::sync::Semaphore::new(limit));
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                biased;
                _ = &mut shutdown => return,
                permit = permits.clone().acquire_owned() => permit.expect("never closed"),
            };
            let accepted = tokio::select! {
                biased;
                _ = &mut shutdown => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((conn, _)) = accepted else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(async move {
                echo_lines(conn, false).await;
                if leak {
                    std::mem::forget(permit);
                }
            });
        }
    };
    Harness::new(server, lines::Lines { oversized: false }).with(Options {
        clients: 4,
        max_connections: Some(limit),
        ..Options::gentle()
    })
}

#[test]
fn a_server_that_keeps_the_connection_over_its_limit_waiting_passes_the_probe() {
    let outcome = queueing(8, false).run(1);
    assert!(outcome.passed(), "{}", outcome.failure("(test)"));
    // Permits never given back: the clients' own connections already took four of the
    // eight slots for good.
    let leaking = queueing(8, true).run(1);
    let failure = leaking.first_failure();
    assert!(
        failure.starts_with("[connection-limit]")
            && failure.contains(": 4 of 8 clients connecting at once were served"),
        "{}",
        leaking.failure("(test)")
    );
}

/// Echoes whole lines until the client leaves; a failed write panics if `unwrap`, else
/// ends the connection.
async fn echo_lines(conn: framesim::harness::Connection, unwrap: bool) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let (reader, mut writer) = tokio::io::split(conn);
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(_) if line.ends_with(b"\n") => {}
            _ => return,
        }
        let written = writer.write_all(&line).await;
        if unwrap {
            written.expect("failed to write data to socket");
        } else if written.is_err() {
            return;
        }
    }
}

/// What the server answers `line`: a 60 KiB line, a whole receive window, to `big`, else
/// the line itself.
fn big_or_echo(line: &[u8]) -> Vec<u8> {
    if line != b"big\n" {
        return line.to_vec();
    }
    let mut big = vec![b'x'; 60 * 1024];
    big.push(b'\n');
    big
}

/// A client that pipelines a request with a reply as large as its window and then more
/// requests, reading nothing until they are written (slowly or not), must find room for them on the way
/// to the server, as a real connection's buffers give: the server, blocked on the large
/// reply, reads nothing meanwhile, and cuts a line that stops coming for its deadline.
#[test]
fn requests_written_behind_a_reply_as_large_as_the_window_are_not_held_back() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let server = |deadline: Duration| {
        move |listener: Listener, shutdown: Shutdown| {
            lines::task_per_connection(listener, shutdown, move |conn| async move {
                let (reader, mut writer) = tokio::io::split(conn);
                let mut reader = BufReader::new(reader);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    let read = tokio::time::timeout(deadline, reader.read_until(b'\n', &mut line));
                    match read.await {
                        Ok(Ok(_)) if line.ends_with(b"\n") => {}
                        _ => return,
                    }
                    if writer.write_all(&big_or_echo(&line)).await.is_err() {
                        return;
                    }
                }
            })
        }
    };
    let mut options = Options {
        clients: 4,
        ..Options::gentle()
    };
    options.faults.window = 64 * 1024;
    options.delivery.pipeline = 4;
    // Six pairs a client: `big`, then a 1 KiB line.
    let pairs = LinesOf {
        line: |client, n| {
            (n <= 12).then(|| match n % 2 {
                1 => "big\n".to_string(),
                _ => format!("{client}{}\n", "y".repeat(1024)),
            })
        },
        reply: Some(big_or_echo),
    };
    let harness = Harness::new(server(FRAME_DEADLINE), pairs).with(options.clone());
    framesim::sweep!(harness, 0..16);
    // Clients that read slowly (a batch's replies in about a second, which the server's
    // deadline, running while it waits for the next line, allows) take their replies at
    // their pace while a write waits.
    options.roles.slow_reader = options.clients;
    let slow = Harness::new(server(FRAME_DEADLINE * 4), pairs).with(options);
    framesim::sweep!(slow, 0..16);
}

/// Lines echoed; a line starting with `!` gets `ERR` and a close at once, its bytes left
/// unread (as hyper closes at a header it cannot parse).
struct Bang;

struct BangSession(usize);

impl framesim::harness::Session for BangSession {
    fn next_request(
        &mut self,
        _rng: &mut framesim::harness::Draws,
    ) -> Option<framesim::harness::Request> {
        self.0 = self.0.checked_sub(1)?;
        Some(framesim::harness::Request::new(format!(
            "line {}\n",
            self.0
        )))
    }

    fn expect(&mut self, request: &framesim::harness::Request) -> Option<bytes::Bytes> {
        Some(request.bytes.clone())
    }

    fn malformed(
        &mut self,
        _rng: &mut framesim::harness::Draws,
    ) -> Option<framesim::harness::Request> {
        Some(framesim::harness::Request::new(format!(
            "!{}\n",
            "x".repeat(16 * 1024)
        )))
    }

    fn check_error(
        &mut self,
        _request: &framesim::harness::Request,
        reply: &[u8],
    ) -> Result<(), String> {
        (reply == b"ERR\n").then_some(()).ok_or("not ERR".into())
    }
}

impl framesim::harness::Workload for Bang {
    fn session(&self, _client: usize) -> Box<dyn framesim::harness::Session> {
        Box::new(BangSession(6))
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(framesim::harness::delimited(b"\n"))
    }
}

/// `n` clients, every one malformed, pipelining up to four requests.
fn malformed_clients(n: usize) -> Options {
    let mut options = Options {
        clients: n,
        roles: RoleMix {
            malformed: n,
            ..RoleMix::none()
        },
        ..Options::default()
    };
    options.delivery.pipeline = 4;
    options
}

#[test]
fn a_server_that_closes_at_a_malformed_request_with_its_bytes_unread_passes() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let server = |listener: Listener, shutdown: Shutdown| {
        lines::task_per_connection(listener, shutdown, |conn| async move {
            let (reader, mut writer) = tokio::io::split(conn);
            let mut reader = BufReader::with_capacity(16, reader);
            let mut line = Vec::new();
            loop {
                line.clear();
                let Ok(first) = reader.read_u8().await else {
                    return;
                };
                if first == b'!' {
                    let _ = writer.write_all(b"ERR\n").await;
                    return;
                }
                line.push(first);
                match reader.read_until(b'\n', &mut line).await {
                    Ok(_) if line.ends_with(b"\n") => {}
                    _ => return,
                }
                if writer.write_all(&line).await.is_err() {
                    return;
                }
            }
        })
    };
    let options = malformed_clients(6);
    let tally = framesim::sweep!(Harness::new(server, Bang).with(options), 0..16);
    assert!(tally.malformed_refused > 0 && tally.replies > 0);
}

#[test]
fn a_failing_seed_that_fails_otherwise_when_run_again_is_called_not_deterministic() {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Each start of the server numbers its replies anew: no two runs write the same bytes,
    // and every reply is wrong.
    static STARTS: AtomicU64 = AtomicU64::new(0);
    let server = |listener: Listener, shutdown: Shutdown| {
        let start = STARTS.fetch_add(1, Ordering::Relaxed);
        answering_lines(listener, shutdown, move |line| {
            Some([format!("{start} ").as_bytes(), line].concat())
        })
    };
    let harness = Harness::new(server, Bang).with(Options {
        clients: 2,
        ..Options::gentle()
    });
    let sweep = std::panic::AssertUnwindSafe(|| framesim::sweep!(harness, 0..1));
    let panic = std::panic::catch_unwind(sweep).expect_err("wrong replies passed");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(message.contains("[determinism]"), "{message}");
}

#[test]
fn a_failure_after_a_panic_in_the_server_names_the_panic() {
    let server = |listener: Listener, shutdown: Shutdown| {
        answering_lines(listener, shutdown, |line| {
            assert_ne!(line, b"line 3\n", "line 3 is too much");
            Some(line.to_vec())
        })
    };
    let harness = Harness::new(server, Bang).with(Options {
        clients: 1,
        ..Options::gentle()
    });
    let outcome = harness.run(0);
    let first = outcome.first_failure();
    assert!(first.starts_with("[panic] "), "{first}");
    assert!(first.contains("line 3 is too much"), "{first}");
    assert!(first.contains("(then [unanswered] client 0"), "{first}");
    assert_eq!(outcome.oracle().map(|o| o.name()), Some("panic"));
}

/// Lines echoed, and a `QUIT` the server closes at without a word, as `answered` says or
/// not. The session makes its quit only after a request of its own (as a stateful
/// protocol's may: a quit inside an unfinished transaction is another request).
#[derive(Clone, Copy)]
struct SilentQuit {
    answered: bool,
    asked: usize,
}

impl framesim::harness::Session for SilentQuit {
    fn next_request(
        &mut self,
        rng: &mut framesim::harness::Draws,
    ) -> Option<framesim::harness::Request> {
        let _ = rng;
        self.asked += 1;
        Some(framesim::harness::Request::new(&b"line\n"[..]))
    }

    fn expect(&mut self, request: &framesim::harness::Request) -> Option<bytes::Bytes> {
        Some(request.bytes.clone())
    }

    fn quit(&mut self, _rng: &mut framesim::harness::Draws) -> Option<framesim::harness::Request> {
        (self.asked > 0).then(|| framesim::harness::Request::new(&b"QUIT\n"[..]))
    }

    fn quit_answered(&self) -> bool {
        self.answered
    }
}

impl framesim::harness::Workload for SilentQuit {
    fn session(&self, _client: usize) -> Box<dyn framesim::harness::Session> {
        Box::new(*self)
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(framesim::harness::delimited(b"\n"))
    }
}

/// `server` and two quitting clients of echoed lines, whose quit is answered if `answered`.
fn quitting<F, Fut>(server: F, answered: bool) -> Harness
where
    F: Fn(Listener, Shutdown) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    Harness::new(server, SilentQuit { answered, asked: 0 }).with(Options {
        clients: 2,
        roles: RoleMix {
            quit: 2,
            ..RoleMix::none()
        },
        ..Options::default()
    })
}

#[test]
fn a_quit_the_server_answers_with_a_close_alone_is_declared_so() {
    let server = |listener: Listener, shutdown: Shutdown| {
        answering_lines(listener, shutdown, |line| {
            (line != b"QUIT\n").then(|| line.to_vec())
        })
    };
    let tally = framesim::sweep!(quitting(server, false), 0..4);
    assert_eq!(tally.quits, 2 * 4);
    let outcome = quitting(server, true).run(0);
    assert_eq!(
        outcome.violations.first().map(|v| v.oracle.name()),
        Some("quit"),
        "{}",
        outcome.first_failure()
    );
}

/// A line of 1 MiB for `huge`, else the line itself.
fn huge_or_echo(line: &[u8]) -> Vec<u8> {
    if line != b"huge\n" {
        return line.to_vec();
    }
    let mut huge = vec![b'x'; 1 << 20];
    huge.push(b'\n');
    huge
}

/// A client whose write waits behind replies that take longer than the reply timeout to
/// come, taking them as they come, is not held back: the server is busy, not stuck.
#[test]
fn a_write_behind_replies_that_take_long_to_come_waits_while_they_come() {
    let server = |listener: Listener, shutdown: Shutdown| {
        answering_lines(listener, shutdown, |line| Some(huge_or_echo(line)))
    };
    let mut options = Options {
        clients: 2,
        reply_timeout: Duration::from_millis(500),
        ..Options::gentle()
    };
    options.delivery.pipeline = 4;
    // Two huge replies, then a 16 KiB line, in a batch.
    let lines = LinesOf {
        line: |client, n| {
            (n <= 6).then(|| match n % 3 {
                0 => format!("{client}{}\n", "y".repeat(16 * 1024)),
                _ => "huge\n".to_string(),
            })
        },
        reply: Some(huge_or_echo),
    };
    framesim::sweep!(Harness::new(server, lines).with(options), 0..4);
}

#[test]
fn a_server_that_returns_at_a_failed_accept_is_named_at_once() {
    let server = |mut listener: Listener, shutdown: Shutdown| async move {
        tokio::pin!(shutdown);
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => return,
                accepted = listener.accept() => match accepted {
                    Ok((conn, _)) => drop(connections.spawn(async move {
                        let (reader, mut writer) = tokio::io::split(conn);
                        let mut reader = tokio::io::BufReader::new(reader);
                        let _ = tokio::io::copy_buf(&mut reader, &mut writer).await;
                    })),
                    // The loop ends: no connection is taken after this one failed.
                    Err(_) => return,
                },
            }
        }
    };
    let mut options = Options {
        clients: 8,
        ..Options::gentle()
    };
    options.faults.accept_error_chance = 0.5;
    let outcome = Harness::new(server, Bang).with(options).run(0);
    let first = outcome.violations.first().expect("a violation");
    assert_eq!(first.oracle.name(), "accept", "{}", outcome.first_failure());
    assert!(
        first.detail.contains("before its shutdown"),
        "{}",
        outcome.first_failure()
    );
}

/// What a line server does after its `ERR` to a line starting with `!`.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    /// Reads on from the byte after the line.
    ReadsOn,
    /// Closes the connection.
    Closes,
    /// Reads on, but drops the bytes it had read past the line.
    DropsBuffered,
    /// Closes the connection without the `ERR`.
    ClosesSilently,
}

/// Lines echoed, a line starting with `!` answered `ERR`, then `after`.
async fn erring_lines(listener: Listener, shutdown: Shutdown, after: Then) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    lines::task_per_connection(listener, shutdown, move |conn| async move {
        let (reader, mut writer) = tokio::io::split(conn);
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        while let Ok(1..) = reader.read_until(b'\n', &mut line).await {
            let error = line.starts_with(b"!");
            if error && after == Then::ClosesSilently {
                return;
            }
            let reply = if error {
                b"ERR\n".to_vec()
            } else {
                line.clone()
            };
            if writer.write_all(&reply).await.is_err() {
                return;
            }
            match after {
                _ if !error => {}
                Then::ReadsOn => {}
                Then::Closes | Then::ClosesSilently => return,
                Then::DropsBuffered => {
                    let held = reader.buffer().len();
                    reader.consume(held);
                }
            }
            line.clear();
        }
    })
    .await
}

/// Echoed lines, a malformed `!` line among them; what the server does after its error
/// as `after` says. With `bad`, every other request (the first among them) is a `bad …`
/// line, whose own reply is `ERR`.
struct Erring {
    after: AfterError,
    bad: bool,
}

struct ErringSession {
    left: usize,
    after: AfterError,
    bad: bool,
}

impl framesim::harness::Session for ErringSession {
    fn next_request(
        &mut self,
        _rng: &mut framesim::harness::Draws,
    ) -> Option<framesim::harness::Request> {
        self.left = self.left.checked_sub(1)?;
        if !self.bad {
            return Some(framesim::harness::Request::new(format!(
                "line {}\n",
                self.left
            )));
        }
        // Long enough for a disconnecting client to leave inside it.
        let word = if self.left % 2 == 1 { "bad" } else { "line" };
        Some(framesim::harness::Request::new(format!(
            "{word} {}\n",
            "x".repeat(40 + self.left)
        )))
    }

    fn expect(&mut self, request: &framesim::harness::Request) -> Option<bytes::Bytes> {
        if request.bytes.starts_with(b"bad") {
            return Some(bytes::Bytes::from_static(b"ERR\n"));
        }
        Some(request.bytes.clone())
    }

    fn malformed(
        &mut self,
        _rng: &mut framesim::harness::Draws,
    ) -> Option<framesim::harness::Request> {
        Some(framesim::harness::Request::new(&b"!what\n"[..]))
    }

    /// `ERR`, for a request the server cannot take: a malformed one, or one cut short. A
    /// whole `bad …` line's `ERR` is its reply, not an error (as an HTTP app's 400 for a bad
    /// id is, where the error it gives a request it cannot parse is another).
    fn check_error(
        &mut self,
        request: &framesim::harness::Request,
        reply: &[u8],
    ) -> Result<(), String> {
        if request.bytes.starts_with(b"bad") && request.bytes.ends_with(b"\n") {
            return Err("a whole request's reply, not an error".into());
        }
        (reply == b"ERR\n").then_some(()).ok_or("not ERR".into())
    }

    fn after_error(&self) -> AfterError {
        self.after
    }
}

impl framesim::harness::Workload for Erring {
    fn session(&self, _client: usize) -> Box<dyn framesim::harness::Session> {
        Box::new(ErringSession {
            left: 8,
            after: self.after,
            bad: self.bad,
        })
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(framesim::harness::delimited(b"\n"))
    }
}

/// Every client malformed, pipelining.
fn erring(then: Then, after: AfterError) -> Harness {
    let options = malformed_clients(4);
    Harness::new(
        move |listener, shutdown| erring_lines(listener, shutdown, then),
        Erring { after, bad: false },
    )
    .with(options)
}

#[test]
fn a_server_that_says_it_reads_on_after_an_error_must_answer_the_request_behind_it() {
    let tally = framesim::sweep!(erring(Then::ReadsOn, AfterError::ReadsOn), 0..16);
    assert!(tally.malformed_refused > 0);
    // A close after the error, or at it, is the server's right, unless its session says
    // otherwise.
    for then in [Then::Closes, Then::ClosesSilently] {
        framesim::sweep!(erring(then, AfterError::Either), 0..16);
    }
    for then in [Then::Closes, Then::DropsBuffered] {
        assert_caught(&erring(then, AfterError::ReadsOn), "reads on");
    }
}

/// Some seed of the first 16 fails `harness` with `[protocol-error]`.
fn assert_caught(harness: &Harness, what: &str) {
    let caught = (0..16).any(|seed| {
        let outcome = harness.run(seed);
        outcome.violations.first().map(|v| v.oracle.name()) == Some("protocol-error")
    });
    assert!(caught, "{what}: not caught as [protocol-error]");
}

#[test]
fn a_server_that_says_it_closes_after_an_error_must_answer_and_close() {
    let tally = framesim::sweep!(erring(Then::Closes, AfterError::Closes), 0..16);
    assert!(tally.malformed_refused > 0);
    assert_caught(&erring(Then::ReadsOn, AfterError::Closes), "kept open");
    assert_caught(
        &erring(Then::ClosesSilently, AfterError::Closes),
        "no answer",
    );
}

/// [`erring_lines`] reading on after its errors, with a graceful shutdown: a connection
/// idle between lines closes at once, one in the middle of a line gets it answered first.
async fn erring_lines_that_drain(listener: Listener, shutdown: Shutdown) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    task_per_connection(listener, shutdown, true, |conn, stop| async move {
        let (reader, mut writer) = tokio::io::split(conn);
        let mut reader = BufReader::new(reader);
        let (mut line, mut stopping) = (Vec::new(), false);
        loop {
            let read = tokio::select! {
                biased;
                read = reader.read_until(b'\n', &mut line) => read,
                _ = stop.cancelled(), if !stopping => {
                    if line.is_empty() && reader.buffer().is_empty() {
                        return;
                    }
                    stopping = true;
                    continue;
                }
            };
            if !matches!(read, Ok(1..)) {
                return;
            }
            let reply = if line.starts_with(b"!") {
                b"ERR\n".to_vec()
            } else {
                line.clone()
            };
            if writer.write_all(&reply).await.is_err() || stopping {
                return;
            }
            line.clear();
        }
    })
    .await
}

/// Accepts until `shutdown`, a task per connection running `serve` with a token that the
/// shutdown cancels if it `reaches` the connections; then waits for every task.
async fn task_per_connection<F, Fut>(
    mut listener: Listener,
    shutdown: Shutdown,
    reaches: bool,
    serve: F,
) where
    F: Fn(framesim::harness::Connection, tokio_util::sync::CancellationToken) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let stop = tokio_util::sync::CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((conn, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                tasks.spawn(serve(conn, stop.clone()));
            }
        }
    }
    if reaches {
        stop.cancel();
    }
    while tasks.join_next().await.is_some() {}
}

#[test]
fn a_request_after_a_kept_open_malformed_one_is_placed_after_it_on_its_connection() {
    let options = Options {
        // While the malformed clients wait to see whether their connection stays open.
        restart_at: Some(Duration::from_millis(110)),
        restart_grace: Duration::from_millis(500),
        ..malformed_clients(6)
    };
    let harness = Harness::new(
        erring_lines_that_drain,
        Erring {
            after: AfterError::Either,
            bad: false,
        },
    )
    .with(options);
    let tally = framesim::sweep!(harness, 0..32);
    assert!(tally.malformed_refused > 0 && tally.restarted > 0);
}

/// Lines echoed; the connection closes at `QUIT` if `closes`, else only when no line has
/// come for a second (an idle timer).
async fn echo_until_idle(listener: Listener, shutdown: Shutdown, closes: bool) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    lines::task_per_connection(listener, shutdown, move |conn| async move {
        let (reader, mut writer) = tokio::io::split(conn);
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            let read = reader.read_until(b'\n', &mut line);
            match tokio::time::timeout(Duration::from_secs(1), read).await {
                Ok(Ok(1..)) => {}
                _ => return,
            }
            if writer.write_all(&line).await.is_err() || (closes && line == b"QUIT\n") {
                return;
            }
            line.clear();
        }
    })
    .await
}

#[test]
fn a_server_that_closes_after_a_quit_only_when_its_idle_timer_fires_is_caught() {
    let server =
        |closes: bool| move |listener, shutdown| echo_until_idle(listener, shutdown, closes);
    let tally = framesim::sweep!(quitting(server(true), true), 0..4);
    assert_eq!(tally.quits, 2 * 4);
    let outcome = quitting(server(false), true).run(0);
    let first = outcome.violations.first().expect("a violation");
    assert_eq!(first.oracle.name(), "quit", "{}", outcome.first_failure());
    // No close, or (a quitting client that sent a request behind its quit) that one answered.
    assert!(
        first.detail.contains("no close within 100ms")
            || first.detail.contains("must not be answered"),
        "{}",
        outcome.first_failure()
    );
}

/// Lines answered `ERR` when they start with `bad`, else echoed; what a stream ends inside
/// of is refused with `ERR` too.
async fn refusing_cut_lines(listener: Listener, shutdown: Shutdown) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    lines::task_per_connection(listener, shutdown, |conn| async move {
        let (reader, mut writer) = tokio::io::split(conn);
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        while let Ok(1..) = reader.read_until(b'\n', &mut line).await {
            let cut = !line.ends_with(b"\n");
            let reply = if cut || line.starts_with(b"bad") {
                b"ERR\n".to_vec()
            } else {
                line.clone()
            };
            if writer.write_all(&reply).await.is_err() || cut {
                return;
            }
            line.clear();
        }
    })
    .await
}

#[test]
fn an_error_for_a_request_cut_short_is_a_refusal_even_where_its_whole_reply_is_an_error() {
    let workload = Erring {
        after: AfterError::Either,
        bad: true,
    };
    let harness = Harness::new(refusing_cut_lines, workload).with(Options {
        clients: 8,
        roles: RoleMix {
            disconnect: 8,
            ..RoleMix::none()
        },
        ..Options::default()
    });
    let tally = framesim::sweep!(harness, 0..32);
    assert!(tally.disconnects > 0);
}

/// Length-prefixed frames (a 4-byte big-endian length, then that many bytes), echoed back
/// whole; the replies are cut by tokio-util's own codec.
struct Prefixed;

struct PrefixedSession(usize);

impl framesim::harness::Session for PrefixedSession {
    fn next_request(
        &mut self,
        _rng: &mut framesim::harness::Draws,
    ) -> Option<framesim::harness::Request> {
        self.0 = self.0.checked_sub(1)?;
        let payload = format!("frame {} {}", self.0, "p".repeat(self.0 * 37));
        let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(payload.as_bytes());
        Some(framesim::harness::Request::new(bytes).with_boundaries([2, 4]))
    }

    /// The codec's item: the payload without its header.
    fn expect(&mut self, request: &framesim::harness::Request) -> Option<bytes::Bytes> {
        Some(request.bytes.slice(4..))
    }
}

impl framesim::harness::Workload for Prefixed {
    fn session(&self, _client: usize) -> Box<dyn framesim::harness::Session> {
        Box::new(PrefixedSession(12))
    }

    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        let codec = tokio_util::codec::LengthDelimitedCodec::new();
        Box::new(framesim::harness::decoded(codec))
    }
}

#[test]
fn a_tokio_util_codec_frames_the_replies() {
    let server = |listener: Listener, shutdown: Shutdown| {
        lines::task_per_connection(listener, shutdown, |conn| async move {
            let (mut reader, mut writer) = tokio::io::split(conn);
            let _ = tokio::io::copy(&mut reader, &mut writer).await;
        })
    };
    // Every stream fault and delivery trick; no misbehaving client (the echo has no limits).
    let harness = Harness::new(server, Prefixed).with(Options {
        clients: 8,
        roles: RoleMix::none(),
        ..Options::default()
    });
    let tally = framesim::sweep!(harness, 0..16);
    assert_eq!(tally.requests, tally.replies);
    assert!(tally.replies >= 8 * 12 * 16);
}

/// Echoed lines; at its shutdown the server lets its listener go, then takes a while to
/// return (`drain`), as a server finishing long requests does.
async fn slow_to_return(listener: Listener, shutdown: Shutdown, drain: Duration) {
    answering_lines(listener, shutdown, |line| Some(line.to_vec())).await;
    tokio::time::sleep(drain).await;
}

#[test]
fn clients_wait_to_connect_for_as_long_as_a_restart_may_take() {
    let drain = Duration::from_millis(1400);
    // A graceful restart within its grace, and a crash (no grace) that the server takes
    // as long to return from: refused meanwhile, clients wait for it.
    for grace in [Duration::from_millis(1500), Duration::ZERO] {
        let harness = Harness::new(
            move |listener, shutdown| slow_to_return(listener, shutdown, drain),
            Erring {
                after: AfterError::Either,
                bad: false,
            },
        )
        .with(Options {
            clients: 8,
            // Half the clients arrive while the server is down.
            ramp: Duration::from_millis(800),
            restart_at: Some(Duration::from_millis(100)),
            restart_grace: grace,
            roles: RoleMix::none(),
            ..Options::default()
        });
        let tally = framesim::sweep!(harness, 0..8);
        assert!(tally.replies > 0);
    }
}

/// Lines echoed; at the shutdown the server stops accepting and waits for every connection
/// to end. A connection idle between lines ends at the shutdown if it `reaches` them;
/// otherwise it goes on until its client leaves.
async fn echo_draining(listener: Listener, shutdown: Shutdown, reaches: bool) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    task_per_connection(listener, shutdown, reaches, |conn, stop| async move {
        let (reader, mut writer) = tokio::io::split(conn);
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            let read = tokio::select! {
                biased;
                read = reader.read_until(b'\n', &mut line) => read,
                _ = stop.cancelled(), if line.is_empty() && reader.buffer().is_empty() => return,
            };
            if !matches!(read, Ok(1..)) || writer.write_all(&line).await.is_err() {
                return;
            }
            line.clear();
        }
    })
    .await
}

#[test]
fn a_graceful_restart_whose_shutdown_does_not_reach_the_connections_returns_late() {
    let harness = |reaches: bool| {
        Harness::new(
            move |listener, shutdown| echo_draining(listener, shutdown, reaches),
            lines::Lines { oversized: false },
        )
        .with(Options {
            clients: 8,
            restart_at: Some(Duration::from_millis(60)),
            restart_grace: Duration::from_millis(200),
            // Idle clients hold their connections past the grace.
            roles: RoleMix {
                idle: 2,
                ..RoleMix::none()
            },
            ..Options::default()
        })
    };
    let tally = framesim::sweep!(harness(true), 0..8);
    assert!(tally.restarted > 0, "no client was cut by the restart");
    let outcome = harness(false).run(0);
    let first = outcome.violations.first().expect("a violation");
    assert_eq!(first.oracle.name(), "drain", "{}", outcome.first_failure());
    assert!(
        first.detail.contains("past its grace"),
        "{}",
        outcome.first_failure()
    );
}

/// A server that derives `Debug` over the listener, stream or signal it holds (mini-redis's
/// `Connection` does) serves from the harness's unchanged.
#[test]
fn the_servers_side_of_the_harness_is_debug() {
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Held {
        listener: Listener,
        conn: Option<framesim::harness::Connection>,
        shutdown: Shutdown,
    }
    fn debug<T: std::fmt::Debug>() {}
    debug::<Held>();
}
