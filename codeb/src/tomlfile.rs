//! The TOML files people write (`codeb.toml`, the platform file): read with
//! a size cap, and parse errors that name the line and column without echoing
//! the line (which may be megabytes long, or hold control characters).

use std::io::Read;
use std::path::Path;

use crate::model::{ValidationError, escape_controls};
use crate::{Error, ErrorKind, Result};

/// The largest TOML file (or `.env` text) codeb reads: far above any real one.
pub const MAX_TOML_BYTES: u64 = 1 << 20;

/// The text of `what` (`the project file`), the TOML file at `path`; refused
/// when it is over [`MAX_TOML_BYTES`] (no more than one byte past the cap is
/// read) or not UTF-8.
pub fn read_capped(path: &Path, what: &str) -> Result<String> {
    let shown = format!("{what} {}", path.display());
    let failed = |e: std::io::Error| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound { ErrorKind::NotFound } else { ErrorKind::Unavailable };
        Error::new(kind, format!("cannot read {shown}")).with_source(e)
    };
    let file = std::fs::File::open(path).map_err(failed)?;
    capped_text(file, &shown, failed)
}

/// The text of `input`, which people call `shown` (`standard input`): refused
/// when it is over [`MAX_TOML_BYTES`] (no more than one byte past the cap is
/// read) or not UTF-8; `failed` says what a read error means.
pub(crate) fn capped_text(input: impl Read, shown: &str, failed: impl Fn(std::io::Error) -> Error) -> Result<String> {
    let mut bytes = Vec::new();
    input.take(MAX_TOML_BYTES + 1).read_to_end(&mut bytes).map_err(failed)?;
    if bytes.len() as u64 > MAX_TOML_BYTES {
        let cap = MAX_TOML_BYTES >> 10;
        return Err(Error::invalid(format!("{shown} is larger than {cap} KiB, more than any codeb file")));
    }
    String::from_utf8(bytes).map_err(|_| Error::invalid(format!("{shown} is not UTF-8 text")))
}

/// Parses `text`, the TOML file people call `name`: a syntax error or an
/// unknown key names the line and column and says what is wrong, its
/// message escaped and cut like any rejected value.
pub fn parse<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let place = match e.span() {
            Some(span) => {
                let (line, column) = line_and_column(text, span.start);
                format!("line {line}, column {column}")
            }
            None => "the file".to_owned(),
        };
        Error::invalid(format!("{name}: {place}: {}", printable(e.message().trim_end())))
    })
}

/// A value of `text`, the TOML file people call `name`, written at `span`
/// and refused for breaking a rule: the error names its line (context
/// `line`), the field, the rule and, when the rejection has one, the hint.
pub(crate) fn refused_at(name: &str, text: &str, span: std::ops::Range<usize>, e: ValidationError) -> Error {
    let (line, _) = line_and_column(text, span.start);
    let message = format!("{name}: line {line}: {e}");
    let error = Error::from(e);
    let mut refused = Error::invalid(message);
    for (key, value) in error.context() {
        refused = refused.with_context(key, value);
    }
    refused.with_context("line", line)
}

/// The line and column (both from 1, the column in characters) of byte `offset` of `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// `text` with its control characters (newlines too) escaped, cut after [`MAX_MESSAGE_CHARS`].
fn printable(text: &str) -> String {
    let cut: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
    let mut out = escape_controls(&cut).replace('\n', "\\n");
    if text.chars().nth(MAX_MESSAGE_CHARS).is_some() {
        out.push_str("...");
    }
    out
}

/// The longest parser message kept in an error, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
    }

    #[test]
    fn an_error_names_line_and_column_and_never_echoes_a_long_line() {
        let long = format!("name = \"x\"\nbad = \"{}\"\n", "y".repeat(400_000));
        let err = parse::<Sample>("codeb.toml", &long).unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("invalid: codeb.toml: line 2, column 1: unknown field `bad`"), "{shown}");
        assert!(shown.len() < 400, "{} bytes", shown.len());
        let hostile = parse::<Sample>("codeb.toml", "name = \"x\u{1b}[2J\"\n").unwrap_err().to_string();
        assert!(hostile.contains("line 1, column ") && !hostile.contains('\u{1b}'), "{hostile:?}");
    }

    #[test]
    fn a_deeply_nested_document_is_refused_briefly() {
        let deep = format!("name = {}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse::<Sample>("codeb.toml", &deep).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(err.to_string().len() < 400, "{err}");
    }

    #[test]
    fn a_file_over_the_cap_is_refused_without_reading_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codeb.toml");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(200 << 20).unwrap();
        let err = read_capped(&path, "the project file").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        assert!(err.to_string().contains("larger than 1024 KiB"), "{err}");
        std::fs::write(&path, "name = \"shop\"\n").unwrap();
        assert_eq!(read_capped(&path, "the project file").unwrap(), "name = \"shop\"\n");
        assert_eq!(read_capped(&dir.path().join("none"), "the project file").unwrap_err().kind(), ErrorKind::NotFound);
    }
}
