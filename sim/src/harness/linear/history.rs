//! A history: every operation clients asked of a shared object, with when each began and
//! ended, written and read as JSON lines.
//!
//! One line per operation, the shape Porcupine and Knossos users know:
//! `{"client":0,"call":10,"return":25,"op":{..},"result":{..}}`. An operation never
//! answered (its client left, the server crashed) has `"return":null` and no result: it
//! is indeterminate, and may or may not have taken effect.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One operation of a history: who asked, when, what, and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "Op: Deserialize<'de>, Res: Deserialize<'de>"))]
pub struct Operation<Op, Res> {
    /// The client (process) that asked it; a client asks one operation at a time.
    pub client: usize,
    /// When it was invoked (its first byte written), in any unit that orders.
    pub call: u64,
    /// When its result was seen (its reply's last byte read); `None` when it never was:
    /// the operation is indeterminate.
    #[serde(rename = "return")]
    pub ret: Option<u64>,
    /// What it asked.
    pub op: Op,
    /// What came back; `None` for an indeterminate operation (the field is left out).
    #[serde(
        default = "none",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub result: Option<Res>,
}

fn none<T>() -> Option<T> {
    None
}

/// A `result` field that is there, even `null` (a result that is itself optional).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

impl<Op, Res> Operation<Op, Res> {
    /// An operation of `client` asked at `call` and answered `result` at `ret`.
    pub fn done(client: usize, call: u64, ret: u64, op: Op, result: Res) -> Self {
        Operation {
            client,
            call,
            ret: Some(ret),
            op,
            result: Some(result),
        }
    }

    /// An operation of `client` asked at `call` and never answered.
    pub fn pending(client: usize, call: u64, op: Op) -> Self {
        Operation {
            client,
            call,
            ret: None,
            op,
            result: None,
        }
    }

    /// Whether its effect is unknown: it was never answered.
    pub fn indeterminate(&self) -> bool {
        self.ret.is_none()
    }
}

/// Every operation of a run (or of a test), in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History<Op, Res> {
    /// The operations; the checker orders them by their times, not by their place here.
    pub ops: Vec<Operation<Op, Res>>,
}

impl<Op, Res> Default for History<Op, Res> {
    fn default() -> Self {
        History { ops: Vec::new() }
    }
}

/// A line of a history file that is not an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryError {
    /// The line's number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "history line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for HistoryError {}

impl<Op, Res> History<Op, Res> {
    /// A history of `ops`.
    pub fn new(ops: Vec<Operation<Op, Res>>) -> Self {
        History { ops }
    }

    /// Adds one operation.
    pub fn push(&mut self, op: Operation<Op, Res>) {
        self.ops.push(op);
    }

    /// How many operations it holds.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl<Op: Serialize, Res: Serialize> History<Op, Res> {
    /// One JSON object per line, in the order held.
    pub fn to_json_lines(&self) -> String {
        let mut out = String::new();
        for op in &self.ops {
            // Plain data of strings, numbers and options: serialising it cannot fail.
            let line = serde_json::to_string(op).unwrap_or_default();
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

impl<Op: DeserializeOwned, Res: DeserializeOwned> History<Op, Res> {
    /// Reads JSON lines (blank lines skipped); the first line that is not an operation,
    /// or whose return comes before its call, is an error.
    pub fn from_json_lines(text: &str) -> Result<Self, HistoryError> {
        let mut ops = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let err = |reason: String| HistoryError {
                line: i + 1,
                reason,
            };
            let op: Operation<Op, Res> =
                serde_json::from_str(line).map_err(|e| err(e.to_string()))?;
            if op.ret.is_some_and(|r| r < op.call) {
                return Err(err(format!(
                    "returns at {} before its call at {}",
                    op.ret.unwrap_or_default(),
                    op.call
                )));
            }
            if op.ret.is_some() && op.result.is_none() {
                return Err(err("an operation that returns needs a result".into()));
            }
            ops.push(op);
        }
        Ok(History { ops })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Reg = History<String, Option<u32>>;

    #[test]
    fn json_lines_round_trip() {
        let h = Reg::new(vec![
            Operation::done(0, 1, 5, "w1".into(), None),
            Operation::done(1, 2, 6, "r".into(), Some(1)),
            Operation::pending(2, 3, "w2".into()),
        ]);
        let text = h.to_json_lines();
        assert_eq!(
            text.lines().next(),
            Some(r#"{"client":0,"call":1,"return":5,"op":"w1","result":null}"#)
        );
        assert_eq!(
            text.lines().nth(2),
            Some(r#"{"client":2,"call":3,"return":null,"op":"w2"}"#)
        );
        assert_eq!(Reg::from_json_lines(&text).unwrap(), h);
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        let e = Reg::from_json_lines("\n{\"client\":0}\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = Reg::from_json_lines(r#"{"client":0,"call":9,"return":3,"op":"r","result":1}"#)
            .unwrap_err();
        assert!(e.reason.contains("before its call"), "{e}");
        assert!(Reg::from_json_lines("not json").is_err());
    }
}
