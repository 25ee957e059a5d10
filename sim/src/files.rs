//! Seeds from the environment, and transcripts on disk.

use crate::report::Report;
use crate::scenario::Scenario;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The seed from `FRAMESIM_SEED`, or a fresh one (printed to stderr so it can be replayed).
pub fn seed_from_env() -> Result<u64, String> {
    match std::env::var("FRAMESIM_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("FRAMESIM_SEED must be a number, not '{s}'")),
        Err(_) => {
            use std::hash::{BuildHasher, RandomState};
            let seed = RandomState::new().hash_one(std::process::id());
            eprintln!("framesim: fresh seed {seed} (set FRAMESIM_SEED={seed} to replay)");
            Ok(seed)
        }
    }
}

/// `target/framesim/<scenario>-<target>-<seed>.txt` under the workspace.
pub fn default_transcript_path(s: &Scenario) -> PathBuf {
    let root = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    root.join("framesim")
        .join(format!("{}-{}-{}.txt", s.name, s.target, s.seed))
}

/// Writes the run's transcript: a header with the scenario, one line per event, a footer
/// with the counts and the hash.
pub fn write_transcript(report: &Report, path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "# {}", report.scenario.to_string().replace('\n', "\n# "))?;
    for line in report.transcript.lines() {
        writeln!(f, "{line}")?;
    }
    writeln!(f, "# {}", report.summary_stable().replace('\n', "\n# "))?;
    f.flush()
}
