//! The black-box check: is there an order of a history's operations, each placed between
//! its call and its return, that the model runs to give every result observed?
//!
//! A depth-first search in the manner of Wing and Gong, with Lowe's memory of the
//! configurations already tried (the set of operations placed so far and the model's
//! state): an operation may be placed next when no operation left unplaced returned before
//! it was called, and none of its client's earlier answered operations is left unplaced
//! (one connection's requests are served in order). An indeterminate operation may be
//! placed anywhere after its call, or never. The history is split first into groups of operations whose keys never meet
//! ([`Model::keys`]), each checked on its own. The search is bounded: past its budget of
//! steps, the answer is [`Linearizability::Unknown`], never a pass.

use super::history::History;
use super::model::Model;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};

/// Steps a [`check`] takes per group of keys unless told otherwise.
pub const DEFAULT_BUDGET: u64 = 1_000_000;

/// What the search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linearizability {
    /// Every group has an order that gives every result.
    Linearizable,
    /// One group has none.
    NotLinearizable {
        /// The group's first key (`*` when the model does not partition).
        partition: String,
        /// The most operations of that group any order placed before it was stuck.
        placed: usize,
        /// The operations (indices into the history) that could have come next at that
        /// point, none of which gives its observed result there.
        stuck: Vec<usize>,
    },
    /// The budget ran out before the search of this group ended: nothing is known.
    Unknown {
        /// The group's first key.
        partition: String,
    },
}

/// A check's verdict and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// What the search found.
    pub verdict: Linearizability,
    /// Operations checked.
    pub ops: usize,
    /// Groups of keys checked apart.
    pub partitions: usize,
    /// Search steps (operations tried in place), over every group.
    pub steps: u64,
    /// The operations (indices into the history) of the group that is not linearizable,
    /// or whose search ran out of its budget; empty when the history is linearizable.
    pub group: Vec<usize>,
    /// Whether the history was found linearizable with each operation's window narrowed
    /// to the server's side of the wire (from the server's read that took the request's
    /// last byte to its write that gave the reply's first), which a simulation measures:
    /// an order inside those windows lies inside the clients' wider ones, so no search
    /// over these ran.
    pub narrowed: bool,
    /// What the order in which the server ran its commands showed, when the server told
    /// it ([`ran`](crate::harness::ran)): a linearization found in one pass (then no
    /// search ran), or why that order is none (then the search decided). `None` when the
    /// server told nothing.
    pub server_order: Option<ServerOrder>,
}

/// The white-box check's finding: whether the order in which the server ran its commands
/// (as it told them) is a linearization of the clients' history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOrder {
    /// It is: the model, stepped through the `commands` in that order, gives each reply,
    /// and each of `matched` operations ran inside its window with the reply its client
    /// read.
    Linearization {
        /// Commands the server told.
        commands: usize,
        /// Operations of the history matched to one of them.
        matched: usize,
    },
    /// It is not, for the reason given.
    Broken {
        /// Commands the server told.
        commands: usize,
        /// The first command or operation that does not fit, and how.
        why: String,
    },
}

impl fmt::Display for ServerOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerOrder::Linearization { commands, matched } => write!(
                f,
                "the server's order of {commands} command(s) is a linearization ({matched} operation(s) matched)"
            ),
            ServerOrder::Broken { commands, why } => write!(
                f,
                "the server's order of {commands} command(s) is not a linearization: {why}"
            ),
        }
    }
}

impl Checked {
    /// Whether the history is known to be linearizable.
    pub fn linearizable(&self) -> bool {
        self.verdict == Linearizability::Linearizable
    }

    /// The operations none of which could come next where the search got furthest (empty
    /// unless not linearizable).
    pub fn stuck(&self) -> &[usize] {
        match &self.verdict {
            Linearizability::NotLinearizable { stuck, .. } => stuck,
            _ => &[],
        }
    }
}

impl fmt::Display for Linearizability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Linearizability::Linearizable => write!(f, "linearizable"),
            Linearizability::NotLinearizable {
                partition,
                placed,
                stuck,
            } => write!(
                f,
                "not linearizable: on key {partition}, after {placed} operation(s) placed, \
                 none of operations {stuck:?} can come next"
            ),
            Linearizability::Unknown { partition } => write!(
                f,
                "unknown: the search on key {partition} ran out of its budget of steps"
            ),
        }
    }
}

/// Checks `history` against `model`, with at most `budget` steps per group of keys.
///
/// ```
/// use framesim::harness::linear::{check, History, KvModel, KvOp, KvResult, Operation};
///
/// let set = KvOp::Set { key: "x".into(), value: "1".into(), nx: false, xx: false, get: false };
/// let get = KvOp::Get { key: "x".into() };
/// // The read overlaps the write: either order is fine, and it saw the write.
/// let history = History::new(vec![
///     Operation::done(0, 0, 10, set, KvResult::Ok),
///     Operation::done(1, 5, 15, get.clone(), KvResult::Value("1".into())),
///     Operation::done(1, 20, 30, get, KvResult::Nil),
/// ]);
/// let checked = check(&KvModel, &history, 1000);
/// // A read after the write has returned cannot miss it.
/// assert!(!checked.linearizable(), "{}", checked.verdict);
/// ```
pub fn check<M>(model: &M, history: &History<M::Op, M::Res>, budget: u64) -> Checked
where
    M: Model,
    M::Res: PartialEq,
{
    let groups = partitions(model, history);
    let mut checked = Checked {
        verdict: Linearizability::Linearizable,
        ops: history.len(),
        partitions: groups.len(),
        steps: 0,
        group: Vec::new(),
        narrowed: false,
        server_order: None,
    };
    for (partition, members) in groups {
        let (found, steps) = search(model, history, &members, budget);
        checked.steps += steps;
        let verdict = match found {
            Found::Yes => continue,
            Found::No { placed, stuck } => Linearizability::NotLinearizable {
                partition,
                placed,
                stuck,
            },
            Found::OutOfSteps => Linearizability::Unknown { partition },
        };
        let definite = matches!(verdict, Linearizability::NotLinearizable { .. });
        if checked.verdict == Linearizability::Linearizable || definite {
            checked.verdict = verdict;
            checked.group = members;
        }
        if definite {
            break;
        }
    }
    checked
}

/// The history's operations grouped by the keys they touch together (union-find over
/// keys), each group named by its least key and listed in history order.
fn partitions<M: Model>(model: &M, history: &History<M::Op, M::Res>) -> Vec<(String, Vec<usize>)> {
    let keys: Vec<Vec<String>> = history.ops.iter().map(|o| model.keys(&o.op)).collect();
    if history.is_empty() {
        return Vec::new();
    }
    if keys.iter().any(Vec::is_empty) {
        return vec![("*".to_string(), (0..history.len()).collect())];
    }
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    fn root<'a>(parent: &mut BTreeMap<&'a str, &'a str>, k: &'a str) -> &'a str {
        let mut r = k;
        while let Some(&p) = parent.get(r).filter(|&&p| p != r) {
            r = p;
        }
        parent.insert(k, r);
        r
    }
    for op_keys in &keys {
        for k in op_keys {
            parent.entry(k).or_insert(k);
        }
        for pair in op_keys.windows(2) {
            let (a, b) = (root(&mut parent, &pair[0]), root(&mut parent, &pair[1]));
            // The lesser key is the root: a group is named by its least key.
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            parent.insert(hi, lo);
        }
    }
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op_keys) in keys.iter().enumerate() {
        let r = root(&mut parent, &op_keys[0]);
        groups.entry(r).or_default().push(i);
    }
    groups
        .into_iter()
        .map(|(k, members)| (k.to_string(), members))
        .collect()
}

/// How one group's search ended.
enum Found {
    Yes,
    No { placed: usize, stuck: Vec<usize> },
    OutOfSteps,
}

/// A set of positions, as words of bits.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn has(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn flip(&mut self, i: usize) {
        self.0[i / 64] ^= 1 << (i % 64);
    }
    /// The first position not in the set.
    fn first_clear(&self) -> usize {
        let word = self.0.iter().position(|w| *w != u64::MAX);
        word.map_or(self.0.len() * 64, |w| {
            w * 64 + self.0[w].trailing_ones() as usize
        })
    }
}

/// A configuration (the operations placed, the model's state) as 128 bits of two SipHash
/// runs: remembering tried configurations by fingerprint costs no copy of the state. Two
/// configurations that differ share one with a chance near 2^-128 for any pair, which no
/// search of a few million steps comes near.
fn fingerprint<S: Hash>(placed: &Bits, state: &S) -> u128 {
    let half = |seed: u64| {
        let mut hasher = DefaultHasher::new();
        seed.hash(&mut hasher);
        placed.hash(&mut hasher);
        state.hash(&mut hasher);
        hasher.finish()
    };
    u128::from(half(0)) << 64 | u128::from(half(1))
}

/// Hashes a fingerprint, already uniform, by taking its low word.
#[derive(Default)]
struct Fingerprint(u64);

impl Hasher for Fingerprint {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One group's search: the operations `members` (indices into `history`).
fn search<M>(
    model: &M,
    history: &History<M::Op, M::Res>,
    members: &[usize],
    budget: u64,
) -> (Found, u64)
where
    M: Model,
    M::Res: PartialEq,
{
    // In call order; an indeterminate operation never returns, and one that only reads
    // is left out: never placing it is always as good as placing it.
    let mut order: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&i| !(history.ops[i].indeterminate() && model.read_only(&history.ops[i].op)))
        .collect();
    order.sort_by_key(|&i| {
        (
            history.ops[i].call,
            history.ops[i].ret.unwrap_or(u64::MAX),
            i,
        )
    });
    let op = |pos: usize| &history.ops[order[pos]];
    let n = order.len();
    let ret = |pos: usize| op(pos).ret.unwrap_or(u64::MAX);

    // A client's requests take effect in the order it sent them (one connection's
    // requests are served in order, pipelined or not): the position of each operation's
    // previous answered one from the same client, in history order, which must be placed
    // first. This narrows a pipelined batch, whose requests are all called at its first
    // byte, from every order to one.
    let mut before = vec![None; n];
    let mut by_history: Vec<usize> = (0..n).collect();
    by_history.sort_by_key(|&pos| order[pos]);
    let mut last: BTreeMap<usize, usize> = BTreeMap::new();
    for &pos in &by_history {
        let o = op(pos);
        before[pos] = last.get(&o.client).copied();
        if !o.indeterminate() {
            last.insert(o.client, pos);
        }
    }

    // The positions that may come next with `placed` placed, from `from` on: those called
    // no later than every unplaced operation's return, their client's earlier answered
    // operations placed.
    let next_from = |placed: &Bits, from: usize| -> Option<usize> {
        let mut min_ret = u64::MAX;
        for (pos, prior) in before.iter().enumerate().skip(placed.first_clear()) {
            if placed.has(pos) {
                continue;
            }
            min_ret = min_ret.min(ret(pos));
            if op(pos).call > min_ret {
                return None;
            }
            if pos >= from && prior.is_none_or(|b| placed.has(b)) {
                return Some(pos);
            }
        }
        None
    };

    let mut placed = Bits::new(n);
    let mut state = model.init();
    let mut left = (0..n).filter(|&p| !op(p).indeterminate()).count();
    // Each placed operation, the state before it, and whether it was a read placed as
    // soon as it fit (the configuration before it then has nothing else to try).
    let mut stack: Vec<(usize, M::State, bool)> = Vec::new();
    let mut seen: HashSet<u128, BuildHasherDefault<Fingerprint>> = HashSet::default();
    let mut cursor = 0;
    let mut steps = 0u64;
    let (mut best, mut stuck) = (0usize, Vec::new());
    loop {
        if left == 0 {
            return (Found::Yes, steps);
        }
        if cursor == 0 {
            // A read whose result fits here goes here: any order that places it later
            // stays an order with it moved here, as it changes nothing. If what follows
            // fails, so does this configuration.
            let mut forced = None;
            let mut from = 0;
            while let Some(pos) = next_from(&placed, from) {
                let o = op(pos);
                if let Some(seen_res) = o.result.as_ref().filter(|_| model.read_only(&o.op)) {
                    steps += 1;
                    if steps > budget {
                        return (Found::OutOfSteps, steps - 1);
                    }
                    if model.accepts(&model.step(&state, &o.op).1, seen_res) {
                        forced = Some(pos);
                        break;
                    }
                }
                from = pos + 1;
            }
            if let Some(pos) = forced {
                placed.flip(pos);
                if seen.insert(fingerprint(&placed, &state)) {
                    stack.push((pos, state.clone(), true));
                    left -= 1;
                    continue;
                }
                // Tried before, and failed: so does this configuration.
                placed.flip(pos);
                cursor = n;
                continue;
            }
        }
        match next_from(&placed, cursor) {
            Some(pos) => {
                steps += 1;
                if steps > budget {
                    return (Found::OutOfSteps, steps - 1);
                }
                let o = op(pos);
                let (after, res) = model.step(&state, &o.op);
                let fits = match &o.result {
                    Some(seen_res) if !o.indeterminate() => model.accepts(&res, seen_res),
                    _ => true,
                };
                if fits {
                    placed.flip(pos);
                    if seen.insert(fingerprint(&placed, &after)) {
                        stack.push((pos, std::mem::replace(&mut state, after), false));
                        if !o.indeterminate() {
                            left -= 1;
                        }
                        cursor = 0;
                        continue;
                    }
                    placed.flip(pos);
                }
                cursor = pos + 1;
            }
            None => {
                if stack.len() >= best && stuck.is_empty() || stack.len() > best {
                    best = stack.len();
                    stuck = Vec::new();
                    let mut from = 0;
                    while let Some(pos) = next_from(&placed, from) {
                        stuck.push(order[pos]);
                        from = pos + 1;
                    }
                }
                let Some((pos, before, forced)) = stack.pop() else {
                    stuck.sort_unstable();
                    return (
                        Found::No {
                            placed: best,
                            stuck,
                        },
                        steps,
                    );
                };
                placed.flip(pos);
                state = before;
                if !op(pos).indeterminate() {
                    left += 1;
                }
                cursor = if forced { n } else { pos + 1 };
            }
        }
    }
}
