//! Fully qualified domain names for routes and DNS records.

use super::string_newtype;
use super::validation::{ValidationError, check_dns_label};

const FIELD: &str = "domain";

/// A fully qualified domain name in its ASCII (punycode) form, lowercase, without trailing dot.
///
/// Rules: at least two labels; each label 1-63 of `a-z 0-9 -`, not starting
/// or ending with `-`; at most 253 characters in all; `*` only as the whole
/// leftmost label. Internationalised names are converted to punycode and
/// upper case is folded to lower case. Spaces, control characters, braces,
/// backticks and quotes are refused before any conversion, so nothing that
/// could break out of a Caddyfile, a JSON document or a shell word survives.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DomainName(String);

impl DomainName {
    /// Validates and normalises `s` as a domain name.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let err = |rule: &str| ValidationError::new(FIELD, s, rule);
        if s.is_empty() {
            return Err(err("must not be empty"));
        }
        if let Some(c) = s.chars().find(|c| is_forbidden(*c)) {
            let rule = if c.is_whitespace() || c.is_control() {
                "must not contain spaces or control characters".to_owned()
            } else {
                format!("must not contain {c:?}")
            };
            return Err(err(&rule));
        }
        let trimmed = s.strip_suffix('.').unwrap_or(s);
        let ascii = if trimmed.is_ascii() {
            trimmed.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii(trimmed).map_err(|_| err("is not a valid internationalised domain name"))?
        };
        if ascii.len() > 253 {
            return Err(err("is at most 253 characters"));
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err(err("must have at least two labels (name.tld)"));
        }
        for (i, label) in labels.iter().enumerate() {
            if *label == "*" {
                if i == 0 {
                    continue;
                }
                return Err(err("'*' is allowed only as the whole leftmost label"));
            }
            if label.contains('*') {
                return Err(err("'*' is allowed only as the whole leftmost label"));
            }
            check_dns_label(FIELD, s, label, false)?;
        }
        Ok(DomainName(ascii))
    }

    /// Whether the leftmost label is the wildcard `*`.
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// The labels from left to right.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// Whether this name equals `zone` or lies beneath it.
    pub fn is_within(&self, zone: &DomainName) -> bool {
        self.0 == zone.0 || self.0.strip_suffix(zone.0.as_str()).is_some_and(|rest| rest.ends_with('.'))
    }

    /// The name with its trailing dot, as DNS servers write it (`shop.example.com.`).
    pub fn to_fqdn(&self) -> String {
        format!("{}.", self.0)
    }
}
string_newtype!(DomainName);

/// Characters refused anywhere in a domain, before any IDN conversion.
fn is_forbidden(c: char) -> bool {
    c.is_control()
        || c.is_whitespace()
        || (c.is_ascii() && !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_trailing_dot_and_idn() {
        assert_eq!(DomainName::parse("Shop.Example.COM.").unwrap().as_str(), "shop.example.com");
        assert_eq!(DomainName::parse("bücher.example").unwrap().as_str(), "xn--bcher-kva.example");
        assert_eq!(DomainName::parse("*.one-q.xyz").unwrap().to_fqdn(), "*.one-q.xyz.");
    }

    #[test]
    fn rejects_misplaced_wildcards_and_bad_labels() {
        for bad in [
            "a.*.com",
            "*a.com",
            "*",
            "localhost",
            "-a.com",
            "a-.com",
            "a..com",
            ".a.com",
            "a_b.com",
            "a.com..",
            "{a}.com",
            "a'.com",
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad} should be rejected");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(DomainName::parse(&long_label).is_err());
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        assert!(DomainName::parse(&long_name).is_err());
    }

    #[test]
    fn knows_which_zone_a_name_belongs_to() {
        let zone = DomainName::parse("codeb.test").unwrap();
        assert!(DomainName::parse("shop.codeb.test").unwrap().is_within(&zone));
        assert!(zone.is_within(&zone));
        assert!(!DomainName::parse("evilcodeb.test").unwrap().is_within(&zone));
    }
}
