//! Which seeds of a sweep run twice, to check that a seed gives the same transcript.

use std::fmt;

/// Which seeds of a sweep run twice: `--check-determinism all|N|off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recheck {
    /// None.
    Off,
    /// The first seed of the sweep and every Nth after it (1: all).
    Every(u64),
}

impl Recheck {
    /// The default of every sweep: the first seed and one in 16.
    pub const DEFAULT: Recheck = Recheck::Every(16);

    /// Whether the `index`th seed of the sweep (from 0) runs twice.
    pub fn covers(self, index: usize) -> bool {
        match self {
            Recheck::Off => false,
            Recheck::Every(n) => index as u64 % n == 0,
        }
    }
}

impl Default for Recheck {
    fn default() -> Self {
        Recheck::DEFAULT
    }
}

impl fmt::Display for Recheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recheck::Off => f.write_str("off"),
            Recheck::Every(1) => f.write_str("every seed"),
            Recheck::Every(n) => write!(f, "every {n}th seed"),
        }
    }
}

/// `all`, `off`, or N >= 1.
pub fn recheck(text: &str) -> Result<Recheck, String> {
    match text {
        "all" => Ok(Recheck::Every(1)),
        "off" => Ok(Recheck::Off),
        n => match n.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(Recheck::Every(n)),
            _ => Err(format!(
                "expected all, off, or a whole number N >= 1 (every Nth seed), not '{text}'"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_or_say_why() {
        assert_eq!(recheck("all"), Ok(Recheck::Every(1)));
        assert_eq!(recheck("16"), Ok(Recheck::Every(16)));
        assert_eq!(recheck("off"), Ok(Recheck::Off));
        assert!(recheck("0").unwrap_err().contains("'0'"));
        assert!(recheck("some").is_err());
    }

    #[test]
    fn every_nth_seed_of_a_sweep_is_rechecked_from_the_first() {
        let covered: Vec<usize> = (0..40).filter(|&i| Recheck::Every(16).covers(i)).collect();
        assert_eq!(covered, [0, 16, 32]);
        assert!((0..5).all(|i| Recheck::Every(1).covers(i)));
        assert!(!(0..5).any(|i| Recheck::Off.covers(i)));
    }
}
