//! A history drawn: a self-contained HTML page with one inline SVG, one lane per client,
//! each operation a bar from its call to its return, the group of keys that could not be
//! linearized marked. The same history gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Most operations drawn: past it, only the failing group's (else the first ones).
const MOST: usize = 600;

/// One operation to draw.
pub(crate) struct Bar {
    /// Its index in the history.
    pub(crate) index: usize,
    pub(crate) client: usize,
    pub(crate) call: u64,
    pub(crate) ret: Option<u64>,
    pub(crate) op: String,
    /// `None`: indeterminate.
    pub(crate) result: Option<String>,
    /// Of the group that cannot be linearized.
    pub(crate) group: bool,
    /// One of the operations none of which could come next.
    pub(crate) stuck: bool,
}

const LANE: u32 = 22;
const STEP: u64 = 28;
const LEFT: u64 = 90;

/// The page for `bars`, titled `title`, with the check's `verdict` written above it.
pub(crate) fn timeline(bars: &[Bar], title: &str, verdict: &str) -> String {
    let any_group = bars.iter().any(|b| b.group);
    let shown: Vec<&Bar> = if bars.len() <= MOST {
        bars.iter().collect()
    } else if any_group {
        bars.iter().filter(|b| b.group).take(MOST).collect()
    } else {
        bars.iter().take(MOST).collect()
    };
    // Time by rank: every call and return one step apart, so that the order of events,
    // all that linearizability reads, shows whatever the gaps.
    let mut times: BTreeSet<u64> = BTreeSet::new();
    for b in &shown {
        times.insert(b.call);
        if let Some(r) = b.ret {
            times.insert(r);
        }
    }
    let rank: BTreeMap<u64, u64> = times
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, i as u64))
        .collect();
    let end = times.len() as u64 + 2;
    let x = |t: u64| LEFT + rank.get(&t).copied().unwrap_or(end) * STEP;

    // Each client's lane, split in rows where its operations overlap (pipelined).
    let mut rows: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    let mut placed: Vec<(usize, usize)> = Vec::new();
    for b in &shown {
        let ends = rows.entry(b.client).or_default();
        let from = x(b.call);
        let to = b.ret.map_or(x(u64::MAX), x);
        let row = match ends.iter().position(|&e| e <= from) {
            Some(r) => {
                ends[r] = to;
                r
            }
            None => {
                ends.push(to);
                ends.len() - 1
            }
        };
        placed.push((b.client, row));
    }
    let mut top: BTreeMap<usize, u32> = BTreeMap::new();
    let mut y = 40u32;
    for (client, r) in &rows {
        top.insert(*client, y);
        y += LANE * r.len() as u32 + 8;
    }
    let width = LEFT + (end + 4) * STEP + 200;
    let height = y + 20;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="10">"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="4" y="16">time by order of events: each step is one call or return</text>"#
    );
    for (client, y) in &top {
        let _ = writeln!(
            svg,
            r##"<text x="4" y="{}">client {client}</text><line x1="{LEFT}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/>"##,
            y + 14,
            width - 10,
            y - 3,
            y - 3
        );
    }
    for (b, (client, row)) in shown.iter().zip(&placed) {
        let y0 = top[client] + LANE * *row as u32;
        let (from, to) = (x(b.call), b.ret.map_or(x(u64::MAX), x));
        let w = (to - from).max(4);
        let (fill, stroke) = match (b.stuck, b.group) {
            (true, _) => ("#f4a3a3", "#b00000"),
            (false, true) => ("#fbd9a5", "#c06000"),
            _ => ("#dde6f3", "#7a8ca8"),
        };
        let dash = if b.ret.is_none() {
            r#" stroke-dasharray="4 2""#
        } else {
            ""
        };
        let result = b.result.as_deref().unwrap_or("?");
        let text = format!("{} → {}", b.op, result);
        let tip = format!(
            "#{} client {}: {} → {} (call {}, return {})",
            b.index,
            b.client,
            b.op,
            b.result.as_deref().unwrap_or("indeterminate"),
            b.call,
            b.ret.map_or("never".to_string(), |r| r.to_string())
        );
        let _ = writeln!(
            svg,
            r#"<g class="op{}{}" data-index="{}"><title>{}</title><rect x="{from}" y="{}" width="{w}" height="{}" rx="3" fill="{fill}" stroke="{stroke}"{dash}/><svg x="{from}" y="{}" width="{w}" height="{}"><text x="3" y="11">{}</text></svg></g>"#,
            if b.group { " group" } else { "" },
            if b.stuck { " stuck" } else { "" },
            b.index,
            escape(&tip),
            y0,
            LANE - 6,
            y0,
            LANE - 6,
            escape(&text)
        );
    }
    svg.push_str("</svg>\n");

    let mut page = String::new();
    let _ = writeln!(
        page,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"font-family: sans-serif\">",
        escape(title)
    );
    let _ = writeln!(
        page,
        "<h1>{}</h1>\n<p>{}</p>",
        escape(title),
        escape(verdict)
    );
    let _ = writeln!(
        page,
        "<p>{} operation(s) drawn of {}; red: none of these could come next where the search got furthest; orange: the rest of the key group that cannot be linearized; dashed: indeterminate (never answered). A label too long for its bar is cut: hover a bar for all of it and its times.</p>",
        shown.len(),
        bars.len()
    );
    page.push_str(&svg);
    page.push_str("</body></html>\n");
    page
}

/// `text` safe inside XML text and attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(index: usize, client: usize, call: u64, ret: Option<u64>, op: &str) -> Bar {
        Bar {
            index,
            client,
            call,
            ret,
            op: op.into(),
            result: ret.map(|_| "ok".into()),
            group: index == 1,
            stuck: index == 1,
        }
    }

    #[test]
    fn bars_are_escaped_marked_and_stacked_where_a_client_overlaps_itself() {
        let bars = [
            bar(0, 0, 10, Some(20), "set <a>"),
            bar(1, 0, 15, Some(30), "get a"),
            bar(2, 1, 20, None, "incr n"),
        ];
        let page = timeline(&bars, "t & u", "not linearizable");
        assert!(page.contains("<title>t &amp; u</title>"), "{page}");
        assert!(page.contains("set &lt;a&gt; → ok"), "{page}");
        assert!(page.contains(r#"<g class="op group stuck" data-index="1">"#));
        assert!(page.contains(r#"stroke-dasharray="4 2""#), "{page}");
        assert!(page.contains("incr n → ?"), "{page}");
        // Client 0's two overlapping operations take two rows: its lane is two high.
        let y = |i: usize| {
            let at = page.find(&format!(r#"data-index="{i}""#)).unwrap();
            let rect = &page[at..];
            let from = rect.find(" y=\"").unwrap() + 4;
            rect[from..from + rect[from..].find('"').unwrap()]
                .parse::<u32>()
                .unwrap()
        };
        assert_eq!(y(1), y(0) + LANE);
        assert!(y(2) > y(1));
        assert_eq!(timeline(&bars, "t & u", "not linearizable"), page);
    }
}
