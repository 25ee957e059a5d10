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

/// Where a shard was found: the flag, or the variables of the engine that runs the sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The shard.
    pub shard: Shard,
    /// Where it came from: `--shard`, or the variables, e.g. `GitLab CI_NODE_INDEX=2
    /// CI_NODE_TOTAL=4`.
    pub from: String,
}

/// The variables of one CI engine that name a shard: the index's, the total's, and whether
/// the index counts from 1.
struct Engine {
    name: &'static str,
    index: &'static str,
    total: &'static str,
    from_one: bool,
}

/// Every variable [`shard_from`] reads.
pub const SHARD_VARIABLES: [&str; 9] = [
    "FRAMESIM_SHARD",
    "JOB_COMPLETION_INDEX",
    "FRAMESIM_SHARDS",
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "BUILDKITE_PARALLEL_JOB",
    "BUILDKITE_PARALLEL_JOB_COUNT",
    "CIRCLE_NODE_INDEX",
    "CIRCLE_NODE_TOTAL",
];

/// The engines read, in this order; the first whose index variable is set wins.
const ENGINES: [Engine; 4] = [
    Engine {
        name: "Kubernetes Indexed Job",
        index: "JOB_COMPLETION_INDEX",
        total: "FRAMESIM_SHARDS",
        from_one: false,
    },
    Engine {
        name: "GitLab",
        index: "CI_NODE_INDEX",
        total: "CI_NODE_TOTAL",
        from_one: true,
    },
    Engine {
        name: "Buildkite",
        index: "BUILDKITE_PARALLEL_JOB",
        total: "BUILDKITE_PARALLEL_JOB_COUNT",
        from_one: false,
    },
    Engine {
        name: "CircleCI",
        index: "CIRCLE_NODE_INDEX",
        total: "CIRCLE_NODE_TOTAL",
        from_one: false,
    },
];

/// The shard the environment names, read through `var` (`std::env::var(name).ok()` in a
/// process): `FRAMESIM_SHARD=I/N`, else (or with `FRAMESIM_SHARD=ci`) the variables of the
/// first CI engine that sets them:
/// a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, from 0, with the total in
/// `FRAMESIM_SHARDS`, which the job's manifest sets to its `completions`), GitLab
/// (`CI_NODE_INDEX` from 1 of `CI_NODE_TOTAL`), Buildkite (`BUILDKITE_PARALLEL_JOB` from 0
/// of `BUILDKITE_PARALLEL_JOB_COUNT`), CircleCI (`CIRCLE_NODE_INDEX` from 0 of
/// `CIRCLE_NODE_TOTAL`). `None` when none is set; a value that does not parse, an index
/// without its total or one past it is an error naming the variable.
///
/// ```
/// use framesim::sweep::{shard_from, Shard};
/// let gitlab = |name: &str| match name {
///     "CI_NODE_INDEX" => Some("2".to_string()),
///     "CI_NODE_TOTAL" => Some("4".to_string()),
///     _ => None,
/// };
/// assert_eq!(shard_from(gitlab).unwrap().unwrap().shard, Shard { index: 1, of: 4 });
/// ```
pub fn shard_from(var: impl Fn(&str) -> Option<String>) -> Result<Option<Found>, String> {
    let explicit = var("FRAMESIM_SHARD");
    match explicit.as_deref().map(str::trim) {
        None | Some("ci") => {}
        Some(text) => {
            let shard = shard(text).map_err(|e| format!("FRAMESIM_SHARD: {e}"))?;
            return Ok(Some(Found {
                shard,
                from: format!("FRAMESIM_SHARD={text}"),
            }));
        }
    }
    for engine in &ENGINES {
        let Some(index) = var(engine.index) else {
            continue;
        };
        let number = |name: &str, text: &str| {
            text.trim()
                .parse::<u64>()
                .map_err(|_| format!("{name}={text:?} is not a whole number ({})", engine.name))
        };
        let total = var(engine.total).ok_or_else(|| {
            format!(
                "{}={index} is set but {} is not: the {} sweep needs the number of shards",
                engine.index, engine.total, engine.name
            )
        })?;
        let (i, of) = (number(engine.index, &index)?, number(engine.total, &total)?);
        if of == 0 {
            return Err(format!("{}={total} must be at least 1", engine.total));
        }
        let first = u64::from(engine.from_one);
        if i < first || i - first >= of {
            return Err(format!(
                "{}={i} is not a shard of {}={of} ({} counts from {first})",
                engine.index, engine.total, engine.name
            ));
        }
        return Ok(Some(Found {
            shard: Shard {
                index: i - first,
                of,
            },
            from: format!(
                "{} {}={index} {}={total}",
                engine.name, engine.index, engine.total
            ),
        }));
    }
    match explicit {
        Some(_) => Err(format!(
            "FRAMESIM_SHARD=ci, but none of {} is set",
            ENGINES.map(|e| e.index).join(", ")
        )),
        None => Ok(None),
    }
}

/// An environment of `vars` only, as the functions that read one by name take it.
#[cfg(test)]
pub(crate) fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_engine_names_its_shard() {
        let cases: [(&[(&str, &str)], Shard); 7] = [
            (
                &[
                    ("FRAMESIM_SHARD", "ci"),
                    ("CIRCLE_NODE_INDEX", "1"),
                    ("CIRCLE_NODE_TOTAL", "2"),
                ],
                Shard { index: 1, of: 2 },
            ),
            (&[("FRAMESIM_SHARD", "2/5")], Shard { index: 2, of: 5 }),
            (
                &[("JOB_COMPLETION_INDEX", "3"), ("FRAMESIM_SHARDS", "8")],
                Shard { index: 3, of: 8 },
            ),
            (
                &[("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "4")],
                Shard { index: 0, of: 4 },
            ),
            (
                &[
                    ("BUILDKITE_PARALLEL_JOB", "0"),
                    ("BUILDKITE_PARALLEL_JOB_COUNT", "2"),
                ],
                Shard { index: 0, of: 2 },
            ),
            (
                &[("CIRCLE_NODE_INDEX", "5"), ("CIRCLE_NODE_TOTAL", "6")],
                Shard { index: 5, of: 6 },
            ),
            // The explicit variable wins over an engine's.
            (
                &[
                    ("FRAMESIM_SHARD", "0/3"),
                    ("CI_NODE_INDEX", "2"),
                    ("CI_NODE_TOTAL", "4"),
                ],
                Shard { index: 0, of: 3 },
            ),
        ];
        for (vars, want) in cases {
            let found = shard_from(env(vars)).unwrap().unwrap();
            assert_eq!(found.shard, want, "{vars:?}");
        }
        assert_eq!(shard_from(env(&[])), Ok(None));
        for engine in &ENGINES {
            assert!(SHARD_VARIABLES.contains(&engine.index));
            assert!(SHARD_VARIABLES.contains(&engine.total));
        }
        assert_eq!(shard_from(env(&[("CI_NODE_TOTAL", "4")])), Ok(None));
    }

    #[test]
    fn a_bad_value_is_an_error_naming_the_variable() {
        let cases: [(&[(&str, &str)], &str); 8] = [
            (&[("FRAMESIM_SHARD", "ci")], "FRAMESIM_SHARD=ci"),
            (&[("FRAMESIM_SHARD", "4/4")], "FRAMESIM_SHARD"),
            (&[("JOB_COMPLETION_INDEX", "1")], "FRAMESIM_SHARDS"),
            (
                &[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "4")],
                "CI_NODE_INDEX=0",
            ),
            (
                &[("CI_NODE_INDEX", "5"), ("CI_NODE_TOTAL", "4")],
                "CI_NODE_INDEX=5",
            ),
            (
                &[("CIRCLE_NODE_INDEX", "x"), ("CIRCLE_NODE_TOTAL", "4")],
                "CIRCLE_NODE_INDEX",
            ),
            (
                &[
                    ("BUILDKITE_PARALLEL_JOB", "0"),
                    ("BUILDKITE_PARALLEL_JOB_COUNT", "0"),
                ],
                "BUILDKITE_PARALLEL_JOB_COUNT",
            ),
            (
                &[("CIRCLE_NODE_INDEX", "1"), ("CIRCLE_NODE_TOTAL", "-2")],
                "CIRCLE_NODE_TOTAL",
            ),
        ];
        for (vars, names) in cases {
            let e = shard_from(env(vars)).unwrap_err();
            assert!(e.contains(names), "{vars:?}: {e}");
        }
    }

    #[test]
    fn the_shards_of_every_engine_never_overlap_and_together_cover_the_range() {
        for of in 1..6u64 {
            let mut seen = Vec::new();
            for node in 1..=of {
                // GitLab counts from 1: every node of a parallel job.
                let (i, n) = (node.to_string(), of.to_string());
                let vars = [("CI_NODE_INDEX", i.as_str()), ("CI_NODE_TOTAL", n.as_str())];
                let shard = shard_from(env(&vars)).unwrap().unwrap().shard;
                seen.extend((100..160).filter(|&s| shard.holds(s)));
            }
            seen.sort_unstable();
            assert_eq!(seen, (100..160).collect::<Vec<_>>(), "{of} shards");
        }
    }

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
