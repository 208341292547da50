//! What `we local up`, `down` and `status` report: each a serde value (the
//! `--json` form) with a `Display` (the lines people read), and where a
//! stack lives by default.

use std::fmt;
use std::path::{Path, PathBuf};

use codeb::{Error, ErrorKind, Result};
use serde::Serialize;

use crate::{DownReport, LOCAL_ZONE, LocalStack, LocalStackOptions, MARKER, StackProcess, StackStatus, StopOutcome};

/// The data directory of the local stack when none is given:
/// `$XDG_DATA_HOME/codeb/local`, else `~/.local/share/codeb/local`.
pub fn default_dir() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| Error::invalid("set HOME or XDG_DATA_HOME, or pass --dir"))?;
    Ok(base.join("codeb").join("local"))
}

/// A stack that `up` started, with its platform file written.
#[derive(Clone, Debug, Serialize)]
pub struct StackStarted {
    /// The data directory.
    pub dir: PathBuf,
    /// The platform file in the data directory.
    pub platform_file: PathBuf,
    /// Where the platform file was also installed as every command's default,
    /// unless a platform file of the user's own was there.
    pub default_config: Option<PathBuf>,
    /// Where Caddy serves the apps (`host:port`).
    pub http: String,
    /// Where PowerDNS answers DNS (`host:port`).
    pub dns: String,
    /// The zone the apps' names are in.
    pub zone: &'static str,
    /// The OCI registry (`host:port`).
    pub registry: String,
    /// Each part's process.
    pub parts: Vec<StackProcess>,
    #[serde(skip)]
    described: Vec<String>,
}

impl LocalStack {
    /// Starts a stack (see [`LocalStack::up`]), writes its platform file and
    /// installs it as the default platform file (`codeb::config::default_path`)
    /// when no platform file of the user's own is there.
    pub fn start(options: &LocalStackOptions) -> Result<StackStarted> {
        let stack = LocalStack::up(options)?;
        let platform_file = stack.write_platform_file()?;
        let default_config = install_default(&platform_file)?;
        let e = stack.endpoints();
        Ok(StackStarted {
            dir: stack.dir().to_owned(),
            platform_file,
            default_config,
            http: e.http.to_string(),
            dns: e.pdns_dns.to_string(),
            zone: LOCAL_ZONE,
            registry: e.registry.to_string(),
            described: stack.processes().iter().map(|p| e.describe(p.part)).collect(),
            parts: stack.processes().to_vec(),
        })
    }
}

/// Copies the platform file to the default path, unless a file there is not
/// one `up` wrote; one it wrote keeps the keys the user added to it since
/// (only the stack's own keys are set, [`crate::with_stack_keys_of`]).
fn install_default(platform_file: &Path) -> Result<Option<PathBuf>> {
    let Some(target) = codeb::config::default_path() else { return Ok(None) };
    let existing = std::fs::read_to_string(&target).ok();
    if existing.as_ref().is_some_and(|e| !e.starts_with(MARKER)) {
        return Ok(None);
    }
    let text = std::fs::read_to_string(platform_file)
        .map_err(|e| Error::new(ErrorKind::Unavailable, "cannot read the platform file just written").with_source(e))?;
    let text = match existing {
        Some(existing) => crate::with_stack_keys_of(&existing, &text)?,
        None => text,
    };
    let write = || -> std::io::Result<()> {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        crate::atomic::replace_owner_only(&target, text.as_bytes())
    };
    write()
        .map_err(|e| Error::new(ErrorKind::Unavailable, format!("cannot write {}", target.display())).with_source(e))?;
    Ok(Some(target))
}

impl fmt::Display for StackStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "up: local stack in {}", self.dir.display())?;
        for (p, described) in self.parts.iter().zip(&self.described) {
            writeln!(f, "  {:<9} pid {:<7} {described}", p.part, p.pid)?;
        }
        writeln!(f, "platform file: {}", self.platform_file.display())?;
        match &self.default_config {
            Some(path) => writeln!(f, "  (also at {}, where every `we` command finds it)", path.display())?,
            None => writeln!(f, "  use it with: export CODEB_CONFIG={}", self.platform_file.display())?,
        }
        let (zone, http) = (self.zone, &self.http);
        writeln!(f, "apps answer through Caddy at http://{http} with their Host, e.g.:")?;
        writeln!(f, "  curl -H 'Host: hello.{zone}' http://{http}/")?;
        let (ip, port) = self.dns.rsplit_once(':').unwrap_or((&self.dns, "53"));
        write!(f, "  dig @{ip} -p {port} hello.{zone} +short")
    }
}

impl Serialize for StopOutcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for DownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.parts.is_empty() {
            return f.write_str("no local stack was running there");
        }
        let lines: Vec<String> =
            self.parts.iter().map(|s| format!("{} (pid {}) {}", s.part, s.pid, s.outcome)).collect();
        f.write_str(&lines.join("\n"))
    }
}

/// What `status` sees, with where the stack answers when it is recorded.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// The data directory.
    pub dir: PathBuf,
    /// Whether a stack is recorded and every part runs and answers.
    pub up: bool,
    /// Where Caddy serves the apps, when a stack is recorded.
    pub http: Option<String>,
    /// Where PowerDNS answers DNS, when a stack is recorded.
    pub dns: Option<String>,
    /// The zone the apps' names are in.
    pub zone: &'static str,
    /// Each part, in start order.
    pub parts: Vec<crate::PartStatus>,
}

impl LocalStack {
    /// [`LocalStack::status`], with the endpoints of the recorded stack; a
    /// directory with no stack (not even created yet) is a report of no parts,
    /// not an error: "is it up?" has an answer.
    pub fn report(dir: impl AsRef<Path>) -> Result<StatusReport> {
        let status = match LocalStack::status(&dir) {
            Err(e) if e.kind() == ErrorKind::NotFound => StackStatus { dir: dir.as_ref().to_owned(), parts: vec![] },
            other => other?,
        };
        let up = !status.parts.is_empty() && status.is_up();
        let StackStatus { dir, parts } = status;
        let endpoints = LocalStack::open(&dir).ok().map(|s| s.endpoints().clone());
        Ok(StatusReport {
            up,
            http: endpoints.as_ref().map(|e| e.http.to_string()),
            dns: endpoints.as_ref().map(|e| e.pdns_dns.to_string()),
            zone: LOCAL_ZONE,
            dir,
            parts,
        })
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.parts.is_empty() {
            return write!(f, "no local stack in {} (start one with `we local up`)", self.dir.display());
        }
        let lines: Vec<String> = self
            .parts
            .iter()
            .map(|s| {
                let state = match (s.running, s.answering) {
                    (true, true) => "up",
                    (true, false) => "not answering",
                    _ => "down",
                };
                format!("{:<9} {state:<14} pid {:<7} {}  (log: {})", s.part, s.pid, s.endpoint, s.log.display())
            })
            .collect();
        f.write_str(&lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Part, PartStatus, PartStopped};

    fn part(running: bool, answering: bool) -> PartStatus {
        PartStatus {
            part: Part::Caddy,
            pid: 42,
            endpoint: "http://127.0.0.1:2019".into(),
            running,
            answering,
            log: "/s/logs/caddy.log".into(),
        }
    }

    #[test]
    fn a_status_reads_as_a_line_a_part_and_serialises_with_stable_names() {
        let report = StatusReport {
            dir: "/s".into(),
            up: false,
            http: None,
            dns: None,
            zone: LOCAL_ZONE,
            parts: vec![part(true, false)],
        };
        assert_eq!(
            report.to_string(),
            "caddy     not answering  pid 42      http://127.0.0.1:2019  (log: /s/logs/caddy.log)"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["parts"][0]["part"], "caddy");
        assert_eq!(json["parts"][0]["answering"], false);
        assert_eq!(json["up"], false);
        let none = StatusReport { parts: vec![], ..report };
        assert!(none.to_string().contains("start one with `we local up`"), "{none}");
    }

    #[test]
    fn a_down_report_names_each_outcome() {
        let report = DownReport {
            parts: vec![PartStopped { part: Part::Podman, pid: 7, outcome: StopOutcome::Stopped { forced: true } }],
        };
        assert_eq!(report.to_string(), "podman (pid 7) killed (it ignored SIGTERM)");
        assert_eq!(
            serde_json::to_value(&report).unwrap()["stopped"][0]["outcome"],
            "killed",
            "the shape `we local down --json` prints"
        );
        assert_eq!(DownReport::default().to_string(), "no local stack was running there");
    }
}
