//! The transcript catalogue: one small scenario per behaviour of the harness, each
//! snapshotted whole (header, wire view, logical view, footer) in the top-level
//! `snapshots/` folder. Review changes with `cargo insta review`.

mod common;

use framesim::kv::{render_transcript, run, Delivery, Faults, Preset, Roles, RunOptions, Scenario};
use framesim_server::framing::Endian;
use framesim_server::protocol::Framing;
use std::time::Duration;

/// A tiny base scenario: `clients` clients, 3 requests each, one host, ideal delivery.
fn base(name: &str, clients: usize) -> Scenario {
    let mut s = Scenario::preset(Preset::Small, 42);
    s.name = name.to_string();
    s.clients = clients;
    s.requests = 3;
    s.client_hosts = 1;
    s.delivery = Delivery::ideal();
    s.faults = Faults::none();
    s
}

/// Every snapshot this suite owns; anything else in `snapshots/` is unreferenced.
const CATALOGUE: &[&str] = &[
    "byte-at-a-time",
    "pipelined-length-header-split",
    "partial-reads-short-writes",
    "oversized",
    "malformed",
    "slowloris",
    "idle",
    "disconnect-mid-frame",
    "half-close",
    "restart",
    "drain",
    "framing-resp",
    "framing-line",
    "framing-length",
    "summary-default",
    "summary-hostile",
    "coalesced-reads",
    "never-reader",
    "framing-line-crlf",
    "framing-line-crlf-nul",
    "framing-line-nul-ff",
    "framing-length-1-byte-le",
    "framing-length-2-byte-be",
    "framing-length-8-byte-le",
    "bulk-loader",
    "at-limit",
    "at-limit-line-crlf",
    "at-limit-length-1-byte-le",
    "unfinished-args",
    "unfinished-args-line",
    "unfinished-args-length",
    "edge-values",
    "edge-values-line",
];

/// Fails on snapshots nobody asserts any more, and on pending ones left by a run.
#[test]
fn no_unreferenced_or_pending_snapshots() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots");
    let pinned = common::pinned();
    let shrunk: Vec<String> = std::fs::read_dir(framesim::kv::shrink::regressions_dir())
        .map(|d| {
            d.filter_map(|e| {
                let name = e.ok()?.file_name().to_string_lossy().into_owned();
                Some(format!("regression-{}", name.strip_suffix(".toml")?))
            })
            .collect()
        })
        .unwrap_or_default();
    let mut stray = Vec::new();
    for entry in std::fs::read_dir(dir).expect("snapshots/") {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        let known = name.strip_suffix(".snap").is_some_and(|stem| {
            CATALOGUE.contains(&stem)
                || shrunk.iter().any(|s| s == stem)
                || pinned
                    .iter()
                    .any(|line| common::snapshot_name(line) == stem)
        });
        if !known {
            stray.push(name);
        }
    }
    assert!(
        stray.is_empty(),
        "unreferenced or pending snapshots in snapshots/: {stray:?} (cargo insta review, or delete)"
    );
}

fn snapshot(s: Scenario) {
    assert!(
        CATALOGUE.contains(&s.name.as_str()),
        "add {} to CATALOGUE",
        s.name
    );
    let report = run(
        &s,
        RunOptions {
            keep_transcript: true,
            ..RunOptions::default()
        },
    );
    if !report.passed() {
        common::fail(&s);
    }
    let text = render_transcript(&report);
    insta::with_settings!({
        snapshot_path => "../../snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(s.name.clone(), text);
    });
}

#[test]
fn byte_at_a_time() {
    let mut s = base("byte-at-a-time", 2);
    s.delivery.byte_at_a_time = 1.0;
    snapshot(s);
}

#[test]
fn pipelined_batch_split_inside_a_length_header() {
    let mut s = base("pipelined-length-header-split", 2);
    s.framing = Framing::length();
    s.delivery.pipeline = 3;
    s.delivery.max_chunk = 3;
    s.delivery.cut_at_boundaries = 1.0;
    snapshot(s);
}

#[test]
fn partial_reads_and_short_writes() {
    let mut s = base("partial-reads-short-writes", 3);
    s.faults = Faults {
        partial_read_chance: 0.8,
        short_write_chance: 0.8,
        spurious_pending_chance: 0.2,
        ..Faults::none()
    };
    snapshot(s);
}

#[test]
fn coalesced_reads_put_several_frames_in_one_read() {
    let mut s = base("coalesced-reads", 2);
    s.requests = 6;
    s.delivery.pipeline = 4;
    s.delivery.max_chunk = 6;
    s.faults.coalesce_chance = 0.8;
    s.faults.partial_read_chance = 0.2;
    snapshot(s);
}

#[test]
fn never_reader_cut_once_its_window_is_full() {
    let mut s = one_role(
        "never-reader",
        Roles {
            never_reader: 0.5,
            ..Roles::default()
        },
    );
    // Small numbers keep the transcript short: 256-byte values, 32 replies of them.
    s.limits.max_frame = 512;
    s.limits.max_output = 2048;
    s.faults.window = 4096;
    snapshot(s);
}

fn one_role(name: &str, roles: Roles) -> Scenario {
    let mut s = base(name, 2);
    s.roles = roles;
    s.limits.idle_timeout = Duration::from_millis(300);
    s
}

#[test]
fn oversized_frame() {
    snapshot(one_role(
        "oversized",
        Roles {
            oversized: 0.5,
            ..Roles::default()
        },
    ));
}

#[test]
fn malformed_request() {
    snapshot(one_role(
        "malformed",
        Roles {
            malformed: 0.5,
            ..Roles::default()
        },
    ));
}

#[test]
fn slowloris_cut_off_by_the_frame_deadline() {
    snapshot(one_role(
        "slowloris",
        Roles {
            slowloris: 0.5,
            ..Roles::default()
        },
    ));
}

#[test]
fn idle_client_closed_by_the_idle_timeout() {
    snapshot(one_role(
        "idle",
        Roles {
            idle: 0.5,
            ..Roles::default()
        },
    ));
}

#[test]
fn disconnect_mid_frame() {
    snapshot(one_role(
        "disconnect-mid-frame",
        Roles {
            disconnect: 0.5,
            ..Roles::default()
        },
    ));
}

#[test]
fn half_close() {
    snapshot(one_role(
        "half-close",
        Roles {
            half_close: 0.5,
            ..Roles::default()
        },
    ));
}

/// Three clients, six requests each in small chunks, the server restarted at 8 ms with
/// `grace` (zero: a crash).
fn restarting(name: &str, grace: Duration) -> Scenario {
    let mut s = base(name, 3);
    s.requests = 6;
    s.delivery.max_gap = Duration::from_millis(5);
    s.delivery.max_chunk = 8;
    s.restart_at = Some(Duration::from_millis(8));
    s.restart_grace = grace;
    s
}

#[test]
fn server_restart_with_reconnect() {
    snapshot(restarting("restart", Duration::ZERO));
}

#[test]
fn graceful_restart_with_reconnect() {
    snapshot(restarting("drain", Duration::from_millis(50)));
}

#[test]
fn each_framing() {
    for framing in [Framing::Resp, Framing::line(), Framing::length()] {
        let mut s = base(&format!("framing-{framing}"), 2);
        s.framing = framing;
        s.delivery.max_chunk = 5;
        snapshot(s);
    }
}

/// Every delimiter shape and header size beyond the three default framings.
#[test]
fn each_delimiter_and_header() {
    let line = |d: &[u8]| Framing::Line {
        delimiter: d.to_vec(),
    };
    let length = |header_len, endian| Framing::Length { header_len, endian };
    for (name, framing) in [
        ("framing-line-crlf", line(b"\r\n")),
        ("framing-line-crlf-nul", line(b"\r\n\0")),
        ("framing-line-nul-ff", line(b"\x00\xff")),
        ("framing-length-1-byte-le", length(1, Endian::Little)),
        ("framing-length-2-byte-be", length(2, Endian::Big)),
        ("framing-length-8-byte-le", length(8, Endian::Little)),
    ] {
        let mut s = base(name, 2);
        s.framing = framing;
        s.delivery.max_chunk = 5;
        snapshot(s);
    }
}

/// One client of `roles` (and one normal client) under limits small enough that requests
/// at the limits stay readable in a transcript: 160-byte lines, 200-byte frames (a 1-byte
/// length header can say one more), 400 bytes buffered, a 100 ms frame deadline.
fn at_small_limits(name: &str, framing: Framing, roles: Roles) -> Scenario {
    let mut s = one_role(name, roles);
    s.framing = framing;
    s.limits.max_line = 160;
    s.limits.max_frame = 200;
    s.limits.max_buffered = 400;
    s.limits.frame_deadline = Duration::from_millis(100);
    s
}

#[test]
fn bulk_loader_pipelines_for_longer_than_the_frame_deadline() {
    let roles = Roles {
        bulk_loader: 0.5,
        ..Roles::default()
    };
    snapshot(at_small_limits("bulk-loader", Framing::Resp, roles));
}

#[test]
fn at_limit_then_one_byte_over() {
    let roles = Roles {
        at_limit: 0.5,
        ..Roles::default()
    };
    for (name, framing) in [
        ("at-limit", Framing::Resp),
        (
            "at-limit-line-crlf",
            Framing::Line {
                delimiter: b"\r\n".to_vec(),
            },
        ),
        (
            "at-limit-length-1-byte-le",
            Framing::Length {
                header_len: 1,
                endian: Endian::Little,
            },
        ),
    ] {
        snapshot(at_small_limits(name, framing, roles));
    }
}

#[test]
fn unfinished_requests_are_cut() {
    let roles = Roles {
        unfinished_args: 0.5,
        ..Roles::default()
    };
    for (name, framing) in [
        ("unfinished-args", Framing::Resp),
        ("unfinished-args-line", Framing::line()),
        ("unfinished-args-length", Framing::length()),
    ] {
        snapshot(at_small_limits(name, framing, roles));
    }
}

#[test]
fn edge_values_are_answered_as_the_model_predicts() {
    for (name, framing) in [
        ("edge-values", Framing::Resp),
        (
            "edge-values-line",
            Framing::Line {
                delimiter: b"\r\n\0".to_vec(),
            },
        ),
    ] {
        let mut s = base(name, 2);
        s.framing = framing;
        s.requests = 16;
        s.edge_values = 0.7;
        snapshot(s);
    }
}

/// Large scenarios snapshot a summary: counts, virtual latency percentiles, the hash.
#[test]
fn large_scenario_summaries() {
    for (preset, clients) in [(Preset::Default, 10_000), (Preset::Hostile, 200)] {
        let mut s = Scenario::preset(preset, 1);
        s.clients = clients;
        let report = run(&s, RunOptions::default());
        if !report.passed() {
            common::fail(&s);
        }
        insta::with_settings!({
            snapshot_path => "../../snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(format!("summary-{preset}"), report.summary_stable());
        });
    }
}
