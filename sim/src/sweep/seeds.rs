//! The seeds of a sweep, in the order they run: a range, the endless run of seeds from a
//! root (a sweep with a time budget), or a list; each filtered by a [`Shard`].

use super::shard::Shard;
use std::ops::Range;

/// The seeds of a sweep, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeds {
    /// The seeds of `range` that `shard` holds.
    Range {
        /// Every seed, before sharding.
        range: Range<u64>,
        /// This machine's part.
        shard: Shard,
    },
    /// The seeds from `root` on that `shard` holds, without end: a sweep with a time budget
    /// runs as many as it can, and `root..` the last one's successor replays them.
    From {
        /// The first seed (before sharding).
        root: u64,
        /// This machine's part.
        shard: Shard,
    },
    /// These seeds, in this order.
    List(Vec<u64>),
}

impl Seeds {
    /// The `index`th seed (from 0), if there are that many.
    pub fn nth(&self, index: usize) -> Option<u64> {
        match self {
            Seeds::Range { range, shard } => {
                nth_from(range.start, *shard, index).filter(|&s| s < range.end)
            }
            Seeds::From { root, shard } => nth_from(*root, *shard, index),
            Seeds::List(list) => list.get(index).copied(),
        }
    }

    /// How many seeds there are; `None` without end.
    pub fn len(&self) -> Option<usize> {
        match self {
            // A shard's seeds are evenly spaced: count them from the first.
            Seeds::Range { range, shard } => Some(match self.nth(0) {
                Some(first) => ((range.end - 1 - first) / shard.of + 1) as usize,
                None => 0,
            }),
            Seeds::From { .. } => None,
            Seeds::List(list) => Some(list.len()),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.nth(0).is_none()
    }

    /// The shard the seeds are filtered by ([`Shard::ALL`] for a list).
    pub fn shard(&self) -> Shard {
        match self {
            Seeds::Range { shard, .. } | Seeds::From { shard, .. } => *shard,
            Seeds::List(_) => Shard::ALL,
        }
    }
}

/// The `index`th seed at or after `start` that `shard` holds.
fn nth_from(start: u64, shard: Shard, index: usize) -> Option<u64> {
    let skip = (shard.index + shard.of - start % shard.of) % shard.of;
    start
        .checked_add(skip)?
        .checked_add((index as u64).checked_mul(shard.of)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(seeds: &Seeds) -> Vec<u64> {
        (0..).map_while(|i| seeds.nth(i)).collect()
    }

    #[test]
    fn a_sharded_range_is_its_seeds_that_the_shard_holds_in_order() {
        for of in 1..5 {
            for index in 0..of {
                for range in [0..10, 3..17, 5..6, 7..9] {
                    let shard = Shard { index, of };
                    let seeds = Seeds::Range {
                        range: range.clone(),
                        shard,
                    };
                    let want: Vec<u64> = range.filter(|&s| shard.holds(s)).collect();
                    assert_eq!(all(&seeds), want, "{seeds:?}");
                    assert_eq!(seeds.len(), Some(want.len()), "{seeds:?}");
                    assert_eq!(seeds.is_empty(), want.is_empty());
                }
            }
        }
    }

    #[test]
    fn seeds_from_a_root_go_on_and_end_only_at_the_last_seed() {
        let shard = Shard { index: 2, of: 3 };
        let seeds = Seeds::From { root: 10, shard };
        let first: Vec<u64> = (0..4).map(|i| seeds.nth(i).unwrap()).collect();
        assert_eq!(first, [11, 14, 17, 20]);
        assert_eq!(seeds.len(), None);
        let near_end = Seeds::From {
            root: u64::MAX - 1,
            shard: Shard::ALL,
        };
        assert_eq!(all(&near_end), [u64::MAX - 1, u64::MAX]);
    }

    #[test]
    fn a_list_runs_as_given() {
        let seeds = Seeds::List(vec![9, 2, 5]);
        assert_eq!(all(&seeds), [9, 2, 5]);
        assert_eq!(seeds.len(), Some(3));
    }
}
