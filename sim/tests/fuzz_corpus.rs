//! Replays every checked-in input of the `simulation` fuzz target, seeds and past crashes
//! (`fuzz/seeds/simulation/`, `fuzz/regressions/simulation/`), through the target's body
//! on stable.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

#[test]
fn simulation() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for dir in ["seeds", "regressions"] {
        if let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join("simulation")) {
            for entry in entries {
                let path = entry.expect("readable directory").path();
                if path.is_file() {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    assert!(
        !files.is_empty(),
        "no inputs under fuzz/seeds/simulation or fuzz/regressions/simulation"
    );
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("readable input");
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| framesim::kv::fuzz::simulation(&data)))
        {
            let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            failed.push(format!(
                "{}: {msg}\n  replay: cargo run --release -p framesim -- replay-fuzz --input {}",
                path.display(),
                path.display()
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} simulation inputs fail:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
    println!("simulation: replayed {} inputs", files.len());
}
