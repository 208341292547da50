//! `we man`: a page for `we` and for every subcommand (`we-deploy(1)`,
//! `we-env-set(1)`, ...), from the clap definitions, each with the sections
//! clap cannot know: EXIT STATUS, ENVIRONMENT and FILES.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use codeb::{Error, ErrorKind, Result};

use crate::args::Cli;
use crate::exit::EXIT_CODES;

/// The variables `we` reads, and why.
const ENVIRONMENT: [(&str, &str); 6] = [
    ("CODEB_CONFIG", "The platform file, when --config is not given."),
    ("XDG_CONFIG_HOME", "Where the default platform file lives: $XDG_CONFIG_HOME/codeb/platform.toml."),
    ("XDG_DATA_HOME", "Where the local stack lives: $XDG_DATA_HOME/codeb/local."),
    ("HOME", "The base of both defaults when the XDG variables are unset."),
    ("NO_COLOR", "When set and not empty, no colour (as --color never) unless --color always."),
    ("TERM", "When dumb, no colour with --color auto."),
];

/// The files `we` reads and writes.
const FILES: [(&str, &str); 3] = [
    ("~/.config/codeb/platform.toml", "The default platform file: where the servers, backends and SSOT are."),
    ("~/.local/share/codeb/local", "The local stack of we local: its processes, logs and platform file."),
    ("codeb.toml", "The project file, in the directory a deploy is given."),
];

/// The command at `path` under `we`, built, so its name is `we-deploy`.
fn command_at(path: &[String]) -> Result<clap::Command> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    for name in path {
        let next = cmd.find_subcommand(name).cloned();
        let named = codeb::model::escape_controls(&path.join(" "));
        cmd = next.ok_or_else(|| Error::not_found(format!("`we {named}` is not a command")))?;
    }
    Ok(cmd)
}

/// A definition list section (`.SH NAME`, then `.TP` items).
fn section(out: &mut Vec<u8>, title: &str, items: impl IntoIterator<Item = (String, String)>) {
    let _ = writeln!(out, ".SH \"{title}\"");
    for (term, text) in items {
        let _ = writeln!(out, ".TP\n\\fB{}\\fR\n{}", roff_text(&term), roff_text(&text));
    }
}

/// Text roff prints as it is: a leading `.` or `'` would be a request, `\` an escape, `-` a hyphen.
fn roff_text(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with(['.', '\'']) { format!("\\&{text}") } else { text }
}

/// The page of one command: clap's sections, then the ones it cannot know.
fn render(cmd: clap::Command) -> Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd);
    let mut out = Vec::new();
    man.render(&mut out).map_err(|e| Error::internal("cannot render the man page").with_source(e))?;
    section(
        &mut out,
        "EXIT STATUS",
        EXIT_CODES.iter().map(|(code, meaning)| (code.to_string(), (*meaning).to_owned())),
    );
    section(&mut out, "ENVIRONMENT", ENVIRONMENT.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    section(&mut out, "FILES", FILES.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Ok(out)
}

/// The page of `we` (empty `path`) or of the subcommand at `path` (`["env", "set"]`).
pub fn page(path: &[String]) -> Result<Vec<u8>> {
    render(command_at(path)?)
}

/// Writes the page of `we` and of every subcommand into `dir`; returns the files.
pub fn write_all(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |e: std::io::Error| {
        Error::new(ErrorKind::Unavailable, format!("cannot write into {}", dir.display())).with_source(e)
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut written = Vec::new();
    let mut pending = vec![command_at(&[])?];
    while let Some(cmd) = pending.pop() {
        pending.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
        let file = dir.join(clap_mangen::Man::new(cmd.clone()).get_filename());
        std::fs::write(&file, render(cmd)?).map_err(io)?;
        written.push(file);
    }
    written.sort();
    Ok(written)
}
