//! A workload with a model of its own: a counter over lines (`ADD n` answers the new
//! total, `GET` the total), checked by a `Spec` the workload gives. A server whose ADD
//! reads, awaits, then writes loses updates and only `[linearizable]` sees it; the same
//! server adding at once passes.

use super::{caught_only_by_linearizable, options, passes_every_seed};
use bytes::BytesMut;
use framesim::harness::linear::{Model, Spec};
use framesim::harness::{
    delimited, Draws, Harness, Listener, ReplyFramer, Request, Session, Shutdown, Workload,
};
use rand::Rng;
use serde::Serialize;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a client asks the counter.
#[derive(Debug, Clone, PartialEq, Serialize)]
enum Op {
    Add(i64),
    Get,
}

/// The counter's sequential model: one number, not partitioned.
struct Counter;

impl Model for Counter {
    type Op = Op;
    type Res = i64;
    type State = i64;

    fn init(&self) -> i64 {
        0
    }

    fn step(&self, total: &i64, op: &Op) -> (i64, i64) {
        match op {
            Op::Add(n) => (total + n, total + n),
            Op::Get => (*total, *total),
        }
    }
}

/// The workload's model: requests and replies read off their lines.
fn spec() -> Spec {
    Spec::new(
        Counter,
        |request: &[u8]| match std::str::from_utf8(request).ok()?.trim_end() {
            "GET" => Some(Op::Get),
            line => Some(Op::Add(line.strip_prefix("ADD ")?.parse().ok()?)),
        },
        |_: &Op, reply: &[u8]| std::str::from_utf8(reply).ok()?.trim_end().parse().ok(),
    )
}

/// Clients that add to and read one shared counter.
struct Counting;

impl Workload for Counting {
    fn session(&self, _client: usize) -> Box<dyn Session> {
        Box::new(Adder { left: 12 })
    }

    fn framer(&self) -> Box<dyn ReplyFramer> {
        Box::new(delimited(b"\n"))
    }

    fn model(&self) -> Option<Spec> {
        Some(spec())
    }
}

struct Adder {
    left: usize,
}

impl Session for Adder {
    fn next_request(&mut self, rng: &mut Draws) -> Option<Request> {
        self.left = self.left.checked_sub(1)?;
        let line = match rng.random_range(0..3) {
            0 => "GET\n".to_string(),
            _ => format!("ADD {}\n", rng.random_range(1..4)),
        };
        Some(Request::new(line.into_bytes()))
    }
}

/// The counter server; with `split`, ADD reads the total, awaits, then writes it back.
async fn counter(mut listener: Listener, shutdown: Shutdown, split: bool) {
    let total = Rc::new(Cell::new(0i64));
    let serving = async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let total = total.clone();
            tokio::task::spawn_local(async move {
                let mut buf = BytesMut::new();
                while matches!(stream.read_buf(&mut buf).await, Ok(n) if n > 0) {
                    let mut out = Vec::new();
                    while let Some(end) = buf.iter().position(|&b| b == b'\n') {
                        let line = buf.split_to(end + 1);
                        let line = String::from_utf8_lossy(&line).trim_end().to_string();
                        let n = match line.strip_prefix("ADD ").map(str::parse::<i64>) {
                            Some(Ok(n)) if split => {
                                let read = total.get();
                                tokio::time::sleep(Duration::from_millis(1)).await;
                                total.set(read + n);
                                read + n
                            }
                            Some(Ok(n)) => {
                                total.set(total.get() + n);
                                total.get()
                            }
                            _ => total.get(),
                        };
                        out.extend_from_slice(format!("{n}\n").as_bytes());
                    }
                    if stream.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    };
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            tokio::select! {
                _ = serving => {}
                _ = shutdown => {}
            }
        })
        .await;
}

fn harness(split: bool) -> Harness {
    Harness::new(move |l, s| counter(l, s, split), Counting).with(options())
}

#[test]
fn a_counter_with_a_model_of_its_own_is_checked_through_the_harness() {
    let failing = caught_only_by_linearizable(&harness(true), "lost ADD");
    let outcome = harness(true).run(failing[0]);
    let history = outcome
        .history
        .expect("the workload's model records a history");
    assert!(
        history.json_lines().contains(r#""op":{"Add":"#),
        "{}",
        history.json_lines()
    );
    passes_every_seed(&harness(false), "counter");
}
