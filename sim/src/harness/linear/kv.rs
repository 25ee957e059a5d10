//! The key-value model: `GET`, `SET` (with `NX`, `XX`, `GET`), `DEL`, `INCR`, `EXISTS`,
//! `MGET` and `MSET`, as Redis runs them (no expiry).

use super::model::Model;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A key-value operation, as a history line holds it (`{"f":"set","key":"a","value":"1"}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "lowercase")]
pub enum KvOp {
    /// `GET key`.
    Get {
        /// The key read.
        key: String,
    },
    /// `SET key value [NX | XX] [GET]`.
    Set {
        /// The key written.
        key: String,
        /// Its new value.
        value: String,
        /// Only if the key is absent.
        #[serde(default, skip_serializing_if = "is_false")]
        nx: bool,
        /// Only if the key is present.
        #[serde(default, skip_serializing_if = "is_false")]
        xx: bool,
        /// Answer the old value.
        #[serde(default, skip_serializing_if = "is_false")]
        get: bool,
    },
    /// `DEL key...`: how many were there.
    Del {
        /// The keys removed.
        keys: Vec<String>,
    },
    /// `INCR key`: the value plus one (an absent key is 0).
    Incr {
        /// The counter's key.
        key: String,
    },
    /// `EXISTS key...`: how many are there (a key named twice counts twice).
    Exists {
        /// The keys looked for.
        keys: Vec<String>,
    },
    /// `MGET key...`.
    Mget {
        /// The keys read.
        keys: Vec<String>,
    },
    /// `MSET key value...`, all at once.
    Mset {
        /// The keys and their new values.
        pairs: Vec<(String, String)>,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a key-value operation answers (`"ok"`, `"nil"`, `{"value":"1"}`, `{"int":3}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KvResult {
    /// `+OK`.
    Ok,
    /// A null (an absent key, a `SET NX` that did not set).
    Nil,
    /// A value.
    Value(String),
    /// An integer.
    Int(i64),
    /// `MGET`'s values, null for an absent key.
    Values(Vec<Option<String>>),
    /// An error reply; any error matches any other (their texts differ between servers).
    Error(String),
}

/// The key-value model: a map from keys to values, partitioned by key.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvModel;

impl Model for KvModel {
    type Op = KvOp;
    type Res = KvResult;
    /// Shared until an operation writes: a read steps without copying the store.
    type State = Arc<BTreeMap<String, String>>;

    fn init(&self) -> Self::State {
        Arc::default()
    }

    fn step(&self, state: &Self::State, op: &KvOp) -> (Self::State, KvResult) {
        let mut next = state.clone();
        let value = |key: &String| state.get(key).cloned();
        let result = match op {
            KvOp::Get { key } => value(key).map_or(KvResult::Nil, KvResult::Value),
            KvOp::Set {
                key,
                value: new,
                nx,
                xx,
                get,
            } => {
                let old = value(key);
                let blocked = (*nx && old.is_some()) || (*xx && old.is_none());
                if !blocked {
                    Arc::make_mut(&mut next).insert(key.clone(), new.clone());
                }
                if *get {
                    old.map_or(KvResult::Nil, KvResult::Value)
                } else if blocked {
                    KvResult::Nil
                } else {
                    KvResult::Ok
                }
            }
            KvOp::Del { keys } => {
                let mut removed = 0;
                for key in keys {
                    if next.contains_key(key) {
                        Arc::make_mut(&mut next).remove(key);
                        removed += 1;
                    }
                }
                KvResult::Int(removed as i64)
            }
            KvOp::Incr { key } => {
                let n = value(key).map_or(Some(0), |v| v.parse::<i64>().ok());
                match n.and_then(|n| n.checked_add(1)) {
                    Some(n) => {
                        Arc::make_mut(&mut next).insert(key.clone(), n.to_string());
                        KvResult::Int(n)
                    }
                    None => KvResult::Error("not an integer, or out of range".into()),
                }
            }
            KvOp::Exists { keys } => {
                KvResult::Int(keys.iter().filter(|k| state.contains_key(*k)).count() as i64)
            }
            KvOp::Mget { keys } => KvResult::Values(keys.iter().map(value).collect()),
            KvOp::Mset { pairs } => {
                Arc::make_mut(&mut next).extend(pairs.iter().cloned());
                KvResult::Ok
            }
        };
        (next, result)
    }

    fn accepts(&self, expected: &KvResult, observed: &KvResult) -> bool {
        match (expected, observed) {
            (KvResult::Error(_), KvResult::Error(_)) => true,
            _ => expected == observed,
        }
    }

    fn read_only(&self, op: &KvOp) -> bool {
        matches!(
            op,
            KvOp::Get { .. } | KvOp::Exists { .. } | KvOp::Mget { .. }
        )
    }

    fn keys(&self, op: &KvOp) -> Vec<String> {
        match op {
            KvOp::Get { key } | KvOp::Set { key, .. } | KvOp::Incr { key } => vec![key.clone()],
            KvOp::Del { keys } | KvOp::Exists { keys } | KvOp::Mget { keys } => keys.clone(),
            KvOp::Mset { pairs } => pairs.iter().map(|(k, _)| k.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ops: &[KvOp]) -> Vec<KvResult> {
        let mut state = KvModel.init();
        ops.iter()
            .map(|op| {
                let (next, res) = KvModel.step(&state, op);
                state = next;
                res
            })
            .collect()
    }

    fn set(key: &str, value: &str, nx: bool, xx: bool, get: bool) -> KvOp {
        let (key, value) = (key.into(), value.into());
        KvOp::Set {
            key,
            value,
            nx,
            xx,
            get,
        }
    }

    #[test]
    fn the_model_answers_as_redis_does() {
        let k = || "k".to_string();
        let got = run(&[
            set("k", "1", false, true, false),
            set("k", "1", true, false, false),
            set("k", "2", true, false, true),
            set("k", "3", false, false, true),
            KvOp::Incr { key: k() },
            KvOp::Exists {
                keys: vec![k(), k(), "x".into()],
            },
            KvOp::Mset {
                pairs: vec![("x".into(), "a".into())],
            },
            KvOp::Mget {
                keys: vec![k(), "y".into(), "x".into()],
            },
            KvOp::Del {
                keys: vec![k(), "y".into()],
            },
            KvOp::Get { key: k() },
            set("k", "v", false, false, false),
            KvOp::Incr { key: k() },
        ]);
        use KvResult::*;
        assert_eq!(
            got,
            vec![
                Nil,
                Ok,
                Value("1".into()),
                Value("1".into()),
                Int(4),
                Int(2),
                Ok,
                Values(vec![Some("4".into()), None, Some("a".into())]),
                Int(1),
                Nil,
                Ok,
                Error("not an integer, or out of range".into()),
            ]
        );
    }

    #[test]
    fn ops_and_results_read_as_json() {
        let op: KvOp =
            serde_json::from_str(r#"{"f":"set","key":"a","value":"1","nx":true}"#).unwrap();
        assert_eq!(op, set("a", "1", true, false, false));
        assert_eq!(
            serde_json::to_string(&KvResult::Int(3)).unwrap(),
            r#"{"int":3}"#
        );
        assert_eq!(serde_json::to_string(&KvResult::Nil).unwrap(), r#""nil""#);
        assert_eq!(KvModel.keys(&op), vec!["a".to_string()]);
    }
}
