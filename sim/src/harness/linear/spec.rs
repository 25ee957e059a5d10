//! A workload's own model for the linearizability check: a [`Model`] and how the bytes of
//! its protocol's requests and replies become the model's operations and results.

use super::check::{check, Checked, Linearizability, ServerOrder};
use super::history::{History, Operation};
use super::model::Model;
use super::order::{check_order, Order, Ran};
use super::resp;
use super::timeline::{timeline, Bar};
use super::KvModel;
use bytes::Bytes;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// What a run's history is checked against: a sequential [`Model`], and the two functions
/// that read a request's bytes as one of its operations and a reply's bytes as that
/// operation's result. A [`Workload`](crate::harness::Workload) gives one through
/// [`Workload::model`](crate::harness::Workload::model); [`Spec::kv`], the default for a
/// workload that says it is linearizable, is framesim's key-value model over RESP.
///
/// A request the first function does not read (`None`) is left out of the history; a reply
/// the second does not read makes its operation indeterminate (it may or may not have
/// taken effect).
///
/// A counter over lines (`ADD 3` answers the new total, `GET` the total), partitioned
/// by nothing:
///
/// ```
/// use framesim::harness::linear::{Model, Spec};
///
/// #[derive(Debug, Clone, serde::Serialize)]
/// enum Op { Add(i64), Get }
///
/// struct Counter;
///
/// impl Model for Counter {
///     type Op = Op;
///     type Res = i64;
///     type State = i64;
///     fn init(&self) -> i64 { 0 }
///     fn step(&self, total: &i64, op: &Op) -> (i64, i64) {
///         match op {
///             Op::Add(n) => (total + n, total + n),
///             Op::Get => (*total, *total),
///         }
///     }
/// }
///
/// let spec = Spec::new(
///     Counter,
///     |request: &[u8]| match std::str::from_utf8(request).ok()?.trim_end() {
///         "GET" => Some(Op::Get),
///         line => Some(Op::Add(line.strip_prefix("ADD ")?.parse().ok()?)),
///     },
///     |_op: &Op, reply: &[u8]| std::str::from_utf8(reply).ok()?.trim_end().parse().ok(),
/// );
/// # let _ = spec;
/// // impl Workload for MyWorkload { fn model(&self) -> Option<Spec> { Some(spec.clone()) } ... }
/// ```
#[derive(Clone)]
pub struct Spec {
    start: Arc<dyn Fn() -> Box<dyn Recording> + Send + Sync>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spec")
    }
}

impl Spec {
    /// `model`, its operations read from each request's bytes by `operation` (the bytes
    /// of one request's frame), its results from each reply frame by `result`.
    pub fn new<M, F, G>(model: M, operation: F, result: G) -> Self
    where
        M: Model + Send + Sync + 'static,
        M::Op: Serialize + Clone + Send,
        M::Res: Serialize + PartialEq + Clone + Send,
        F: Fn(&[u8]) -> Option<M::Op> + Send + Sync + 'static,
        G: Fn(&M::Op, &[u8]) -> Option<M::Res> + Send + Sync + 'static,
    {
        let parts = Arc::new(Parts {
            model,
            operation: Box::new(operation),
            result: Box::new(result),
        });
        Spec {
            start: Arc::new(move || {
                Box::new(Recorded {
                    parts: parts.clone(),
                    history: History::default(),
                    open: BTreeMap::new(),
                    ran: Vec::new(),
                    served: Vec::new(),
                })
            }),
        }
    }

    /// framesim's key-value model ([`KvModel`]: GET, SET with NX/XX/GET, DEL, INCR,
    /// EXISTS, MGET, MSET) over RESP requests and replies.
    pub fn kv() -> Self {
        Spec::new(KvModel, resp::operation, |_, reply| resp::result(reply))
    }

    /// An empty recording of one run's history.
    pub(crate) fn recording(&self) -> Box<dyn Recording> {
        (self.start)()
    }
}

/// One run's history as its clients record it, whatever the model's types.
pub(crate) trait Recording: Send {
    /// `client` is about to write `request` (its frame after `skipped` bytes), at `at`.
    fn invoked(&mut self, client: usize, request: &Bytes, skipped: usize, at: u64);
    /// The first byte of the request `back` places from the newest of `client`'s open
    /// ones went out at `at`, if its bytes are `request`.
    fn called(&mut self, client: usize, back: usize, request: &[u8], at: u64);
    /// `reply` answered `request`, `client`'s oldest open one, at `at`; `served`, the
    /// stamps of the server's read that took its last byte and of its write that gave the
    /// reply's first.
    fn completed(
        &mut self,
        client: usize,
        request: &Bytes,
        reply: &[u8],
        at: u64,
        served: Option<(u64, u64)>,
    );
    /// `client`'s connection is gone: its open requests may have taken effect or not.
    fn unanswered(&mut self, client: usize);
    /// The server ran `request` (one request's bytes) and answered `reply`, at `at`.
    fn ran(&mut self, request: &[u8], reply: &[u8], at: u64);
    /// Checks the history, ordered by call time, within `budget` steps per key group.
    fn check(&self, budget: u64) -> Checked;
    /// The history as JSON lines, ordered by call time (the indices `check` names).
    fn json_lines(&self) -> String;
    /// The history drawn as a self-contained HTML page, `checked`'s failing group marked.
    fn timeline(&self, checked: &Checked, title: &str) -> String;
}

/// Reads a request's bytes as an operation.
type ReadOp<Op> = Box<dyn Fn(&[u8]) -> Option<Op> + Send + Sync>;
/// Reads a reply's bytes as an operation's result.
type ReadRes<Op, Res> = Box<dyn Fn(&Op, &[u8]) -> Option<Res> + Send + Sync>;

struct Parts<M: Model> {
    model: M,
    operation: ReadOp<M::Op>,
    result: ReadRes<M::Op, M::Res>,
}

struct Recorded<M: Model> {
    parts: Arc<Parts<M>>,
    history: History<M::Op, M::Res>,
    /// Each client's requests asked and not yet answered.
    open: BTreeMap<usize, VecDeque<Open<M::Op>>>,
    /// The commands the server ran, in the order it ran them, if it tells them.
    ran: Vec<Ran<M::Op, M::Res>>,
    /// Beside each operation of `history`: the server's side of its window (its read of
    /// the request's last byte, its write of the reply's first), when measured.
    served: Vec<Option<(u64, u64)>>,
}

/// A request asked and not yet answered: its bytes, its operation (`None` for a request
/// the model has no operation for), its call.
type Open<Op> = (Bytes, Option<Op>, u64);

impl<M: Model> Recorded<M>
where
    M::Op: Clone,
    M::Res: Clone,
{
    /// Every operation, ordered by call time (then client).
    fn sorted(&self) -> History<M::Op, M::Res> {
        History::new(
            self.in_order()
                .map(|i| self.history.ops[i].clone())
                .collect(),
        )
    }

    /// The indices of the operations, ordered by call time (then client).
    fn in_order(&self) -> impl Iterator<Item = usize> {
        let ops = &self.history.ops;
        let mut order: Vec<usize> = (0..ops.len()).collect();
        order.sort_by_key(|&i| (ops[i].call, ops[i].client));
        order.into_iter()
    }

    /// The history as [`sorted`](Self::sorted), each operation's window narrowed to the
    /// server's side of the wire where measured; `None` when nothing was.
    fn narrowed(&self) -> Option<History<M::Op, M::Res>> {
        if self.served.iter().all(Option::is_none) {
            return None;
        }
        let narrow = |i: usize| {
            let mut o = self.history.ops[i].clone();
            if let (Some((read, wrote)), Some(ret)) = (self.served[i], o.ret) {
                let (call, ret) = (o.call.max(read), ret.min(wrote));
                if call <= ret {
                    (o.call, o.ret) = (call, Some(ret));
                }
            }
            o
        };
        Some(History::new(self.in_order().map(narrow).collect()))
    }
}

impl<M> Recorded<M>
where
    M: Model,
    M::Op: Clone,
    M::Res: Clone + PartialEq,
{
    /// Searches `history` (the sorted one), first with the windows narrowed to the
    /// server's side where measured: an order found inside those is one inside the wider
    /// windows. Only when none is found there does the search over the wider ones decide.
    fn search(&self, history: &History<M::Op, M::Res>, budget: u64) -> Checked {
        let Some(narrowed) = self.narrowed() else {
            return check(&self.parts.model, history, budget);
        };
        let first = check(&self.parts.model, &narrowed, budget);
        if first.linearizable() {
            return Checked {
                narrowed: true,
                ..first
            };
        }
        let mut wide = check(&self.parts.model, history, budget);
        wide.steps += first.steps;
        wide
    }
}

impl<M> Recording for Recorded<M>
where
    M: Model + Send + Sync,
    M::Op: Serialize + Clone + Send,
    M::Res: Serialize + PartialEq + Clone + Send,
{
    fn invoked(&mut self, client: usize, request: &Bytes, skipped: usize, at: u64) {
        let frame = request.get(skipped..).unwrap_or_default();
        // Kept even without an operation: `called` counts back over every request asked.
        let entry = (request.clone(), (self.parts.operation)(frame), at);
        self.open.entry(client).or_default().push_back(entry);
    }

    fn called(&mut self, client: usize, back: usize, request: &[u8], at: u64) {
        let Some(open) = self.open.get_mut(&client) else {
            return;
        };
        let Some(k) = open.len().checked_sub(back + 1) else {
            return;
        };
        if open[k].0 == request {
            open[k].2 = at;
            // The requests behind it on the stream go out after it: none is called
            // before it, so a client's calls stay in the order it asked.
            for later in open.iter_mut().skip(k + 1) {
                later.2 = later.2.max(at);
            }
        }
    }

    fn completed(
        &mut self,
        client: usize,
        request: &Bytes,
        reply: &[u8],
        at: u64,
        served: Option<(u64, u64)>,
    ) {
        let open = self.open.entry(client).or_default();
        if open.front().is_none_or(|(bytes, _, _)| bytes != request) {
            return;
        }
        let Some((_, Some(op), call)) = open.pop_front() else {
            return;
        };
        let (op, served) = match (self.parts.result)(&op, reply) {
            Some(result) => (
                Operation::done(client, call, at.max(call), op, result),
                served,
            ),
            None => (Operation::pending(client, call, op), None),
        };
        self.history.push(op);
        self.served.push(served);
    }

    fn unanswered(&mut self, client: usize) {
        for (_, op, call) in self.open.remove(&client).unwrap_or_default() {
            if let Some(op) = op {
                self.history.push(Operation::pending(client, call, op));
                self.served.push(None);
            }
        }
    }

    fn ran(&mut self, request: &[u8], reply: &[u8], at: u64) {
        if let Some(op) = (self.parts.operation)(request) {
            let result = (self.parts.result)(&op, reply);
            self.ran.push(Ran { op, result, at });
        }
    }

    fn check(&self, budget: u64) -> Checked {
        let history = self.sorted();
        if self.ran.is_empty() {
            return self.search(&history, budget);
        }
        let told = self.ran.len();
        match check_order(&self.parts.model, &history, &self.ran) {
            Order::Linearization { matched } => Checked {
                verdict: Linearizability::Linearizable,
                ops: history.len(),
                partitions: 1,
                steps: told as u64,
                group: Vec::new(),
                narrowed: false,
                server_order: Some(ServerOrder::Linearization {
                    commands: told,
                    matched,
                }),
            },
            Order::Broken { why, ops } => {
                let mut checked = self.search(&history, budget);
                if checked.group.is_empty() && !checked.linearizable() {
                    checked.group = ops;
                }
                checked.server_order = Some(ServerOrder::Broken {
                    commands: told,
                    why,
                });
                checked
            }
        }
    }

    fn json_lines(&self) -> String {
        self.sorted().to_json_lines()
    }

    fn timeline(&self, checked: &Checked, title: &str) -> String {
        let history = self.sorted();
        let stuck = checked.stuck();
        let bars: Vec<Bar> = history
            .ops
            .iter()
            .enumerate()
            .map(|(i, o)| Bar {
                index: i,
                client: o.client,
                call: o.call,
                ret: o.ret,
                op: label(&o.op),
                result: o.result.as_ref().map(label),
                group: checked.group.contains(&i),
                stuck: stuck.contains(&i),
            })
            .collect();
        timeline(&bars, title, &checked.verdict.to_string())
    }
}

/// A short label of a JSON value: strings bare, objects' and arrays' values joined by
/// spaces, a flag set by its name (`{"f":"get","key":"a"}` is `get a`,
/// `{"f":"set","key":"a","nx":true,"value":"1"}` is `set a nx 1`, `{"int":3}` is `3`).
fn label<T: Serialize>(value: &T) -> String {
    fn flat(v: &serde_json::Value, out: &mut Vec<String>) {
        use serde_json::Value;
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| flat(i, out)),
            // A flag that is set is its name; one that is not, nothing.
            Value::Object(map) => map.iter().for_each(|(k, i)| match i {
                Value::Bool(true) => out.push(k.clone()),
                Value::Bool(false) => {}
                i => flat(i, out),
            }),
            Value::Null => out.push("null".into()),
            other => out.push(other.to_string()),
        }
    }
    let mut parts = Vec::new();
    if let Ok(v) = serde_json::to_value(value) {
        flat(&v, &mut parts);
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::Spec;
    use bytes::Bytes;

    fn resp(args: &[&str]) -> Bytes {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out += &format!("${}\r\n{a}\r\n", a.len());
        }
        Bytes::from(out)
    }

    /// A SET called at 0 and read back at 100, a GET called at 5 and read back at 15
    /// that saw it; `served`, each one's window on the server's side of the wire.
    fn set_then_get(served: [(u64, u64); 2]) -> super::Checked {
        let mut recording = Spec::kv().recording();
        let (set, get) = (resp(&["SET", "k", "1"]), resp(&["GET", "k"]));
        recording.invoked(0, &set, 0, 0);
        recording.invoked(1, &get, 0, 5);
        recording.completed(1, &get, b"$1\r\n1\r\n", 15, Some(served[1]));
        recording.completed(0, &set, b"+OK\r\n", 100, Some(served[0]));
        recording.check(1000)
    }

    #[test]
    fn an_order_inside_the_servers_windows_decides_at_once() {
        let checked = set_then_get([(10, 12), (13, 14)]);
        assert!(checked.linearizable(), "{}", checked.verdict);
        assert!(checked.narrowed);
    }

    #[test]
    fn a_server_that_answers_before_it_runs_is_judged_by_its_clients_windows() {
        // The GET's reply went out before the SET was read: no order inside the server's
        // windows, yet the clients' windows overlap and allow one.
        let checked = set_then_get([(10, 20), (6, 8)]);
        assert!(checked.linearizable(), "{}", checked.verdict);
        assert!(!checked.narrowed);
        // Windows outside the client's are not taken.
        let checked = set_then_get([(10, 20), (200, 300)]);
        assert!(checked.linearizable(), "{}", checked.verdict);
    }

    #[test]
    fn a_request_with_no_operation_keeps_its_place_among_the_calls() {
        let mut recording = Spec::kv().recording();
        let (incr, ping) = (resp(&["INCR", "k"]), resp(&["PING"]));
        // One batch: INCR, INCR, PING (no operation), each going out later than the last.
        for request in [&incr, &incr, &ping] {
            recording.invoked(0, request, 0, 10);
        }
        recording.called(0, 2, &incr, 11);
        recording.called(0, 1, &incr, 20);
        recording.called(0, 0, &ping, 30);
        recording.completed(0, &incr, b":1\r\n", 40, None);
        recording.completed(0, &incr, b":2\r\n", 41, None);
        recording.completed(0, &ping, b"+PONG\r\n", 42, None);
        let calls: Vec<u64> = recording
            .json_lines()
            .lines()
            .map(|line| {
                let op: serde_json::Value = serde_json::from_str(line).unwrap();
                op["call"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(calls, [11, 20]);
    }
}
