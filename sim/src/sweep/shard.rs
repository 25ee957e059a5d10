//! Which seeds a sweep runs: a range `A..B`, and one of N disjoint shards of it, as the
//! command lines of `framesim sweep` and of a user's harness take them.

use std::fmt;
use std::ops::Range;

/// One of `of` disjoint slices of a seed range: the seeds `s` with `s % of == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// How many shards share the range.
    pub of: u64,
}

impl Shard {
    /// The whole range.
    pub const ALL: Shard = Shard { index: 0, of: 1 };

    /// Whether `seed` is this shard's.
    pub fn holds(self, seed: u64) -> bool {
        seed % self.of == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
}

/// `A..B` with A < B.
pub fn seed_range(text: &str) -> Result<Range<u64>, String> {
    let bad = || format!("expected A..B with A < B (e.g. 0..1000), not '{text}'");
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a >= b {
        return Err(bad());
    }
    Ok(a..b)
}

/// `I/N` with I < N.
pub fn shard(text: &str) -> Result<Shard, String> {
    let bad = || format!("expected I/N with I < N (e.g. 0/4), not '{text}'");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (index, of): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if index >= of {
        return Err(bad());
    }
    Ok(Shard { index, of })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_shards_parse_or_say_why() {
        assert_eq!(seed_range("3..7"), Ok(3..7));
        assert!(seed_range("7..7").is_err());
        assert!(seed_range("7").is_err());
        assert_eq!(shard("1/4"), Ok(Shard { index: 1, of: 4 }));
        assert!(shard("4/4").is_err());
        assert!(shard("1/0").is_err());
    }

    #[test]
    fn shards_never_overlap_and_cover_the_range() {
        let of = 3;
        let mut seen: Vec<u64> = (0..of)
            .flat_map(|index| (10..40).filter(move |&s| Shard { index, of }.holds(s)))
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (10..40).collect::<Vec<_>>());
    }
}
