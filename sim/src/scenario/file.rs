//! Scenarios as TOML files: every option of a run, readable, and read back to the same
//! scenario. `framesim --scenario-file F` runs one; a replay of anything that is not a preset
//! left as it is goes through one.
//!
//! Durations are written `"500ms"`, `"5s"`, `"250us"`; a line delimiter with escapes
//! (`'\r\n'`); chunks of any size as `"whole"`; no restart as `"never"`. A bad file is an
//! error naming the file, the line and the field.

use super::{Preset, Scenario};
use crate::script::Step;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The first lines of every scenario file.
const HEADER: &str = "\
# A framesim scenario: every option of one run.
# Run it: cargo run --release -p framesim -- run --scenario-file <this file>
# Durations: 500ms, 5s, 250us.
";

impl Scenario {
    /// This scenario as a TOML document; [`Scenario::from_toml`] reads it back to the same
    /// scenario.
    pub fn to_toml(&self) -> String {
        // A script's steps one per line; other files keep their one-line arrays.
        let body = if self.scripts.is_empty() {
            toml::to_string(self)
        } else {
            toml::to_string_pretty(self)
        }
        .expect("every scenario option has a TOML form");
        format!("{HEADER}\n{body}")
    }

    /// Reads a TOML document written by [`Scenario::to_toml`] (or by hand), and checks that
    /// it is a scenario that can run. Errors say the line and the field.
    pub fn from_toml(text: &str) -> Result<Scenario, String> {
        let s: Scenario = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        s.check()
            .map_err(|(field, why)| match line_of(text, &field) {
                Some(line) => format!("line {line}: {field}: {why}"),
                None => format!("{field}: {why}"),
            })?;
        Ok(s)
    }

    /// Reads the scenario file `path`; errors begin with the path.
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Scenario::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Writes [`Scenario::to_toml`] to `path`, creating its folder. The file appears whole or
    /// not at all, so runs writing the same file at once never leave half of one.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Unique per writer: threads of one process may be saving the same scenario too.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let partial = path.with_extension(format!(
            "toml.{}.{}.partial",
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&partial, self.to_toml())?;
        std::fs::rename(&partial, path)
    }

    /// The preset this scenario is, unchanged but for its target, if it is one: then
    /// `--scenario NAME --seed N --target T` says all of it.
    pub fn unchanged_preset(&self) -> Option<Preset> {
        let preset: Preset = self.name.parse().ok()?;
        let mut plain = Scenario::preset(preset, self.seed);
        plain.target = self.target;
        (plain == *self).then_some(preset)
    }

    /// A short hash of the whole scenario (its TOML form): tells apart files of scenarios
    /// that share a name, a target and a seed.
    pub fn fingerprint(&self) -> String {
        // FNV-1a: stable across processes and Rust versions, unlike `DefaultHasher`.
        let hash = self
            .to_toml()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            });
        format!("{:08x}", hash >> 32)
    }

    /// `<name>-<target>-<seed>`, then `-<fingerprint>` unless the scenario is a preset
    /// unchanged: the stem of the files a replay writes, different for any two scenarios.
    pub fn file_stem(&self) -> String {
        // A name comes from code or from a file: keep only what is safe in a file name.
        let name = safe_name(&self.name);
        let mut stem = format!("{name}-{}-{}", self.target, self.seed);
        if self.unchanged_preset().is_none() {
            stem.push('-');
            stem.push_str(&self.fingerprint());
        }
        stem
    }

    /// The first option that cannot run, as (field, why): values that would panic or hang a
    /// run instead of testing the server.
    fn check(&self) -> Result<(), (String, String)> {
        let at_least_one = |field: &str, n: usize| {
            if n == 0 {
                Err((field.to_string(), "must be at least 1".to_string()))
            } else {
                Ok(())
            }
        };
        let chance = |field: &str, p: f64| {
            if (0.0..=1.0).contains(&p) {
                Ok(())
            } else {
                Err((
                    field.to_string(),
                    format!("must be between 0.0 and 1.0, not {p}"),
                ))
            }
        };
        at_least_one("clients", self.clients)?;
        at_least_one("client_hosts", self.client_hosts)?;
        let mut ids = std::collections::BTreeSet::new();
        for script in &self.scripts {
            let why = if script.id >= self.clients {
                format!(
                    "client {} must be below clients ({})",
                    script.id, self.clients
                )
            } else if !ids.insert(script.id) {
                format!("client {} has two scripts", script.id)
            } else if !matches!(script.steps.first(), Some(Step::Connect { .. })) {
                format!(
                    "client {}'s first step must be 'at TIME connect'",
                    script.id
                )
            } else if script
                .steps
                .iter()
                .any(|s| matches!(s, Step::ExpectBytes(_) | Step::Checked(_)))
            {
                format!(
                    "client {}: 'expect bytes' and 'expect checked' are steps of a script of a server of your own (framesim::harness::Script), not of a scenario",
                    script.id
                )
            } else {
                continue;
            };
            return Err(("script".to_string(), why));
        }
        let d = &self.delivery;
        at_least_one("delivery.max_chunk", d.max_chunk)?;
        at_least_one("delivery.pipeline", d.pipeline)?;
        chance("delivery.byte_at_a_time", d.byte_at_a_time)?;
        chance("delivery.cut_at_boundaries", d.cut_at_boundaries)?;
        let f = &self.faults;
        chance("faults.partial_read_chance", f.partial_read_chance)?;
        chance("faults.short_write_chance", f.short_write_chance)?;
        chance("faults.spurious_pending_chance", f.spurious_pending_chance)?;
        let r = &self.roles;
        for (field, share) in [
            ("roles.slowloris", r.slowloris),
            ("roles.idle", r.idle),
            ("roles.disconnect", r.disconnect),
            ("roles.half_close", r.half_close),
            ("roles.oversized", r.oversized),
            ("roles.malformed", r.malformed),
        ] {
            chance(field, share)?;
        }
        // A slowloris client writes a byte every `slowloris_every`: zero never lets virtual
        // time move on.
        if r.slowloris_every.is_zero() {
            return Err((
                "roles.slowloris_every".into(),
                "must be longer than 0s".into(),
            ));
        }
        if self.latency.0 > self.latency.1 {
            return Err((
                "latency".into(),
                "is [min, max]: the first must not be longer than the second".into(),
            ));
        }
        self.framing.validate().map_err(|e| ("framing".into(), e))?;
        self.limits.validate().map_err(|e| {
            // The server's message names the limit; point at its line when it does.
            let key = [
                "max_line",
                "max_frame",
                "max_buffered",
                "max_output",
                "frame_deadline",
                "idle_timeout",
            ]
            .into_iter()
            .find(|key| e.starts_with(key));
            (
                format!("limits{}", key.map(|k| format!(".{k}")).unwrap_or_default()),
                e,
            )
        })?;
        Ok(())
    }
}

/// `path` as a command typed at the workspace root names it: relative to the root when it is
/// inside it (so printed commands and snapshots read the same on every checkout).
pub fn shown(path: &Path) -> String {
    let sim = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = sim.parent().unwrap_or(sim);
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `target/framesim/` of the workspace being built (or of `CARGO_TARGET_DIR`): where
/// replays write transcripts and scenario files. Under `cargo run` or `cargo test` that is
/// the workspace of the package cargo runs (the user's, not framesim's); a binary started
/// by hand writes beside itself, in the `target` folder it was built in.
pub fn work_dir() -> PathBuf {
    target_dir(std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from)).join("framesim")
}

/// The target folder: `CARGO_TARGET_DIR`, else that of the workspace holding the package
/// at `manifest_dir` (the nearest folder up from it with a `Cargo.lock`), else the target
/// folder the running binary was built in (the nearest folder up from it that cargo tagged
/// with `CACHEDIR.TAG`, or one named `target`), else `target` in the working directory.
pub(crate) fn target_dir(manifest_dir: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(package) = manifest_dir {
        let root = package
            .ancestors()
            .find(|dir| dir.join("Cargo.lock").is_file())
            .unwrap_or(&package);
        return root.join("target");
    }
    let built = std::env::current_exe().ok().and_then(|exe| {
        let mut up = exe.ancestors().skip(1);
        up.find(|dir| {
            dir.join("CACHEDIR.TAG").is_file()
                || dir.file_name().is_some_and(|name| name == "target")
        })
        .map(Path::to_path_buf)
    });
    built.unwrap_or_else(|| PathBuf::from("target"))
}

/// The 1-based line of `field` (`clients`, `delivery.max_chunk`) in a TOML document: its
/// key's line, else its table's header. Only for messages: a key the scan does not find
/// (say, inside an inline table) leaves the line out.
fn line_of(text: &str, field: &str) -> Option<usize> {
    let (table, key) = field.rsplit_once('.').unwrap_or(("", field));
    let mut current = String::new();
    let mut header = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_string();
            if current == field {
                header = Some(i + 1);
            }
            continue;
        }
        let Some((k, _)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim().trim_matches('"');
        if (current == table && k == key) || (current.is_empty() && k == field) {
            return Some(i + 1);
        }
    }
    header
}

/// Serde forms of the scenario's own options (the server's types bring theirs).
pub(crate) mod form {
    use framesim_server::text::{format_duration, parse_duration};
    use serde::{de, Deserialize, Deserializer, Serializer};
    use std::borrow::Cow;
    use std::time::Duration;

    /// `[min, max]` as `["100us", "1ms"]`.
    pub mod duration_pair {
        use super::*;

        pub fn serialize<S: Serializer>(
            (min, max): &(Duration, Duration),
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.collect_seq([format_duration(*min), format_duration(*max)])
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<(Duration, Duration), D::Error> {
            let (min, max) = <(Cow<'de, str>, Cow<'de, str>)>::deserialize(d)?;
            Ok((
                parse_duration(&min).map_err(de::Error::custom)?,
                parse_duration(&max).map_err(de::Error::custom)?,
            ))
        }
    }

    /// `Some(d)` as `"40ms"`, `None` as `"never"`.
    pub mod duration_or_never {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_str(&format_duration(*d)),
                None => s.serialize_str("never"),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let text = Cow::<'de, str>::deserialize(d)?;
            if text == "never" {
                return Ok(None);
            }
            parse_duration(&text)
                .map(Some)
                .map_err(|e| de::Error::custom(format!("{e}, or \"never\"")))
        }
    }

    /// `Some(n)` as `n`, `None` as `"none"` (TOML has no null: a field left out would keep
    /// whatever it is laid over).
    pub mod count_or_none {
        use super::*;

        pub fn serialize<S: Serializer>(n: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
            match n {
                Some(n) => s.serialize_u64(*n as u64),
                None => s.serialize_str("none"),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
            match OrWord::<usize>::deserialize(d)? {
                OrWord::Value(n) => Ok(Some(n)),
                OrWord::Word(w) if w == "none" => Ok(None),
                OrWord::Word(w) => Err(de::Error::custom(format!(
                    "expected a count or \"none\", not {w:?}"
                ))),
            }
        }
    }

    /// `Some(ids)` as a list, `None` as `"all"`.
    pub mod ids_or_all {
        use super::*;

        pub fn serialize<S: Serializer>(ids: &Option<Vec<usize>>, s: S) -> Result<S::Ok, S::Error> {
            match ids {
                Some(ids) => s.collect_seq(ids),
                None => s.serialize_str("all"),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Vec<usize>>, D::Error> {
            match OrWord::<Vec<usize>>::deserialize(d)? {
                OrWord::Value(ids) => Ok(Some(ids)),
                OrWord::Word(w) if w == "all" => Ok(None),
                OrWord::Word(w) => Err(de::Error::custom(format!(
                    "expected a list of client ids or \"all\", not {w:?}"
                ))),
            }
        }
    }

    /// A value, or a word standing for its absence.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OrWord<T> {
        Value(T),
        Word(String),
    }

    /// A fuzzer's choice bytes as lowercase hex (`"00ff1a"`).
    pub mod hex {
        use super::*;

        pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
            let text: String = bytes.iter().flatten().map(|b| format!("{b:02x}")).collect();
            s.serialize_str(&text)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
            let text = Cow::<'de, str>::deserialize(d)?;
            if text.len() % 2 != 0 {
                return Err(de::Error::custom("hex bytes come in pairs of digits"));
            }
            (0..text.len())
                .step_by(2)
                .map(|i| {
                    text.get(i..i + 2)
                        .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                        .ok_or_else(|| {
                            de::Error::custom(format!("not a hex byte at character {i}"))
                        })
                })
                .collect::<Result<Vec<u8>, _>>()
                .map(Some)
        }
    }

    /// A chunk size, `usize::MAX` (whole requests) as `"whole"`: TOML integers stop at
    /// `i64::MAX`.
    pub mod chunk {
        use super::*;

        pub fn serialize<S: Serializer>(n: &usize, s: S) -> Result<S::Ok, S::Error> {
            if *n == usize::MAX {
                s.serialize_str("whole")
            } else {
                s.serialize_u64(*n as u64)
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
            struct Chunk;
            impl de::Visitor<'_> for Chunk {
                type Value = usize;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a number of bytes, or \"whole\"")
                }
                fn visit_u64<E: de::Error>(self, n: u64) -> Result<usize, E> {
                    usize::try_from(n).map_err(E::custom)
                }
                fn visit_i64<E: de::Error>(self, n: i64) -> Result<usize, E> {
                    usize::try_from(n)
                        .map_err(|_| E::invalid_value(de::Unexpected::Signed(n), &self))
                }
                fn visit_str<E: de::Error>(self, text: &str) -> Result<usize, E> {
                    match text {
                        "whole" => Ok(usize::MAX),
                        _ => Err(E::invalid_value(de::Unexpected::Str(text), &self)),
                    }
                }
            }
            d.deserialize_any(Chunk)
        }
    }
}

/// `name` with every character but ASCII letters, digits, `-`, `_` and `.` replaced by `_`:
/// safe as a file's or a folder's name.
pub(crate) fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::target_dir;

    #[test]
    fn a_binary_run_outside_cargo_writes_into_the_target_folder_it_was_built_in() {
        // A test binary lives in `<target>/<profile>/deps/`, wherever `<target>` is.
        let dir = target_dir(None);
        assert!(dir.join("CACHEDIR.TAG").is_file(), "{}", dir.display());
    }
}
