//! Transcripts as files: their text, and where they go by default.

use crate::report::Report;
use crate::scenario::{work_dir, Scenario};
use crate::transcript::logical_view;
use std::path::{Path, PathBuf};

/// `target/framesim/<scenario>-<target>-<seed>.txt` under the workspace, with a short hash of
/// the scenario before `.txt` unless it is a preset unchanged (see [`Scenario::file_stem`]):
/// a 1,000-client variant of a preset never overwrites the preset's transcript.
pub fn default_transcript_path(s: &Scenario) -> PathBuf {
    work_dir().join(format!("{}.txt", s.file_stem()))
}

/// The run's transcript as text: a header with the scenario (its drawn options and seed),
/// the wire view (every event with its virtual time, chunk boundaries marked `|...|`), the
/// logical view (per client: requests and replies only), and a footer with the counts and
/// the hash. Same seed, same bytes.
pub fn render_transcript(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("# ");
    out.push_str(&report.scenario.to_string().replace('\n', "\n# "));
    out.push_str("\n## wire view\n");
    let records = report.transcript.records();
    for line in report.transcript.lines() {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("## logical view\n");
    for line in logical_view(&records) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("# ");
    out.push_str(&report.summary_stable().replace('\n', "\n# "));
    out.push('\n');
    out
}

/// Writes [`render_transcript`] to `path`, creating its folder.
pub fn write_transcript(report: &Report, path: &Path) -> std::io::Result<()> {
    write_file(path, render_transcript(report))
}

/// Writes `contents` to `path`, creating its folder.
pub(crate) fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, contents)
}
