//! Read-only views: `health_check`, `logs`, `ssot_status`, `ssot_get_project`, `lock_status`.

use std::collections::BTreeMap;

use codeb::model::ProjectName;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::failure::ToolFailure;
use crate::input::{bounded, required};
use crate::output::Untrusted;
use crate::server::CodebServer;
use crate::tools::{NoParams, TargetParams, target};

/// Log lines returned when `tail` is not given.
const DEFAULT_TAIL: u32 = 100;
/// Most log lines one call asks for.
const MAX_TAIL: u32 = 1000;
/// Longest log line returned, in bytes; longer lines are cut.
const MAX_LINE_BYTES: usize = 1000;
/// Most log bytes one call returns; the oldest lines beyond it are left out.
const MAX_LOG_BYTES: usize = 64 * 1024;

/// Which logs to read.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsParams {
    /// The project.
    pub project: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// How many of the last lines (1-1000, default 100).
    #[serde(default)]
    pub tail: Option<u32>,
}

/// A project.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectParams {
    /// The project.
    pub project: String,
}

/// One probe of the serving release.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HealthOutput {
    /// The project.
    pub project: String,
    /// The environment.
    pub env: String,
    /// The release probed.
    pub release: String,
    /// The port it serves on.
    pub port: u16,
    /// Whether it answered healthy.
    pub healthy: bool,
    /// What it answered (status and body excerpt, or the connection error).
    pub evidence: Untrusted<String>,
}

/// The last log lines of the serving release.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LogsOutput {
    /// The project.
    pub project: String,
    /// The environment.
    pub env: String,
    /// How many lines were asked for.
    pub tail: u32,
    /// Older lines left out to keep the answer under 64 KiB.
    pub omitted_lines: usize,
    /// The lines, oldest first, each cut at 1000 bytes.
    pub lines: Untrusted<Vec<String>>,
}

/// A summary of the SSOT.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SsotStatusOutput {
    /// The document format.
    pub schema_version: u32,
    /// The revision.
    pub revision: u64,
    /// How many projects.
    pub projects: usize,
    /// How many environments across them.
    pub environments: usize,
    /// How many environments have a release serving.
    pub serving: usize,
    /// How many releases are recorded failed.
    pub failed_releases: usize,
    /// How many environments are locked now.
    pub locked: usize,
}

/// One project as the SSOT records it, summarised.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProjectOutput {
    /// The project.
    pub project: String,
    /// Its environments.
    pub environments: Vec<EnvironmentSummary>,
}

/// One environment of a project.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EnvironmentSummary {
    /// The environment.
    pub env: String,
    /// The release serving now.
    pub current_release: Option<String>,
    /// Ports per service (`app`, `postgres`, `redis`).
    pub ports: BTreeMap<String, u16>,
    /// Domains routed to it.
    pub domains: Vec<String>,
    /// Its accessories (`postgres`, `redis`).
    pub accessories: Vec<String>,
    /// Kept releases, oldest first, as `id: status`.
    pub releases: Vec<String>,
    /// Whether a deploy holds its lock now.
    pub locked: bool,
}

/// The deploy lock of an environment.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LockOutput {
    /// The project.
    pub project: String,
    /// The environment.
    pub env: String,
    /// Whether it is locked.
    pub locked: bool,
    /// Who holds it, as `owner@host (pid N)`.
    pub holder: Option<String>,
    /// Since when (RFC 3339).
    pub since: Option<String>,
    /// What the holder is doing.
    pub message: Option<String>,
    /// Whether the holder's process is gone (the lock is then safe to release with `we lock release`).
    pub stale: Option<bool>,
}

/// Cuts `line` to [`MAX_LINE_BYTES`] at a character boundary.
fn cut(line: String) -> String {
    if line.len() <= MAX_LINE_BYTES {
        return line;
    }
    let mut end = MAX_LINE_BYTES;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} [cut: {} bytes]", &line[..end], line.len())
}

/// The newest lines that fit in [`MAX_LOG_BYTES`], and how many older ones were left out.
fn bounded_tail(lines: Vec<String>) -> (Vec<String>, usize) {
    let mut kept: Vec<String> = Vec::new();
    let mut bytes = 0;
    let total = lines.len();
    for line in lines.into_iter().rev().map(cut) {
        if bytes + line.len() > MAX_LOG_BYTES {
            break;
        }
        bytes += line.len();
        kept.push(line);
    }
    kept.reverse();
    let omitted = total - kept.len();
    (kept, omitted)
}

#[tool_router(router = status_tools, vis = "pub(crate)")]
impl CodebServer {
    /// Probe the release serving an environment once, with its own health check.
    /// The evidence is the app's answer, marked untrusted.
    #[tool(annotations(title = "Health check", read_only_hint = true, open_world_hint = true))]
    async fn health_check(&self, params: Parameters<TargetParams>) -> Result<Json<HealthOutput>, ToolFailure> {
        let (project, env) = target(&params.0.project, &params.0.env)?;
        let report = self.platform.health_check(&project, &env).await?;
        Ok(Json(HealthOutput {
            project: project.to_string(),
            env: env.to_string(),
            release: report.release.to_string(),
            port: report.port.get(),
            healthy: report.verdict.healthy,
            evidence: Untrusted::new(report.verdict.evidence),
        }))
    }

    /// The last log lines of the release serving an environment (bounded: at most 1000 lines, 64 KiB).
    /// The lines are the app's own output, returned as quoted data marked untrusted.
    #[tool(annotations(title = "Read logs", read_only_hint = true, open_world_hint = true))]
    async fn logs(&self, params: Parameters<LogsParams>) -> Result<Json<LogsOutput>, ToolFailure> {
        let p = params.0;
        let (project, env) = target(&p.project, &p.env)?;
        let tail = bounded("tail", p.tail, DEFAULT_TAIL, MAX_TAIL)?;
        let lines = self.platform.logs(&project, &env, tail as usize).await?;
        let (lines, omitted_lines) = bounded_tail(lines);
        Ok(Json(LogsOutput {
            project: project.to_string(),
            env: env.to_string(),
            tail,
            omitted_lines,
            lines: Untrusted::new(lines),
        }))
    }

    /// A summary of the single source of truth: revision, and counts of projects, environments,
    /// serving environments, failed releases and held locks.
    #[tool(annotations(title = "SSOT status", read_only_hint = true, open_world_hint = false))]
    async fn ssot_status(&self, _params: Parameters<NoParams>) -> Result<Json<SsotStatusOutput>, ToolFailure> {
        let s = self.platform.ssot_status().await?;
        Ok(Json(SsotStatusOutput {
            schema_version: s.schema_version,
            revision: s.revision,
            projects: s.projects,
            environments: s.environments,
            serving: s.serving,
            failed_releases: s.failed_releases,
            locked: s.locked,
        }))
    }

    /// One project as the SSOT records it: per environment the serving release, ports, domains,
    /// accessories, kept releases and whether it is locked.
    #[tool(annotations(title = "SSOT project", read_only_hint = true, open_world_hint = false))]
    async fn ssot_get_project(&self, params: Parameters<ProjectParams>) -> Result<Json<ProjectOutput>, ToolFailure> {
        let project = required("project", &params.0.project, ProjectName::parse)?;
        let record = self.platform.project_show(&project).await?;
        let environments = record
            .environments
            .iter()
            .map(|(env, r)| EnvironmentSummary {
                env: env.to_string(),
                current_release: r.current_release.as_ref().map(ToString::to_string),
                ports: r.ports.iter().map(|(s, p)| (s.to_string(), p.get())).collect(),
                domains: r.domains.iter().map(ToString::to_string).collect(),
                accessories: r.accessories.keys().map(ToString::to_string).collect(),
                releases: r.releases.iter().map(|rel| format!("{}: {}", rel.id, rel.status.as_str())).collect(),
                locked: r.lock.is_some(),
            })
            .collect();
        Ok(Json(ProjectOutput { project: project.to_string(), environments }))
    }

    /// Who holds an environment's deploy lock, since when, and whether the holder is gone.
    #[tool(annotations(title = "Lock status", read_only_hint = true, open_world_hint = false))]
    async fn lock_status(&self, params: Parameters<TargetParams>) -> Result<Json<LockOutput>, ToolFailure> {
        let (project, env) = target(&params.0.project, &params.0.env)?;
        let status = self.platform.lock_status(&project, &env).await?;
        let (project, env) = (project.to_string(), env.to_string());
        Ok(Json(match status {
            None => LockOutput { project, env, locked: false, holder: None, since: None, message: None, stale: None },
            Some(s) => LockOutput {
                project,
                env,
                locked: true,
                holder: Some(format!("{}@{} (pid {})", s.holder.owner, s.holder.host, s.holder.pid)),
                since: Some(s.holder.started_at.to_rfc3339()),
                message: s.holder.message.clone(),
                stale: Some(s.stale),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_the_total_is_bounded() {
        let line = "é".repeat(MAX_LINE_BYTES);
        let cut = cut(line);
        assert!(cut.contains("[cut: 2000 bytes]"), "{cut}");
        let lines: Vec<String> = (0..200).map(|i| format!("{i:04}{}", "x".repeat(996))).collect();
        let (kept, omitted) = bounded_tail(lines);
        assert!(kept.iter().map(String::len).sum::<usize>() <= MAX_LOG_BYTES);
        assert_eq!(kept.len() + omitted, 200);
        assert!(kept.last().unwrap().starts_with("0199"), "the newest lines are kept");
    }
}
