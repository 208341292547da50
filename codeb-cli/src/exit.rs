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
/// `ssot diff` found drift (as `git diff --exit-code` exits 1 on a difference).
pub const DRIFT: u8 = 1;
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

/// Every exit code with its meaning, as the man pages' EXIT STATUS lists them.
pub const EXIT_CODES: [(u8, &str); 8] = [
    (OK, "Success."),
    (
        FAILURE,
        "A failure without a code of its own (a backend did not answer, ...); ssot diff found drift; server check found a failing check.",
    ),
    (USAGE, "A usage error or an invalid value; nothing was changed."),
    (LOCKED, "Another deploy holds the environment's lock."),
    (NOT_FOUND, "The named project, environment, release or file does not exist."),
    (UNHEALTHY, "A release did not become or stay healthy; the old one still serves."),
    (REFUSED, "A destructive command without --force (nothing was changed), or refused by policy."),
    (CONFLICT, "The state moved under a plan, a port range is full, or a rollback's image tag was moved."),
];

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

/// What to do next about an error: the SDK's own hint when it has one, else
/// one by kind, naming the project and environment the error is about.
pub fn hint(error: &Error) -> Option<String> {
    if let Some(hint) = error.context_value("hint") {
        return Some(hint.to_owned());
    }
    let target = match (error.context_value("project"), error.context_value("environment")) {
        (Some(project), Some(env)) => format!("-p {project} --env {env}"),
        _ => "-p PROJECT --env ENV".to_owned(),
    };
    Some(match error.kind() {
        ErrorKind::Locked if error.context_value("stale") == Some("true") => {
            format!("the lock is stale: `we recover {target}` cleans up and releases it")
        }
        ErrorKind::Locked => format!("wait for the other deploy (`we lock status {target}`), or pass --wait SECONDS"),
        ErrorKind::Unhealthy => {
            format!("the old release still serves; see `we logs {target}` for why the new one failed")
        }
        ErrorKind::Conflict => "the state changed or a range is full: plan again, or `we port check`".to_owned(),
        ErrorKind::Unavailable => {
            "a backend did not answer: `we local status` (local stack) or check the platform file".to_owned()
        }
        ErrorKind::Unauthenticated => "check the key files named in the platform file".to_owned(),
        ErrorKind::Forbidden => "this needs --force".to_owned(),
        _ => return None,
    })
}

/// The `error` object of `--json`: the SDK's report and the exit code.
#[derive(serde::Serialize)]
struct Report {
    #[serde(flatten)]
    report: ErrorReport,
    exit_code: u8,
}

/// Reports an error (as JSON on stdout with --json, else on stderr: the
/// message, its context, a hint) and returns its exit code.
pub fn report(printer: &Printer, error: &Error) -> ExitCode {
    let code = code(error);
    let report = ErrorReport::from(error);
    if printer.mode() == Mode::Json {
        printer.json(&json!({ "error": Report { report, exit_code: code } }));
        return ExitCode::from(code);
    }
    let paint = |tone, text: &str| printer.paint(tone, text);
    anstream::eprintln!("{} {}", paint(Tone::Bad, "error:"), report.message);
    let context: Vec<String> =
        report.context.iter().filter(|(k, _)| **k != "hint").map(|(k, v)| format!("{k}={v}")).collect();
    if !context.is_empty() {
        anstream::eprintln!("  {}", paint(Tone::Dim, &context.join(", ")));
    }
    if let Some(hint) = hint(error) {
        anstream::eprintln!("{} {hint}", paint(Tone::Dim, "hint:"));
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
        assert!(hint(&stale).unwrap().contains("we recover -p PROJECT --env ENV"));
    }

    #[test]
    fn hints_name_the_project_and_environment_the_error_is_about() {
        let held = Error::new(ErrorKind::Locked, "x")
            .with_context("stale", true)
            .with_context("project", "shop")
            .with_context("environment", "staging");
        assert!(hint(&held).unwrap().contains("`we recover -p shop --env staging`"), "{:?}", hint(&held));
        let failed = Error::new(ErrorKind::Unhealthy, "x")
            .with_context("project", "shop")
            .with_context("environment", "production");
        assert!(hint(&failed).unwrap().contains("`we logs -p shop --env production`"));
        let own = Error::not_found("no platform file").with_context("hint", "run `we local up`");
        assert_eq!(hint(&own).as_deref(), Some("run `we local up`"), "the SDK's own hint comes first");
    }
}
