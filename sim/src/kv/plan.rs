//! Fault plans: what the server's stream adapter does at each poll of one connection,
//! written down, so a script holds the server's side of a run as explicitly as the clients'.
//!
//! A connection's plan is two lines of tokens, one per poll, in order: its reads
//! (`r` a plain read, `r3` a read cut to 3 bytes, `c` a read that takes every segment already
//! arrived, `c40` one that ends after 40 of them, `cr3` one then cut to 3 bytes, `p` a
//! spurious `Pending`) and its writes
//! (`w` a plain write, `w2` a write cut to 2 bytes, `p`). A poll past the end of its line is
//! plain. Lifting a run records every poll; a scripted run plays them back.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

/// What one poll of a connection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: the poll reads or writes what it can.
    Plain,
    /// A spurious `Pending` (the waker is woken at once).
    Pending,
    /// A read or write cut to at most this many bytes.
    Cut(usize),
    /// A read that takes every segment already arrived, ending after at most this many
    /// bytes (`None`: all of them).
    Coalesce(Option<usize>),
    /// A coalescing read then cut short, to this many bytes (a partial read on top).
    CoalesceCut(usize),
}

/// One connection's plan, by accept order over the whole run (1 for the first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPlan {
    /// The connection: the `n`th the server accepted.
    pub n: u64,
    /// Its read polls, in order.
    #[serde(with = "read_polls")]
    pub reads: Vec<Fault>,
    /// Its write polls, in order.
    #[serde(with = "write_polls")]
    pub writes: Vec<Fault>,
}

impl ConnectionPlan {
    /// How many polls of it are not plain.
    pub fn faults(&self) -> usize {
        self.reads
            .iter()
            .chain(&self.writes)
            .filter(|f| **f != Fault::Plain)
            .count()
    }
}

/// One poll as its token; `read` says which line it is on.
fn token(fault: Fault, read: bool) -> String {
    match (fault, read) {
        (Fault::Plain, true) => "r".into(),
        (Fault::Plain, false) => "w".into(),
        (Fault::Pending, _) => "p".into(),
        (Fault::Cut(n), true) => format!("r{n}"),
        (Fault::Cut(n), false) => format!("w{n}"),
        (Fault::Coalesce(None), _) => "c".into(),
        (Fault::Coalesce(Some(n)), _) => format!("c{n}"),
        (Fault::CoalesceCut(n), _) => format!("cr{n}"),
    }
}

/// A line of tokens read back (either line: the tokens say which they are).
fn parse(line: &str) -> Result<Vec<Fault>, String> {
    line.split_whitespace()
        .map(|t| {
            let bad = || format!("poll '{t}': expected r, rN, c, cN, crN, w, wN or p");
            if let Some(n) = t.strip_prefix("cr") {
                return match n.parse::<usize>() {
                    Ok(n) if n > 0 => Ok(Fault::CoalesceCut(n)),
                    _ => Err(bad()),
                };
            }
            let (kind, n) = t.split_at(1);
            let n = if n.is_empty() {
                None
            } else {
                Some(n.parse::<usize>().map_err(|_| bad())?)
            };
            match (kind, n) {
                ("r" | "w", None) => Ok(Fault::Plain),
                ("r" | "w", Some(n)) if n > 0 => Ok(Fault::Cut(n)),
                ("p", None) => Ok(Fault::Pending),
                ("c", n) if n != Some(0) => Ok(Fault::Coalesce(n)),
                _ => Err(bad()),
            }
        })
        .collect()
}

/// The read line as one string of tokens.
mod read_polls {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(faults: &[Fault], s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Line(faults, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Fault>, D::Error> {
        let line = std::borrow::Cow::<'de, str>::deserialize(d)?;
        parse(&line).map_err(serde::de::Error::custom)
    }
}

/// The write line as one string of tokens.
mod write_polls {
    use super::*;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(faults: &[Fault], s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Line(faults, false))
    }

    pub use read_polls::deserialize;
}

/// A line of polls: the read tokens, or (false) the write ones.
struct Line<'a>(&'a [Fault], bool);

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens: Vec<String> = self.0.iter().map(|&x| token(x, self.1)).collect();
        f.write_str(&tokens.join(" "))
    }
}

/// Where a connection's poll faults come from: drawn from its generator, drawn and
/// written down, or played back from its plan.
#[derive(Debug, Clone, Default)]
pub enum FaultSource {
    /// Draw each fault from the connection's generator.
    #[default]
    Draw,
    /// Draw, and write each poll down.
    Record(Arc<Mutex<ConnectionPlan>>),
    /// Play these polls back; past their end, every poll is plain.
    Play {
        /// Read polls left.
        reads: VecDeque<Fault>,
        /// Write polls left.
        writes: VecDeque<Fault>,
    },
}

impl FaultSource {
    /// The next read poll's fault, if played back.
    pub fn next_read(&mut self) -> Option<Fault> {
        match self {
            FaultSource::Play { reads, .. } => Some(reads.pop_front().unwrap_or(Fault::Plain)),
            _ => None,
        }
    }

    /// The next write poll's fault, if played back.
    pub fn next_write(&mut self) -> Option<Fault> {
        match self {
            FaultSource::Play { writes, .. } => Some(writes.pop_front().unwrap_or(Fault::Plain)),
            _ => None,
        }
    }

    /// Writes down a drawn read poll, if recording.
    pub fn drew_read(&self, fault: Fault) {
        if let FaultSource::Record(plan) = self {
            plan.lock().expect("plan lock").reads.push(fault);
        }
    }

    /// Writes down a drawn write poll, if recording.
    pub fn drew_write(&self, fault: Fault) {
        if let FaultSource::Record(plan) = self {
            plan.lock().expect("plan lock").writes.push(fault);
        }
    }
}

/// How a run's connections get their plans: drawn, drawn and recorded (a run being
/// lifted), or played from a script.
#[derive(Debug, Clone, Default)]
pub enum Plans {
    /// Every connection draws.
    #[default]
    Draw,
    /// Every connection draws and is written down here.
    Record(Arc<Mutex<BTreeMap<u64, Arc<Mutex<ConnectionPlan>>>>>),
    /// Every connection plays its plan (none: all plain).
    Play(Arc<Vec<ConnectionPlan>>),
}

impl Plans {
    /// Where the `n`th connection's faults come from.
    pub fn plan(&self, n: u64) -> FaultSource {
        match self {
            Plans::Draw => FaultSource::Draw,
            Plans::Record(all) => {
                let plan = Arc::new(Mutex::new(ConnectionPlan {
                    n,
                    reads: Vec::new(),
                    writes: Vec::new(),
                }));
                all.lock().expect("plans lock").insert(n, plan.clone());
                FaultSource::Record(plan)
            }
            Plans::Play(all) => {
                let found = all.iter().find(|p| p.n == n);
                FaultSource::Play {
                    reads: found
                        .map(|p| p.reads.iter().copied().collect())
                        .unwrap_or_default(),
                    writes: found
                        .map(|p| p.writes.iter().copied().collect())
                        .unwrap_or_default(),
                }
            }
        }
    }

    /// Every recorded plan with a fault in it, by connection.
    pub fn recorded(&self) -> Vec<ConnectionPlan> {
        match self {
            Plans::Record(all) => all
                .lock()
                .expect("plans lock")
                .values()
                .map(|p| p.lock().expect("plan lock").clone())
                .filter(|p| p.faults() > 0)
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back_and_bad_tokens_are_refused() {
        let line = "r r3 p c c40 cr2";
        let faults = parse(line).unwrap();
        assert_eq!(
            faults,
            [
                Fault::Plain,
                Fault::Cut(3),
                Fault::Pending,
                Fault::Coalesce(None),
                Fault::Coalesce(Some(40)),
                Fault::CoalesceCut(2)
            ]
        );
        assert_eq!(Line(&faults, true).to_string(), line);
        assert_eq!(
            Line(&[Fault::Plain, Fault::Cut(2)], false).to_string(),
            "w w2"
        );
        assert_eq!(parse("w w2 p").unwrap()[1], Fault::Cut(2));
        for bad in ["x", "r0", "c0", "pp", "r-1", "cr", "cr0"] {
            assert!(parse(bad).unwrap_err().contains(bad), "{bad}");
        }
    }

    #[test]
    fn a_played_plan_runs_out_into_plain_polls() {
        let plans = Plans::Play(Arc::new(vec![ConnectionPlan {
            n: 2,
            reads: vec![Fault::Cut(1)],
            writes: vec![],
        }]));
        let mut two = plans.plan(2);
        assert_eq!(two.next_read(), Some(Fault::Cut(1)));
        assert_eq!(two.next_read(), Some(Fault::Plain));
        assert_eq!(two.next_write(), Some(Fault::Plain));
        assert_eq!(plans.plan(1).next_read(), Some(Fault::Plain));
        assert_eq!(Plans::Draw.plan(1).next_read(), None);
    }
}
