//! Known histories, linearizable and not, and randomised ones whose answer is certain.

use super::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// A register holding one number, as in Herlihy and Wing's examples.
struct Register;

#[derive(Debug, Clone, PartialEq)]
enum RegOp {
    Write(u32),
    Read,
}

impl Model for Register {
    type Op = RegOp;
    type Res = Option<u32>;
    type State = u32;
    fn init(&self) -> u32 {
        0
    }
    fn step(&self, state: &u32, op: &RegOp) -> (u32, Option<u32>) {
        match op {
            RegOp::Write(v) => (*v, None),
            RegOp::Read => (*state, Some(*state)),
        }
    }
}

fn w(client: usize, call: u64, ret: u64, v: u32) -> Operation<RegOp, Option<u32>> {
    Operation::done(client, call, ret, RegOp::Write(v), None)
}

fn r(client: usize, call: u64, ret: u64, v: u32) -> Operation<RegOp, Option<u32>> {
    Operation::done(client, call, ret, RegOp::Read, Some(v))
}

fn reg(ops: Vec<Operation<RegOp, Option<u32>>>) -> Checked {
    check(&Register, &History::new(ops), DEFAULT_BUDGET)
}

#[test]
fn a_read_overlapping_a_write_may_see_either_value() {
    assert!(reg(vec![w(0, 0, 10, 1), r(1, 5, 15, 1)]).linearizable());
    assert!(reg(vec![w(0, 0, 10, 1), r(1, 5, 15, 0)]).linearizable());
    // Two writes overlap, two reads after both see them in the same order.
    let ops = vec![
        w(0, 0, 10, 1),
        w(1, 0, 10, 2),
        r(2, 11, 12, 1),
        r(3, 13, 14, 1),
    ];
    assert!(reg(ops).linearizable());
}

#[test]
fn a_read_of_a_value_never_written_or_already_overwritten_is_not() {
    let checked = reg(vec![w(0, 0, 10, 1), r(1, 5, 15, 7)]);
    assert_eq!(
        checked.verdict,
        Linearizability::NotLinearizable {
            partition: "*".into(),
            placed: 1,
            stuck: vec![1]
        }
    );
    // Overwritten before the read began.
    assert!(!reg(vec![w(0, 0, 10, 1), w(0, 11, 20, 2), r(1, 21, 30, 1)]).linearizable());
    // Herlihy and Wing: two reads after two sequential writes see them out of order.
    let ops = vec![
        w(0, 0, 10, 1),
        w(0, 11, 20, 2),
        r(1, 5, 25, 2),
        r(2, 26, 30, 1),
    ];
    assert!(!reg(ops).linearizable());
    // A read that returned before the write began cannot see it.
    assert!(!reg(vec![r(1, 0, 4, 1), w(0, 5, 10, 1)]).linearizable());
}

#[test]
fn a_clients_pipelined_requests_take_effect_in_the_order_it_sent_them() {
    // Client 0 pipelines two writes, both called at the batch's first byte: 1 then 2. A
    // later read of 1 would need them the other way round.
    let sent_in_order = reg(vec![w(0, 0, 100, 1), w(0, 0, 110, 2), r(1, 200, 300, 1)]);
    assert!(!sent_in_order.linearizable(), "{}", sent_in_order.verdict);
    // Two clients' overlapping writes may go either way.
    let two_clients = reg(vec![w(0, 0, 100, 1), w(2, 0, 110, 2), r(1, 200, 300, 1)]);
    assert!(two_clients.linearizable(), "{}", two_clients.verdict);
}

#[test]
fn an_unanswered_write_may_take_effect_or_not() {
    let pending = Operation::pending(0, 0, RegOp::Write(1));
    assert!(reg(vec![pending.clone(), r(1, 5, 6, 1), r(1, 7, 8, 1)]).linearizable());
    assert!(reg(vec![pending.clone(), r(1, 5, 6, 0), r(1, 7, 8, 0)]).linearizable());
    assert!(reg(vec![pending.clone(), r(1, 5, 6, 0), r(1, 7, 8, 1)]).linearizable());
    // Once it has been seen, it cannot be undone.
    assert!(!reg(vec![pending.clone(), r(1, 5, 6, 1), r(1, 7, 8, 0)]).linearizable());
    assert!(reg(vec![pending, r(1, 5, 6, 1)]).linearizable());
    // Nor take effect before its call.
    let later = Operation::pending(0, 5, RegOp::Write(1));
    assert!(!reg(vec![r(1, 0, 4, 1), later]).linearizable());
}

fn kv(client: usize, call: u64, ret: u64, op: KvOp, res: KvResult) -> Operation<KvOp, KvResult> {
    Operation::done(client, call, ret, op, res)
}

fn set(key: &str, value: &str) -> KvOp {
    let (key, value) = (key.into(), value.into());
    KvOp::Set {
        key,
        value,
        nx: false,
        xx: false,
        get: false,
    }
}

fn set_nx(key: &str, value: &str) -> KvOp {
    let (key, value) = (key.into(), value.into());
    KvOp::Set {
        key,
        value,
        nx: true,
        xx: false,
        get: false,
    }
}

fn get(key: &str) -> KvOp {
    KvOp::Get { key: key.into() }
}

fn incr(key: &str) -> KvOp {
    KvOp::Incr { key: key.into() }
}

fn val(v: &str) -> KvResult {
    KvResult::Value(v.into())
}

fn kv_check(ops: Vec<Operation<KvOp, KvResult>>) -> Checked {
    check(&KvModel, &History::new(ops), DEFAULT_BUDGET)
}

#[test]
fn key_value_histories_in_porcupines_spirit() {
    use KvResult::*;
    // Two keys, interleaved; each on its own is fine.
    let fine = vec![
        kv(0, 0, 10, set("x", "a"), Ok),
        kv(1, 2, 12, set("y", "b"), Ok),
        kv(2, 5, 20, get("x"), val("a")),
        kv(3, 11, 25, get("y"), val("b")),
        kv(0, 21, 30, set("x", "c"), Ok),
        kv(2, 22, 28, get("x"), val("a")),
    ];
    let checked = kv_check(fine);
    assert!(checked.linearizable(), "{}", checked.verdict);
    assert_eq!(checked.partitions, 2);

    // The same, but y's read misses a write that returned before it began.
    let stale = vec![
        kv(1, 2, 12, set("y", "b"), Ok),
        kv(0, 0, 10, set("x", "a"), Ok),
        kv(3, 13, 25, get("y"), Nil),
    ];
    let checked = kv_check(stale);
    assert_eq!(
        checked.verdict,
        Linearizability::NotLinearizable {
            partition: "y".into(),
            placed: 1,
            stuck: vec![2]
        }
    );
}

#[test]
fn a_lost_update_and_two_winners_of_set_nx_are_caught() {
    use KvResult::*;
    // Two INCRs overlap, both answer 1: one update was lost.
    let lost = vec![
        kv(0, 0, 10, incr("n"), Int(1)),
        kv(1, 1, 11, incr("n"), Int(1)),
    ];
    assert!(!kv_check(lost).linearizable());
    let fine = vec![
        kv(0, 0, 10, incr("n"), Int(2)),
        kv(1, 1, 11, incr("n"), Int(1)),
    ];
    assert!(kv_check(fine).linearizable());
    // Two SET NX both set: only one may.
    let both = vec![
        kv(0, 0, 10, set_nx("lock", "a"), Ok),
        kv(1, 1, 11, set_nx("lock", "b"), Ok),
    ];
    assert!(!kv_check(both).linearizable());
    let one = vec![
        kv(0, 0, 10, set_nx("lock", "a"), Nil),
        kv(1, 1, 11, set_nx("lock", "b"), Ok),
        kv(0, 12, 13, get("lock"), val("b")),
    ];
    assert!(kv_check(one).linearizable());
}

#[test]
fn multi_key_operations_join_their_keys() {
    use KvResult::*;
    let mset = KvOp::Mset {
        pairs: vec![("a".into(), "1".into()), ("b".into(), "1".into())],
    };
    let mget = KvOp::Mget {
        keys: vec!["a".into(), "b".into()],
    };
    // MGET sees half of an MSET: each key alone would pass, together they do not.
    let half = vec![
        kv(0, 0, 10, mset, Ok),
        kv(1, 1, 9, mget, Values(vec![Some("1".into()), None])),
        kv(2, 0, 1, get("c"), Nil),
    ];
    let checked = kv_check(half);
    assert_eq!(checked.partitions, 2);
    assert!(
        matches!(&checked.verdict, Linearizability::NotLinearizable { partition, .. } if partition == "a"),
        "{}",
        checked.verdict
    );
}

#[test]
fn a_search_past_its_budget_is_unknown_never_a_pass() {
    use KvResult::*;
    // Many overlapping INCRs with one impossible answer: every order must be tried.
    let mut ops: Vec<_> = (0..12)
        .map(|c| kv(c, 0, 100, incr("n"), Int(c as i64 + 1)))
        .collect();
    ops[11].result = Some(Int(99));
    let h = History::new(ops);
    assert_eq!(
        check(&KvModel, &h, 5).verdict,
        Linearizability::Unknown {
            partition: "n".into()
        }
    );
    assert!(!check(&KvModel, &h, DEFAULT_BUDGET).linearizable());
    assert!(matches!(
        check(&KvModel, &h, DEFAULT_BUDGET).verdict,
        Linearizability::NotLinearizable { .. }
    ));
}

#[test]
fn histories_read_from_json_lines_are_checked() {
    let text = r#"
{"client":0,"call":0,"return":10,"op":{"f":"set","key":"x","value":"1"},"result":"ok"}
{"client":1,"call":2,"return":null,"op":{"f":"incr","key":"x"}}
{"client":2,"call":11,"return":12,"op":{"f":"get","key":"x"},"result":{"value":"2"}}
"#;
    let h: History<KvOp, KvResult> = History::from_json_lines(text).unwrap();
    assert!(check(&KvModel, &h, 100).linearizable());
    let h: History<KvOp, KvResult> =
        History::from_json_lines(&text.replace(r#"{"value":"2"}"#, r#"{"value":"3"}"#)).unwrap();
    assert!(!check(&KvModel, &h, 100).linearizable());
}

/// A history drawn from a sequential run: operation `i` takes effect at `10 * i`, inside an
/// interval drawn around it that overlaps its neighbours'; each client asks one at a time.
/// Some operations go unanswered (indeterminate), some of those never took effect.
fn drawn(seed: u64, n: usize, clients: usize, keys: usize) -> History<KvOp, KvResult> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut state = KvModel.init();
    let mut free_at = vec![0u64; clients];
    let mut ops = Vec::new();
    let spread = 10 * clients as u64;
    for i in 0..n {
        let at = 10 * (i as u64 + 1) + spread;
        let client = i % clients;
        let key = format!("k{}", rng.random_range(0..keys));
        let op = match rng.random_range(0..6) {
            0 | 1 => get(&key),
            2 => set(&key, &format!("v{i}")),
            3 => KvOp::Set {
                key,
                value: format!("v{i}"),
                nx: rng.random(),
                xx: false,
                get: rng.random(),
            },
            4 => incr(&key),
            _ => KvOp::Exists { keys: vec![key] },
        };
        let call = free_at[client].max(at - rng.random_range(0..spread));
        let ret = at + rng.random_range(0..spread);
        free_at[client] = ret + 1;
        let unanswered = rng.random_ratio(1, 20);
        if unanswered && rng.random() {
            // Lost before it took effect.
            ops.push(Operation::pending(client, call, op));
            continue;
        }
        let (next, res) = KvModel.step(&state, &op);
        state = next;
        ops.push(if unanswered {
            Operation::pending(client, call, op)
        } else {
            Operation::done(client, call, ret, op, res)
        });
    }
    History::new(ops)
}

#[test]
fn drawn_sequential_histories_are_linearizable() {
    for seed in 0..40 {
        let h = drawn(seed, 300, 6, 3);
        let checked = check(&KvModel, &h, DEFAULT_BUDGET);
        assert!(checked.linearizable(), "seed {seed}: {}", checked.verdict);
    }
}

#[test]
fn drawn_histories_with_an_impossible_result_are_not() {
    for seed in 0..40 {
        let mut h = drawn(seed, 300, 6, 3);
        let mut rng = SmallRng::seed_from_u64(seed ^ 0xdead);
        // A result no order can give: a value never written, a count past the keys named.
        let answered: Vec<usize> = (0..h.len())
            .filter(|&i| !h.ops[i].indeterminate())
            .collect();
        let i = answered[rng.random_range(0..answered.len())];
        let impossible = match &h.ops[i].op {
            KvOp::Get { .. } => val("never written"),
            KvOp::Set { get: true, .. } => val("never written"),
            KvOp::Set { .. } => KvResult::Int(1),
            KvOp::Incr { .. } => KvResult::Int(0),
            _ => KvResult::Int(2),
        };
        h.ops[i].result = Some(impossible);
        let checked = check(&KvModel, &h, DEFAULT_BUDGET);
        match checked.verdict {
            Linearizability::NotLinearizable { ref stuck, .. } => {
                assert!(!stuck.is_empty(), "seed {seed}")
            }
            v => panic!("seed {seed}: operation {i} corrupted, yet {v}"),
        }
    }
}

#[test]
fn ten_thousand_operations_over_a_hundred_keys_are_checked() {
    let h = drawn(7, 10_000, 16, 100);
    let checked = check(&KvModel, &h, DEFAULT_BUDGET);
    assert!(checked.linearizable(), "{}", checked.verdict);
    assert_eq!(checked.partitions, 100);
    assert!(checked.steps >= 10_000 - 600, "{} steps", checked.steps);
}

/// [`KvModel`] without its word on which operations only read.
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

#[test]
fn reads_placed_where_they_fit_cut_the_search_and_keep_its_answers() {
    let (mut placed, mut tried) = (0, 0);
    for seed in 0..10 {
        // Twelve clients on one key: every operation overlaps a score of others.
        let h = drawn(seed, 300, 12, 1);
        let reads = check(&KvModel, &h, DEFAULT_BUDGET);
        assert!(reads.linearizable(), "seed {seed}: {}", reads.verdict);
        let every = check(&EveryOpMayWrite, &h, DEFAULT_BUDGET);
        assert!(
            !matches!(every.verdict, Linearizability::NotLinearizable { .. }),
            "seed {seed}: {}",
            every.verdict
        );
        placed += reads.steps;
        tried += every.steps;
    }
    eprintln!("{placed} steps with reads placed where they fit, {tried} without");
    assert!(placed * 2 < tried, "{placed} steps, {tried} without");
}
