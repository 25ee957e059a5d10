//! Scripts of a server of your own: a run lifted into explicit steps that draw nothing
//! ([`Harness::lift`]), written as a file, replayed against the server under the harness
//! with every oracle ([`Harness::replay_script`], [`Harness::replay_scripts`] for a
//! folder of them) and run under every 1- and 2-cut of its bytes ([`Harness::explore`]).

use super::options::{Faults, Options};
use super::outcome::Outcome;
use super::run::{run, Harness};
use super::shared::{Scripted, Scripting};
use super::Role;
use crate::kv::plan::{ConnectionPlan, Plans};
use crate::output::write_file;
use crate::scenario::{shown, work_dir};
use crate::script::cuts::{self, Tried};
use crate::script::{ClientScript, Lifter, Step};
use crate::seeds::{self, Stream};
use crate::transcript::{Actor, Event};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The first lines of every script file.
const HEADER: &str = "\
# A framesim script of a server of your own: every step its clients took, and every
# connection's polls. Replay it: Harness::replay_script, or `replay --script <this file>`
# on the harness's command line. Durations: 500ms, 5s, 250us.
";

/// A run of a server of your own as explicit steps: each client's connects, writes (bytes,
/// cut as its delivery cut them, at their virtual times), what each reply must be, its
/// reads and the closes it waits for ([`ClientScript`], one step a line), and each server
/// connection's polls ([`ConnectionPlan`]: the stream faults it met). Nothing in it draws
/// but turmoil's latencies and the sessions that judge the replies, both from `seed`.
///
/// A reply the session's [`expect`](super::Session::expect) predicted is written as
/// `expect bytes ...`; one only its [`check_reply`](super::Session::check_reply) judged, as
/// `expect checked ...` with the bytes that came. A replay whose sessions draw the very bytes
/// the script writes judges every reply by them, as the lifted run did; one whose sessions
/// draw otherwise (the workload changed, the script was edited) judges `expect bytes` by
/// the bytes alone, and refuses a script with `expect checked` in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// The seed: turmoil's latencies and the sessions' draws.
    pub seed: u64,
    /// The options it ran with, as TOML over [`Options::default`] (only the fields that
    /// differ). Its stream faults are in `connections` instead; the client mix and the
    /// delivery are in the steps.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub options: toml::Table,
    /// Every client's steps.
    #[serde(default, rename = "script")]
    pub clients: Vec<ClientScript>,
    /// Every server connection's polls that met a fault (others are plain).
    #[serde(default, rename = "connection", skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<ConnectionPlan>,
}

impl Script {
    /// This script as a TOML document, one step a line; [`Script::from_toml`] reads it back.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("every script has a TOML form");
        format!("{HEADER}\n{body}")
    }

    /// Reads a TOML document written by [`Script::to_toml`] (or by hand), and checks that
    /// it can run. Errors say what was wrong.
    pub fn from_toml(text: &str) -> Result<Script, String> {
        let script: Script = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
        script.options()?;
        let mut ids = std::collections::BTreeSet::new();
        for client in &script.clients {
            let id = client.id;
            if !ids.insert(id) {
                return Err(format!("client {id} has two scripts"));
            }
            if !matches!(client.steps.first(), Some(Step::Connect { .. })) {
                return Err(format!(
                    "client {id}'s first step must be 'at TIME connect'"
                ));
            }
            if let Some(kv) = client.steps.iter().find(|s| matches!(s, Step::Expect(_))) {
                return Err(format!(
                    "client {id}: '{kv}' is a step of framesim's own world; a reply of your server is 'expect bytes BYTES' or 'expect checked BYTES'"
                ));
            }
        }
        if script.clients.is_empty() {
            return Err("no [[script]] of any client".into());
        }
        Ok(script)
    }

    /// Reads the script file `path`; errors begin with the path.
    pub fn load(path: impl AsRef<Path>) -> Result<Script, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Script::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Writes [`Script::to_toml`] to `path`, creating its folder.
    pub fn save(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        write_file(path.as_ref(), self.to_toml())
    }

    /// The options a replay runs with: the script's over the defaults, its clients only,
    /// no stream fault but the window (the plans hold them).
    fn options(&self) -> Result<Options, String> {
        let text = toml::to_string(&self.options).map_err(|e| one_line(&e.to_string()))?;
        let mut o = Options::default()
            .overlaid(&text)
            .map_err(|e| format!("options: {e}"))?;
        let ids: Vec<usize> = self.clients.iter().map(|c| c.id).collect();
        o.clients = ids
            .iter()
            .map(|id| id + 1)
            .max()
            .unwrap_or(0)
            .max(o.clients);
        o.only_clients = Some(ids);
        o.faults = Faults {
            window: o.faults.window,
            ..Faults::none()
        };
        Ok(o)
    }

    /// The steps of every client whose bursts of writes are each written whole.
    pub fn whole(&self) -> Script {
        Script {
            clients: cuts::whole(&self.clients),
            connections: Vec::new(),
            ..self.clone()
        }
    }
}

/// A TOML error on one line.
fn one_line(e: &str) -> String {
    e.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Harness {
    /// Runs `seed` once and writes down every client's steps and every connection's polls:
    /// a script that replays the run without drawing. Lift a shrunk failure
    /// ([`Harness::shrink`], then [`Harness::with`] its options): one client, a few
    /// requests. Never-reading, oversized, malformed and slow-reading clients are not lifted
    /// (an error names them): shrink them away, or set their roles to 0.
    pub fn lift(&self, seed: u64) -> Result<Script, String> {
        if self.options().swarm {
            // The options the seed drew.
            return self.clone().with(self.options().for_seed(seed)).lift(seed);
        }
        let o = self.options();
        if let Some(id) = o.client_ids().into_iter().find(|&id| {
            matches!(
                o.roles.of(id),
                Role::NeverReader | Role::Oversized | Role::Malformed | Role::SlowReader
            )
        }) {
            return Err(format!(
                "client {id} is a {} client, which a script does not hold yet: shrink the failure first, or set roles.never_reader, roles.oversized, roles.malformed and roles.slow_reader to 0",
                o.roles.of(id).name()
            ));
        }
        let lifter = Lifter::default();
        let plans = Plans::Record(Arc::default());
        let scripting = Scripting {
            lifter: Some(lifter.clone()),
            scripts: None,
            plans: plans.clone(),
        };
        run(self, seed, false, scripting);
        Ok(Script {
            seed,
            options: toml::from_str(&o.toml_over(&Options::default()))
                .map_err(|e| one_line(&e.to_string()))?,
            clients: lifter.scripts(),
            connections: plans.recorded(),
        })
    }

    /// Plays `script` against this harness's server and workload, with every oracle (the
    /// script's options, not the harness's). An error, before anything runs, when the
    /// script cannot be judged: a client whose replies only its session's check can judge
    /// ('expect checked') and whose session no longer draws the bytes the script writes.
    pub fn replay_script(&self, script: &Script) -> Result<Outcome, String> {
        let options = script.options()?;
        let synced = self.synced(script)?;
        Ok(self.play(script, &options, &synced))
    }

    /// For each client of `script`, whether its session draws what it writes; an error for
    /// one that does not and has a reply only the session can judge.
    fn synced(&self, script: &Script) -> Result<BTreeMap<usize, bool>, String> {
        let mut synced = BTreeMap::new();
        for client in &script.clients {
            let drawn = self.draws(script.seed, client);
            if !drawn && client.steps.iter().any(|s| matches!(s, Step::Checked(_))) {
                return Err(format!(
                    "client {}: its session does not draw the bytes its script writes, and only the session's check can judge its replies marked 'expect checked': lift the script again",
                    client.id
                ));
            }
            synced.insert(client.id, drawn);
        }
        Ok(synced)
    }

    /// Runs `script` with `options`, its clients' sessions judging where `synced` says.
    fn play(&self, script: &Script, options: &Options, synced: &BTreeMap<usize, bool>) -> Outcome {
        let scripted = script
            .clients
            .iter()
            .map(|client| {
                let entry = Scripted {
                    script: client.clone(),
                    synced: synced.get(&client.id).copied().unwrap_or(false),
                };
                (client.id, entry)
            })
            .collect();
        let scripting = Scripting {
            lifter: None,
            scripts: Some(Arc::new(scripted)),
            plans: Plans::Play(Arc::new(script.connections.clone())),
        };
        run(
            &self.clone().with(options.clone()),
            script.seed,
            true,
            scripting,
        )
    }

    /// Whether client `script.id`'s session, drawing from `seed`, asks exactly what the
    /// script writes: one request per expectation, their bytes the script's (or the
    /// script's a beginning of theirs: a run whose writes broke off).
    fn draws(&self, seed: u64, script: &ClientScript) -> bool {
        let mut session = self.workload().session(script.id);
        let mut rng = seeds::rng(seed, Stream::Workload(script.id));
        let (mut asked, mut written) = (Vec::new(), Vec::new());
        for step in &script.steps {
            match step {
                Step::Write { bytes, .. } => written.extend_from_slice(bytes),
                step if step.is_expectation() => match session.next_request(&mut rng) {
                    Some(request) => asked.extend_from_slice(&request.bytes),
                    None => return false,
                },
                _ => {}
            }
        }
        asked.starts_with(&written) || written.starts_with(&asked)
    }

    /// Replays every script file (`*.toml`) in `dir`: how many, when every one passes; else
    /// the first that fails, with its first failure, or that does not read. A folder with
    /// none is an error too, so a test over it cannot pass having replayed nothing.
    pub fn replay_scripts(&self, dir: impl AsRef<Path>) -> Result<usize, String> {
        let dir = dir.as_ref();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(format!("{}: no script files (*.toml)", dir.display()));
        }
        for path in &paths {
            let outcome = self.replay_script(&Script::load(path)?)?;
            if !outcome.passed() {
                return Err(format!("{}: {}", path.display(), outcome.first_failure()));
            }
        }
        Ok(paths.len())
    }

    /// Runs `script` under every cut of up to `max_cuts` (0, 1 or 2) of each client's bytes,
    /// with no stream fault, so each write is one server read: first every burst of writes
    /// whole, then one client at a time cut at every byte, then at every pair. Stops at the
    /// first failure, written as a script that replays it. Cuts leave the bytes a client
    /// writes as they are, so a script replays under every cut or under none.
    pub fn explore(
        &self,
        script: &Script,
        max_cuts: usize,
    ) -> Result<cuts::Exploration<Outcome>, String> {
        let plain = Script {
            connections: Vec::new(),
            ..script.clone()
        };
        let options = plain.options()?;
        let synced = self.synced(&plain)?;
        let with = |clients: &[ClientScript]| Script {
            clients: clients.to_vec(),
            ..plain.clone()
        };
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        let run_one = |clients: &[ClientScript]| {
            let outcome = self.play(&with(clients), &options, &synced);
            Tried {
                transcript: outcome.transcript.hash(),
                view: hasher.hash_one(replies(&outcome)),
                failed: (!outcome.passed()).then(|| outcome.first_failure()),
                run: outcome,
            }
        };
        // Named for the script explored too: two scripts of one seed keep their findings apart.
        let tag = hasher.hash_one(format!("{:?}", script.clients)) as u32;
        let save = |clients: &[ClientScript], runs: usize| {
            let name = format!("harness-{}-{tag:08x}-explored-{runs}.toml", script.seed);
            let path = work_dir().join(name);
            // A failure that cannot be written is still reported; the path says where not.
            let _ = with(clients).save(&path);
            let replay = format!(
                "Harness::replay_script(&Script::load(\"{}\")?)",
                shown(&path)
            );
            (path, replay)
        };
        Ok(cuts::explore(&plain.clients, max_cuts, run_one, save))
    }
}

/// What each client asked and was answered, in order, client by client: the same for every
/// cut of a script's bytes, for a correct server.
fn replies(outcome: &Outcome) -> Vec<(usize, String)> {
    let mut seen: Vec<(usize, String)> = outcome
        .transcript
        .records()
        .into_iter()
        .filter_map(|r| match (r.actor, r.event) {
            (Actor::Client(id), Event::Asked { bytes }) => {
                Some((id, format!("request {}", bytes.escape_ascii())))
            }
            (Actor::Client(id), Event::Answered { bytes }) => {
                Some((id, format!("reply {}", bytes.escape_ascii())))
            }
            _ => None,
        })
        .collect();
    seen.sort_by_key(|(id, _)| *id);
    seen
}
