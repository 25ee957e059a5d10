//! The white-box check: the order in which the server itself ran its commands, told by the
//! server ([`ran`](crate::harness::linear::ran)), against the clients' history. That order
//! is a linearization when the model, stepped through it, gives the reply the server gave
//! to each command, and each operation a client saw answered was run between its call and
//! its return, with the reply the client read. One pass, no search.

use super::history::History;
use super::model::Model;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Debug;

/// A command as the server ran it: the model's operation, the result it gave (`None`
/// when its reply does not read as one), and when.
#[derive(Debug, Clone)]
pub(crate) struct Ran<Op, Res> {
    pub op: Op,
    pub result: Option<Res>,
    pub at: u64,
}

/// What the white-box check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Order {
    /// The server's order is a linearization of the history: every one of `matched`
    /// operations ran inside its window.
    Linearization { matched: usize },
    /// It is not: why, and the operations (indices into the history) it concerns.
    Broken { why: String, ops: Vec<usize> },
}

/// Checks the server's order `ran` (by time) against `history` (sorted by call).
/// Commands the history does not hold (clients that record none) step the model too;
/// an operation the server ran twice, or never, where the history says it was answered,
/// breaks the order.
pub(crate) fn check_order<M>(
    model: &M,
    history: &History<M::Op, M::Res>,
    ran: &[Ran<M::Op, M::Res>],
) -> Order
where
    M: Model,
    M::Op: Serialize,
    M::Res: PartialEq,
{
    // Each operation of the history, by what it asked, in call order, waiting to be
    // matched: the first of each list that a command may still match, and the list.
    let mut waiting: HashMap<String, (usize, Vec<usize>)> = HashMap::new();
    for (i, op) in history.ops.iter().enumerate() {
        waiting.entry(key(&op.op)).or_default().1.push(i);
    }
    let mut matched = vec![false; history.ops.len()];
    let mut state = model.init();
    for (n, command) in ran.iter().enumerate() {
        let (next, expected) = model.step(&state, &command.op);
        state = next;
        let asked = key(&command.op);
        let same = waiting.get_mut(&asked).map(|(from, same)| {
            // Commands come in time order: one matched, or returned before this command
            // ran, is matched by no later command either.
            while same.get(*from).is_some_and(|&i| {
                matched[i] || history.ops[i].ret.is_some_and(|ret| ret < command.at)
            }) {
                *from += 1;
            }
            &same[*from..]
        });
        // Those asking the same, unmatched, called by then.
        let open = || {
            same.iter()
                .flat_map(|same| same.iter().copied())
                .take_while(|&i| history.ops[i].call <= command.at)
                .filter(|&i| !matched[i])
        };
        if let Some(result) = &command.result {
            if !model.accepts(&expected, result) {
                let ops = open().collect();
                return Order::Broken {
                    why: format!(
                        "the server's command {} ({:?} at {}) answered {result:?}; run in the server's own order, the model answers {expected:?}",
                        n + 1,
                        command.op,
                        command.at
                    ),
                    ops,
                };
            }
        }
        // The operation it ran: of those, not returned before, whose client read the
        // reply it gave; the one returning first.
        let pick = open()
            .filter(|&i| {
                let o = &history.ops[i];
                o.ret.is_none_or(|ret| command.at <= ret)
                    && match (&o.result, &command.result) {
                        (Some(seen), Some(gave)) => model.accepts(gave, seen),
                        (Some(_), None) => false,
                        (None, _) => true,
                    }
            })
            .min_by_key(|&i| (history.ops[i].ret.unwrap_or(u64::MAX), i));
        if let Some(i) = pick {
            matched[i] = true;
        }
    }
    let unmatched: Vec<usize> = (0..history.ops.len())
        .filter(|&i| !matched[i] && history.ops[i].ret.is_some())
        .collect();
    if let Some(&first) = unmatched.first() {
        let o = &history.ops[first];
        return Order::Broken {
            why: format!(
                "client {} read {:?} for {:?} (called at {}, returned at {}), but the server ran no such command with that reply in between{}",
                o.client,
                o.result.as_ref().expect("answered"),
                o.op,
                o.call,
                o.ret.unwrap_or_default(),
                if unmatched.len() > 1 {
                    format!(" ({} such operations)", unmatched.len())
                } else {
                    String::new()
                }
            ),
            ops: unmatched,
        };
    }
    Order::Linearization {
        matched: matched.iter().filter(|&&m| m).count(),
    }
}

/// An operation as a key of equality (the model's operations need not be `Eq`).
fn key<Op: Serialize>(op: &Op) -> String {
    serde_json::to_string(op).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{check_order, Order, Ran};
    use crate::harness::linear::{History, KvModel, KvOp, KvResult, Operation};

    fn incr() -> KvOp {
        KvOp::Incr { key: "n".into() }
    }

    fn ran(at: u64, n: i64) -> Ran<KvOp, KvResult> {
        Ran {
            op: incr(),
            result: Some(KvResult::Int(n)),
            at,
        }
    }

    #[test]
    fn the_servers_order_is_a_linearization_when_replies_and_windows_agree() {
        let history = History::new(vec![
            Operation::done(0, 0, 10, incr(), KvResult::Int(1)),
            Operation::done(1, 2, 12, incr(), KvResult::Int(2)),
        ]);
        let order = check_order(&KvModel, &history, &[ran(5, 1), ran(6, 2)]);
        assert_eq!(order, Order::Linearization { matched: 2 });
    }

    #[test]
    fn a_lost_update_breaks_the_order_at_the_command_that_answered_wrong() {
        let history = History::new(vec![
            Operation::done(0, 0, 10, incr(), KvResult::Int(1)),
            Operation::done(1, 2, 12, incr(), KvResult::Int(1)),
        ]);
        let Order::Broken { why, .. } = check_order(&KvModel, &history, &[ran(5, 1), ran(6, 1)])
        else {
            panic!("a lost update passed");
        };
        assert!(why.contains("command 2"), "{why}");
    }

    #[test]
    fn a_reply_read_by_the_wrong_client_or_outside_its_window_breaks_the_order() {
        // Client 1 read 2, but the server ran the second INCR after client 1's return.
        let history = History::new(vec![
            Operation::done(0, 0, 10, incr(), KvResult::Int(1)),
            Operation::done(1, 2, 4, incr(), KvResult::Int(2)),
        ]);
        let Order::Broken { ops, .. } = check_order(&KvModel, &history, &[ran(3, 1), ran(6, 2)])
        else {
            panic!("a command run after its return passed");
        };
        assert_eq!(ops, [1]);
        // An operation never answered may have run or not.
        let history = History::new(vec![Operation::pending(0, 0, incr())]);
        assert_eq!(
            check_order(&KvModel, &history, &[]),
            Order::Linearization { matched: 0 }
        );
    }
}
