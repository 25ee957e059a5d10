//! A record as one line of text: `<ms>.<us> <actor> <event> <details>`.

use super::{Actor, Event, Expected, Record};
use framesim_server::{Command, Reply};
use std::fmt::Write as _;

/// Renders `bytes` with non-printables visible: `\r`, `\n`, `\t`, `\\`, `\xHH`.
pub fn escape(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'|' => out.push_str("\\|"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
}

/// A command as one readable string: `SET k "v"` with each argument escaped.
pub fn render_command(cmd: &Command, out: &mut String) {
    for (i, arg) in cmd.args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        escape(arg, out);
    }
}

/// A reply in RESP2 notation on one line: `+OK`, `$"v"`, `*2[$"a" _]`.
pub fn render_reply(reply: &Reply, out: &mut String) {
    match reply {
        Reply::Simple(s) => {
            out.push('+');
            escape(s.as_bytes(), out);
        }
        Reply::Error(s) => {
            out.push('-');
            escape(s.as_bytes(), out);
        }
        Reply::Integer(n) => {
            let _ = write!(out, ":{n}");
        }
        Reply::Bulk(b) => {
            out.push_str("$\"");
            escape(b, out);
            out.push('"');
        }
        Reply::Null => out.push('_'),
        Reply::Array(items) => {
            let _ = write!(out, "*{}[", items.len());
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                render_reply(item, out);
            }
            out.push(']');
        }
    }
}

fn render_actor(actor: Actor, out: &mut String) {
    match actor {
        Actor::Sim => out.push_str("sim"),
        Actor::Server => out.push_str("server"),
        Actor::Client(n) => {
            let _ = write!(out, "c{n}");
        }
    }
}

/// One record as one line: `<ms>.<us> <actor> <event> <details>`.
pub fn render(record: &Record, out: &mut String) {
    let at = record.at;
    let _ = write!(
        out,
        "{:>6}.{:03}ms ",
        at.as_millis(),
        at.subsec_micros() % 1000
    );
    render_actor(record.actor, out);
    out.push(' ');
    match &record.event {
        Event::Connect { local } => {
            let _ = write!(out, "connect {local}");
        }
        Event::ConnectFailed { error } => {
            let _ = write!(out, "connect-failed {error}");
        }
        Event::Write { bytes } => {
            let _ = write!(out, "write {} |", bytes.len());
            escape(bytes, out);
            out.push('|');
        }
        Event::Request { cmd, expect } => {
            out.push_str("request ");
            render_command(cmd, out);
            out.push_str(" => ");
            match expect {
                Expected::Exact(r) => render_reply(r, out),
                Expected::ErrorPrefix(p) => {
                    out.push('-');
                    escape(p.as_bytes(), out);
                    out.push_str("...");
                }
                Expected::Integer => out.push('?'),
            }
        }
        Event::Reply { reply } => {
            out.push_str("reply ");
            render_reply(reply, out);
        }
        Event::HalfClose => out.push_str("half-close"),
        Event::Disconnect { mid_frame } => {
            let _ = write!(out, "disconnect mid_frame={mid_frame}");
        }
        Event::Closed { why } => {
            let _ = write!(out, "closed {why}");
        }
        Event::PartialRead { peer, len } => {
            let _ = write!(out, "partial-read {peer} {len}");
        }
        Event::ShortWrite { peer, len, of } => {
            let _ = write!(out, "short-write {peer} {len}/{of}");
        }
        Event::SpuriousPending { peer } => {
            let _ = write!(out, "pending {peer}");
        }
        Event::Frame { cmd } => {
            out.push_str("frame ");
            render_command(cmd, out);
        }
        Event::Fault { what } => {
            let _ = write!(out, "fault {what}");
        }
        Event::Note { text } => {
            let _ = write!(out, "note {text}");
        }
        Event::Asked { bytes } => {
            let _ = write!(out, "note request {}", bytes.escape_ascii());
        }
        Event::Answered { bytes } => {
            let _ = write!(out, "note reply {}", bytes.escape_ascii());
        }
        Event::CoalescedRead { peer, len, held } => {
            let _ = write!(out, "coalesced-read {peer} {len}/{held}");
        }
        Event::WindowFull { peer, unread } => {
            let _ = write!(out, "window-full {peer} {unread}");
        }
        Event::AcceptFailed { error } => {
            let _ = write!(out, "accept-failed {error}");
        }
    }
}
