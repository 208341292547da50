//! Redaction: known secret values replaced by the mask in any text that
//! leaves the SDK.
//!
//! A secret can come back in words no one in codeb wrote: an app that echoes
//! one in its health-check body, a server that echoes its API key in an error
//! page. Whoever knows the values (the executor knows the environment's
//! secrets, a backend its credentials) masks what it passes on with a
//! [`Redactor`], so evidence, messages, events, errors and SSOT records never
//! hold them.

use std::borrow::Cow;
use std::fmt;

use crate::Error;
use crate::model::{EnvVar, MASK};

/// Known secret values, each replaced by [`MASK`] wherever it appears.
#[derive(Clone, Default)]
pub struct Redactor {
    /// The values, longest first, so a value inside another never leaves part of the longer one.
    values: Vec<String>,
}

impl Redactor {
    /// A redactor of `values`; empty ones are ignored.
    pub fn new<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Self {
        let mut redactor = Redactor::default();
        redactor.extend(values);
        redactor
    }

    /// A redactor of the secret values among `vars` (plain values are shown anyway).
    pub fn of_secrets(vars: &[EnvVar]) -> Self {
        Redactor::new(vars.iter().filter(|v| v.secret).map(|v| v.value.expose()))
    }

    /// Adds `values` to the ones masked.
    pub fn extend<S: Into<String>>(&mut self, values: impl IntoIterator<Item = S>) {
        self.values.extend(values.into_iter().map(Into::into).filter(|v| !v.is_empty()));
        self.values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.values.dedup();
    }

    /// `text` with every known value masked; borrowed when it holds none.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), MASK));
            }
        }
        out
    }

    /// `error` with every known value masked in its message, its context and its cause.
    pub fn error(&self, error: Error) -> Error {
        if self.values.is_empty() { error } else { error.map_text(|text| self.text(text).into_owned()) }
    }
}

impl fmt::Debug for Redactor {
    /// How many values it masks, never the values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} values)", self.values.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::model::{EnvKey, EnvValue};

    #[test]
    fn every_occurrence_of_every_value_is_masked_the_longest_first() {
        let redactor = Redactor::new(["abc", "abcdef", ""]);
        assert_eq!(redactor.text("x abcdef y abc z"), "x ******** y ******** z");
        assert!(matches!(redactor.text("nothing here"), Cow::Borrowed(_)));
        assert_eq!(format!("{redactor:?}"), "Redactor(2 values)");
    }

    #[test]
    fn only_secret_values_are_masked() {
        let var = |key: &str, value: &str, secret| EnvVar {
            key: EnvKey::parse(key).unwrap(),
            value: EnvValue::parse(value).unwrap(),
            secret,
        };
        let redactor = Redactor::of_secrets(&[var("TOKEN", "s3cr3t-value", true), var("MODE", "fast", false)]);
        assert_eq!(redactor.text("mode fast, token s3cr3t-value"), "mode fast, token ********");
    }

    #[test]
    fn an_error_is_masked_in_its_message_context_and_cause() {
        let cause = std::io::Error::other("the server said: key=hunter22");
        let error = Error::new(ErrorKind::Unavailable, "body hunter22")
            .with_context("evidence", "status 500, hunter22")
            .with_source(cause);
        let masked = Redactor::new(["hunter22"]).error(error);
        assert_eq!(masked.kind(), ErrorKind::Unavailable);
        let shown = format!("{masked} {masked:?}");
        assert!(!shown.contains("hunter22"), "{shown}");
        assert_eq!(masked.message(), "body ********");
        assert_eq!(masked.context_value("evidence"), Some("status 500, ********"));
        assert!(shown.contains("the server said: key=********"), "{shown}");
    }
}
