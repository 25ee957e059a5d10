//! Replays every checked-in fuzz seed and every past crash through the fuzz targets' checks
//! (`framesim_checks`), on stable: `fuzz/seeds/<target>/` and
//! `fuzz/regressions/<target>/`. A structured input is decoded from its bytes exactly as
//! `libfuzzer_sys::fuzz_target!` decodes it (`arbitrary_take_rest`).

use arbitrary::{Arbitrary, Unstructured};
use framesim_checks as checks;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The files of `fuzz/seeds/<target>` and `fuzz/regressions/<target>`, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable directory").path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Runs `check` on every input of `target`; fails listing every input that panicked, or if
/// there was no input at all (a vanished corpus must not pass quietly).
fn replay(target: &str, check: impl Fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no fuzz inputs for '{target}' under fuzz/seeds or fuzz/regressions"
    );
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("readable input");
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{}: {msg}", path.display()));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} '{target}' inputs fail:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
    println!("{target}: replayed {} inputs", files.len());
}

/// Decodes a structured input the way `fuzz_target!` does; inputs it would skip are skipped.
fn structured<'a, T: Arbitrary<'a>>(data: &'a [u8], check: impl Fn(T)) {
    if let Ok(input) = T::arbitrary_take_rest(Unstructured::new(data)) {
        check(input);
    }
}

#[test]
fn delimited() {
    replay("delimited", checks::delimited);
}

#[test]
fn length_prefixed() {
    replay("length_prefixed", checks::length_prefixed);
}

#[test]
fn resp() {
    replay("resp", checks::resp);
}

#[test]
fn split_invariance() {
    replay("split_invariance", |d| {
        structured(d, checks::split_invariance)
    });
}

#[test]
fn roundtrip() {
    replay("roundtrip", |d| structured(d, checks::roundtrip));
}

#[test]
fn connection() {
    replay("connection", |d| structured(d, checks::connection));
}
