//! The checked-in examples of sweeps on real engines (`.github/workflows/sweep.yml`,
//! `ci/kubernetes/`, `ci/gitlab/`) use only subcommands and flags the `framesim` binary
//! accepts, and the shard variables it reads: they cannot drift from the CLI.

mod process;

use process::{framesim, text};
use std::collections::BTreeSet;

/// The example files, from the workspace root.
const FILES: [&str; 4] = [
    ".github/workflows/sweep.yml",
    "ci/kubernetes/sweep-job.yaml",
    "ci/kubernetes/merge-job.yaml",
    "ci/gitlab/sweep.yml",
];

fn read(file: &str) -> String {
    let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The lines of `text` with a shell line's `\` continuations and a YAML flow sequence's
/// lines (`[` … `]`) joined into one.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        current.push_str(line.trim_end().trim_end_matches('\\'));
        current.push(' ');
        let open = current.matches('[').count() > current.matches(']').count();
        if !line.trim_end().ends_with('\\') && !open {
            out.push(std::mem::take(&mut current));
        }
    }
    out.push(current);
    out
}

/// Each `framesim SUBCOMMAND --flag…` of `text` (the program as `framesim`, `./framesim` or
/// `target/release/framesim`, on a shell line or in a YAML list): the subcommand and the
/// flags given to it, up to the end of its shell command.
fn commands(text: &str, subcommands: &[String]) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for line in logical_lines(text) {
        let tokens: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || "\"'`,[]".contains(c))
            .filter(|t| !t.is_empty())
            .collect();
        for (i, token) in tokens.iter().enumerate() {
            let program = *token == "framesim" || token.ends_with("/framesim");
            let Some(sub) = tokens
                .get(i + 1)
                .filter(|s| subcommands.iter().any(|c| c == *s))
            else {
                continue;
            };
            if !program {
                continue;
            }
            let flags = tokens[i + 2..]
                .iter()
                .take_while(|t| !["|", "||", "&&", ";"].contains(t))
                .filter(|t| t.starts_with("--"))
                .map(|t| t.split('=').next().unwrap().to_string())
                .collect();
            found.push((sub.to_string(), flags));
        }
    }
    found
}

/// The subcommands `framesim --help` lists.
fn subcommands() -> Vec<String> {
    let help = text(&framesim(&["--help"], &[]).stdout);
    let listed = help
        .split("Commands:")
        .nth(1)
        .unwrap_or_else(|| panic!("{help}"));
    listed
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Whether `framesim SUB --help` lists `flag`.
fn accepts(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(at, _)| {
        let after = help[at + flag.len()..].chars().next();
        let before = help[..at].chars().next_back();
        !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            && before.is_some_and(char::is_whitespace)
    })
}

/// The flags of `commands` no `--help` lists, as `file: sub --flag`.
fn unknown(file: &str, commands: &[(String, Vec<String>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (sub, flags) in commands {
        let help = text(&framesim(&[sub, "--help"], &[]).stdout);
        assert!(help.contains("Usage: framesim "), "{sub}: {help}");
        for flag in flags {
            if !accepts(&help, flag) {
                out.push(format!("{file}: framesim {sub} {flag}"));
            }
        }
    }
    out
}

#[test]
fn every_framesim_flag_of_the_ci_examples_is_one_the_cli_accepts() {
    let subs = subcommands();
    assert!(subs.iter().any(|s| s == "sweep") && subs.iter().any(|s| s == "merge"));
    // The checker itself finds a flag the CLI does not have.
    let made_up = commands("run: ./framesim sweep --seeds 0..9 \\\n  --nope 3", &subs);
    assert_eq!(
        made_up,
        [("sweep".to_string(), vec!["--seeds".into(), "--nope".into()])]
    );
    assert_eq!(unknown("x", &made_up), ["x: framesim sweep --nope"]);

    let mut used = BTreeSet::new();
    let mut wrong = Vec::new();
    for file in FILES {
        let found = commands(&read(file), &subs);
        assert!(!found.is_empty(), "{file} runs no framesim command");
        wrong.extend(unknown(file, &found));
        for (sub, flags) in found {
            used.extend(flags.into_iter().map(|f| format!("{sub} {f}")));
        }
    }
    assert!(
        wrong.is_empty(),
        "flags the CLI does not accept: {wrong:#?}"
    );
    for needed in [
        "sweep --results",
        "sweep --junit",
        "sweep --failures",
        "sweep --shard",
        "merge --require-coverage",
    ] {
        assert!(used.contains(needed), "no example uses {needed}: {used:?}");
    }
}

#[test]
fn each_engine_names_its_shard_as_framesim_reads_it() {
    let github = read(".github/workflows/sweep.yml");
    let shards = github
        .lines()
        .find_map(|l| l.trim().strip_prefix("SHARDS: "))
        .expect("SHARDS in the workflow's env");
    let matrix = github
        .lines()
        .find_map(|l| l.trim().strip_prefix("shard: ["))
        .expect("the matrix of shards");
    let listed: Vec<&str> = matrix.trim_end_matches(']').split(", ").collect();
    let n: usize = shards.parse().unwrap();
    assert_eq!(
        listed,
        (0..n).map(|i| i.to_string()).collect::<Vec<_>>(),
        "the matrix is the shards 0..SHARDS"
    );
    assert!(github.contains("--shard ${{ matrix.shard }}/$SHARDS"));

    let kubernetes = read("ci/kubernetes/sweep-job.yaml");
    assert!(kubernetes.contains("completionMode: Indexed"));
    let completions = kubernetes
        .lines()
        .find_map(|l| l.trim().strip_prefix("completions: "))
        .unwrap();
    assert!(
        kubernetes.contains(&format!(
            "- name: FRAMESIM_SHARDS\n              value: \"{completions}\""
        )),
        "FRAMESIM_SHARDS is the Job's completions"
    );
    let gitlab = read("ci/gitlab/sweep.yml");
    assert!(gitlab.contains("parallel: "));
    for var in ["JOB_COMPLETION_INDEX", "FRAMESIM_SHARDS", "CI_NODE_INDEX"] {
        assert!(framesim::sweep::SHARD_VARIABLES.contains(&var), "{var}");
    }
    assert!(kubernetes.contains("JOB_COMPLETION_INDEX") && gitlab.contains("CI_NODE_INDEX"));
}
