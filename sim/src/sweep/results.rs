//! A results file: one JSON line per seed, in seed order (`--results FILE`), for `merge`.

use super::engine::Watch;
use super::result::SeedResult;
use std::fs::File;
use std::io::{LineWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A results file being written: each seed's line as the sweep hands it out, so a sweep cut
/// short keeps every finished seed's.
#[derive(Debug)]
pub struct ResultsFile {
    path: PathBuf,
    /// The file, and the first error writing it.
    file: Mutex<(LineWriter<File>, Option<std::io::Error>)>,
}

impl ResultsFile {
    /// Creates the file (and its folder); an error names it.
    pub fn create(path: &Path) -> Result<Self, String> {
        let file = create(path)?;
        Ok(ResultsFile {
            path: path.to_path_buf(),
            file: Mutex::new((LineWriter::new(file), None)),
        })
    }

    /// Appends `result`'s line.
    pub fn write(&self, result: &SeedResult) {
        let mut file = self.file.lock().expect("results file");
        let line = serde_json::to_string(result).expect("a result serializes");
        if let Err(e) = writeln!(file.0, "{line}") {
            file.1.get_or_insert(e);
        }
    }

    /// Flushes it; the first error writing it, naming it.
    pub fn finish(&self) -> Result<(), String> {
        let mut file = self.file.lock().expect("results file");
        let flushed = file.0.flush();
        match file.1.take().or(flushed.err()) {
            Some(e) => Err(format!("{}: cannot write it: {e}", self.path.display())),
            None => Ok(()),
        }
    }
}

impl Watch for ResultsFile {
    fn ready(&self, result: &SeedResult) {
        self.write(result);
    }
}

/// A file to write, its folder created; an error names it.
pub(super) fn create(path: &Path) -> Result<File, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create it: {e}", dir.display()))?;
    }
    File::create(path).map_err(|e| format!("{}: cannot write it: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_result_is_one_json_line_that_reads_back() {
        let dir = std::env::temp_dir().join(format!("framesim-results-{}", std::process::id()));
        let path = dir.join("deeper").join("r.jsonl");
        let file = ResultsFile::create(&path).unwrap();
        let a = SeedResult::pass(1, 2, 3, "replay 1".into());
        let b = SeedResult::pass(4, 2, 5, "replay 4".into()).failing("[x] y".into());
        file.ready(&a);
        file.ready(&b);
        file.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let back: Vec<SeedResult> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, [a, b]);
        assert!(text.starts_with(
            "{\"seed\":1,\"scenario\":\"0000000000000002\",\"hash\":\"0000000000000003\",\"verdict\":\"pass\","
        ), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
        let e = ResultsFile::create(Path::new("/proc/no/such/dir/r.jsonl")).unwrap_err();
        assert!(e.contains("/proc/no/such/dir"), "{e}");
    }
}
