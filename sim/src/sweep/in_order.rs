//! Results of a sweep in seed order, as they become ready: workers finish seeds out of
//! order, and what a sweep hands out (JSON lines, a results file) must come in order, to
//! compare with diff.

use std::collections::BTreeMap;

/// Items numbered from 0, handed out in order as the ones before them arrive.
#[derive(Debug)]
pub(super) struct InOrder<T> {
    /// Arrived, waiting for an earlier one.
    waiting: BTreeMap<usize, T>,
    /// How many were handed out.
    next: usize,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        InOrder {
            waiting: BTreeMap::new(),
            next: 0,
        }
    }
}

impl<T> InOrder<T> {
    /// Adds the `index`th item.
    pub(super) fn add(&mut self, index: usize, item: T) {
        self.waiting.insert(index, item);
    }

    /// The next item in order, if it has arrived; `(index, item)`.
    pub(super) fn pop(&mut self) -> Option<(usize, T)> {
        let item = self.waiting.remove(&self.next)?;
        self.next += 1;
        Some((self.next - 1, item))
    }

    /// How many were handed out.
    pub(super) fn handed_out(&self) -> usize {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(done: &mut InOrder<u64>) -> Vec<u64> {
        std::iter::from_fn(|| done.pop().map(|(_, seed)| seed)).collect()
    }

    #[test]
    fn items_come_out_in_order() {
        let mut done = InOrder::default();
        done.add(1, 11);
        done.add(2, 12);
        assert!(ready(&mut done).is_empty());
        done.add(0, 10);
        assert_eq!(ready(&mut done), [10, 11, 12]);
        done.add(3, 13);
        assert_eq!(ready(&mut done), [13]);
        assert_eq!(done.handed_out(), 4);
    }
}
