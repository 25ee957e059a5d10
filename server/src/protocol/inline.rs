//! Redis's inline-command rules, shared by RESP's inline requests and the line protocol:
//! splitting a line into arguments ([`split_args`]) and reading an integer ([`parse_int`]).

use bytes::Bytes;

/// Redis's words for a quote that is not closed, or closed and followed by more text.
pub(crate) const UNBALANCED: &str = "Protocol error: unbalanced quotes in request";

/// Splits an inline request line into arguments by Redis's rules (`sdssplitargs`).
///
/// Arguments are separated by whitespace. `"double quotes"` understand `\n \r \t \b \a \\
/// \"` and `\xHH`; `'single quotes'` understand only `\'`. A closing quote must be followed
/// by whitespace or the end of the line. As in Redis, a NUL byte ends the line. A blank
/// line gives no arguments.
///
/// ```
/// use framesim_server::protocol::inline::split_args;
///
/// let args = split_args(br#"SET "a\x41\n" 'it\'s' x"#).unwrap();
/// assert_eq!(args, [&b"SET"[..], b"aA\n", b"it's", b"x"]);
/// assert_eq!(split_args(b"  ").unwrap(), Vec::<bytes::Bytes>::new());
/// assert_eq!(split_args(b"GET \"k\"x"), Err("Protocol error: unbalanced quotes in request"));
/// ```
pub fn split_args(line: &[u8]) -> Result<Vec<Bytes>, &'static str> {
    split_plain(line).map_or_else(|| split_quoted(line), Ok)
}

/// Spaces skipped between arguments (C's `isspace`).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Bytes that end an unquoted argument: fewer than [`is_space`] (a vertical tab or form feed
/// inside an argument stays in it, as in Redis).
fn ends_word(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// [`split_args`] for a line without quotes or NUL bytes, which is every argument copied
/// straight from the line; `None` if the line has a quote or NUL, which need the full rules.
fn split_plain(line: &[u8]) -> Option<Vec<Bytes>> {
    // Counted first, so the arguments are collected into one allocation of the right size.
    let (mut words, mut in_word) = (0, false);
    for &c in line {
        if matches!(c, b'"' | b'\'' | 0) {
            return None;
        }
        if in_word {
            in_word = !ends_word(c);
        } else if !is_space(c) {
            (words, in_word) = (words + 1, true);
        }
    }
    let mut p = 0;
    let args = (0..words)
        .map(|_| {
            while is_space(line[p]) {
                p += 1;
            }
            let start = p;
            while p < line.len() && !ends_word(line[p]) {
                p += 1;
            }
            Bytes::copy_from_slice(&line[start..p])
        })
        .collect();
    Some(args)
}

/// [`split_args`] by the full rules: quotes, escapes, NUL.
fn split_quoted(line: &[u8]) -> Result<Vec<Bytes>, &'static str> {
    // A faithful port of the C loop, with the end of the slice read as its NUL.
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut args = Vec::with_capacity(4);
    // One scratch buffer for every argument; each is copied out at its exact size.
    let mut cur = Vec::new();
    let mut p = 0;
    loop {
        while at(p) != 0 && is_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Ok(args);
        }
        let (mut inq, mut insq, mut done) = (false, false, false);
        cur.clear();
        while !done {
            let c = at(p);
            if inq {
                match (c, at(p + 1), hex(at(p + 2)), hex(at(p + 3))) {
                    (b'\\', b'x', Some(hi), Some(lo)) => {
                        cur.push(hi * 16 + lo);
                        p += 3;
                    }
                    (b'\\', next, ..) if next != 0 => {
                        p += 1;
                        cur.push(match next {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    (b'"', next, ..) if next != 0 && !is_space(next) => return Err(UNBALANCED),
                    (b'"', ..) => done = true,
                    (0, ..) => return Err(UNBALANCED),
                    _ => cur.push(c),
                }
            } else if insq {
                match (c, at(p + 1)) {
                    (b'\\', b'\'') => {
                        p += 1;
                        cur.push(b'\'');
                    }
                    (b'\'', next) if next != 0 && !is_space(next) => return Err(UNBALANCED),
                    (b'\'', _) => done = true,
                    (0, _) => return Err(UNBALANCED),
                    _ => cur.push(c),
                }
            } else {
                match c {
                    0 => done = true,
                    c if ends_word(c) => done = true,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => cur.push(c),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        args.push(Bytes::copy_from_slice(&cur));
    }
}

/// Redis's `string2ll`: an optional `-`, then digits without leading zeros, fitting i64.
pub fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits {
        [b'0'] if !neg => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        (v <= 1 << 63).then(|| 0i64.wrapping_sub_unsigned(v))
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_is_string2ll() {
        for (s, v) in [
            ("0", Some(0)),
            ("-1", Some(-1)),
            ("42", Some(42)),
            ("", None),
        ] {
            assert_eq!(parse_int(s.as_bytes()), v, "{s}");
        }
        for s in [
            "-0",
            "01",
            "+1",
            " 1",
            "1 ",
            "-",
            "9223372036854775808",
            "1a",
        ] {
            assert_eq!(parse_int(s.as_bytes()), None, "{s}");
        }
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
    }

    #[test]
    fn plain_lines_split_as_by_the_full_rules() {
        // Every line of up to 5 bytes over one byte of each kind.
        let alphabet = b" \t\r\n\x0b\x0ca\"'\\\0";
        let mut lines = vec![Vec::new()];
        for _ in 0..5 {
            let longer: Vec<Vec<u8>> = lines
                .iter()
                .filter(|l| l.len() == lines.last().unwrap().len())
                .flat_map(|l| alphabet.iter().map(move |&c| [&l[..], &[c]].concat()))
                .collect();
            lines.extend(longer);
        }
        for line in &lines {
            let plain = !line.iter().any(|c| b"\"'\0".contains(c));
            match split_plain(line) {
                Some(args) => assert_eq!(Ok(args), split_quoted(line), "{}", line.escape_ascii()),
                None => assert!(!plain, "{}", line.escape_ascii()),
            }
        }
    }

    #[test]
    fn split_args_follows_redis() {
        let ok = |s: &[u8]| split_args(s).unwrap();
        assert_eq!(ok(b" a\tb  c "), [&b"a"[..], b"b", b"c"]);
        assert_eq!(ok(br#""\x4g\y""#), [&b"x4gy"[..]]);
        assert_eq!(ok(br#""\xfF\\\"""#), [&b"\xff\\\""[..]]);
        assert_eq!(ok(br#"'a\"\'b' """#), [&br#"a\"'b"#[..], b""]);
        assert_eq!(ok(b"ab\"c d\" e"), [&b"abc d"[..], b"e"]);
        assert_eq!(ok(b"a\0b c"), [&b"a"[..]]);
        for bad in [&b"\"abc"[..], b"'abc", b"\"a\"b", b"'a'b", b"\"a\\"] {
            assert_eq!(split_args(bad), Err(UNBALANCED), "{}", bad.escape_ascii());
        }
    }
}
