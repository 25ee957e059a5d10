//! Shared helpers for the simulation suites.
#![allow(dead_code)]

use framesim::kv::{run, write_transcript, Preset, Report, RunOptions, Scenario, Target};

/// The seeds a suite runs for `preset`: `FRAMESIM_SEED` alone when set; else the seeds
/// pinned for `preset` in `sim/regressions.txt` first, then `default`.
pub fn seeds_for(preset: Preset, default: std::ops::Range<u64>) -> Vec<u64> {
    seeds_named(preset.name(), default)
}

/// [`seeds_for`] by name: `""` matches no pinned line.
fn seeds_named(preset: &str, default: std::ops::Range<u64>) -> Vec<u64> {
    if let Ok(s) = std::env::var("FRAMESIM_SEED") {
        return vec![s.trim().parse().expect("FRAMESIM_SEED is a number")];
    }
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/regressions.txt"))
        .expect("sim/regressions.txt");
    let mut seeds: Vec<u64> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|p| p.len() == 2 && p[0] == preset)
        .filter_map(|p| p[1].parse().ok())
        .collect();
    let rest: Vec<u64> = default.filter(|s| !seeds.contains(s)).collect();
    seeds.extend(rest);
    seeds
}

/// [`seeds_for`] a suite that is not tied to one preset.
pub fn seeds(default: std::ops::Range<u64>) -> Vec<u64> {
    seeds_named("", default)
}

/// Runs a preset and fails the test with the full failure report (and the transcript written
/// under target/) if any oracle objects.
pub fn assert_passes(preset: Preset, seed: u64) -> Report {
    assert_passes_scenario(Scenario::preset(preset, seed))
}

/// Like [`assert_passes`] for any scenario.
pub fn assert_passes_scenario(s: Scenario) -> Report {
    let report = run(&s, RunOptions::default());
    if !report.passed() {
        fail(&s);
    }
    report
}

/// Replays a failing scenario with its transcript kept, writes it, and panics with the report.
/// The report's replay command reproduces the run exactly: a scenario changed by the test is
/// written to a scenario file under target/framesim/ and the command names that file.
pub fn fail(s: &Scenario) -> ! {
    let report = run(
        s,
        RunOptions {
            keep_transcript: true,
            ..RunOptions::default()
        },
    );
    let path = framesim::kv::default_transcript_path(s);
    let written = write_transcript(&report, &path);
    // FRAMESIM_SHRINK=1: shrink the failure first and name the smallest scenario too.
    if std::env::var_os("FRAMESIM_SHRINK").is_some() {
        match framesim::kv::shrink::shrink(s, |_| {}) {
            Ok(shrunk) => match shrunk.save(&framesim::kv::work_dir()) {
                Ok((file, transcript)) => eprintln!(
                    "{}\nshrunk scenario: {} (transcript {})\nreplay it: cargo run --release -p framesim -- replay --scenario-file {}",
                    shrunk.summary(),
                    file.display(),
                    transcript.display(),
                    file.display()
                ),
                Err(e) => eprintln!("{} (could not write it: {e})", shrunk.summary()),
            },
            Err(e) => eprintln!("could not shrink: {e}"),
        }
    }
    panic!(
        "{}\ntranscript: {} ({written:?})",
        report.failure(),
        path.display()
    );
}

/// The first seed in `seeds` at which `target` fails on `preset`, if any.
pub fn first_caught(
    preset: Preset,
    target: Target,
    seeds: std::ops::Range<u64>,
) -> Option<(u64, Report)> {
    seeds.into_iter().find_map(|seed| {
        let mut s = Scenario::preset(preset, seed);
        s.target = target;
        let report = run(
            &s,
            RunOptions {
                keep_transcript: true,
                ..RunOptions::default()
            },
        );
        (!report.passed()).then_some((seed, report))
    })
}

/// Snapshot name of a pinned line: `regression-<scenario>-<seed>[-<target>]`.
pub fn snapshot_name(line: &str) -> String {
    format!(
        "regression-{}",
        line.split_whitespace().collect::<Vec<_>>().join("-")
    )
}

/// The pinned lines, comments and blanks left out.
pub fn pinned() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/regressions.txt"))
        .expect("sim/regressions.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The small preset in line framing with `\r\n`, written in chunks of at most 4 bytes: most
/// requests have their two-byte delimiter split across two writes, so a server that misses
/// such a delimiter shows it within a client's first few requests.
pub fn crlf_lines(seed: u64) -> Scenario {
    let mut s = Scenario::preset(Preset::Small, seed);
    s.framing = framesim_server::protocol::Framing::Line {
        delimiter: b"\r\n".to_vec(),
    };
    s.delivery.max_chunk = 4;
    s
}

/// The small preset with one bulk loader: large requests pipelined back to back, each on
/// time, for longer than the frame deadline.
pub fn with_bulk_loader(seed: u64) -> Scenario {
    let mut s = Scenario::preset(Preset::Small, seed);
    s.roles.bulk_loader = 0.1;
    s
}

/// The small preset with one client sending requests of exactly the largest accepted size.
pub fn with_at_limit(seed: u64) -> Scenario {
    let mut s = Scenario::preset(Preset::Small, seed);
    s.roles.at_limit = 0.1;
    s
}

/// 500 clients of 3 requests, every one an edge case: an INCR of a key just set to
/// `i64::MAX` turns up within some client's first three requests at most seeds, so the
/// failure shrinks to a few requests.
pub fn incr_edges(seed: u64) -> Scenario {
    let mut s = Scenario::preset(Preset::Small, seed);
    s.clients = 500;
    s.client_hosts = 5;
    s.requests = 3;
    s.edge_values = 1.0;
    s
}
