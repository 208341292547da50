//! The one public error type of the SDK.
//!
//! Every failure carries a [`ErrorKind`] that callers branch on, a message for
//! people, key-value context (project, environment, step, backend, ...) added
//! by whichever layer knows it, and optionally the underlying cause. Backends
//! keep their own private error types and convert at their edge.

mod report;

use std::borrow::Cow;
use std::fmt;

pub use report::{ErrorReport, UNTRUSTED_NOTICE};

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in the terms a caller decides on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The named thing does not exist.
    NotFound,
    /// The thing to create exists already.
    AlreadyExists,
    /// The input breaks a rule; nothing was changed.
    Invalid,
    /// The request contradicts the current state (a full port range, a moved revision, ...).
    Conflict,
    /// Someone else holds the lock needed for this operation.
    Locked,
    /// A backend or service could not be reached or answered with a server error.
    Unavailable,
    /// A release did not pass its health check, or its release command failed.
    Unhealthy,
    /// The operation is refused by policy (protected volume, missing `force`, ...).
    Forbidden,
    /// Credentials or an integrity check failed (wrong key, tampered ciphertext).
    Unauthenticated,
    /// The operation did not finish within its deadline.
    Timeout,
    /// A bug or an unexpected answer; retrying will not help.
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order (for tests and exhaustive mappings).
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::Invalid,
        ErrorKind::Conflict,
        ErrorKind::Locked,
        ErrorKind::Unavailable,
        ErrorKind::Unhealthy,
        ErrorKind::Forbidden,
        ErrorKind::Unauthenticated,
        ErrorKind::Timeout,
        ErrorKind::Internal,
    ];

    /// The stable snake_case name of the kind, as used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Locked => "locked",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Unhealthy => "unhealthy",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Internal => "internal",
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_temporary(self) -> bool {
        matches!(self, ErrorKind::Locked | ErrorKind::Unavailable | ErrorKind::Timeout)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of every fallible SDK operation.
pub struct Error {
    kind: ErrorKind,
    message: String,
    context: Vec<(&'static str, String)>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a message for people.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), context: Vec::new(), source: None }
    }

    /// Adds one key-value pair of context (`project`, `environment`, `step`, `backend`, ...).
    ///
    /// A key given twice keeps its first value: the innermost layer knows best.
    pub fn with_context(mut self, key: &'static str, value: impl fmt::Display) -> Self {
        if self.context_value(key).is_none() {
            self.context.push((key, value.to_string()));
        }
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What went wrong, for branching.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message for people, without context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// All context pairs, innermost first.
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }

    /// The value of one context key, if set.
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.context.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_temporary(&self) -> bool {
        self.kind.is_temporary()
    }

    /// The same error with `f` applied to its message, each context value and
    /// the text of its cause (which becomes that text when `f` changes it):
    /// how [`crate::redact::Redactor`] masks a value wherever it appears.
    pub(crate) fn map_text(self, f: impl Fn(&str) -> String) -> Self {
        let source = self.source.map(|source| {
            let text = source.to_string();
            let mapped = f(&text);
            if mapped == text {
                source
            } else {
                Box::new(TextCause(mapped)) as Box<dyn std::error::Error + Send + Sync>
            }
        });
        Error {
            kind: self.kind,
            message: f(&self.message),
            context: self.context.into_iter().map(|(k, v)| (k, f(&v))).collect(),
            source,
        }
    }

    /// Shorthand for an [`ErrorKind::NotFound`] error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for an [`ErrorKind::Invalid`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Invalid, message)
    }

    /// Shorthand for an [`ErrorKind::Conflict`] error.
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Conflict, message)
    }

    /// Shorthand for an [`ErrorKind::Internal`] error.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        if !self.context.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.context.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}={v}")?;
            }
            f.write_str(")")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if !self.context.is_empty() {
            d.field("context", &self.context);
        }
        if let Some(source) = &self.source {
            d.field("source", &Cow::<str>::Owned(source.to_string()));
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A cause known only by its text: a server's own words, or a cause rewritten
/// (its secrets masked).
#[derive(Debug)]
pub struct TextCause(pub String);

impl fmt::Display for TextCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TextCause {}

/// `result`, with "it does not exist" counted as done: removing, stopping or
/// forgetting something that is already gone succeeds. The one place that says so.
pub(crate) fn gone_is_done(result: Result<()>) -> Result<()> {
    match result {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_kind_message_context_and_source() {
        let io = std::io::Error::other("disk on fire");
        let err = Error::new(ErrorKind::Unavailable, "cannot write state")
            .with_context("project", "shop")
            .with_context("step", "ssot_write")
            .with_source(io);
        assert_eq!(err.to_string(), "unavailable: cannot write state (project=shop, step=ssot_write): disk on fire");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn innermost_context_wins_when_a_key_is_repeated() {
        let err = Error::not_found("no route").with_context("backend", "caddy").with_context("backend", "engine");
        assert_eq!(err.context_value("backend"), Some("caddy"));
        assert_eq!(err.context().len(), 1);
    }

    #[test]
    fn only_lock_unavailable_and_timeout_are_temporary() {
        let temporary: Vec<_> = ErrorKind::ALL.into_iter().filter(|k| k.is_temporary()).collect();
        assert_eq!(temporary, [ErrorKind::Locked, ErrorKind::Unavailable, ErrorKind::Timeout]);
    }

    #[test]
    fn kind_names_match_their_serde_form() {
        for kind in ErrorKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}
