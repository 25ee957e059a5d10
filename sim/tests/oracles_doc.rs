//! `docs/oracles.md` is the `Oracle` enum: every oracle's name, whether it judges any server
//! or only framesim's own, and its promise as the enum's doc comment says it. Rewrite the
//! page with `FRAMESIM_BLESS=1 cargo test -p framesim --test oracles_doc`.

use framesim::Oracle;
use std::path::Path;

/// The doc comment of each variant of `enum Oracle` in its source, by variant name.
fn promises() -> Vec<(String, String)> {
    let source = include_str!("../src/oracle/mod.rs");
    let body = source
        .split("pub enum Oracle {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("enum Oracle in src/oracle/mod.rs");
    let (mut out, mut doc) = (Vec::new(), Vec::new());
    for line in body.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.trim().to_string());
        } else if let Some(variant) = line.strip_suffix(',') {
            out.push((variant.to_string(), doc.join(" ")));
            doc.clear();
        }
    }
    out
}

fn page() -> String {
    let promises = promises();
    let mut page = String::from(
        "# Oracles\n\n\
         Every promise a run judges, as `framesim::Oracle` lists them (this page is generated \
         from its doc comments; `sim/tests/oracles_doc.rs` keeps it equal). A violation is \
         tagged with the name, `[reply]`, in failures and transcripts. \"Any server\": judged \
         for every server under `framesim::harness`; \"framesim's server\": only for framesim's \
         own key-value server, whose protocol, limits and counters the simulation knows.\n\n\
         | oracle | judges | promise |\n|---|---|---|\n",
    );
    for oracle in Oracle::ALL {
        let name = format!("{oracle:?}");
        let promise = promises
            .iter()
            .find(|(variant, _)| *variant == name)
            .map(|(_, doc)| doc.as_str())
            .unwrap_or_else(|| panic!("Oracle::{name} has no doc comment"));
        let judges = if oracle.any_server() {
            "any server"
        } else {
            "framesim's server"
        };
        page.push_str(&format!(
            "| `{}` | {judges} | {} |\n",
            oracle.name(),
            promise.replace('|', "\\|")
        ));
    }
    page
}

#[test]
fn the_oracles_page_is_the_oracle_enum() {
    assert_eq!(
        promises().len(),
        Oracle::ALL.len(),
        "Oracle::ALL misses a variant"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/oracles.md");
    let page = page();
    if std::env::var_os("FRAMESIM_BLESS").is_some() && std::env::var_os("CI").is_none() {
        std::fs::write(&path, &page).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == page,
        "{} is not the Oracle enum: rewrite it with FRAMESIM_BLESS=1 cargo test -p framesim --test oracles_doc",
        path.display()
    );
}
