//! Human units in project files: durations (`500ms`, `30s`, `2m`) and sizes (`512M`, `1G`).

use std::time::Duration;

use crate::model::ValidationError;

/// Parses `<number><unit>` with unit `ms`, `s`, `m` or `h`.
pub fn parse_duration(field: &'static str, s: &str) -> Result<Duration, ValidationError> {
    let err = || ValidationError::new(field, s, "is a whole number followed by ms, s, m or h (e.g. 500ms, 30s)");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().map_err(|_| err())?;
    let millis = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => None,
    };
    millis.map(Duration::from_millis).ok_or_else(err)
}

/// Parses a size in bytes: a whole number with an optional `K`, `M` or `G` (powers of 1024).
pub fn parse_size(field: &'static str, s: &str) -> Result<u64, ValidationError> {
    let err =
        || ValidationError::new(field, s, "is a whole number of bytes, optionally followed by K, M or G (e.g. 512M)");
    let (number, factor) = match s.strip_suffix(['K', 'k']) {
        Some(n) => (n, 1u64 << 10),
        None => match s.strip_suffix(['M', 'm']) {
            Some(n) => (n, 1 << 20),
            None => match s.strip_suffix(['G', 'g']) {
                Some(n) => (n, 1 << 30),
                None => (s, 1),
            },
        },
    };
    let n: u64 = number.parse().map_err(|_| err())?;
    n.checked_mul(factor).filter(|b| *b > 0).ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse_with_their_units() {
        assert_eq!(parse_duration("d", "500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("d", "2m").unwrap(), Duration::from_secs(120));
        for bad in ["", "5", "s", "1.5s", "-1s", "5 s", "5d"] {
            assert!(parse_duration("d", bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_size("m", "512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("m", "1024").unwrap(), 1024);
        for bad in ["", "0", "1T", "M", "1.5G"] {
            assert!(parse_size("m", bad).is_err(), "{bad:?}");
        }
    }
}
