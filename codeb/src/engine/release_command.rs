//! What a release command's end means for the deploy: a zero exit lets it
//! go on, its last output lines told as a note; any other exit, or no exit within the timeout, stops it with the
//! command's last output lines, secrets masked and bounded.

use std::time::Duration;

use crate::engine::health::excerpt;
use crate::model::escape_controls;
use crate::redact::Redactor;
use crate::releases::{TaskExit, TaskOutcome};
use crate::{Error, ErrorKind, Result};

/// `Ok` with what to tell people (the command's last output lines) when the
/// release command `command` exited with 0; else the error that stops the
/// deploy, quoting those lines. Either way `redactor`'s secrets are masked,
/// each line escaped and cut to [`crate::engine::BODY_EXCERPT_BYTES`].
pub(crate) fn judge(
    command: &[String],
    timeout: Duration,
    outcome: &TaskOutcome,
    redactor: &Redactor,
) -> Result<String> {
    let command = command.join(" ");
    let (kind, what) = match outcome.exit {
        TaskExit::Exited(Some(0)) => {
            return Ok(format!("the release command `{command}` exited with 0{}", quoted(outcome, redactor)));
        }
        TaskExit::Exited(Some(code)) => (ErrorKind::Unhealthy, format!("exited with code {code}")),
        TaskExit::Exited(None) => (ErrorKind::Unhealthy, "exited with no exit code".to_owned()),
        TaskExit::TimedOut => {
            (ErrorKind::Timeout, format!("timed out after {timeout:?}; it was killed and its container removed"))
        }
    };
    let message = format!(
        "the release command `{command}` {what}; the deploy stopped before any traffic moved{}",
        quoted(outcome, redactor)
    );
    Err(Error::new(kind, message).with_context("release_command", command))
}

/// The command's last output lines, one an indented line, masked, escaped and cut.
fn quoted(outcome: &TaskOutcome, redactor: &Redactor) -> String {
    match outcome.output.as_slice() {
        [] => " (it wrote no output)".to_owned(),
        lines => {
            let mut text = "; its last output lines:".to_owned();
            for line in lines {
                let masked = redactor.text(line);
                text.push_str("\n  ");
                text.push_str(excerpt(&escape_controls(&masked)));
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(exit: TaskExit, output: &[&str]) -> TaskOutcome {
        TaskOutcome { exit, output: output.iter().map(|l| l.to_string()).collect() }
    }

    fn judged(exit: TaskExit, output: &[&str]) -> Error {
        let command = ["npx".to_owned(), "prisma".to_owned(), "migrate".to_owned(), "deploy".to_owned()];
        let redactor = Redactor::new(["hunter2-secret"]);
        judge(&command, Duration::from_secs(300), &outcome(exit, output), &redactor).unwrap_err()
    }

    #[test]
    fn only_a_zero_exit_lets_the_deploy_go_on_saying_what_the_command_wrote() {
        let redactor = Redactor::new(["hunter2-secret"]);
        let quiet = judge(&["true".to_owned()], Duration::ZERO, &outcome(TaskExit::Exited(Some(0)), &[]), &redactor);
        assert_eq!(quiet.unwrap(), "the release command `true` exited with 0 (it wrote no output)");
        let applied = ["1 migration applied", "url=postgres://app:hunter2-secret@db/app"];
        let told =
            judge(&["migrate".to_owned()], Duration::ZERO, &outcome(TaskExit::Exited(Some(0)), &applied), &redactor);
        assert_eq!(
            told.unwrap(),
            "the release command `migrate` exited with 0; its last output lines:\n  1 migration applied\n  url=postgres://app:********@db/app"
        );
        let failed = judged(TaskExit::Exited(Some(3)), &["migrating", "error: table exists"]);
        assert_eq!(failed.kind(), ErrorKind::Unhealthy);
        assert_eq!(
            failed.message(),
            "the release command `npx prisma migrate deploy` exited with code 3; the deploy stopped before any traffic moved; its last output lines:\n  migrating\n  error: table exists"
        );
        assert_eq!(judged(TaskExit::Exited(None), &[]).kind(), ErrorKind::Unhealthy);
    }

    #[test]
    fn a_timeout_says_so_and_that_the_command_was_killed() {
        let timed_out = judged(TaskExit::TimedOut, &[]);
        assert_eq!(timed_out.kind(), ErrorKind::Timeout);
        assert!(
            timed_out.message().contains("timed out after 300s; it was killed and its container removed"),
            "{timed_out}"
        );
        assert!(timed_out.message().ends_with("(it wrote no output)"), "{timed_out}");
    }

    #[test]
    fn the_output_is_masked_escaped_and_bounded() {
        let long = "x".repeat(10_000);
        let e = judged(TaskExit::Exited(Some(1)), &["token=hunter2-secret", "\u{1b}[2Jcleared", &long]);
        assert!(!e.message().contains("hunter2-secret"), "{e}");
        assert!(e.message().contains("token=***"), "{e}");
        assert!(e.message().contains("\\u{1b}[2Jcleared"), "{e}");
        assert!(e.message().len() < 2_000, "a line is cut: {} bytes", e.message().len());
    }
}
