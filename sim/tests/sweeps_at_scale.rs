//! `framesim sweep` at scale: shards from a CI engine's variables, time and failure budgets,
//! results files that merge, and the failure database.

mod process;

use process::{framesim, text};
use std::process::Command;
use std::process::Output;

/// The seeds of `--hashes` lines.
fn seeds(out: &Output) -> Vec<u64> {
    text(&out.stdout)
        .lines()
        .map(|l| {
            let rest = l
                .strip_prefix("{\"seed\":")
                .unwrap_or_else(|| panic!("{l}"));
            rest[..rest.find(',').unwrap()].parse().unwrap()
        })
        .collect()
}

#[test]
fn a_sweep_takes_its_shard_from_the_ci_engine() {
    let args = [
        "sweep",
        "--scenario",
        "small",
        "--seeds",
        "0..9",
        "--hashes",
    ];
    let out = framesim(&args, &[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(seeds(&out), [1, 4, 7], "GitLab's node 2 of 3 is shard 1/3");
    assert!(
        text(&out.stderr).contains("(shard 1/3 from GitLab CI_NODE_INDEX=2 CI_NODE_TOTAL=3, "),
        "{}",
        text(&out.stderr)
    );
    // --shard wins over the environment.
    let out = framesim(
        &[&args[..], &["--shard", "0/3"]].concat(),
        &[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")],
    );
    assert_eq!(seeds(&out), [0, 3, 6]);
    // A bad value stops the sweep before it starts, naming the variable.
    let out = framesim(&args, &[("CI_NODE_INDEX", "4"), ("CI_NODE_TOTAL", "3")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("CI_NODE_INDEX=4"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("framesim-scale-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_sweep_for_a_time_prints_its_root_and_the_seeds_that_run_them_again() {
    let args = [
        "sweep",
        "--scenario",
        "small",
        "--for",
        "1s",
        "--root",
        "1000",
        "--hashes",
        "--check-determinism",
        "off",
    ];
    let out = framesim(&args, &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("sweeping for 1s from root seed 1000"),
        "{stderr}"
    );
    assert!(stderr.contains("; out of time"), "{stderr}");
    let ran = seeds(&out);
    assert!(!ran.is_empty(), "{stderr}");
    let end = 1000 + ran.len() as u64;
    assert_eq!(
        ran,
        (1000..end).collect::<Vec<_>>(),
        "a prefix from the root"
    );
    let again = format!("--seeds 1000..{end} runs them again");
    assert!(stderr.contains(&again), "{stderr}");

    // The printed range runs exactly the same seeds, with the same hashes.
    let seeds_flag = format!("1000..{end}");
    let rerun = framesim(
        &[
            "sweep",
            "--scenario",
            "small",
            "--seeds",
            &seeds_flag,
            "--hashes",
        ],
        &[],
    );
    assert_eq!(text(&rerun.stdout), text(&out.stdout));
}

#[test]
fn a_sweep_stops_at_its_lowest_failures() {
    let args = [
        "sweep",
        "--scenario",
        "small",
        "--target",
        "naive-one-read",
        "--seeds",
        "0..12",
        "--check-determinism",
        "off",
    ];
    let all = framesim(&args, &[]);
    let failing = |out: &Output| -> Vec<u64> {
        let stdout = text(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("failing seeds: "))
            .unwrap_or_else(|| panic!("{stdout}"));
        line.trim_matches(['[', ']'])
            .split(", ")
            .map(|n| n.parse().unwrap())
            .collect()
    };
    let every = failing(&all);
    assert!(every.len() > 2, "{every:?}");
    let two = framesim(
        &[&args[..], &["--max-failures", "2", "--jobs", "2"]].concat(),
        &[],
    );
    assert_eq!(two.status.code(), Some(1));
    assert_eq!(failing(&two), every[..2]);
    assert!(
        text(&two.stdout).contains("; stopped at 2 failures"),
        "{}",
        text(&two.stdout)
    );
}

#[test]
fn four_shards_in_four_processes_merge_to_the_single_sweep() {
    let dir = temp("merge");
    let common = [
        "sweep",
        "--scenario",
        "small",
        "--target",
        "naive-one-read",
        "--seeds",
        "0..16",
    ];
    let whole = dir.join("whole.jsonl");
    let out = framesim(
        &[&common[..], &["--results", whole.to_str().unwrap()]].concat(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let mut files = Vec::new();
    for index in 0..4 {
        let file = dir.join(format!("shard-{index}.jsonl"));
        let junit = dir.join(format!("shard-{index}.xml"));
        let shard = format!("{index}/4");
        let out = framesim(
            &[
                &common[..],
                &[
                    "--results",
                    file.to_str().unwrap(),
                    "--junit",
                    junit.to_str().unwrap(),
                ],
            ]
            .concat(),
            &[("FRAMESIM_SHARD", &shard)],
        );
        assert!(out.status.code() == Some(1) || out.status.success());
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(
            xml.starts_with("<?xml") && xml.contains("<testsuite name=\"small\""),
            "{xml}"
        );
        files.push(file.to_str().unwrap().to_string());
    }
    let merged = framesim(
        &[
            &["merge"][..],
            &files.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
        &[],
    );
    let single = framesim(&["merge", whole.to_str().unwrap()], &[]);
    assert_eq!(merged.status.code(), Some(1), "failures fail a merge");
    let (merged, single) = (text(&merged.stdout), text(&single.stdout));
    // The same counts and the same failures by oracle; only the slowest seeds' times differ.
    let head = |s: &str| -> String {
        let s = s.replace("merged 4 files", "merged 1 files");
        s[..s.find("slowest seeds:").unwrap()].to_string()
    };
    assert_eq!(head(&merged), head(&single));
    assert!(
        merged.contains("16 results of 16 distinct seeds"),
        "{merged}"
    );
    assert!(merged.contains("0 gave another transcript"), "{merged}");

    // The whole sweep and the shards ran every seed twice: no seed disagrees.
    let both = framesim(
        &[
            &["merge", whole.to_str().unwrap()][..],
            &files.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
        &[],
    );
    let both = text(&both.stdout);
    assert!(
        both.contains("16 seeds ran more than once, 0 gave another transcript"),
        "{both}"
    );

    // One crafted line with another hash for seed 3 is a disagreement naming both files.
    let text_whole = std::fs::read_to_string(&whole).unwrap();
    let line = text_whole
        .lines()
        .find(|l| l.starts_with("{\"seed\":3,"))
        .unwrap();
    let hash_at = line.find("\"hash\":\"").unwrap() + 8;
    let mut crafted = line.to_string();
    let flipped = if &line[hash_at..hash_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    crafted.replace_range(hash_at..hash_at + 1, flipped);
    let other = dir.join("other-commit.jsonl");
    std::fs::write(&other, crafted + "\n").unwrap();
    let out = framesim(
        &["merge", whole.to_str().unwrap(), other.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 gave another transcript"), "{stdout}");
    assert!(stdout.contains("seed 3 [determinism]"), "{stdout}");
    assert!(
        stdout.contains("whole.jsonl:4") && stdout.contains("other-commit.jsonl:1"),
        "{stdout}"
    );

    // A file that is not results is refused, naming it.
    let out = framesim(&["merge", dir.join("shard-0.xml").to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("shard-0.xml:1: not a seed's result"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_failure_database_runs_its_seeds_first_and_forgets_those_that_pass() {
    use framesim::kv::setup::Setup;
    use framesim::kv::{Preset, Target};
    let dir = temp("failures");
    let db = dir.to_str().unwrap();
    let naive = [
        "sweep",
        "--scenario",
        "small",
        "--target",
        "naive-one-read",
        "--failures",
        db,
    ];
    let first = framesim(&[&naive[..], &["--seeds", "0..3"]].concat(), &[]);
    assert_eq!(first.status.code(), Some(1));
    let mut setup = Setup::preset(Preset::Small);
    setup.target = Some(Target::OneReadOneRequest);
    let kept = dir.join(setup.what(&setup.base().unwrap()));
    let files = std::fs::read_dir(&kept).unwrap().count();
    assert!(files > 0, "failing seeds are kept in {}", kept.display());

    // The next sweep, of other seeds, runs them first and says they still fail.
    let next = framesim(&[&naive[..], &["--seeds", "100..101"]].concat(), &[]);
    let stdout = text(&next.stdout);
    assert_eq!(next.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("running its {files} seeds first")),
        "{stdout}"
    );
    assert!(stdout.contains(" still fails: seed "), "{stdout}");
    assert!(
        stdout.contains("failing seeds: [100]; still failing from the failure database: ["),
        "{stdout}"
    );

    // A kept seed that passes now is forgotten.
    let healed =
        dir.join(Setup::preset(Preset::Small).what(&Setup::preset(Preset::Small).base().unwrap()));
    std::fs::create_dir_all(&healed).unwrap();
    std::fs::write(healed.join("seed-5.json"), "{}").unwrap();
    let out = framesim(
        &[
            "sweep",
            "--scenario",
            "small",
            "--seeds",
            "0..2",
            "--failures",
            db,
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("seed 5 passes now: forgotten"), "{stdout}");
    assert!(!healed.join("seed-5.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_passing_seed_of_a_results_file_replays_from_its_command() {
    let dir = temp("replay");
    let results = dir.join("r.jsonl");
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/small.toml");
    let out = framesim(
        &[
            "sweep",
            "--scenario-file",
            file,
            "--clients",
            "5",
            "--seeds",
            "3..5",
            "--results",
            results.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stdout));
    let lines = std::fs::read_to_string(&results).unwrap();
    let first: framesim::sweep::SeedResult =
        serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(
        first.replay,
        format!(
            "cargo run --release -p framesim -- replay --scenario-file {file} --seed 3 --clients 5"
        )
    );
    let args: Vec<&str> = first
        .replay
        .strip_prefix("cargo run --release -p framesim -- ")
        .unwrap()
        .split(' ')
        .collect();
    let transcript = dir.join("t.txt");
    let replay = framesim(
        &[&args[..], &["--transcript", transcript.to_str().unwrap()]].concat(),
        &[],
    );
    assert!(replay.status.success(), "{}", text(&replay.stderr));
    let t = std::fs::read_to_string(&transcript).unwrap();
    assert!(t.contains(&format!("{:016x}", first.hash)), "the same run");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ctrl_c_ends_a_sweep_with_its_summary_and_every_finished_seeds_result() {
    let dir = temp("interrupt");
    let results = dir.join("r.jsonl");
    let mut command = Command::new(env!("CARGO_BIN_EXE_framesim"));
    command
        .args(["sweep", "--scenario", "small", "--seeds", "0..100000000"])
        .args(["--check-determinism", "off", "--results"])
        .arg(&results)
        .env_remove("FRAMESIM_SEED")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for var in framesim::sweep::SHARD_VARIABLES {
        command.env_remove(var);
    }
    let child = command.spawn().unwrap();
    // Once some seeds have run (the first line of the results file is there).
    let started = std::time::Instant::now();
    while std::fs::metadata(&results).map_or(0, |m| m.len()) == 0 {
        assert!(started.elapsed().as_secs() < 60, "no seed ran");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("framesim: interrupted"), "{stderr}");
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("swept "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(summary.ends_with("; interrupted"), "{summary}");
    let swept: usize = summary["swept ".len()..summary.find(" seeds").unwrap()]
        .parse()
        .unwrap();
    let lines = std::fs::read_to_string(&results).unwrap();
    assert_eq!(lines.lines().count(), swept, "one line per finished seed");
    std::fs::remove_dir_all(&dir).unwrap();
}
