//! `we env ...`

use std::io::IsTerminal;

use codeb::model::EnvVar;
use codeb::{Error, Result};

use crate::args::EnvCommand;
use crate::commands::applied_code;
use crate::context::Context;
use crate::exit::OK;
use crate::render;

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
        vars.extend(codeb::envfile::read("standard input", input, secret)?);
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
