//! A harness's own command line (`framesim::harness::cli`): each subcommand on a passing
//! and a failing server, and bad input refused with exit code 2.

use bytes::Bytes;
use framesim::harness::cli::main_from;
use framesim::harness::{delimited, Draws, Harness, Options, Request, Session, Workload};
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// A line echo server; `deadline` bounds a line's time (else a slowloris holds it forever).
fn echo(deadline: Option<Duration>) -> Harness {
    let server = move |mut listener: framesim::harness::Listener,
                       shutdown: framesim::harness::Shutdown| async move {
        tokio::pin!(shutdown);
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => drop(tasks.spawn(async move {
                        let (reader, mut writer) = tokio::io::split(stream);
                        let mut lines = BufReader::new(reader);
                        let mut line = Vec::new();
                        loop {
                            line.clear();
                            // Never more than a line's limit and one byte buffered.
                            let mut bounded = (&mut lines).take(4097);
                            let read = bounded.read_until(b'\n', &mut line);
                            let read = match deadline {
                                Some(d) => match tokio::time::timeout(d, read).await {
                                    Ok(read) => read,
                                    Err(_) => return,
                                },
                                None => read.await,
                            };
                            if !matches!(read, Ok(1..)) || line.len() > 4096 {
                                return;
                            }
                            if writer.write_all(&line).await.is_err() {
                                return;
                            }
                        }
                    })),
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
            }
        }
        tasks.shutdown().await;
    };
    Harness::new(server, Lines).with(Options {
        clients: 8,
        max_request: 4096,
        ..Options::default()
    })
}

struct Lines;

impl Workload for Lines {
    fn session(&self, client: usize) -> Box<dyn Session> {
        Box::new(Words { client, left: 4 })
    }
    fn framer(&self) -> Box<dyn framesim::harness::ReplyFramer> {
        Box::new(delimited(b"\n"))
    }
}

struct Words {
    client: usize,
    left: usize,
}

impl Session for Words {
    fn next_request(&mut self, _rng: &mut Draws) -> Option<Request> {
        self.left = self.left.checked_sub(1)?;
        Some(Request::new(format!("{} {}\n", self.client, self.left)))
    }
    fn expect(&mut self, request: &Request) -> Option<Bytes> {
        Some(request.bytes.clone())
    }
    fn oversized(&mut self, _rng: &mut Draws, size: usize) -> Option<Request> {
        Some(Request::new(vec![b'x'; size + 1]))
    }
}

fn cli(harness: Harness, args: &str) -> ExitCode {
    main_from(
        harness,
        std::iter::once("harness")
            .chain(args.split_whitespace())
            .map(Into::into),
    )
}

#[test]
fn each_subcommand_passes_a_sound_server_and_fails_a_broken_one() {
    let (sound, broken) = (|| echo(Some(Duration::from_millis(300))), || echo(None));
    for args in [
        "run --seed 3",
        "check --seed 3",
        "sweep --seeds 0..6 --jobs 2",
        "sweep --seeds 0..9 --shard 1/3",
        "shrink --seed 3",
    ] {
        assert_eq!(cli(sound(), args), ExitCode::SUCCESS, "{args}");
    }
    for args in ["run --seed 3", "sweep --seeds 0..6 --jobs 2"] {
        assert_eq!(cli(broken(), args), ExitCode::FAILURE, "{args}");
    }
    // Shrunk, written, and run again from the file: it still fails.
    let dir = std::env::temp_dir().join(format!("framesim-cli-{}", std::process::id()));
    let file = dir.join("shrunk.toml");
    let out = format!("shrink --seed 3 --out {}", file.display());
    assert_eq!(cli(broken(), &out), ExitCode::FAILURE);
    let shrunk = broken()
        .options()
        .overlaid(&std::fs::read_to_string(&file).unwrap())
        .unwrap();
    assert_eq!(shrunk.client_ids().len(), 1, "{shrunk:?}");
    let rerun = format!(
        "--options {} run --seed 3 --transcript {}",
        file.display(),
        dir.join("t.txt").display()
    );
    assert_eq!(cli(broken(), &rerun), ExitCode::FAILURE);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_refused_with_what_was_wrong() {
    for args in [
        "sweep --seeds 5..2",
        "sweep --shard 3/3",
        "run --seed x",
        "--options /no/such/file run",
        "fly",
    ] {
        assert_eq!(cli(echo(None), args), ExitCode::from(2), "{args}");
    }
}
