//! Settings written as text by people: durations (`500ms`, `5s`, `250us`) and byte strings
//! with escapes (`\r\n`, `\x00`). The command line's `--delimiter` and, with the `serde`
//! feature, configuration files (the simulation's scenario files) read them the same way.
//!
//! ```
//! use framesim_server::text::{escape, format_duration, parse_duration, unescape};
//! use std::time::Duration;
//!
//! assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
//! assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
//! assert_eq!(escape(b"\r\n"), r"\r\n");
//! assert_eq!(unescape(r"\r\n\x00").unwrap(), b"\r\n\0");
//! ```

use std::time::Duration;

/// Units [`parse_duration`] understands, with their length in nanoseconds, longest name
/// first so that `ms` is not read as `m` + `s`.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
];

/// `d` in the largest unit that holds it exactly: `5s`, `500ms`, `250us`, `7ns`, `0s`.
/// [`parse_duration`] reads it back to the same value.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    let (name, size) = [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)]
        .into_iter()
        .find(|&(_, size)| nanos % size == 0)
        .unwrap_or(("ns", 1));
    format!("{}{name}", nanos / size)
}

/// A number and a unit (`ns`, `us` or `µs`, `ms`, `s`): `500ms`, `5s`, `1.5s`, `250us`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!("expected a duration like 500ms, 5s or 250us (units ns, us, ms, s), not '{text}'")
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (number, unit) = (&t[..split], t[split..].trim_start());
    let &(_, size) = UNITS
        .iter()
        .find(|&&(name, _)| name == unit)
        .ok_or_else(bad)?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(bad());
    }
    let digits = |s: &str| -> Result<u128, String> {
        if s.is_empty() {
            Ok(0)
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse::<u128>().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let mut nanos = digits(whole)?.checked_mul(size).ok_or_else(bad)?;
    if !fraction.is_empty() {
        // The fraction in nanoseconds, exactly: finer than a nanosecond is refused rather
        // than rounded, so a value always reads back as written.
        let scale = 10u128.checked_pow(fraction.len() as u32).ok_or_else(bad)?;
        let part = digits(fraction)?.checked_mul(size).ok_or_else(bad)?;
        if part % scale != 0 {
            return Err(format!("'{text}' is finer than a nanosecond"));
        }
        nanos = nanos.checked_add(part / scale).ok_or_else(bad)?;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| bad())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// `bytes` as text [`unescape`] reads back: printable ASCII as itself, `\\`, `\n`, `\r`,
/// `\t`, and `\xHH` for every other byte.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\\' => out.push_str(r"\\"),
            b'\n' => out.push_str(r"\n"),
            b'\r' => out.push_str(r"\r"),
            b'\t' => out.push_str(r"\t"),
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// Undoes `\n`, `\r`, `\t`, `\0`, `\\` and `\xHH` escapes; anything else stands for its own
/// UTF-8 bytes.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("bad escape in '{text}' (known: \\n \\r \\t \\0 \\\\ \\xHH)");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1).ok_or_else(bad)? {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = text.get(i + 2..i + 4).ok_or_else(bad)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            _ => return Err(bad()),
        }
        i += 2;
    }
    Ok(out)
}

/// `#[serde(with = "framesim_server::text::duration")]`: a [`Duration`] as
/// [`format_duration`]'s text (`"500ms"`), read by [`parse_duration`].
#[cfg(feature = "serde")]
pub mod duration {
    use serde::{de, Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Writes `d` as `"500ms"`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }

    /// Reads `"500ms"`, `"5s"`, `"1.5s"`, `"250us"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        super::parse_duration(&text).map_err(de::Error::custom)
    }
}

/// `#[serde(with = "framesim_server::text::escaped")]`: bytes as [`escape`]'s text
/// (`'\r\n'`), read by [`unescape`].
#[cfg(feature = "serde")]
pub mod escaped {
    use serde::{de, Deserialize, Deserializer, Serializer};

    /// Writes `bytes` with escapes.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::escape(bytes))
    }

    /// Reads text with escapes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        super::unescape(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_back_as_written() {
        for (d, text) in [
            (Duration::ZERO, "0s"),
            (Duration::from_secs(5), "5s"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_micros(250), "250us"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::MAX, "18446744073709551615999999999ns"),
        ] {
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text), Ok(d), "{text}");
        }
    }

    #[test]
    fn durations_accept_fractions_spaces_and_micro_signs() {
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(" 2 ms "), Ok(Duration::from_millis(2)));
        assert_eq!(parse_duration("3µs"), Ok(Duration::from_micros(3)));
        assert_eq!(parse_duration(".5ms"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("0.25us"), Ok(Duration::from_nanos(250)));
    }

    #[test]
    fn bad_durations_say_what_is_expected() {
        for bad in [
            "",
            "5",
            "ms",
            "5 minutes",
            "1.2.3s",
            "-1s",
            "1e3ms",
            "5m",
            ".",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("expected a duration like 500ms"), "{bad}: {e}");
        }
        assert!(parse_duration("0.5ns").unwrap_err().contains("finer"));
        assert!(parse_duration("99999999999999999999999s").is_err());
    }

    #[test]
    fn escapes_read_back_as_written() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(unescape(&escape(&all)).unwrap(), all);
        assert_eq!(escape(b"\r\n"), r"\r\n");
        assert_eq!(escape(b"a\\\x7f\xff"), r"a\\\x7f\xff");
        assert_eq!(
            unescape("\r\n").unwrap(),
            b"\r\n",
            "raw bytes stand for themselves"
        );
        for bad in [r"\q", r"\", r"\x1", r"\xzz"] {
            assert!(unescape(bad).is_err(), "{bad}");
        }
    }
}
