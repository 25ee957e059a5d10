//! Scenario files: every option of a scenario survives TOML and back, the checked-in
//! `scenarios/` folder is every preset as `Scenario::preset` makes it, and a bad file is an
//! error that names the file, the line and the field.

use framesim::kv::{fuzz, Delivery, Faults, Preset, Roles, Scenario, Target};
use framesim_server::framing::Endian;
use framesim_server::protocol::Framing;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn round_trip(s: &Scenario) {
    let text = s.to_toml();
    let back = Scenario::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(&back, s, "{text}");
    assert_eq!(back.to_toml(), text);
}

#[test]
fn the_checked_in_scenarios_are_the_presets() {
    let fix = "cargo run -p framesim -- list --files scenarios";
    let dir = scenarios_dir();
    for &preset in <Preset as clap::ValueEnum>::value_variants() {
        let path = dir.join(format!("{preset}.toml"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (write it: {fix})", path.display()));
        assert!(
            text == Scenario::preset(preset, 0).to_toml(),
            "{} differs from Scenario::preset({preset}, 0) (rewrite it: {fix})",
            path.display()
        );
        assert_eq!(
            Scenario::load(&path).unwrap().unchanged_preset(),
            Some(preset)
        );
    }
    let names: Vec<String> = <Preset as clap::ValueEnum>::value_variants()
        .iter()
        .map(|p| format!("{p}.toml"))
        .collect();
    for entry in std::fs::read_dir(&dir).expect("scenarios/") {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        assert!(
            names.contains(&name),
            "scenarios/{name} is no preset: delete it, or add the preset"
        );
    }
}

#[test]
fn every_option_survives_toml() {
    for &preset in <Preset as clap::ValueEnum>::value_variants() {
        for seed in [0, 1, 7, u64::MAX] {
            round_trip(&Scenario::preset(preset, seed));
        }
    }
    for seed in 0..200 {
        round_trip(&Scenario::preset(Preset::Adversarial, seed));
    }
    for n in 0..200u32 {
        let bytes: Vec<u8> = (0..64u32)
            .map(|i| (n.wrapping_mul(2_654_435_761) >> (i % 24)) as u8 ^ i as u8)
            .collect();
        round_trip(&fuzz::scenario_from_bytes(&bytes));
    }
    // What the suites build by hand: whole-request delivery, odd framings, every role.
    let mut s = Scenario::preset(Preset::Small, 42);
    s.name = "hand-made".into();
    s.delivery = Delivery::ideal();
    s.faults = Faults::none();
    s.framing = Framing::Line {
        delimiter: b"\r\n".to_vec(),
    };
    s.restart_at = Some(Duration::from_micros(1500));
    s.roles = Roles {
        slowloris_every: Duration::from_nanos(1),
        slowloris: 0.1,
        idle: 0.2,
        disconnect: 0.3,
        half_close: 1.0 / 3.0,
        oversized: 0.0,
        malformed: 1e-9,
        never_reader: 0.25,
        slow_reader: 0.0,
        bulk_loader: 0.125,
        at_limit: 0.0,
        unfinished_args: 0.5,
        quit: 0.75,
    };
    s.target = Target::NoFrameDeadline;
    round_trip(&s);
    s.framing = Framing::Line {
        delimiter: vec![0, 0xff, b'\n'],
    };
    round_trip(&s);
    s.framing = Framing::Length {
        header_len: 2,
        endian: Endian::Little,
    };
    round_trip(&s);
}

#[test]
fn files_read_as_people_write_them() {
    let mut s = Scenario::preset(Preset::Small, 3);
    s.framing = Framing::Line {
        delimiter: b"\r\n".to_vec(),
    };
    s.delivery = Delivery::ideal();
    let text = s.to_toml();
    for line in [
        r#"latency = ["100us", "1ms"]"#,
        r#"restart_at = "never""#,
        r#"ramp = "0s""#,
        r#"target = "framesim""#,
        r#"max_chunk = "whole""#,
        r#"delimiter = '\r\n'"#,
        r#"frame_deadline = "500ms""#,
        r#"idle_timeout = "5s""#,
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    // A TOML basic string's own escapes mean the same bytes; options a section leaves out
    // take their defaults; durations may have fractions.
    let by_hand = text
        .replace(r"delimiter = '\r\n'", r#"delimiter = "\r\n""#)
        .replace("pipeline = 1\n", "")
        .replace(r#"ramp = "0s""#, r#"ramp = "0.5s""#);
    let read = Scenario::from_toml(&by_hand).unwrap();
    assert_eq!(read.framing, s.framing);
    assert_eq!(read.delivery.pipeline, Delivery::default().pipeline);
    assert_eq!(read.ramp, Duration::from_millis(500));
}

/// Writes `text` to a file of its own and loads it; the error it gives.
fn load_error(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("framesim-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    let e = Scenario::load(&path).expect_err(name);
    assert!(
        e.starts_with(&path.display().to_string()),
        "{name}: the error names the file: {e}"
    );
    e
}

#[test]
fn bad_files_name_the_file_the_line_and_the_field() {
    let good = Scenario::preset(Preset::Hostile, 0).to_toml();
    let line_of = |needle: &str| {
        1 + good
            .lines()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle}"))
    };
    for (name, from, to, says) in [
        (
            "typo",
            "clients = ",
            "clinets = ",
            "unknown field `clinets`",
        ),
        ("type", "requests = 8", "requests = \"8\"", "invalid type"),
        (
            "duration",
            "max_gap = \"2ms\"",
            "max_gap = \"2 minutes\"",
            "expected a duration like 500ms",
        ),
        (
            "target",
            "target = \"framesim\"",
            "target = \"nginx\"",
            "unknown target 'nginx'",
        ),
        (
            "framing",
            "kind = \"resp\"",
            "kind = \"json\"",
            "unknown variant `json`",
        ),
        (
            "restart",
            "restart_at = \"never\"",
            "restart_at = \"soon\"",
            "or \"never\"",
        ),
        (
            "chunk",
            "max_chunk = 16",
            "max_chunk = \"most\"",
            "or \"whole\"",
        ),
        (
            "chance",
            "partial_read_chance = 0.5",
            "partial_read_chance = 1.5",
            "faults.partial_read_chance: must be between 0.0 and 1.0",
        ),
        (
            "zero",
            "max_chunk = 16",
            "max_chunk = 0",
            "delivery.max_chunk: must be at least 1",
        ),
        (
            "nan",
            "byte_at_a_time = 0.02",
            "byte_at_a_time = nan",
            "delivery.byte_at_a_time: must be between",
        ),
        (
            "limits",
            "max_buffered = 8192",
            "max_buffered = 1",
            "limits.max_buffered: max_buffered (1) is smaller",
        ),
        (
            "latency",
            "latency = [\"100us\", \"1ms\"]",
            "latency = [\"2ms\", \"1ms\"]",
            "latency: is [min, max]",
        ),
    ] {
        let line = line_of(from);
        let text = good.replacen(from, to, 1);
        assert_ne!(text, good, "{name}: nothing replaced");
        let e = load_error(name, &text);
        assert!(e.contains(says), "{name}: {e}");
        assert!(
            e.contains(&format!("line {line}")),
            "{name}: the error names line {line}: {e}"
        );
    }
    let missing = load_error("missing", &good.replace("seed = 0\n", ""));
    assert!(missing.contains("missing field `seed`"), "{missing}");
    let e = Scenario::load(Path::new("/nonexistent/x.toml")).unwrap_err();
    assert!(e.starts_with("/nonexistent/x.toml: "), "{e}");
}

#[test]
fn a_preset_file_runs_as_the_preset() {
    let path = scenarios_dir().join("small.toml");
    let from_file = Scenario::load(&path).unwrap();
    let options = framesim::kv::RunOptions::default();
    let a = framesim::kv::run(&from_file, options);
    let b = framesim::kv::run(&Scenario::preset(Preset::Small, 0), options);
    assert!(a.passed());
    assert_eq!(a.transcript.hash(), b.transcript.hash());
}

#[test]
fn changed_scenarios_get_transcript_names_of_their_own() {
    let preset = Scenario::preset(Preset::Default, 3);
    let mut smaller = preset.clone();
    smaller.clients = 1000;
    let (a, b) = (
        framesim::kv::default_transcript_path(&preset),
        framesim::kv::default_transcript_path(&smaller),
    );
    assert_ne!(a, b);
    assert!(a.ends_with("framesim/default-framesim-3.txt"), "{a:?}");
    let b = b.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        b.starts_with("default-framesim-3-") && b.len() == "default-framesim-3-".len() + 12,
        "{b}"
    );
    assert_eq!(
        framesim::kv::default_transcript_path(&smaller.clone()),
        framesim::kv::default_transcript_path(&smaller),
        "the same scenario, the same name"
    );
    let mut naive = preset.clone();
    naive.target = Target::NoFrameDeadline;
    assert!(
        framesim::kv::default_transcript_path(&naive).ends_with("default-naive-no-deadline-3.txt")
    );
}
