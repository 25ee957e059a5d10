//! Where a sweep's lines go as it runs: one per failing seed as it is found (above a
//! progress bar in a terminal, none otherwise, for CI logs), `--hashes` lines and the
//! results file in seed order.

use super::engine::Watch;
use super::result::SeedResult;
use super::results::ResultsFile;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write as _;

/// A sweep's output.
pub(super) struct Console<'a> {
    pub(super) bar: ProgressBar,
    /// `--hashes`: stdout is for the JSON lines alone.
    pub(super) hashes: bool,
    /// Lines under a failing seed's.
    pub(super) also: &'a (dyn Fn(&SeedResult) -> Option<String> + Sync),
    /// `--results`.
    pub(super) results: Option<ResultsFile>,
}

impl Console<'_> {
    /// A bar over `len` seeds (a counter for a sweep without end) when stdout is a
    /// terminal and not for `--hashes`; else none.
    pub(super) fn bar(len: Option<usize>, hashes: bool) -> ProgressBar {
        use std::io::IsTerminal;
        if hashes || !std::io::stdout().is_terminal() {
            return ProgressBar::hidden();
        }
        let (bar, template) = match len {
            Some(len) => (
                ProgressBar::new(len as u64),
                "{bar:40} {pos}/{len} seeds {per_sec} eta {eta} {msg}",
            ),
            None => (
                ProgressBar::new_spinner(),
                "{spinner} {pos} seeds {per_sec} {elapsed} {msg}",
            ),
        };
        bar.set_style(ProgressStyle::with_template(template).expect("progress template"));
        bar
    }

    /// A line for a person: above the bar; on stderr with `--hashes`, whose stdout is for
    /// the JSON lines alone; else on stdout.
    pub(super) fn say(&self, line: &str) {
        if !self.bar.is_hidden() {
            self.bar.println(line);
        } else if self.hashes {
            eprintln!("{line}");
        } else {
            print_line(line);
        }
    }
}

impl Watch for Console<'_> {
    fn finished(&self, result: &SeedResult) {
        if !result.passed() {
            self.say(&result.line());
            if let Some(more) = (self.also)(result) {
                self.say(&more);
            }
        }
        self.bar.inc(1);
    }

    fn ready(&self, result: &SeedResult) {
        if self.hashes {
            print_line(&format!(
                "{{\"seed\":{},\"hash\":\"{:016x}\",\"passed\":{}}}",
                result.seed,
                result.hash,
                result.passed()
            ));
        }
        if let Some(results) = &self.results {
            results.ready(result);
        }
    }
}

/// Writes a line to stdout. A reader that has gone (`| head`) ends the sweep, with the exit
/// code of a process killed by SIGPIPE, rather than a panic in every worker.
pub fn print_line(line: &str) {
    if let Err(e) = writeln!(std::io::stdout().lock(), "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
    }
}
