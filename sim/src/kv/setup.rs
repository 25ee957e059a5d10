//! Which scenario a command runs, against which server, at what size: a [`Setup`], read once
//! into a [`Base`], gives the scenario of each seed.

use crate::scenario::{Commands, Preset, Scenario, Target};
use std::path::PathBuf;

/// Where the runs of a [`Setup`] start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A preset: the seed draws the rest.
    Preset(Preset),
    /// A scenario file: every option of the run.
    File(PathBuf),
    /// An input of the `simulation` fuzz target (a crash file): the scenario and the tape of
    /// choices it stands for.
    Fuzz(PathBuf),
}

/// Which scenario, against which server, at what size: what every subcommand that runs one
/// is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// Where the runs start from.
    pub source: Source,
    /// The server under test, if not the scenario's.
    pub target: Option<Target>,
    /// The number of virtual clients, if not the scenario's.
    pub clients: Option<usize>,
    /// The commands the workload draws, if not the scenario's.
    pub commands: Option<Commands>,
    /// The number of client hosts, if not the scenario's.
    pub hosts: Option<usize>,
}

/// What the runs of a [`Setup`] start from, read once.
#[derive(Debug, Clone)]
pub enum Base {
    /// A preset: the seed draws the rest.
    Preset(Preset),
    /// A scenario file: every option, the seed included.
    File(Box<Scenario>),
}

impl Setup {
    /// A preset with nothing overridden.
    pub fn preset(preset: Preset) -> Self {
        Setup {
            source: Source::Preset(preset),
            target: None,
            clients: None,
            commands: None,
            hosts: None,
        }
    }

    /// The preset, or the scenario file read and checked; an error names the file.
    pub fn base(&self) -> Result<Base, String> {
        match &self.source {
            Source::Preset(preset) => Ok(Base::Preset(*preset)),
            Source::File(path) => Scenario::load(path).map(|s| Base::File(Box::new(s))),
            Source::Fuzz(path) => {
                let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(Base::File(Box::new(crate::kv::fuzz::scenario_from_bytes(
                    &data,
                ))))
            }
        }
    }

    /// The scenario of `base` for `seed` (`None`: the file's own seed), then the overrides.
    pub fn scenario(&self, base: &Base, seed: Option<u64>) -> Scenario {
        let mut s = match base {
            Base::Preset(preset) => Scenario::preset(*preset, seed.unwrap_or(0)),
            Base::File(file) => Scenario {
                seed: seed.unwrap_or(file.seed),
                ..(**file).clone()
            },
        };
        if let Some(target) = self.target {
            s.target = target;
        }
        if let Some(n) = self.clients {
            s.clients = n;
        }
        if let Some(n) = self.hosts {
            s.client_hosts = n;
        }
        if let Some(commands) = self.commands {
            s.commands = commands;
        }
        s
    }

    /// The scenario of one run. A scenario file keeps its own seed unless `seed` comes from
    /// the command line (`seed_from_env` false): a replay command must mean the same run
    /// whatever `FRAMESIM_SEED` a shell has left behind. A preset without a seed draws a
    /// fresh one, and says so on stderr.
    pub fn pick(&self, seed: Option<u64>, seed_from_env: bool) -> Result<Scenario, String> {
        let base = self.base()?;
        let seed = match (&base, seed) {
            (Base::File(_), Some(_)) if seed_from_env => {
                eprintln!("framesim: FRAMESIM_SEED ignored: the scenario file has its seed (use --seed to replace it)");
                None
            }
            (Base::File(_), seed) => seed,
            (Base::Preset(_), Some(seed)) => Some(seed),
            (Base::Preset(_), None) => {
                let seed = crate::seeds::fresh();
                eprintln!("framesim: fresh seed {seed} (set FRAMESIM_SEED={seed} to replay)");
                Some(seed)
            }
        };
        Ok(self.scenario(&base, seed))
    }

    /// What a sweep of this setup runs, as its failure database names it: the label (a
    /// file's name without its folder), the target, and a hash of the seed-0 scenario (so
    /// that any override makes another name).
    pub fn what(&self, base: &Base) -> String {
        let s = self.scenario(base, Some(0));
        let name = match &self.source {
            Source::Preset(preset) => preset.to_string(),
            Source::File(path) | Source::Fuzz(path) => path
                .file_stem()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        };
        let hash = crate::sweep::stable_hash(&s.to_toml());
        format!("{name}-{}-{:08x}", s.target, hash >> 32)
    }

    /// The command that runs `seed` of this setup with the CLI's `subcommand` (`replay`,
    /// `check`): its flags as given, no file written (a failing seed's report writes its
    /// whole scenario instead: [`Report::replay_command`](crate::kv::Report::replay_command)).
    pub fn command(&self, subcommand: &str, seed: u64) -> String {
        use std::fmt::Write as _;
        let mut cmd = format!("{} {subcommand}", crate::kv::sweep::CLI);
        match &self.source {
            Source::Preset(preset) => write!(cmd, " --scenario {preset}"),
            Source::File(path) => write!(cmd, " --scenario-file {}", path.display()),
            Source::Fuzz(path) => write!(cmd, " --fuzz-input {}", path.display()),
        }
        .expect("a String takes any text");
        let _ = write!(cmd, " --seed {seed}");
        if let Some(target) = self.target {
            let _ = write!(cmd, " --target {target}");
        }
        if let Some(n) = self.clients {
            let _ = write!(cmd, " --clients {n}");
        }
        if let Some(commands) = self.commands {
            let name = clap::ValueEnum::to_possible_value(&commands)
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            let _ = write!(cmd, " --commands {name}");
        }
        if let Some(n) = self.hosts {
            let _ = write!(cmd, " --hosts {n}");
        }
        cmd
    }

    /// What the runs are called in a sweep's summary: the preset, or the file.
    pub fn label(&self) -> String {
        match &self.source {
            Source::Preset(preset) => preset.to_string(),
            Source::File(path) | Source::Fuzz(path) => path.display().to_string(),
        }
    }
}

/// Every accepted scenario and target, for `framesim --help` and `framesim list`.
pub fn catalogue() -> String {
    use clap::ValueEnum as _;
    use std::fmt::Write as _;
    let mut out = String::from("Scenarios (--scenario):\n");
    for preset in Preset::value_variants() {
        let _ = writeln!(out, "  {:<26} {}", preset.name(), preset.about());
    }
    out.push_str("\nServer targets (--target):\n");
    for target in Target::value_variants() {
        let _ = writeln!(out, "  {:<26} {}", target.name(), target.about());
    }
    out.push_str("\nSeeds: --seed, else FRAMESIM_SEED, else a fresh one that is printed.");
    out.push_str("\nScenario files (--scenario-file): every option of a run as TOML; a file keeps its own\nseed unless --seed is given (a sweep replaces it with each swept seed).");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_to_every_seed_and_a_file_keeps_its_seed_unless_told() {
        let mut setup = Setup::preset(Preset::Small);
        setup.clients = Some(3);
        setup.target = Some(Target::OneReadOneRequest);
        let base = setup.base().unwrap();
        let s = setup.scenario(&base, Some(7));
        assert_eq!(
            (s.seed, s.clients, s.target),
            (7, 3, Target::OneReadOneRequest)
        );
        let file = Base::File(Box::new(Scenario::preset(Preset::Small, 9)));
        assert_eq!(setup.scenario(&file, None).seed, 9);
        assert_eq!(setup.scenario(&file, Some(4)).seed, 4);
        assert_eq!(setup.label(), "small");
        let what = setup.what(&base);
        assert!(what.starts_with("small-naive-one-read-"), "{what}");
        setup.clients = Some(4);
        assert_ne!(setup.what(&base), what, "an override is another sweep");
        setup.commands = Some(Commands::GetSet);
        assert_eq!(
            setup.command("replay", 5),
            "cargo run --release -p framesim -- replay --scenario small --seed 5 --target naive-one-read --clients 4 --commands get-set"
        );
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let setup = Setup {
            source: Source::File("/no/such/scenario.toml".into()),
            ..Setup::preset(Preset::Small)
        };
        assert!(setup.base().unwrap_err().contains("/no/such/scenario.toml"));
        let fuzz = Setup {
            source: Source::Fuzz("/no/such/input".into()),
            ..Setup::preset(Preset::Small)
        };
        assert!(fuzz.base().unwrap_err().contains("/no/such/input"));
    }
}
