//! The commands tools send to probe a server: `INFO`, `CONFIG GET`, `COMMAND` and `CLIENT`.

use std::sync::Mutex;

use bytes::Bytes;

use super::db::{lock, Db, Now};
use super::errors::{arity, subcommand, unknown_subcommand, Outcome};
use crate::Reply;

/// `INFO [section ...]`: the server and keyspace sections, enough for tools that probe.
pub(super) fn info(store: &Mutex<Db>, args: &[Bytes]) -> Outcome {
    let wants = |section: &str| {
        args.is_empty()
            || args.iter().any(|a| {
                ["all", "everything", "default", section]
                    .iter()
                    .any(|s| a.eq_ignore_ascii_case(s.as_bytes()))
            })
    };
    let mut sections = Vec::new();
    if wants("server") {
        sections.push(
            "# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\nframesim:1\r\n"
                .to_string(),
        );
    }
    if wants("keyspace") {
        let mut db = lock(store);
        db.purge_expired(&Now::default());
        let keys = db.entries.len();
        let mut section = "# Keyspace\r\n".to_string();
        if keys > 0 {
            let expires = db
                .entries
                .values()
                .filter(|e| e.expires_at.is_some())
                .count();
            section += &format!("db0:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
        sections.push(section);
    }
    Ok(Reply::bulk(sections.join("\r\n")))
}

/// `CONFIG GET param ...`: the settings `redis-benchmark` reads, as name/value pairs. Like
/// Redis, a name comes back spelled as asked; unlike Redis (hash order), in the order asked.
/// No glob patterns.
pub(super) fn config(args: &[Bytes]) -> Outcome {
    const SETTINGS: [(&str, &str); 2] = [("save", ""), ("appendonly", "no")];
    match subcommand(args, "config")?.as_str() {
        "GET" => {
            arity(args, "config|get", 2..)?;
            let mut found = Vec::new();
            for param in &args[1..] {
                let setting = SETTINGS
                    .iter()
                    .position(|(name, _)| param.eq_ignore_ascii_case(name.as_bytes()));
                if let Some(i) = setting.filter(|i| !found.iter().any(|(j, _)| j == i)) {
                    found.push((i, param));
                }
            }
            let pairs = found
                .into_iter()
                .flat_map(|(i, param)| [Reply::Bulk(param.clone()), Reply::bulk(SETTINGS[i].1)]);
            Ok(Reply::Array(pairs.collect()))
        }
        _ => Err(unknown_subcommand(&args[0], "CONFIG")),
    }
}

/// `COMMAND [COUNT | DOCS | INFO]`: an empty command table, which clients take as "no hints".
pub(super) fn command(args: &[Bytes]) -> Outcome {
    if args.is_empty() {
        return Ok(Reply::Array(Vec::new()));
    }
    match subcommand(args, "command")?.as_str() {
        "COUNT" => {
            arity(args, "command|count", 1..=1)?;
            Ok(Reply::Integer(0))
        }
        "DOCS" => Ok(Reply::Array(Vec::new())),
        // One entry per name asked, null for a command it does not know: all of them.
        "INFO" => Ok(Reply::Array(vec![Reply::Null; args.len() - 1])),
        _ => Err(unknown_subcommand(&args[0], "COMMAND")),
    }
}

/// `CLIENT SETNAME | SETINFO | GETNAME`: accepted and forgotten. The store is shared by every
/// connection, so there is nowhere to keep a per-connection name.
pub(super) fn client(args: &[Bytes]) -> Outcome {
    match subcommand(args, "client")?.as_str() {
        "SETNAME" => {
            arity(args, "client|setname", 2..=2)?;
            if !args[1].iter().all(|b| (b'!'..=b'~').contains(b)) {
                return Err(Reply::error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            Ok(Reply::ok())
        }
        "SETINFO" => {
            arity(args, "client|setinfo", 3..=3)?;
            Ok(Reply::ok())
        }
        "GETNAME" => {
            arity(args, "client|getname", 1..=1)?;
            Ok(Reply::Null)
        }
        _ => Err(unknown_subcommand(&args[0], "CLIENT")),
    }
}

#[cfg(test)]
mod tests {
    use crate::kv::testing::{array, bulk, err, int, run};
    use crate::{Kv, Reply};

    #[test]
    fn config_get_answers_what_benchmark_asks() {
        let kv = Kv::new();
        assert_eq!(
            run(&kv, &["CONFIG", "GET", "save"]),
            array(&[bulk("save"), bulk("")])
        );
        assert_eq!(
            run(&kv, &["config", "get", "APPENDONLY"]),
            array(&[bulk("APPENDONLY"), bulk("no")])
        );
        assert_eq!(
            run(
                &kv,
                &["CONFIG", "GET", "appendonly", "maxmemory", "save", "SAVE"]
            ),
            array(&[bulk("appendonly"), bulk("no"), bulk("save"), bulk("")])
        );
        assert_eq!(run(&kv, &["CONFIG", "GET", "maxmemory"]), array(&[]));
        assert_eq!(
            run(&kv, &["CONFIG", "foo"]),
            err("ERR unknown subcommand 'foo'. Try CONFIG HELP.")
        );
    }

    #[test]
    fn command_table_is_empty() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["COMMAND"]), array(&[]));
        assert_eq!(run(&kv, &["COMMAND", "DOCS"]), array(&[]));
        assert_eq!(run(&kv, &["command", "docs", "get"]), array(&[]));
        assert_eq!(run(&kv, &["COMMAND", "COUNT"]), int(0));
        assert_eq!(
            run(&kv, &["COMMAND", "INFO", "get", "set"]),
            array(&[Reply::Null, Reply::Null])
        );
        assert_eq!(
            run(&kv, &["COMMAND", "foo"]),
            err("ERR unknown subcommand 'foo'. Try COMMAND HELP.")
        );
    }

    #[test]
    fn client_names_are_accepted_and_forgotten() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["CLIENT", "SETNAME", "bench"]), Reply::ok());
        assert_eq!(run(&kv, &["CLIENT", "SETNAME", ""]), Reply::ok());
        assert_eq!(
            run(&kv, &["CLIENT", "setname", "a b"]),
            err("ERR Client names cannot contain spaces, newlines or special characters.")
        );
        assert_eq!(
            run(&kv, &["CLIENT", "SETINFO", "lib-name", "redis-rs"]),
            Reply::ok()
        );
        assert_eq!(run(&kv, &["CLIENT", "GETNAME"]), Reply::Null);
        assert_eq!(
            run(&kv, &["client", "Foo"]),
            err("ERR unknown subcommand 'Foo'. Try CLIENT HELP.")
        );
    }

    #[test]
    fn info_sections() {
        let kv = Kv::new();
        let server = "# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\nframesim:1\r\n";
        assert_eq!(
            run(&kv, &["INFO"]),
            bulk(&format!("{server}\r\n# Keyspace\r\n"))
        );
        run(&kv, &["SET", "a", "1", "EX", "10"]);
        run(&kv, &["SET", "b", "1"]);
        assert_eq!(
            run(&kv, &["INFO", "keyspace"]),
            bulk("# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n")
        );
        assert_eq!(run(&kv, &["info", "SERVER"]), bulk(server));
        assert_eq!(run(&kv, &["INFO", "nope"]), bulk(""));
    }
}
