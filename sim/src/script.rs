//! Scripts: what each client of a run did, as explicit steps with no random draw left.
//!
//! A run is lifted into a script by recording, per client, the steps its role took (when
//! it connected and wrote which bytes, what it expected, when it read, how it closed and
//! which close it waited for); [`Scenario::scripts`](crate::kv::Scenario) holds them, and a
//! scripted client plays its steps instead of drawing them. A script therefore survives any
//! change to how the generators draw: a regression pinned as a script stays the same
//! bytes at the same times. One step is one line of text:
//!
//! ```text
//! at 1.2ms connect
//! at 1.3ms write SET k 1\r\n         (escaped bytes: \r \n \t \\ \xHH)
//! expect +OK\r\n                      (the reply, RESP-encoded and escaped)
//! expect error ERR Protocol error     (an error reply starting so)
//! expect integer
//! read                                (one reply, checked against the next expect)
//! half-close
//! drop | drop mid-frame
//! close within 500ms slowloris        (the server must close within 500ms of the last
//!                                      connect, read or half-close; else that oracle)
//! ```
//!
//! A script of a server of your own ([`harness::Script`](crate::harness::Script)) has the
//! same steps, but its replies are bytes, not key-value replies:
//!
//! ```text
//! expect bytes \x00\x00\x00\x01\x00    (the reply must be these bytes: what the session's
//!                                      `expect` predicted when the script was lifted)
//! expect checked \x00\x00\x00\x01\x01  (the reply that came, judged by the session's
//!                                      `check_reply`; the replay judges it so again)
//! ```
//!
//! [`cuts`] runs a script under every way its clients' bytes can be cut, for either kind.

use crate::oracle::Oracle;
use crate::role::Role;
use crate::transcript::Expected;
pub mod cuts;

use bytes::{Bytes, BytesMut};
use framesim_server::framing::Decoder;
use framesim_server::protocol::{Framing, ReplyDecoder, ReplyEncoder};
use framesim_server::text::{escape, format_duration, parse_duration, unescape};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One client's script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientScript {
    /// The client's id (its address and its share of the server's counters).
    pub id: usize,
    /// The role it played when lifted: the server's counters are checked against it.
    #[serde(with = "role_name")]
    pub role: Role,
    /// What it does, in order.
    pub steps: Vec<Step>,
}

impl ClientScript {
    /// How many replies it expects.
    pub fn expectations(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::Expect(_)))
            .count()
    }
}

/// One thing a scripted client does.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Connect at this virtual time (or as soon after as the steps before allow).
    Connect {
        /// When.
        at: Duration,
    },
    /// Write these bytes at this virtual time (or as soon after as possible).
    Write {
        /// When.
        at: Duration,
        /// What.
        bytes: Bytes,
    },
    /// The next reply read must satisfy this (framesim's own world).
    Expect(Expected),
    /// The next reply read must be exactly these bytes (a server of your own: what the
    /// session's [`expect`](crate::Session::expect) predicted).
    ExpectBytes(Bytes),
    /// The next reply read is judged by the session's
    /// [`check_reply`](crate::Session::check_reply), which alone can say whether it is
    /// right; these are the bytes that came when the script was lifted (none if none came).
    Checked(Bytes),
    /// Read one reply; check it against the oldest expectation not yet met.
    Read,
    /// End the client's side of the stream.
    HalfClose,
    /// Drop the connection (inside a frame or not).
    Drop {
        /// Whether a request was partly written.
        mid_frame: bool,
    },
    /// The server must close the connection within this long of the client's last
    /// connect, read or half-close; else `oracle` fails.
    CloseWithin {
        /// How long the server has.
        within: Duration,
        /// The promise a late close breaks.
        oracle: Oracle,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Connect { at } => write!(f, "at {} connect", format_duration(*at)),
            Step::Write { at, bytes } => {
                write!(f, "at {} write {}", format_duration(*at), escape(bytes))
            }
            Step::Expect(Expected::Exact(reply)) => {
                let mut out = BytesMut::new();
                ReplyEncoder::new(&Framing::Resp).encode(reply, &mut out);
                write!(f, "expect {}", escape(&out))
            }
            Step::Expect(Expected::ErrorPrefix(prefix)) => {
                write!(f, "expect error {}", escape(prefix.as_bytes()))
            }
            Step::Expect(Expected::Integer) => f.write_str("expect integer"),
            Step::ExpectBytes(bytes) => write!(f, "expect bytes {}", escape(bytes)),
            Step::Checked(bytes) if bytes.is_empty() => f.write_str("expect checked"),
            Step::Checked(bytes) => write!(f, "expect checked {}", escape(bytes)),
            Step::Read => f.write_str("read"),
            Step::HalfClose => f.write_str("half-close"),
            Step::Drop { mid_frame: false } => f.write_str("drop"),
            Step::Drop { mid_frame: true } => f.write_str("drop mid-frame"),
            Step::CloseWithin { within, oracle } => {
                write!(f, "close within {} {oracle}", format_duration(*within))
            }
        }
    }
}

impl FromStr for Step {
    type Err = String;

    fn from_str(line: &str) -> Result<Step, String> {
        let bad = |why: &str| format!("script step '{line}': {why}");
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "at" => {
                let (at, rest) = rest.split_once(' ').ok_or_else(|| bad("at TIME what?"))?;
                let at = parse_duration(at).map_err(|e| bad(&e))?;
                match rest.split_once(' ').unwrap_or((rest, "")) {
                    ("connect", "") => Ok(Step::Connect { at }),
                    ("write", bytes) => Ok(Step::Write {
                        at,
                        bytes: unescape(bytes).map_err(|e| bad(&e))?.into(),
                    }),
                    _ => Err(bad("expected 'at TIME connect' or 'at TIME write BYTES'")),
                }
            }
            "expect" => match rest.split_once(' ').unwrap_or((rest, "")) {
                ("integer", "") => Ok(Step::Expect(Expected::Integer)),
                ("bytes", bytes) => Ok(Step::ExpectBytes(
                    unescape(bytes).map_err(|e| bad(&e))?.into(),
                )),
                ("checked", bytes) => {
                    Ok(Step::Checked(unescape(bytes).map_err(|e| bad(&e))?.into()))
                }
                ("error", prefix) => {
                    let prefix = unescape(prefix).map_err(|e| bad(&e))?;
                    let prefix = String::from_utf8(prefix).map_err(|_| bad("not UTF-8"))?;
                    Ok(Step::Expect(Expected::ErrorPrefix(prefix)))
                }
                _ => {
                    let mut wire = BytesMut::from(&unescape(rest).map_err(|e| bad(&e))?[..]);
                    let reply = ReplyDecoder::new(&Framing::Resp, usize::MAX)
                        .decode(&mut wire)
                        .map_err(|e| bad(&e.to_string()))?
                        .ok_or_else(|| bad("an unfinished RESP reply"))?;
                    if !wire.is_empty() {
                        return Err(bad("bytes after the reply"));
                    }
                    Ok(Step::Expect(Expected::Exact(reply)))
                }
            },
            "read" if rest.is_empty() => Ok(Step::Read),
            "half-close" if rest.is_empty() => Ok(Step::HalfClose),
            "drop" if rest.is_empty() => Ok(Step::Drop { mid_frame: false }),
            "drop" if rest == "mid-frame" => Ok(Step::Drop { mid_frame: true }),
            "close" => {
                let mut words = rest.split(' ');
                match (words.next(), words.next(), words.next(), words.next()) {
                    (Some("within"), Some(within), Some(oracle), None) => Ok(Step::CloseWithin {
                        within: parse_duration(within).map_err(|e| bad(&e))?,
                        oracle: oracle.parse().map_err(|e: String| bad(&e))?,
                    }),
                    _ => Err(bad("expected 'close within TIME ORACLE'")),
                }
            }
            _ => Err(bad(
                "unknown step (known: at TIME connect, at TIME write BYTES, expect REPLY, \
                 expect error PREFIX, expect integer, expect bytes BYTES, expect checked BYTES, \
                 read, half-close, drop, drop mid-frame, close within TIME ORACLE)",
            )),
        }
    }
}

impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let line = std::borrow::Cow::<'de, str>::deserialize(d)?;
        line.parse().map_err(serde::de::Error::custom)
    }
}

/// A role by its scenario-file name.
mod role_name {
    use crate::role::Role;
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(role.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
                de::Error::custom(format!(
                    "unknown role '{name}' (one of: {})",
                    names.join(", ")
                ))
            })
    }
}

/// Where the clients of a run being lifted put their steps.
#[derive(Debug, Clone, Default)]
pub struct Lifter(Arc<Mutex<BTreeMap<usize, (ClientScript, Duration)>>>);

impl Lifter {
    /// Adds `step`, taken at virtual time `now`, to client `id`'s script; its index there.
    pub fn push(&self, id: usize, role: Role, now: Duration, step: Step) -> usize {
        let mut all = self.0.lock().expect("lifter lock");
        let (script, since) = all.entry(id).or_insert_with(|| {
            let script = ClientScript {
                id,
                role,
                steps: Vec::new(),
            };
            (script, now)
        });
        if step.starts_a_wait() {
            *since = now;
        }
        script.steps.push(step);
        script.steps.len() - 1
    }

    /// Puts `step` in place of client `id`'s step at `index` (an expectation known only
    /// once its reply came).
    pub fn set(&self, id: usize, index: usize, step: Step) {
        let mut all = self.0.lock().expect("lifter lock");
        if let Some(slot) = all
            .get_mut(&id)
            .and_then(|(script, _)| script.steps.get_mut(index))
        {
            *slot = step;
        }
    }

    /// Client `id`'s last step, and how long ago its last connect, read or half-close was
    /// (what a [`Step::CloseWithin`] counts from).
    pub fn last(&self, id: usize, now: Duration) -> Option<(Step, Duration)> {
        let all = self.0.lock().expect("lifter lock");
        let (script, since) = all.get(&id)?;
        Some((script.steps.last()?.clone(), now.saturating_sub(*since)))
    }

    /// Every client's script, by id.
    pub fn scripts(&self) -> Vec<ClientScript> {
        let all = self.0.lock().expect("lifter lock");
        all.values().map(|(script, _)| script.clone()).collect()
    }
}

impl Step {
    /// A close the client waits for is counted from its last step of these: what it last
    /// heard or did to the connection besides writing.
    pub fn starts_a_wait(&self) -> bool {
        matches!(self, Step::Connect { .. } | Step::Read | Step::HalfClose)
    }

    /// Whether it says what a reply must be (met by a later [`Step::Read`]).
    pub fn is_expectation(&self) -> bool {
        matches!(
            self,
            Step::Expect(_) | Step::ExpectBytes(_) | Step::Checked(_)
        )
    }
}

/// The promise a client playing `role` checks when the server closes on it.
pub fn close_oracle(role: Role) -> Oracle {
    match role {
        Role::Slowloris => Oracle::Slowloris,
        Role::Idle => Oracle::Idle,
        Role::NeverReader | Role::SlowReader => Oracle::StalledReader,
        Role::UnfinishedArgs => Oracle::Unfinished,
        Role::Oversized | Role::Malformed | Role::AtLimit => Oracle::ProtocolError,
        Role::HalfClose => Oracle::HalfClose,
        Role::Quit => Oracle::Quit,
        Role::Normal | Role::Disconnect | Role::BulkLoader => Oracle::WrongfulClose,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use framesim_server::Reply;

    #[test]
    fn every_step_reads_back_from_its_line() {
        let steps = [
            Step::Connect {
                at: Duration::from_micros(1200),
            },
            Step::Write {
                at: Duration::from_millis(3),
                bytes: Bytes::from_static(b"SET k \x00\xff\\ 1\r\n"),
            },
            Step::Expect(Expected::Exact(Reply::ok())),
            Step::Expect(Expected::Exact(Reply::bulk(&b"a\r\nb"[..]))),
            Step::Expect(Expected::ErrorPrefix("ERR Protocol error".into())),
            Step::Expect(Expected::Integer),
            Step::ExpectBytes(Bytes::from_static(b"\x00\x00\x00\x01\x00 \\")),
            Step::Checked(Bytes::from_static(b"\x00\x00\x00\x01\x01")),
            Step::Checked(Bytes::new()),
            Step::Read,
            Step::HalfClose,
            Step::Drop { mid_frame: true },
            Step::Drop { mid_frame: false },
            Step::CloseWithin {
                within: Duration::from_millis(500),
                oracle: Oracle::Slowloris,
            },
        ];
        for step in steps {
            let line = step.to_string();
            assert_eq!(line.parse::<Step>(), Ok(step), "{line}");
        }
    }

    #[test]
    fn a_bad_step_is_refused_with_the_line_and_the_known_steps() {
        for line in [
            "jump",
            "at soon connect",
            "at 1ms write \\q",
            "expect +OK",
            "expect bytes \\q",
            "close within 1s nobody",
        ] {
            let err = line.parse::<Step>().unwrap_err();
            assert!(err.contains(line), "{err}");
        }
    }
}
