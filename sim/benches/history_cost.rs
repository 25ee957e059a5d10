//! What recording and checking a run's history costs: seeds of framesim's server under the
//! contention workload, the swarm and every default role (`sim/examples/contention.rs`),
//! with the history (its clients' requests recorded, the server's reads and writes
//! stamped, the check at the end), against the same seeds with the same workload told to
//! keep no history, in the same run. Issue 27's bar is 5 % of a run's wall time.
//!
//! `cargo bench -p framesim --bench history_cost`

use criterion::{criterion_group, criterion_main, Criterion};
use framesim::harness::linear::Spec;
use framesim::harness::{ContentionWorkload, Harness, Options, ReplyFramer, Session, Workload};
use framesim_server::{serve, Config, Kv, Stats};
use std::hint::black_box;

/// Seeds of each iteration.
const SEEDS: std::ops::Range<u64> = 0..8;

/// The contention workload, keeping no history.
struct Unrecorded(ContentionWorkload);

impl Workload for Unrecorded {
    fn session(&self, client: usize) -> Box<dyn Session> {
        self.0.session(client)
    }
    fn framer(&self) -> Box<dyn ReplyFramer> {
        self.0.framer()
    }
    fn model(&self) -> Option<Spec> {
        None
    }
}

fn harness(workload: impl Workload + 'static) -> Harness {
    Harness::new(
        |listener, shutdown| async move {
            let served = serve(
                listener,
                Kv::new(),
                Config::default(),
                Stats::default(),
                shutdown,
            );
            served.await.expect("the server stops only at its shutdown");
        },
        workload,
    )
    .with(Options {
        roles: framesim::harness::RoleMix {
            slowloris_bound: Config::default().limits.frame_deadline * 2,
            // A run that checks a history keeps its never-reader idle: none in either.
            never_reader: 0,
            ..Default::default()
        },
        swarm: true,
        ..Options::default()
    })
}

fn history_cost(c: &mut Criterion) {
    let recorded = harness(ContentionWorkload::new().requests(12));
    let unrecorded = harness(Unrecorded(ContentionWorkload::new().requests(12)));
    let ops: usize = SEEDS
        .map(|seed| recorded.run(seed).history.map_or(0, |h| h.checked.ops))
        .sum();
    println!("seeds {SEEDS:?}: {ops} operations checked");
    let mut group = c.benchmark_group("history_cost");
    group.sample_size(10);
    group.bench_function("contention_8_seeds/recorded_and_checked", |b| {
        b.iter(|| {
            SEEDS
                .filter(|&seed| black_box(recorded.run(seed)).passed())
                .count()
        })
    });
    group.bench_function("contention_8_seeds/no_history", |b| {
        b.iter(|| {
            SEEDS
                .filter(|&seed| black_box(unrecorded.run(seed)).passed())
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, history_cost);
criterion_main!(benches);
