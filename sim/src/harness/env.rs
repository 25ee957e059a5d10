//! The environment a printed command carries: the variables a user's program reads to pick
//! what it runs (a planted bug, a workload), which a replay must set again.

/// `NAME=value ` for every variable set whose name starts with one of `owners` (a
/// package's or a program's name: `my-server` owns `MY_SERVER_*`), is named in
/// `FRAMESIM_ENV` (comma-separated), or is `RUSTFLAGS` (a replay built without
/// `--cfg tokio_unstable` polls a `select!` in another order), in name order; empty when
/// there is none. framesim's own `FRAMESIM_*` never: a command sets those itself.
pub(super) fn carried(owners: &[&str]) -> String {
    let listed = std::env::var("FRAMESIM_ENV").unwrap_or_default();
    let vars = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    carried_from(vars, owners, &listed)
}

/// [`carried`] of the variables `vars`, with `listed` as `FRAMESIM_ENV`.
fn carried_from(
    vars: impl Iterator<Item = (String, String)>,
    owners: &[&str],
    listed: &str,
) -> String {
    let prefixes: Vec<String> = owners
        .iter()
        .filter(|o| !o.is_empty())
        .map(|o| format!("{}_", o.to_uppercase().replace('-', "_")))
        .collect();
    let named: Vec<&str> = listed.split(',').map(str::trim).collect();
    let mut kept: Vec<(String, String)> = vars
        .filter(|(k, _)| !k.starts_with("FRAMESIM_"))
        .filter(|(k, _)| {
            k == BUILT_WITH
                || named.contains(&k.as_str())
                || prefixes.iter().any(|p| k.starts_with(p))
        })
        .collect();
    kept.sort();
    kept.iter()
        .map(|(k, v)| format!("{k}={} ", quoted(v)))
        .collect()
}

/// The variable that changes how the replay's program is built.
const BUILT_WITH: &str = "RUSTFLAGS";

/// `value` as a shell word.
fn quoted(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn a_command_carries_the_variables_its_package_or_program_owns_and_those_listed() {
        let set = vars(&[
            ("STOMP_BUG", "no-linger"),
            ("HOME", "/root"),
            ("MY_SERVER_MODE", "two words"),
            ("FRAMESIM_SEED", "3"),
            ("SHARED", "1"),
            ("RPC_BUG", "it's"),
        ]);
        assert_eq!(
            carried_from(set, &["stomp", "my-server", "framesim"], "SHARED"),
            "MY_SERVER_MODE='two words' SHARED=1 STOMP_BUG=no-linger "
        );
        assert_eq!(
            carried_from(vars(&[("RPC_BUG", "it's")]), &["rpc"], ""),
            r"RPC_BUG='it'\''s' "
        );
        assert_eq!(carried_from(vars(&[("HOME", "/")]), &["sim"], ""), "");
        assert_eq!(
            carried_from(vars(&[("RUSTFLAGS", "--cfg tokio_unstable")]), &[], ""),
            "RUSTFLAGS='--cfg tokio_unstable' "
        );
    }
}
