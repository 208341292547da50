//! Read-only views: `health_check`, `logs`, `ssot_status`, `ssot_diff`.

use codeb::ops::{DriftReport, HealthReport, SsotStatus};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::failure::ToolFailure;
use crate::input::bounded;
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
    #[serde(default, deserialize_with = "tail")]
    #[schemars(range(min = 1, max = MAX_TAIL))]
    pub tail: Option<u64>,
}

fn tail<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    crate::input::integer(deserializer, "tail", "1-1000")
}

/// The last log lines of the serving release, bounded for a model's context.
///
/// The SDK returns every line asked for; the bounds (1000 bytes a line,
/// 64 KiB in all) are this server's, which is why this type is too.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LogTail {
    /// How many lines were asked for.
    pub tail: u32,
    /// Older lines left out to keep the answer under 64 KiB.
    pub omitted_lines: usize,
    /// The lines, oldest first, each cut at 1000 bytes.
    pub lines: Untrusted<Vec<String>>,
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
    async fn health_check(
        &self,
        params: Parameters<TargetParams>,
    ) -> Result<Json<Untrusted<HealthReport>>, ToolFailure> {
        let (project, env) = target(&params.0.project, &params.0.env)?;
        Ok(Json(Untrusted::new(self.sdk()?.health_check(&project, &env).await?)))
    }

    /// The last log lines of the release serving an environment (bounded: at most 1000 lines, 64 KiB).
    /// The lines are the app's own output, returned as quoted data marked untrusted.
    #[tool(annotations(title = "Read logs", read_only_hint = true, open_world_hint = true))]
    async fn logs(&self, params: Parameters<LogsParams>) -> Result<Json<LogTail>, ToolFailure> {
        let p = params.0;
        let (project, env) = target(&p.project, &p.env)?;
        let tail = bounded("tail", p.tail, DEFAULT_TAIL, MAX_TAIL)?;
        let lines = self.sdk()?.logs(&project, &env, tail as usize).await?;
        let (lines, omitted_lines) = bounded_tail(lines);
        Ok(Json(LogTail { tail, omitted_lines, lines: Untrusted::new(lines) }))
    }

    /// A summary of the single source of truth: revision, and counts of projects, environments,
    /// serving environments, failed releases and held locks.
    #[tool(annotations(title = "SSOT status", read_only_hint = true, open_world_hint = false))]
    async fn ssot_status(&self, _params: Parameters<NoParams>) -> Result<Json<SsotStatus>, ToolFailure> {
        Ok(Json(self.sdk()?.ssot_status().await?))
    }

    /// Where what runs differs from what the SSOT records (`we ssot diff`): serving releases that do not run,
    /// routes that point elsewhere, containers the SSOT does not know, stray releases still running, and port drift.
    #[tool(annotations(title = "SSOT drift", read_only_hint = true, open_world_hint = true))]
    async fn ssot_diff(&self, _params: Parameters<NoParams>) -> Result<Json<DriftReport>, ToolFailure> {
        Ok(Json(self.sdk()?.drift().await?))
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
