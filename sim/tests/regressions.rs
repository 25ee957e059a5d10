//! Replays every pinned seed of `sim/regressions.txt`.

mod common;

use framesim::{run, RunOptions, Scenario, Target};

#[test]
fn pinned_regression_seeds_replay() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/regressions.txt"))
        .expect("sim/regressions.txt");
    let mut replayed = 0;
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let seed: u64 = parts[1]
            .parse()
            .unwrap_or_else(|_| panic!("bad seed in '{line}'"));
        let mut s = Scenario::preset(parts[0], seed).unwrap();
        if let Some(target) = parts.get(2) {
            s.target = target.parse::<Target>().unwrap();
        }
        let report = run(&s, RunOptions::default());
        if s.target == Target::Framesim {
            if !report.passed() {
                common::fail(&s);
            }
        } else {
            assert!(
                !report.passed(),
                "'{line}': the naive server is no longer caught"
            );
        }
        replayed += 1;
    }
    assert!(replayed >= 4, "regressions.txt lost its seeds");
}
