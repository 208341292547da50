//! Shell completion that knows the platform. `we completions SHELL` prints a
//! script that asks `we` itself for candidates (clap_complete's dynamic
//! engine: the shell runs `COMPLETE=SHELL we -- WORDS...`), so `-p` offers
//! the projects of the SSOT and `--env` their environments.

use std::collections::BTreeSet;
use std::ffi::OsStr;

use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{CompleteEnv, Shells};
use codeb::ops::ProjectSummary;

use crate::args::Cli;

/// The variable that asks `we` for completions instead of running a command.
const VAR: &str = "COMPLETE";

/// Answers the shell and exits when it asked for completions; returns otherwise.
pub fn answer_if_asked() {
    CompleteEnv::with_factory(Cli::command).var(VAR).bin("we").completer("we").complete();
}

/// The script that registers `we`'s completions in `shell`.
pub fn script(shell: clap_complete::Shell) -> codeb::Result<Vec<u8>> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let completer = shells
        .completer(&name)
        .ok_or_else(|| codeb::Error::invalid(format!("no completions for {name}")).with_context("field", "shell"))?;
    let mut script = Vec::new();
    completer
        .write_registration(VAR, "we", "we", "we", &mut script)
        .map_err(|e| codeb::Error::internal("cannot write the completion script").with_source(e))?;
    Ok(script)
}

/// The SSOT's projects that start with `current`.
pub fn projects(current: &OsStr) -> Vec<CompletionCandidate> {
    matching(current, known_projects().iter().map(|p| p.project.to_string()).collect())
}

/// Staging, production and every environment a project of the SSOT has, that start with `current`.
pub fn environments(current: &OsStr) -> Vec<CompletionCandidate> {
    let mut names: BTreeSet<String> = ["staging", "production"].map(str::to_owned).into();
    names.extend(known_projects().iter().flat_map(|p| p.environments.keys().map(ToString::to_string)));
    matching(current, names)
}

fn matching(current: &OsStr, names: BTreeSet<String>) -> Vec<CompletionCandidate> {
    let prefix = current.to_str().unwrap_or_default();
    names.into_iter().filter(|n| n.starts_with(prefix)).map(CompletionCandidate::new).collect()
}

/// The projects of the platform file `we` finds by itself; none when it finds
/// none or cannot read it (a completion never prints an error).
fn known_projects() -> Vec<ProjectSummary> {
    let list = || {
        let (platform, _) = codeb_backends::connect_discovered(None, "we").ok()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        runtime.block_on(platform.project_list()).ok()
    };
    list().unwrap_or_default()
}
