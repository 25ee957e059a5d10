//! `framesim merge` adds up the coverage each seed's results line carries, exactly as one
//! sweep adds it up, and `merge --require-coverage` fails on what never happened.

mod process;

use framesim::sweep::SeedResult;
use process::{framesim, text};
use std::path::{Path, PathBuf};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("framesim-cov-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The coverage table in `stdout`: its `coverage over` line and the rows under it.
fn table(stdout: &str) -> String {
    let start = stdout
        .find("coverage over ")
        .unwrap_or_else(|| panic!("no coverage table in\n{stdout}"));
    let mut lines = stdout[start..].lines();
    let mut out = vec![lines.next().unwrap()];
    out.extend(lines.take_while(|l| l.starts_with("  ")));
    out.join("\n")
}

/// Rewrites every line of `path` with `change`.
fn rewrite(path: &Path, change: impl Fn(&mut SeedResult)) {
    let lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut r: SeedResult = serde_json::from_str(l).unwrap();
            change(&mut r);
            serde_json::to_string(&r).unwrap()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn two_shards_merge_to_the_coverage_table_of_one_sweep() {
    let dir = temp("shards");
    let sweep = ["sweep", "--scenario", "small", "--seeds", "0..12"];
    let whole = dir.join("whole.jsonl");
    let one = framesim(
        &[&sweep[..], &["--results", whole.to_str().unwrap()]].concat(),
        &[],
    );
    assert!(one.status.success(), "{}", text(&one.stdout));
    let expected = table(&text(&one.stdout));
    assert!(expected.starts_with("coverage over 12 seeds"), "{expected}");
    assert!(expected.contains("partial reads"), "{expected}");

    let shards: Vec<PathBuf> = (0..2).map(|i| dir.join(format!("s{i}.jsonl"))).collect();
    for (i, file) in shards.iter().enumerate() {
        let shard = format!("{i}/2");
        let out = framesim(
            &[&sweep[..], &["--results", file.to_str().unwrap()]].concat(),
            &[("FRAMESIM_SHARD", &shard)],
        );
        assert!(out.status.success(), "{}", text(&out.stdout));
        assert!(table(&text(&out.stdout)).starts_with("coverage over 6 seeds"));
    }
    let files: Vec<&str> = shards.iter().map(|p| p.to_str().unwrap()).collect();
    let merged = framesim(
        &[&["merge", "--require-coverage"][..], &files].concat(),
        &[],
    );
    let stdout = text(&merged.stdout);
    assert!(merged.status.success(), "{stdout}");
    assert_eq!(
        table(&stdout),
        expected,
        "the shards' sum is the one sweep's table"
    );
    // The whole sweep and its shards together: each seed counts once.
    let all = framesim(
        &[&["merge", whole.to_str().unwrap()][..], &files].concat(),
        &[],
    );
    assert_eq!(table(&text(&all.stdout)), expected);

    // A wanted row that never happened in any shard fails the merge, naming it.
    for file in &shards {
        rewrite(file, |r| {
            for s in &mut r.seen {
                if s.name == "partial reads" {
                    s.count = 0;
                }
            }
        });
    }
    let out = framesim(
        &[&["merge", "--require-coverage"][..], &files].concat(),
        &[],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("coverage: never happened in 12 seeds: partial reads (--require-coverage)"),
        "{stdout}"
    );
    assert!(stdout.contains("NEVER"), "{stdout}");
    let out = framesim(&[&["merge"][..], &files].concat(), &[]);
    assert!(out.status.success(), "only required coverage fails a merge");

    // Lines without coverage (an older framesim's) still merge, and say there is none.
    rewrite(&whole, |r| r.seen.clear());
    let out = framesim(&["merge", whole.to_str().unwrap()], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("\ncoverage: none (no result carries"),
        "{stdout}"
    );
    assert!(!stdout.contains("coverage over"), "{stdout}");
    let out = framesim(
        &["merge", "--require-coverage", whole.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}
