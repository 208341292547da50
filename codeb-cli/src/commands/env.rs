//! `we env ...`

use codeb::model::{EnvKey, EnvValue, EnvVar};
use codeb::{Error, Result};
use serde::Serialize;

use crate::args::EnvCommand;
use crate::commands::applied_code;
use crate::context::Context;
use crate::exit::OK;
use crate::render;

/// One variable as a listing shows it: secret values masked.
#[derive(Serialize)]
struct Listed<'a> {
    key: &'a str,
    value: &'a str,
    secret: bool,
}

/// Parses `KEY=VALUE` into a variable (the value may contain `=`).
fn assignment(text: &str, secret: bool) -> Result<EnvVar> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| Error::invalid("an assignment is KEY=VALUE").with_context("argument", key_only(text)))?;
    Ok(EnvVar { key: EnvKey::parse(key)?, value: EnvValue::parse(value)?, secret })
}

/// The part of an argument before `=`, so a malformed secret is never echoed whole.
fn key_only(text: &str) -> String {
    text.chars().take_while(|c| *c != '=').take(40).collect()
}

pub async fn run(cmd: EnvCommand, ctx: &Context) -> Result<u8> {
    if let EnvCommand::Set { assignments, secret, .. } = &cmd {
        // Validate every assignment before connecting to anything.
        for text in assignments {
            assignment(text, *secret)?;
        }
    }
    let platform = ctx.platform().await?;
    match cmd {
        EnvCommand::Set { assignments, scope, secret } => {
            let vars = assignments.iter().map(|a| assignment(a, secret)).collect::<Result<Vec<_>>>()?;
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
            let set = platform.env_list(&scope.project, &scope.env).await?;
            let listed: Vec<Listed> = set
                .vars
                .iter()
                .map(|v| Listed { key: v.key.as_str(), value: v.listed_value(), secret: v.secret })
                .collect();
            let doc = serde_json::json!({ "version": set.version, "vars": listed });
            ctx.printer.result(&doc, |_| listed.iter().map(|l| format!("{}={}", l.key, l.value)).collect());
            Ok(OK)
        }
        EnvCommand::Get { key, scope } => {
            let var = platform.env_get(&scope.project, &scope.env, &key).await?;
            let doc = Listed { key: var.key.as_str(), value: var.value.expose(), secret: var.secret };
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
    fn assignments_split_on_the_first_equals_and_never_echo_the_value() {
        let var = assignment("URL=postgres://a?b=c", true).unwrap();
        assert_eq!((var.key.as_str(), var.value.expose(), var.secret), ("URL", "postgres://a?b=c", true));
        let err = assignment("NOEQUALS-hunter2", true).unwrap_err();
        assert_eq!(err.kind(), codeb::ErrorKind::Invalid);
        let bad_key = assignment("BAD KEY=hunter2", true).unwrap_err();
        assert!(!bad_key.to_string().contains("hunter2"), "{bad_key}");
    }
}
