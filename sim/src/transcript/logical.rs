//! The logical view: what each client asked and was told, with no chunking and no timing.

use super::render::{render_command, render_reply};
use super::{Actor, Event, Expected, Record};
use framesim_server::{Command, Reply};

/// The logical view of a run: per client, each request and its reply, in order, with no
/// chunking and no timing. Replies to shared keys (only their type is promised) show as
/// `:<integer>`. Equal under every delivery of the same workload.
pub fn logical_view(records: &[Record]) -> Vec<String> {
    use std::collections::{BTreeMap, VecDeque};
    let mut pending: BTreeMap<usize, VecDeque<(Command, Expected)>> = BTreeMap::new();
    let mut lines: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for record in records {
        let Actor::Client(id) = record.actor else {
            continue;
        };
        match &record.event {
            Event::Request { cmd, expect } => pending
                .entry(id)
                .or_default()
                .push_back((cmd.clone(), expect.clone())),
            Event::Reply { reply } => {
                let mut line = format!("c{id} ");
                match pending.entry(id).or_default().pop_front() {
                    Some((cmd, expect)) => {
                        render_command(&cmd, &mut line);
                        line.push_str(" => ");
                        match (expect, reply) {
                            (Expected::Integer, Reply::Integer(_)) => line.push_str(":<integer>"),
                            _ => render_reply(reply, &mut line),
                        }
                    }
                    None => {
                        line.push_str("(bad request) => ");
                        render_reply(reply, &mut line);
                    }
                }
                lines.entry(id).or_default().push(line);
            }
            _ => {}
        }
    }
    for (id, left) in pending {
        for (cmd, _) in left {
            let mut line = format!("c{id} ");
            render_command(&cmd, &mut line);
            line.push_str(" => (no reply)");
            lines.entry(id).or_default().push(line);
        }
    }
    lines.into_values().flatten().collect()
}
