//! `we env ...`

use std::io::{BufRead, IsTerminal};

use codeb::model::EnvVar;
use codeb::{Error, Result};

use crate::args::EnvCommand;
use crate::commands::applied_code;
use crate::context::Context;
use crate::exit::OK;
use crate::render;

/// The variables of `KEY=VALUE` lines, skipping blank lines and `#` comments;
/// an error names the line, never its value.
fn assignment_lines(input: impl BufRead, secret: bool) -> Result<Vec<EnvVar>> {
    let mut vars = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line.map_err(|e| Error::invalid("standard input is not UTF-8 text").with_source(e))?;
        let text = line.strip_suffix('\r').unwrap_or(&line);
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            continue;
        }
        vars.push(
            EnvVar::parse_assignment(text, secret).map_err(|e| Error::from(e).with_context("stdin line", index + 1))?,
        );
    }
    Ok(vars)
}

/// Every variable `we env set` was given, validated before anything is reached.
fn assignments_given(assignments: &[String], secret: bool, stdin: bool, ctx: &Context) -> Result<Vec<EnvVar>> {
    let mut vars = Vec::new();
    for (index, text) in assignments.iter().enumerate() {
        vars.push(
            EnvVar::parse_assignment(text, secret).map_err(|e| Error::from(e).with_context("argument", index + 1))?,
        );
    }
    if stdin {
        let input = std::io::stdin().lock();
        if input.is_terminal() {
            ctx.printer.note("reading KEY=VALUE lines from the terminal; end with Ctrl-D");
        }
        vars.extend(assignment_lines(input, secret)?);
    }
    if vars.is_empty() {
        return Err(Error::invalid("nothing to set: standard input had no KEY=VALUE line"));
    }
    Ok(vars)
}

pub async fn run(cmd: EnvCommand, ctx: &Context) -> Result<u8> {
    let given = match &cmd {
        EnvCommand::Set { assignments, secret, stdin, .. } => assignments_given(assignments, *secret, *stdin, ctx)?,
        _ => Vec::new(),
    };
    let platform = ctx.platform().await?;
    match cmd {
        EnvCommand::Set { scope, secret, .. } => {
            let vars = given;
            let version = platform.env_set(&scope.project, &scope.env, &vars).await?;
            let keys: Vec<&str> = vars.iter().map(|v| v.key.as_str()).collect();
            let doc = serde_json::json!({ "version": version, "set": keys, "secret": secret });
            ctx.printer.result(&doc, |_| {
                vec![format!(
                    "set {} on {}/{} (env version {version}); the next deploy uses them",
                    keys.join(", "),
                    scope.project,
                    scope.env
                )]
            });
            Ok(OK)
        }
        EnvCommand::List { scope } => {
            let listing = platform.env_listing(&scope.project, &scope.env).await?;
            ctx.printer.result(&listing, |_| listing.vars.iter().map(ToString::to_string).collect());
            Ok(OK)
        }
        EnvCommand::Get { key, scope } => {
            let var = platform.env_get(&scope.project, &scope.env, &key).await?;
            let doc = serde_json::json!({ "key": var.key.as_str(), "value": var.value.expose(), "secret": var.secret });
            ctx.printer.result(&doc, |_| vec![var.value.expose().to_owned()]);
            Ok(OK)
        }
        EnvCommand::Unset { keys, scope, force } => {
            let removal = platform.env_unset(&scope.project, &scope.env, &keys, force).await?;
            ctx.printer.result(&removal, |p| render::removal(p, &removal));
            Ok(applied_code(removal.applied))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_skip_blanks_and_comments_and_name_a_bad_line_without_its_value() {
        let input = "# the database\nDATABASE_URL=postgres://u:p@db/app\n\n  \nTOKEN=a=b\r\n";
        let vars = assignment_lines(input.as_bytes(), true).unwrap();
        let pairs: Vec<(&str, &str)> = vars.iter().map(|v| (v.key.as_str(), v.value.expose())).collect();
        assert_eq!(pairs, [("DATABASE_URL", "postgres://u:p@db/app"), ("TOKEN", "a=b")]);
        assert!(vars.iter().all(|v| v.secret));

        let err = assignment_lines("OK=1\nhunter2\n".as_bytes(), true).unwrap_err();
        assert_eq!(err.context_value("stdin line"), Some("2"), "{err}");
        let err = assignment_lines("OK=1\nBAD KEY=hunter2\n".as_bytes(), true).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
