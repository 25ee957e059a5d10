//! The black-box check's cost: a history of 10,000 key-value operations over 100 keys by
//! 16 clients, each overlapping its neighbours, some unanswered (issue 27's number: ≤ 1 s
//! on the 2-core machine). The peer, measured in the same run, is the same search told
//! nothing of which operations only read (`Model::read_only`). Before the clock starts,
//! each row prints the search steps it takes (operations tried in place, the states it
//! visits), so the time can be read against the work.
//!
//! `cargo bench -p framesim --bench linearizability`

use criterion::{criterion_group, criterion_main, Criterion};
use framesim::harness::linear::{check, History, KvModel, KvOp, KvResult, Model, Operation};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;

/// A history drawn from a sequential run of `n` operations by `clients` clients over
/// `keys` keys: operation `i` takes effect at `10 * i`, inside an interval drawn around
/// it; one in twenty goes unanswered, half of those before it took effect.
fn drawn(seed: u64, n: usize, clients: usize, keys: usize) -> History<KvOp, KvResult> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut state = KvModel.init();
    let mut free_at = vec![0u64; clients];
    let spread = 10 * clients as u64;
    let mut ops = Vec::new();
    for i in 0..n {
        let at = 10 * (i as u64 + 1) + spread;
        let client = i % clients;
        let key = format!("k{}", rng.random_range(0..keys));
        let op = match rng.random_range(0..6) {
            0 | 1 => KvOp::Get { key },
            2..=3 => KvOp::Set {
                key,
                value: format!("v{i}"),
                nx: rng.random(),
                xx: false,
                get: rng.random(),
            },
            4 => KvOp::Incr { key },
            _ => KvOp::Exists { keys: vec![key] },
        };
        let call = free_at[client].max(at - rng.random_range(0..spread));
        let ret = at + rng.random_range(0..spread);
        free_at[client] = ret + 1;
        let unanswered = rng.random_ratio(1, 20);
        if unanswered && rng.random() {
            ops.push(Operation::pending(client, call, op));
            continue;
        }
        let (next, result) = KvModel.step(&state, &op);
        state = next;
        ops.push(if unanswered {
            Operation::pending(client, call, op)
        } else {
            Operation::done(client, call, ret, op, result)
        });
    }
    History::new(ops)
}

/// [`KvModel`], but every operation may write: the peer.
struct EveryOpMayWrite;

impl Model for EveryOpMayWrite {
    type Op = KvOp;
    type Res = KvResult;
    type State = <KvModel as Model>::State;
    fn init(&self) -> Self::State {
        KvModel.init()
    }
    fn step(&self, state: &Self::State, op: &KvOp) -> (Self::State, KvResult) {
        KvModel.step(state, op)
    }
    fn keys(&self, op: &KvOp) -> Vec<String> {
        KvModel.keys(op)
    }
}

const BUDGET: u64 = 1_000_000;

fn linearizability(c: &mut Criterion) {
    let history = drawn(7, 10_000, 16, 100);
    let mut group = c.benchmark_group("linearizability");
    group.sample_size(10);
    let ours = check(&KvModel, &history, BUDGET);
    let peer = check(&EveryOpMayWrite, &history, BUDGET);
    println!(
        "10,000 operations, 100 keys, 16 clients: {} ({} steps); every operation may write: {} ({} steps)",
        ours.verdict, ours.steps, peer.verdict, peer.steps
    );
    group.bench_function("10k_ops_100_keys_16_clients/read_only", |b| {
        b.iter(|| check(&KvModel, black_box(&history), BUDGET))
    });
    group.bench_function("10k_ops_100_keys_16_clients/every_op_may_write", |b| {
        b.iter(|| check(&EveryOpMayWrite, black_box(&history), BUDGET))
    });
    group.finish();
}

criterion_group!(benches, linearizability);
criterion_main!(benches);
