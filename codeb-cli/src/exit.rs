//! Exit codes and what to do next, by error kind. Documented in the README.

use std::process::ExitCode;

use codeb::error::ErrorReport;
use codeb::{Error, ErrorKind};
use serde_json::json;

use crate::printer::{Mode, Printer, Tone};

/// Success.
pub const OK: u8 = 0;
/// Any failure without a code of its own.
pub const FAILURE: u8 = 1;
/// A usage error or an invalid value (nothing was changed).
pub const USAGE: u8 = 2;
/// Another deploy holds the environment's lock.
pub const LOCKED: u8 = 3;
/// The named thing does not exist.
pub const NOT_FOUND: u8 = 4;
/// A release did not become or stay healthy.
pub const UNHEALTHY: u8 = 5;
/// A destructive command ran without --force (nothing was changed), or policy refused it.
pub const REFUSED: u8 = 6;
/// The state moved or a resource is exhausted (plan again, free ports).
pub const CONFLICT: u8 = 7;

/// The exit code of an error.
pub fn code(error: &Error) -> u8 {
    match error.kind() {
        ErrorKind::Invalid => USAGE,
        ErrorKind::Locked => LOCKED,
        ErrorKind::NotFound => NOT_FOUND,
        ErrorKind::Unhealthy => UNHEALTHY,
        ErrorKind::Forbidden => REFUSED,
        ErrorKind::Conflict | ErrorKind::AlreadyExists => CONFLICT,
        _ => FAILURE,
    }
}

/// What to do next after an error of this kind.
pub fn hint(error: &Error) -> Option<&'static str> {
    match error.kind() {
        ErrorKind::Locked if error.context_value("stale") == Some("true") => {
            Some("the holder is gone: `we recover PROJECT --env ENV` cleans up and releases it")
        }
        ErrorKind::Locked => Some("wait for the other deploy (`we lock status`), or pass --wait SECONDS"),
        ErrorKind::Unhealthy => {
            Some("the old release still serves; see `we logs PROJECT --env ENV` for why the new one failed")
        }
        ErrorKind::Conflict => Some("the state changed or a range is full: plan again, or `we port check`"),
        ErrorKind::Unavailable => {
            Some("a backend did not answer: `we local status` (local stack) or check the platform file")
        }
        ErrorKind::Unauthenticated => Some("check the key files named in the platform file"),
        ErrorKind::Forbidden => Some("this needs --force"),
        _ => None,
    }
}

/// The `error` object of `--json`: the SDK's report and the exit code.
#[derive(serde::Serialize)]
struct Report {
    #[serde(flatten)]
    report: ErrorReport,
    exit_code: u8,
}

/// Reports an error (as JSON on stdout with --json, else on stderr) and returns its exit code.
pub fn report(printer: &Printer, error: &Error) -> ExitCode {
    let code = code(error);
    if printer.mode() == Mode::Json {
        printer.json(&json!({ "error": Report { report: ErrorReport::from(error), exit_code: code } }));
    } else {
        eprintln!("{} {error}", printer.paint(Tone::Bad, "error:"));
        if let Some(hint) = hint(error) {
            eprintln!("{} {hint}", printer.paint(Tone::Dim, "hint:"));
        }
    }
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_documented_code() {
        assert_eq!(code(&Error::new(ErrorKind::Locked, "x")), LOCKED);
        assert_eq!(code(&Error::new(ErrorKind::NotFound, "x")), NOT_FOUND);
        assert_eq!(code(&Error::new(ErrorKind::Unhealthy, "x")), UNHEALTHY);
        assert_eq!(code(&Error::new(ErrorKind::Invalid, "x")), USAGE);
        assert_eq!(code(&Error::new(ErrorKind::Unavailable, "x")), FAILURE);
        let stale = Error::new(ErrorKind::Locked, "x").with_context("stale", true);
        assert!(hint(&stale).unwrap().contains("recover"));
    }
}
