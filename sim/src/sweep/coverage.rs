//! What a sweep exercised ("sometimes" assertions): for each fault, role outcome and
//! situation its runs count, how often it happened over the sweep and in how many seeds,
//! and which of those the options asked for never happened (a dead fault or role).
//!
//! Counted from what each run records anyway (a harness run's `Tally` and transcript
//! counts, a scenario's report): counting records nothing more, so no transcript changes.

use crate::net::Faults;
use crate::transcript::Counts;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// One thing a seed counted: how often it happened in that seed. In a results file it is
/// `["partial reads",3,true]`: name, count, wanted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Row", into = "Row")]
pub struct Seen {
    /// What happened, in words: `oversized refused`, `partial reads` (a name read back
    /// from a results file is owned).
    pub name: Cow<'static, str>,
    /// How often it happened in the seed.
    pub count: u64,
    /// The options asked for it (a role with clients, a fault with a chance above 0): a
    /// sweep with `--require-coverage` fails if it never happens.
    pub wanted: bool,
}

impl Seen {
    /// `name` happened `count` times; `wanted` when the options asked for it.
    pub fn new(name: &'static str, count: u64, wanted: bool) -> Self {
        Seen {
            name: Cow::Borrowed(name),
            count,
            wanted,
        }
    }
}

/// A [`Seen`] as a results file holds it: name, count, wanted.
type Row = (Cow<'static, str>, u64, bool);

impl From<Row> for Seen {
    fn from((name, count, wanted): Row) -> Self {
        Seen {
            name,
            count,
            wanted,
        }
    }
}

impl From<Seen> for Row {
    fn from(seen: Seen) -> Self {
        (seen.name, seen.count, seen.wanted)
    }
}

/// One line of the coverage table: a thing over the whole sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Covered {
    /// What happened.
    pub name: Cow<'static, str>,
    /// How often, over every seed.
    pub count: u64,
    /// In how many seeds it happened at least once.
    pub seeds: u64,
    /// Some seed's options asked for it.
    pub wanted: bool,
}

/// What a sweep exercised: its seeds' [`Seen`]s added up, in the order they first came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Seeds counted.
    pub seeds: u64,
    /// Each thing, in the order the seeds name them.
    pub items: Vec<Covered>,
}

impl Coverage {
    /// Adds one seed's counts. A seed that counted nothing (a run that could not say) is
    /// not counted.
    pub fn add(&mut self, seen: &[Seen]) {
        if seen.is_empty() {
            return;
        }
        self.seeds += 1;
        for (k, s) in seen.iter().enumerate() {
            // Seeds of one sweep name the same rows in the same order: look there first.
            let at = match self.items.get(k) {
                Some(i) if i.name == s.name => Some(k),
                _ => self.items.iter().position(|i| i.name == s.name),
            };
            let item = match at {
                Some(i) => &mut self.items[i],
                None => {
                    self.items.push(Covered {
                        name: s.name.clone(),
                        count: 0,
                        seeds: 0,
                        wanted: false,
                    });
                    self.items.last_mut().expect("just pushed")
                }
            };
            item.count += s.count;
            item.seeds += u64::from(s.count > 0);
            item.wanted |= s.wanted;
        }
    }

    /// The count of `name` over the sweep, if a seed named it.
    pub fn count(&self, name: &str) -> Option<u64> {
        self.items.iter().find(|i| i.name == name).map(|i| i.count)
    }

    /// What the options asked for and never happened, in table order.
    pub fn dead(&self) -> Vec<String> {
        self.items
            .iter()
            .filter(|i| i.wanted && i.count == 0)
            .map(|i| i.name.to_string())
            .collect()
    }

    /// The table, one line per thing: its count, the seeds it happened in, and `NEVER` for
    /// what was asked for and never happened (`-` marks what no option asks for).
    pub fn table(&self) -> String {
        let width = self.items.iter().map(|i| i.name.len()).max().unwrap_or(0);
        let mut out = format!(
            "coverage over {} seeds (count, seeds it happened in):",
            self.seeds
        );
        for i in &self.items {
            let mark = match (i.wanted, i.count) {
                (true, 0) => "  NEVER",
                (false, _) => "  -",
                _ => "",
            };
            out.push_str(&format!(
                "\n  {:<width$}  {:>10}  {:>7}{mark}",
                i.name, i.count, i.seeds
            ));
        }
        out
    }

    /// `Err` naming everything asked for that never happened, for a sweep that requires
    /// coverage.
    pub fn required(&self) -> Result<(), String> {
        match self.dead() {
            dead if dead.is_empty() => Ok(()),
            dead => Err(format!(
                "coverage: never happened in {} seeds: {}",
                self.seeds,
                dead.join(", ")
            )),
        }
    }
}

/// What the network and the stream faults did in one run, from its transcript's `counts`,
/// each fault wanted when `faults` gives it a chance (and the restart when there is one):
/// the rows every world's coverage shares.
pub(crate) fn stream_faults(counts: &Counts, faults: &Faults, restart: bool) -> Vec<Seen> {
    let (c, f) = (counts, faults);
    vec![
        Seen::new("restarts", c.faults, restart),
        Seen::new(
            "partial reads",
            c.partial_reads,
            f.partial_read_chance > 0.0,
        ),
        Seen::new(
            "coalesced reads",
            c.coalesced_reads,
            f.coalesce_chance > 0.0,
        ),
        Seen::new("short writes", c.short_writes, f.short_write_chance > 0.0),
        Seen::new(
            "spurious pendings",
            c.pendings,
            f.spurious_pending_chance > 0.0,
        ),
        Seen::new(
            "accept failures",
            c.accept_errors,
            f.accept_error_chance > 0.0,
        ),
        Seen::new("window stalls", c.window_stalls, false),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_what_never_happened_is_named() {
        let mut c = Coverage::default();
        c.add(&[
            Seen::new("partial reads", 3, true),
            Seen::new("oversized refused", 0, true),
            Seen::new("window stalls", 0, false),
        ]);
        c.add(&[
            Seen::new("partial reads", 0, true),
            Seen::new("oversized refused", 0, true),
            Seen::new("window stalls", 0, false),
        ]);
        c.add(&[]);
        assert_eq!(c.seeds, 2);
        assert_eq!(c.count("partial reads"), Some(3));
        assert_eq!(c.items[0].seeds, 1);
        assert_eq!(c.dead(), ["oversized refused"]);
        let e = c.required().unwrap_err();
        assert_eq!(e, "coverage: never happened in 2 seeds: oversized refused");
        let table = c.table();
        assert!(
            table.contains("oversized refused") && table.contains("NEVER"),
            "{table}"
        );
        c.add(&[Seen::new("oversized refused", 1, true)]);
        assert_eq!(c.required(), Ok(()));
    }
}
