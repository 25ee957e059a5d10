//! The failure database: a folder of the seeds that failed, one file each (its result as a
//! JSON line), under a name for what was swept. The next sweep of the same thing runs them
//! first and says which still fail; a seed that passes again is forgotten.

use super::result::SeedResult;
use crate::scenario::safe_name;
use std::path::{Path, PathBuf};

/// The failing seeds of one kind of sweep: `<dir>/<what>/seed-<N>.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failures {
    dir: PathBuf,
}

impl Failures {
    /// The seeds of sweeps of `what` (a name a sweep of the same server, scenario and
    /// options gives again, made safe as a folder's name) under `dir`.
    pub fn new(dir: &Path, what: &str) -> Self {
        Failures {
            dir: dir.join(safe_name(what)),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The seeds kept, lowest first; none when the folder does not exist. A folder that
    /// cannot be read is an error naming it.
    pub fn seeds(&self) -> Result<Vec<u64>, String> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("{}: cannot read it: {e}", self.dir.display())),
        };
        let mut seeds: Vec<u64> = entries
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                let name = name.to_str()?;
                name.strip_prefix("seed-")?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()
            })
            .collect();
        seeds.sort_unstable();
        Ok(seeds)
    }

    /// Keeps a failing seed.
    pub fn keep(&self, result: &SeedResult) -> Result<(), String> {
        let path = self.path(result.seed);
        let line = serde_json::to_string(result).expect("a result serializes");
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&path, line + "\n"))
            .map_err(|e| format!("{}: cannot write it: {e}", path.display()))
    }

    /// Forgets a seed that passes again.
    pub fn forget(&self, seed: u64) -> Result<(), String> {
        let path = self.path(seed);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("{}: cannot remove it: {e}", path.display()))
            }
            _ => Ok(()),
        }
    }

    fn path(&self, seed: u64) -> PathBuf {
        self.dir.join(format!("seed-{seed}.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_seeds_are_kept_listed_and_forgotten() {
        let root = std::env::temp_dir().join(format!("framesim-failures-{}", std::process::id()));
        let db = Failures::new(&root, "adversarial/naive one-read");
        assert!(db.dir().ends_with("adversarial_naive_one-read"));
        assert_eq!(db.seeds(), Ok(vec![]));
        for seed in [12, 3, 7] {
            let r = SeedResult::pass(seed, 0, 0, String::new()).failing("[x] y".into());
            db.keep(&r).unwrap();
        }
        std::fs::write(db.dir().join("notes.txt"), "not a seed").unwrap();
        assert_eq!(db.seeds(), Ok(vec![3, 7, 12]));
        db.forget(7).unwrap();
        db.forget(8).unwrap();
        assert_eq!(db.seeds(), Ok(vec![3, 12]));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
