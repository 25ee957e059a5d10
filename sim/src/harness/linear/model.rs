//! A sequential model: what a shared object answers when its operations run one at a time.

use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification of a shared object, for the linearizability check.
///
/// The checker looks for an order of a history's operations, each placed between its call
/// and return, in which stepping the model through them gives every result observed.
/// Operations on different keys ([`keys`](Self::keys)) are checked apart: a history is
/// linearizable exactly when each key's (or each group of keys touched together) is.
pub trait Model {
    /// What a client asks.
    type Op: Debug;
    /// What comes back.
    type Res: Debug;
    /// The object's state between operations (hashed, to remember states already tried).
    type State: Clone + Eq + Hash;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Runs `op` on `state`: the state after it and the result it gives.
    fn step(&self, state: &Self::State, op: &Self::Op) -> (Self::State, Self::Res);

    /// Whether a result `observed` is the one the model gave (`expected`). The default is
    /// equality; a model may allow for what it does not predict exactly (an error's text).
    fn accepts(&self, expected: &Self::Res, observed: &Self::Res) -> bool
    where
        Self::Res: PartialEq,
    {
        expected == observed
    }

    /// Whether `op` never changes the state, whatever the state (a read). The search
    /// places such an operation as soon as its result fits and tries nothing else there,
    /// and leaves it out when it was never answered: `false`, the default, is always safe.
    fn read_only(&self, op: &Self::Op) -> bool {
        let _ = op;
        false
    }

    /// The keys `op` reads or writes: operations whose keys never meet are independent.
    /// Empty, the default, means the whole object (no partitioning).
    fn keys(&self, op: &Self::Op) -> Vec<String> {
        let _ = op;
        Vec::new()
    }
}
