//! What one seed of a sweep showed: its verdict, its hashes, the first failure and the
//! command that runs it again. One JSON line of a results file is one of these.

use super::coverage::Seen;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How one seed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every oracle held.
    Pass,
    /// An oracle found something, the server panicked, or the simulation failed.
    Fail,
    /// Two runs of the seed gave two transcripts: no replay of it can be trusted.
    Diverged,
}

/// What one seed of a sweep showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// A hash of everything the run was given but the seed: the scenario or options (the
    /// same seed under the same scenario must give the same transcript, on any machine).
    #[serde(with = "hex")]
    pub scenario: u64,
    /// The transcript hash of its (first) run.
    #[serde(with = "hex")]
    pub hash: u64,
    /// How it ended.
    pub verdict: Verdict,
    /// The oracle of the first failure (`executed`, `panic`, `determinism`, …), if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oracle: Option<String>,
    /// The first failure on one line, `[oracle] detail`, if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The command that runs this seed again.
    pub replay: String,
    /// It ran twice.
    #[serde(default)]
    pub rechecked: bool,
    /// The second run's transcript hash, if it differed from the first.
    #[serde(default, with = "hex_option", skip_serializing_if = "Option::is_none")]
    pub second_hash: Option<u64>,
    /// Wall time of the seed, both runs included, in milliseconds.
    #[serde(default)]
    pub wall_ms: u64,
    /// What the seed's (first) run exercised, for the sweep's coverage: `merge` adds these
    /// up as the sweep does. Absent from a line without coverage (a results file of an
    /// older framesim, or a run that counted nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<Seen>,
}

impl SeedResult {
    /// A passing seed, run once.
    pub fn pass(seed: u64, scenario: u64, hash: u64, replay: String) -> Self {
        SeedResult {
            seed,
            scenario,
            hash,
            verdict: Verdict::Pass,
            oracle: None,
            failure: None,
            replay,
            rechecked: false,
            second_hash: None,
            wall_ms: 0,
            seen: Vec::new(),
        }
    }

    /// This seed having exercised `seen` (for the sweep's coverage).
    pub fn seeing(mut self, seen: Vec<Seen>) -> Self {
        self.seen = seen;
        self
    }

    /// This seed failing with `failure` (`[oracle] detail`): the verdict and oracle follow
    /// from it (`[determinism]` is a divergence).
    pub fn failing(mut self, failure: String) -> Self {
        let oracle = oracle_of(&failure);
        self.verdict = if oracle.as_deref() == Some("determinism") {
            Verdict::Diverged
        } else {
            Verdict::Fail
        };
        self.oracle = oracle;
        self.failure = Some(failure);
        self
    }

    /// This seed run a second time, which gave transcript hash `again`.
    pub fn rechecked(mut self, again: u64) -> Self {
        self.rechecked = true;
        self.second_hash = (again != self.hash).then_some(again);
        self
    }

    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// Its two runs gave two transcripts.
    pub fn diverged(&self) -> bool {
        self.second_hash.is_some()
    }

    /// The line a failing seed prints: `seed N FAILED [oracle] detail | replay: <command>`.
    pub fn line(&self) -> String {
        format!(
            "seed {} FAILED {} | replay: {}",
            self.seed,
            self.failure.as_deref().unwrap_or("[unknown]"),
            self.replay
        )
    }

    /// Its wall time.
    pub fn wall(&self) -> Duration {
        Duration::from_millis(self.wall_ms)
    }
}

/// The oracle a failure line starts with: `executed` of `[executed] detail`.
pub fn oracle_of(failure: &str) -> Option<String> {
    let rest = failure.strip_prefix('[')?;
    let (name, _) = rest.split_once(']')?;
    Some(name.to_string())
}

/// A FNV-1a hash of `text`: stable across processes, machines and Rust versions, unlike
/// `DefaultHasher`. What a [`SeedResult::scenario`] is made of.
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A hash as 16 hex digits in JSON, as `--hashes` prints it.
mod hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{value:016x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        u64::from_str_radix(&text, 16)
            .map_err(|_| serde::de::Error::custom(format!("expected 16 hex digits, not {text:?}")))
    }
}

/// [`hex`] for a hash that may be absent.
mod hex_option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => super::hex::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => u64::from_str_radix(&text, 16).map(Some).map_err(|_| {
                serde::de::Error::custom(format!("expected 16 hex digits, not {text:?}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_its_oracle_and_a_determinism_failure_is_a_divergence() {
        let r = SeedResult::pass(3, 1, 2, "replay 3".into());
        assert!(r.passed());
        let failed = r.clone().failing("[executed] a request ran twice".into());
        assert_eq!(failed.verdict, Verdict::Fail);
        assert_eq!(failed.oracle.as_deref(), Some("executed"));
        assert_eq!(
            failed.line(),
            "seed 3 FAILED [executed] a request ran twice | replay: replay 3"
        );
        let diverged = r.rechecked(7).failing("[determinism] two runs".into());
        assert_eq!(diverged.verdict, Verdict::Diverged);
        assert_eq!(diverged.second_hash, Some(7));
        assert_eq!(oracle_of("no bracket"), None);
    }

    #[test]
    fn hashes_differ_for_different_text_and_are_stable() {
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(stable_hash("a"), stable_hash("b"));
    }
}
