//! Human units in project and platform files: durations (`500ms`, `30s`,
//! `1m30s`, as fly.toml and Docker write them) and sizes (`512M`, `512MB`,
//! `512MiB`, `1.5G`, as Docker, Kamal and fly write them).
//!
//! Sizes are binary: `K`, `KB` and `KiB` are all 1024 bytes, `M`, `MB` and
//! `MiB` 1024², and so on. That is what `docker run --memory 512m`, Compose's
//! `mem_limit: 512MB`, Kamal's `memory: 512m` and fly's `memory = "512mb"`
//! mean, so a limit copied from any of them gives the app the same memory
//! here (512,000,000 bytes would be 4.6% less).
//!
//! A refused value whose meaning is plain (`30 seconds`, `1.5s`,
//! `512 megabytes`) gets a hint with what to write instead.

use std::time::Duration;

use crate::model::ValidationError;

/// What a duration is, in words.
pub(crate) const DURATION_RULE: &str = "is whole numbers with h, m, s or ms, largest first (30s, 1m30s, 500ms)";

/// What a size is, in words.
pub(crate) const SIZE_RULE: &str =
    "is a number of bytes, optionally followed by K, M, G or T (KB, MiB, ...: powers of 1024)";

/// The units of a duration, largest first, with their length in milliseconds.
const DURATION_UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];

/// Parses a duration: one or more `<whole number><unit>`, units `h`, `m`,
/// `s` and `ms`, each at most once and largest first (`1h30m`, `1m30s`,
/// `1s500ms`).
pub fn parse_duration(field: &'static str, s: &str) -> Result<Duration, ValidationError> {
    strict_millis(s).map(Duration::from_millis).ok_or_else(|| {
        let refused = ValidationError::new(field, s, DURATION_RULE);
        match lenient_millis(s) {
            Some(millis) => refused.with_hint(write(field, &format!("\"{}\"", format_millis(millis)))),
            None => refused,
        }
    })
}

/// A duration in whole seconds, as Kamal writes them (`interval = 30`).
pub(crate) fn duration_from_seconds(field: &'static str, seconds: i64) -> Result<Duration, ValidationError> {
    u64::try_from(seconds)
        .map(Duration::from_secs)
        .map_err(|_| ValidationError::new(field, &seconds.to_string(), "is not negative"))
}

/// A refusal of a duration given as a fractional number of seconds, with the
/// exact duration to write when it is a whole number of milliseconds.
pub(crate) fn duration_from_fraction(field: &'static str, seconds: f64) -> ValidationError {
    let shown = seconds.to_string();
    let refused = ValidationError::new(field, &shown, "is whole seconds, or a duration in a string (\"1s500ms\")");
    match lenient_millis(&format!("{shown}s")) {
        Some(millis) => refused.with_hint(write(field, &format!("\"{}\"", format_millis(millis)))),
        None => refused,
    }
}

/// `millis` as [`parse_duration`] reads it back: `1m30s`, `500ms`, `0s`.
fn format_millis(millis: u64) -> String {
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut rest = millis;
    let mut out = String::new();
    for (unit, length) in DURATION_UNITS {
        if rest >= length {
            out.push_str(&format!("{}{unit}", rest / length));
            rest %= length;
        }
    }
    out
}

/// The milliseconds of `s` in the strict grammar of [`parse_duration`].
fn strict_millis(s: &str) -> Option<u64> {
    let mut rest = s;
    let mut total = 0u64;
    let mut smallest_so_far = None;
    while !rest.is_empty() {
        let (number, tail) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len()));
        let (unit, next) = tail.split_at(tail.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(tail.len()));
        let rank = DURATION_UNITS.iter().position(|(u, _)| *u == unit)?;
        if number.is_empty() || smallest_so_far.is_some_and(|r| rank <= r) {
            return None;
        }
        total = total.checked_add(number.parse::<u64>().ok()?.checked_mul(DURATION_UNITS[rank].1)?)?;
        smallest_so_far = Some(rank);
        rest = next;
    }
    smallest_so_far.map(|_| total)
}

/// The milliseconds `s` plainly means, read generously: spaces, unit words
/// (`seconds`, `min`, `hours`, `days`), decimals (`1.5s`), units in any
/// order, a bare number as seconds. Only for hints: codeb never accepts it.
fn lenient_millis(s: &str) -> Option<u64> {
    let text: String = s.to_ascii_lowercase().chars().filter(|c| !c.is_whitespace()).collect();
    let mut rest = text.as_str();
    let mut total = 0u64;
    while !rest.is_empty() {
        let (number, tail) =
            rest.split_at(rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len()));
        let (word, next) = tail.split_at(tail.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(tail.len()));
        let length = match word {
            "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1,
            "" if next.is_empty() && total == 0 => 1_000,
            "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
            "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000,
            "d" | "day" | "days" => 86_400_000,
            _ => return None,
        };
        total = total.checked_add(scaled(number, length)?)?;
        rest = next;
    }
    (!text.is_empty()).then_some(total)
}

/// `number` (digits with an optional fraction) times `factor`, rounded down;
/// `None` when it is not a number or overflows.
fn scaled(number: &str, factor: u64) -> Option<u64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 9 || number.ends_with('.') {
        return None;
    }
    let whole = whole.parse::<u64>().ok()?.checked_mul(factor)?;
    let fraction = match fraction {
        "" => 0,
        f => {
            u64::try_from(u128::from(f.parse::<u64>().ok()?) * u128::from(factor) / 10u128.pow(f.len() as u32)).ok()?
        }
    };
    whole.checked_add(fraction)
}

/// Parses a size in bytes: a number (a fraction too: `1.5G`) with an optional
/// unit `K`, `M`, `G` or `T`, which may be followed by `B` or `iB` and is
/// read in any case; all of them powers of 1024 (see the module's doc).
pub fn parse_size(field: &'static str, s: &str) -> Result<u64, ValidationError> {
    strict_size(s).filter(|bytes| *bytes > 0).ok_or_else(|| {
        let refused = ValidationError::new(field, s, SIZE_RULE);
        match lenient_size(s) {
            Some(written) => refused.with_hint(write(field, &format!("\"{written}\""))),
            None => refused,
        }
    })
}

fn strict_size(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit = unit.to_ascii_lowercase();
    let power = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 1,
        "m" | "mb" | "mib" => 2,
        "g" | "gb" | "gib" => 3,
        "t" | "tb" | "tib" => 4,
        _ => return None,
    };
    scaled(number, 1u64 << (10 * power))
}

/// What `s` plainly means as a size, in the form [`parse_size`] takes
/// (`512 megabytes` is `512M`); only for hints.
fn lenient_size(s: &str) -> Option<String> {
    let text: String =
        s.chars().filter(|c| !(c.is_whitespace() || *c == '_')).map(|c| if c == ',' { '.' } else { c }).collect();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, word) = text.split_at(split);
    let unit = match word.to_ascii_lowercase().as_str() {
        "" | "b" | "byte" | "bytes" => "",
        "k" | "kb" | "kib" | "kilobyte" | "kilobytes" | "kibibyte" | "kibibytes" => "K",
        "m" | "mb" | "mib" | "meg" | "megs" | "megabyte" | "megabytes" | "mebibyte" | "mebibytes" => "M",
        "g" | "gb" | "gib" | "gig" | "gigs" | "gigabyte" | "gigabytes" | "gibibyte" | "gibibytes" => "G",
        "t" | "tb" | "tib" | "terabyte" | "terabytes" | "tebibyte" | "tebibytes" => "T",
        _ => return None,
    };
    let written = format!("{number}{unit}");
    strict_size(&written).filter(|bytes| *bytes > 0 && written != s).map(|_| written)
}

/// The hint to write `value` for `field` (`healthcheck.interval`): `write interval = "30s"`.
pub(crate) fn write(field: &str, value: &str) -> String {
    format!("write {} = {value}", field.rsplit('.').next().unwrap_or(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_whole_units_largest_first() {
        for (text, millis) in [
            ("500ms", 500),
            ("30s", 30_000),
            ("2m", 120_000),
            ("1h", 3_600_000),
            ("1m30s", 90_000),
            ("1h30m", 5_400_000),
            ("1s500ms", 1_500),
            ("1h2m3s4ms", 3_723_004),
            ("0s", 0),
        ] {
            assert_eq!(parse_duration("d", text).unwrap(), Duration::from_millis(millis), "{text}");
            assert_eq!(format_millis(millis), text, "{text} reads back as written");
        }
        for bad in ["", "5", "s", "1.5s", "-1s", "5 s", "5d", "30s1m", "1m1m", "1ms30s", "m30s", "1m 30s"] {
            assert!(parse_duration("d", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_refused_duration_that_plainly_means_one_gets_the_duration_to_write() {
        for (text, hint) in [
            ("30 seconds", "write interval = \"30s\""),
            ("30sec", "write interval = \"30s\""),
            ("1.5s", "write interval = \"1s500ms\""),
            ("1.5m", "write interval = \"1m30s\""),
            ("2 min", "write interval = \"2m\""),
            ("30s1m", "write interval = \"1m30s\""),
            ("1 hour 30 minutes", "write interval = \"1h30m\""),
            ("1d", "write interval = \"24h\""),
            ("30", "write interval = \"30s\""),
            ("90 S", "write interval = \"1m30s\""),
        ] {
            let err = parse_duration("healthcheck.interval", text).unwrap_err();
            assert_eq!(err.hint(), Some(hint), "{text:?}");
            assert_eq!(err.rule(), DURATION_RULE);
        }
        for nonsense in ["soon", "1.5.5s", "30 fortnights", "-5s", "1e3s"] {
            assert_eq!(parse_duration("d", nonsense).unwrap_err().hint(), None, "{nonsense:?}");
        }
        assert_eq!(duration_from_fraction("healthcheck.timeout", 1.5).hint(), Some("write timeout = \"1s500ms\""));
        assert_eq!(duration_from_seconds("d", 30).unwrap(), Duration::from_secs(30));
        assert!(duration_from_seconds("d", -1).is_err());
    }

    #[test]
    fn sizes_are_binary_whatever_the_spelling() {
        for (text, bytes) in [
            ("1024", 1024),
            ("1024B", 1024),
            ("512K", 512 << 10),
            ("512k", 512 << 10),
            ("512KB", 512 << 10),
            ("512M", 512 << 20),
            ("512m", 512 << 20),
            ("512MB", 512 << 20),
            ("512mb", 512 << 20),
            ("512MiB", 512 << 20),
            ("1G", 1 << 30),
            ("1GB", 1 << 30),
            ("1gib", 1 << 30),
            ("1.5G", 3 << 29),
            ("0.5GB", 512 << 20),
            ("2T", 2 << 40),
        ] {
            assert_eq!(parse_size("m", text).unwrap(), bytes, "{text}");
        }
        for bad in ["", "0", "0M", "M", "1P", "1.G", ".5G", "1..5G", "-1M", "512 MB", "1iB", "512Mi"] {
            assert!(parse_size("m", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_refused_size_that_plainly_means_one_gets_the_size_to_write() {
        for (text, hint) in [
            ("512 MB", "write memory = \"512M\""),
            ("512 megabytes", "write memory = \"512M\""),
            ("1,5 GB", "write memory = \"1.5G\""),
            ("2 gigs", "write memory = \"2G\""),
        ] {
            assert_eq!(parse_size("resources.memory", text).unwrap_err().hint(), Some(hint), "{text:?}");
        }
        assert_eq!(parse_size("resources.memory", "lots").unwrap_err().hint(), None);
    }
}
