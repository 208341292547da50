//! `.env` files as people write them, for `we env set --stdin` (and any
//! front end that takes a file of variables): `KEY=VALUE` a line, with an
//! optional `export `, blank lines and `#` comments, `KEY=v # comment`,
//! single quotes (literal), double quotes (`\n`, `\t`, `\"` and `\\`
//! escapes) and quoted values that span lines. dotenvor parses it.
//!
//! What codeb decides on top:
//!
//! - Nothing is expanded: `$VAR` and `${VAR}` stay as written. Docker
//!   Compose and Kamal's dotenv expand them from the caller's environment,
//!   which would put the operator's own variables into a deploy and silently
//!   change a password holding a `$`; `docker run --env-file` keeps values as
//!   they are, and so do we.
//! - A `#` inside an unquoted value (`KEY=p#ss`) is refused: Node's dotenv
//!   cuts it there, Docker Compose keeps it, so the value would depend on
//!   the tool. Quoting it says which.
//! - A key is an [`EnvKey`](crate::model::EnvKey), and a bad line is named by
//!   its number, never by its text, which may hold a secret.

use std::io::Read;

use dotenvor::ParseErrorKind;

use crate::model::{EnvKey, EnvValue, EnvVar, ValidationError};
use crate::{Error, Result};

/// The variables of the `.env` text `text`, which people call `name`
/// (`standard input`), each a secret when `secret`. A key given twice keeps
/// its last value.
pub fn parse(name: &str, text: &str, secret: bool) -> Result<Vec<EnvVar>> {
    // One newline convention, so the lines dotenvor counts are the lines `check_hash` reads.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let entries = dotenvor::parse_str(&text).map_err(|e| match e {
        dotenvor::Error::Parse(e) => refused(name, e.line, syntax_rule(&e.kind)),
        other => Error::invalid(format!("{name} cannot be read as a .env file")).with_source(other),
    })?;
    let lines: Vec<&str> = text.split('\n').collect();
    entries
        .into_iter()
        .map(|entry| {
            let at = |e: ValidationError| refused(name, entry.line, e.redacted().to_string());
            let key = EnvKey::parse(&entry.key).map_err(at)?;
            let line = usize::try_from(entry.line).ok().and_then(|n| lines.get(n.checked_sub(1)?));
            if line.is_some_and(|line| has_unquoted_hash(line)) {
                let rule = format!("the unquoted value of {key} holds a `#`, which some tools read as a comment");
                let hint =
                    format!("quote it (`{key}='...'` keeps every character); a comment needs a space before its `#`");
                return Err(refused(name, entry.line, rule).with_context("hint", hint));
            }
            Ok(EnvVar { key, value: EnvValue::parse(&entry.value).map_err(at)?, secret })
        })
        .collect()
}

/// The variables of the `.env` text read from `input` (standard input, a
/// file), as [`parse`] reads them; refused when over 1 MiB or not UTF-8.
pub fn read(name: &str, input: impl Read, secret: bool) -> Result<Vec<EnvVar>> {
    let failed = |e: std::io::Error| Error::invalid(format!("cannot read {name}")).with_source(e);
    parse(name, &crate::tomlfile::capped_text(input, name, failed)?, secret)
}

/// A refusal of line `line` of `name` for breaking `rule`; the line is never quoted.
fn refused(name: &str, line: u32, rule: impl std::fmt::Display) -> Error {
    Error::invalid(format!("{name}: line {line}: {rule}")).with_context("line", line)
}

/// What a line dotenvor could not read breaks, in words.
fn syntax_rule(kind: &ParseErrorKind) -> &'static str {
    match kind {
        ParseErrorKind::InvalidSyntax => "is not KEY=VALUE, or has more after its closing quote than a comment",
        ParseErrorKind::MissingKey => "has no key before its `=`",
        ParseErrorKind::InvalidKey => "has a key that is not a variable name (letters, digits and `_`)",
        ParseErrorKind::UnterminatedQuote => "opens a quote that no later line closes",
    }
}

/// Whether the unquoted value of `line` (`KEY=VALUE`) holds a `#` with no
/// space before it, which would start a comment in one tool and not another.
fn has_unquoted_hash(line: &str) -> bool {
    let Some((_, value)) = line.split_once('=') else { return false };
    if value.trim_start().starts_with(['"', '\'', '`']) {
        return false;
    }
    value.char_indices().any(|(i, c)| c == '#' && !value[..i].ends_with(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn pairs(text: &str) -> Vec<(String, String)> {
        let vars = parse("standard input", text, true).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(vars.iter().all(|v| v.secret));
        vars.iter().map(|v| (v.key.as_str().to_owned(), v.value.expose().to_owned())).collect()
    }

    fn one(text: &str) -> String {
        match pairs(text).as_slice() {
            [(_, value)] => value.clone(),
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn values_read_as_people_write_them() {
        assert_eq!(one("export KEY=v\n"), "v");
        assert_eq!(one("KEY=\"a b\"\n"), "a b");
        assert_eq!(one("KEY='x#y'\n"), "x#y");
        assert_eq!(one("KEY=v # the comment\n"), "v");
        assert_eq!(one("KEY=\"v\" # the comment\n"), "v");
        assert_eq!(one("URL=postgres://u:p@db/app?sslmode=require\n"), "postgres://u:p@db/app?sslmode=require");
        assert_eq!(one("KEY=\"line one\nline two\"\n"), "line one\nline two");
        assert_eq!(
            one("KEY='-----BEGIN KEY-----\nabc\n-----END KEY-----'\n"),
            "-----BEGIN KEY-----\nabc\n-----END KEY-----"
        );
        assert_eq!(one("KEY=\"tab\\there\"\n"), "tab\there");
        assert_eq!(one("KEY=\r\n"), "");
        assert_eq!(
            pairs("# the database\n\n   \nA=1\r\n  # indented comment\nB=2\n"),
            [("A".to_owned(), "1".to_owned()), ("B".to_owned(), "2".to_owned())]
        );
    }

    #[test]
    fn dollar_signs_are_kept_never_expanded_from_the_callers_environment() {
        // PATH and HOME are set in every test process; a `.env` reader that expands would pull them in.
        assert_eq!(one("KEY=$PATH\n"), "$PATH");
        assert_eq!(one("KEY=\"${HOME}/x\"\n"), "${HOME}/x");
        assert_eq!(one("KEY='p$ss'\n"), "p$ss");
        assert_eq!(pairs("A=1\nB=$A\n")[1].1, "$A", "nor from the file itself");
    }

    #[test]
    fn a_bad_line_is_named_by_its_number_and_never_quoted() {
        for (text, line) in [
            ("OK=1\nhunter2\n", 2),
            ("OK=1\n\n# c\nBAD KEY=hunter2\n", 4),
            ("OK=1\nKEY=\"hunter2\n", 2),
            ("OK=\"a\nb\"\nKEY='hunter2' trailing\n", 3),
            ("1KEY=hunter2\n", 1),
            ("hunter2-x=y\n", 1),
            ("=hunter2\n", 1),
            ("KEY=\"hunter2\0\"\n", 1),
            ("KEY=hunter2#x\n", 1),
        ] {
            let err = parse("standard input", text, true).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{text:?}: {err}");
            assert_eq!(err.context_value("line"), Some(line.to_string().as_str()), "{text:?}: {err}");
            let shown = format!("{err} {:?}", crate::error::ErrorReport::from(&err));
            assert!(shown.contains(&format!("standard input: line {line}: ")), "{text:?}: {shown}");
            assert!(!shown.contains("hunter2"), "{text:?}: {shown}");
        }
    }

    #[test]
    fn an_unquoted_hash_inside_a_value_is_refused_with_a_hint_to_quote_it() {
        // dotenv in Node cuts `p#ss` to `p`, Docker Compose keeps it: a secret must not depend on which.
        let err = parse("standard input", "KEY=p#ss\n", true).unwrap_err();
        assert!(err.context_value("hint").is_some_and(|h| h.contains("KEY='")), "{err}");
        assert_eq!(one("KEY=p # a comment after a space\n"), "p");
    }

    #[test]
    fn input_over_the_cap_or_not_utf8_is_refused() {
        let big = vec![b'A'; 2 << 20];
        assert_eq!(read("standard input", big.as_slice(), true).unwrap_err().kind(), ErrorKind::Invalid);
        let err = read("standard input", &b"KEY=\xff\n"[..], true).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }
}
