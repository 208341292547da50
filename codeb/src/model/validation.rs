//! The typed rejection shared by every validated type, and the small rule
//! helpers they are built from.

use std::fmt;

use crate::error::{Error, ErrorKind};

/// Longest excerpt of an offending value kept in an error, in characters.
const MAX_SHOWN_CHARS: usize = 80;

/// A value that broke a rule of a validated type.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidationError {
    field: &'static str,
    value: String,
    rule: String,
    hint: Option<String>,
}

impl ValidationError {
    /// A rejection of `value` for `field` because it breaks `rule`.
    ///
    /// The value is escaped (control characters, quotes, non-ASCII) and cut to
    /// a short excerpt, so the error is safe to print anywhere.
    pub fn new(field: &'static str, value: &str, rule: impl Into<String>) -> Self {
        ValidationError { field, value: escape(value), rule: rule.into(), hint: None }
    }

    /// The same rejection saying what to write instead (`write interval = "30s"`).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Which field was rejected (`project`, `domain`, `env key`, ...).
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The offending value, escaped and possibly shortened.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The rule the value broke, in words.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// What to write instead, when the rejected value plainly meant something.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// A copy that hides the value, for fields whose content is secret.
    pub(crate) fn redacted(mut self) -> Self {
        self.value = "<redacted>".to_owned();
        self
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} \"{}\": {}", self.field, self.value, self.rule)
    }
}

impl fmt::Debug for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ValidationError {}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        let error =
            Error::new(ErrorKind::Invalid, e.to_string()).with_context("field", e.field).with_context("rule", &e.rule);
        match e.hint {
            Some(hint) => error.with_context("hint", hint),
            None => error,
        }
    }
}

/// `text` with every control character but the newline escaped (`\u{1b}`),
/// so text that carries someone's input (a parser's message, a rejected
/// argument) cannot move the cursor, retitle a terminal or forge a line
/// ending when printed.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' { out.extend(c.escape_default()) } else { out.push(c) }
    }
    out
}

/// Escapes a value for display: printable ASCII stays, everything else becomes
/// a Rust-style escape, and long values are cut with a marker.
fn escape(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == MAX_SHOWN_CHARS {
            out.push_str(&format!("...({} chars)", value.chars().count()));
            break;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => out.extend(c.escape_default()),
        }
    }
    out
}

/// Checks the rules of one DNS label: 1-63 of `a-z 0-9 -`, starting with a
/// letter or digit as `first` allows, not ending with `-`.
pub(crate) fn check_dns_label(
    field: &'static str,
    whole: &str,
    label: &str,
    first_must_be_letter: bool,
) -> Result<(), ValidationError> {
    let err = |rule: &str| Err(ValidationError::new(field, whole, rule));
    if label.is_empty() {
        return err("must not be empty (or contain an empty label)");
    }
    if label.len() > 63 {
        return err("a label is at most 63 characters");
    }
    if let Some(bad) = label.chars().find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-')) {
        if bad.is_ascii_uppercase() {
            return err("must be lowercase");
        }
        return err("may contain only a-z, 0-9 and '-'");
    }
    let first = label.as_bytes()[0];
    if first_must_be_letter && !first.is_ascii_lowercase() {
        return err("must start with a letter");
    }
    if first == b'-' {
        return err("must not start with '-'");
    }
    if label.ends_with('-') {
        return err("must not end with '-'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_quotes_and_long_values() {
        let e = ValidationError::new("project", "a\nb\"\0", "rule");
        assert_eq!(e.value(), "a\\nb\\\"\\u{0}");
        let long = "x".repeat(500);
        let e = ValidationError::new("project", &long, "rule");
        assert!(e.value().ends_with("...(500 chars)"));
        assert!(e.value().len() < 100);
    }

    #[test]
    fn converts_to_an_invalid_sdk_error_naming_field_and_rule() {
        let e: Error = ValidationError::new("env key", "1X", "must start with a letter or '_'").into();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert_eq!(e.context_value("field"), Some("env key"));
        assert!(e.to_string().contains("\"1X\""));
    }
}
