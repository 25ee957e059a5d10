//! The picture of a violation: a failing `[linearizable]` run's history as JSON lines and
//! as an HTML timeline, written beside its transcript, by hand and by a sweep.

use super::{caught_only_by_linearizable, lost_update, options};
use framesim::harness::linear::{History, KvOp, KvResult};
use framesim::harness::{ContentionWorkload, Harness, Replay};
use std::path::PathBuf;

fn lost_updates() -> Harness {
    Harness::new(
        |listener, shutdown| async move {
            let local = tokio::task::LocalSet::new();
            local.run_until(lost_update(listener, shutdown)).await;
        },
        ContentionWorkload::new().requests(12),
    )
    .with(options())
}

/// A folder of this test's own under the system's temporary one.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("framesim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_failing_history_is_written_as_json_lines_and_a_timeline_marking_its_operations() {
    let harness = lost_updates();
    let seed = caught_only_by_linearizable(&harness, "lost update")[0];
    let outcome = harness.replay(seed);
    let history = outcome.history.as_ref().expect("recorded");
    let stuck = history.checked.stuck().to_vec();
    assert!(!stuck.is_empty(), "{:?}", history.checked);
    assert!(history
        .checked
        .group
        .iter()
        .all(|i| i < &history.checked.ops));

    let dir = scratch("picture");
    let (lines, timeline) = history.write_beside(&dir.join("run-3.txt")).unwrap();
    assert_eq!(lines, dir.join("run-3-history.jsonl"));
    assert_eq!(timeline, dir.join("run-3-timeline.html"));

    // The JSON lines read back; the operations the check names are among them, by line.
    let text = std::fs::read_to_string(&lines).unwrap();
    let read = History::<KvOp, KvResult>::from_json_lines(&text).unwrap();
    assert_eq!(read.len(), history.checked.ops);
    let page = std::fs::read_to_string(&timeline).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"));
    assert!(page.contains("not linearizable"), "{page}");
    for &i in &stuck {
        assert!(
            page.contains(&format!(r#"<g class="op group stuck" data-index="{i}">"#)),
            "operation {i} is not marked: {page}"
        );
        let (KvOp::Incr { key } | KvOp::Get { key } | KvOp::Set { key, .. }) = &read.ops[i].op
        else {
            continue;
        };
        assert!(page.contains(key.as_str()));
    }
    // One lane per client, and the same bytes from the same seed.
    let clients: std::collections::BTreeSet<usize> = read.ops.iter().map(|o| o.client).collect();
    for c in &clients {
        assert!(page.contains(&format!(">client {c}</text>")));
    }
    let again = harness.replay(seed);
    assert_eq!(again.history.unwrap().timeline("run-3"), page);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_sweep_that_fails_linearizable_writes_the_picture_and_names_it() {
    let harness = lost_updates();
    let dir = scratch("sweep-picture");
    let replay = Replay {
        command: "cargo test -p framesim --test linearizable".into(),
        test: Some("picture".into()),
        dir: dir.clone(),
        options: None,
        name: "framesim-linearizable".into(),
        env: String::new(),
    };
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        framesim::harness::sweep(&harness, 0..12, &replay)
    }))
    .expect_err("the lost update fails the sweep");
    let message = failed
        .downcast_ref::<String>()
        .expect("a one-line message")
        .clone();
    assert!(message.contains("[linearizable]"), "{message}");
    let (_, timeline) = message
        .split_once(" | timeline: ")
        .unwrap_or_else(|| panic!("no timeline named: {message}"));
    let timeline = PathBuf::from(timeline.trim());
    let timeline = if timeline.is_absolute() {
        timeline
    } else {
        std::env::current_dir().unwrap().join(timeline)
    };
    let page = std::fs::read_to_string(&timeline).unwrap();
    assert!(page.contains(r#"class="op group stuck""#), "{page}");
    let lines = timeline.with_file_name(
        timeline
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("-timeline.html", "-history.jsonl"),
    );
    let text = std::fs::read_to_string(&lines).unwrap();
    assert!(History::<KvOp, KvResult>::from_json_lines(&text).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
