//! `we local up | down | status`: the local stack as a user sees it.

use std::path::{Path, PathBuf};

use codeb::{Error, ErrorKind, Result};
use codeb_devstack::{LOCAL_ZONE, LocalStack, LocalStackOptions, StopOutcome};
use serde_json::json;

use crate::args::{LocalArgs, LocalCommand};
use crate::context::Context;
use crate::exit::{FAILURE, OK};
use crate::printer::Tone;

/// The first line of a platform file `we local up` wrote; it may replace only such a file.
const MARKER: &str = "# Written by `we local up`";

/// `~/.local/share/codeb/local` (or under `$XDG_DATA_HOME`).
fn default_dir() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| Error::invalid("set HOME or XDG_DATA_HOME, or pass --dir"))?;
    Ok(base.join("codeb").join("local"))
}

fn dir_of(args: LocalArgs) -> Result<PathBuf> {
    args.dir.map_or_else(default_dir, Ok)
}

/// Runs blocking stack work off the async runtime.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::internal("the local stack task panicked").with_source(e))?
}

pub async fn run(cmd: LocalCommand, ctx: &Context) -> Result<u8> {
    match cmd {
        LocalCommand::Up(args) => up(dir_of(args)?, ctx).await,
        LocalCommand::Down(args) => down(dir_of(args)?, ctx).await,
        LocalCommand::Status(args) => status(dir_of(args)?, ctx).await,
    }
}

async fn up(dir: PathBuf, ctx: &Context) -> Result<u8> {
    let progress = ctx.progress("local up: starting Podman, Caddy, PowerDNS and a registry");
    let stack_dir = dir.clone();
    let started = blocking(move || {
        let stack = LocalStack::up(&LocalStackOptions::new(stack_dir))?;
        let platform_file = stack.write_platform_file()?;
        Ok((stack, platform_file))
    })
    .await;
    drop(progress);
    let (stack, platform_file) = started?;
    let installed = install_default(&platform_file)?;
    let e = stack.endpoints();
    let doc = json!({
        "dir": stack.dir(),
        "platform_file": platform_file,
        "default_config": installed,
        "http": e.http.to_string(),
        "dns": e.pdns_dns.to_string(),
        "zone": LOCAL_ZONE,
        "registry": e.registry.to_string(),
        "parts": stack.processes().iter().map(|p| json!({ "part": p.part.as_str(), "pid": p.pid, "log": p.log })).collect::<Vec<_>>(),
    });
    ctx.printer.result(&doc, |p| {
        let mut lines = vec![format!("{} local stack in {}", p.paint(Tone::Good, "up:"), stack.dir().display())];
        lines.extend(
            stack
                .processes()
                .iter()
                .map(|proc| format!("  {:<9} pid {:<7} {}", proc.part.as_str(), proc.pid, e.describe(proc.part))),
        );
        lines.push(format!("platform file: {}", platform_file.display()));
        match &installed {
            Some(path) => lines.push(format!("  (also at {}, where every `we` command finds it)", path.display())),
            None => lines.push(format!("  use it with: export CODEB_CONFIG={}", platform_file.display())),
        }
        lines.push(format!("apps answer through Caddy at http://{} with their Host, e.g.:", e.http));
        lines.push(format!("  curl -H 'Host: hello.{LOCAL_ZONE}' http://{}/", e.http));
        lines.push(format!("  dig @{} -p {} hello.{LOCAL_ZONE} +short", e.pdns_dns.ip(), e.pdns_dns.port()));
        lines
    });
    Ok(OK)
}

/// Copies the stack's platform file to the default config path, unless a file
/// that `we local up` did not write is already there (one it wrote keeps the
/// keys added to it since). Returns where it went.
fn install_default(platform_file: &Path) -> Result<Option<PathBuf>> {
    let Some(target) = codeb::config::default_path() else { return Ok(None) };
    let existing = std::fs::read_to_string(&target).ok();
    if existing.as_ref().is_some_and(|e| !e.starts_with(MARKER)) {
        return Ok(None);
    }
    let text = std::fs::read_to_string(platform_file)
        .map_err(|e| Error::new(ErrorKind::Unavailable, "cannot read the platform file just written").with_source(e))?;
    let text = match existing {
        Some(existing) => codeb_devstack::with_stack_keys_of(&existing, &text)?,
        None => text,
    };
    let write = || -> std::io::Result<()> {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = target.with_extension("toml.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &target)
    };
    write()
        .map_err(|e| Error::new(ErrorKind::Unavailable, format!("cannot write {}", target.display())).with_source(e))?;
    Ok(Some(target))
}

async fn down(dir: PathBuf, ctx: &Context) -> Result<u8> {
    let report = blocking(move || LocalStack::down(dir)).await?;
    let parts: Vec<_> = report
        .parts
        .iter()
        .map(|p| json!({ "part": p.part.as_str(), "pid": p.pid, "outcome": p.outcome.as_str() }))
        .collect();
    ctx.printer.result(&json!({ "stopped": parts }), |p| {
        if report.parts.is_empty() {
            return vec!["no local stack was running there".to_owned()];
        }
        report
            .parts
            .iter()
            .map(|s| {
                let tone = if matches!(s.outcome, StopOutcome::PidReused) { Tone::Warn } else { Tone::Good };
                format!("{} (pid {}) {}", s.part.as_str(), s.pid, p.paint(tone, &s.outcome.to_string()))
            })
            .collect()
    });
    Ok(OK)
}

async fn status(dir: PathBuf, ctx: &Context) -> Result<u8> {
    let (status, endpoints) = blocking(move || {
        let status = LocalStack::status(&dir)?;
        let endpoints = LocalStack::open(&dir).ok().map(|s| s.endpoints().clone());
        Ok((status, endpoints))
    })
    .await?;
    let parts: Vec<_> = status
        .parts
        .iter()
        .map(|p| json!({ "part": p.part.as_str(), "pid": p.pid, "endpoint": p.endpoint, "running": p.running, "answering": p.answering, "log": p.log }))
        .collect();
    let up = status.is_up() && !status.parts.is_empty();
    let http = endpoints.as_ref().map(|e| e.http.to_string());
    let dns = endpoints.as_ref().map(|e| e.pdns_dns.to_string());
    ctx.printer.result(
        &json!({ "dir": status.dir, "up": up, "http": http, "dns": dns, "zone": LOCAL_ZONE, "parts": parts }),
        |p| {
            if status.parts.is_empty() {
                return vec![format!("no local stack in {} (start one with `we local up`)", status.dir.display())];
            }
            status
                .parts
                .iter()
                .map(|s| {
                    let state = match (s.running, s.answering) {
                        (true, true) => p.paint(Tone::Good, "up"),
                        (true, false) => p.paint(Tone::Warn, "not answering"),
                        _ => p.paint(Tone::Bad, "down"),
                    };
                    format!(
                        "{:<9} {:<14} pid {:<7} {}  (log: {})",
                        s.part.as_str(),
                        state,
                        s.pid,
                        s.endpoint,
                        s.log.display()
                    )
                })
                .collect()
        },
    );
    Ok(if up { OK } else { FAILURE })
}
