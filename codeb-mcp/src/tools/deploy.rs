//! `deploy`, `plan`, `rollback`, `releases`.

use std::time::Duration;

use codeb::engine::DeployOptions;
use codeb::model::{Environment, ImageRef, ReleaseId};
use codeb::project::ProjectFile;
use codeb::ssot::{ReleaseRecord, ReleaseStatus};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::failure::{ToolFailure, UNTRUSTED_NOTICE};
use crate::input::{optional, project_dir, required};
use crate::output::{FORCE_HINT, changes};
use crate::roots::ProjectRoots;
use crate::server::CodebServer;
use crate::tools::{TargetParams, target};

/// Longest wait for another deploy's lock, in seconds.
const MAX_WAIT_SECONDS: u64 = 600;

/// A project directory and where to deploy it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployParams {
    /// The project directory holding codeb.toml (absolute, or relative to the server's working directory).
    pub path: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// Deploy this OCI image reference instead of the one codeb.toml names or builds.
    #[serde(default)]
    pub image: Option<String>,
    /// Wait up to this many seconds (at most 600) for another deploy of the environment to finish; default: fail at once.
    #[serde(default)]
    pub wait_seconds: Option<u64>,
}

/// A project directory and where a deploy of it would go.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanParams {
    /// The project directory holding codeb.toml (absolute, or relative to the server's working directory).
    pub path: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// Plan with this OCI image reference instead of the one codeb.toml names or builds.
    #[serde(default)]
    pub image: Option<String>,
}

/// A finished deploy or rollback.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeployOutput {
    /// The project.
    pub project: String,
    /// The environment.
    pub env: String,
    /// The release that serves now.
    pub release: String,
    /// Its image.
    pub image: String,
    /// The host port it serves on.
    pub port: u16,
    /// The release it replaced (the target of a later `rollback`).
    pub previous: Option<String>,
    /// The domains routed to it.
    pub domains: Vec<String>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

impl From<codeb::engine::DeployReport> for DeployOutput {
    fn from(r: codeb::engine::DeployReport) -> Self {
        DeployOutput {
            project: r.project.to_string(),
            env: r.env.to_string(),
            release: r.release.to_string(),
            image: r.image.to_string(),
            port: r.port.get(),
            previous: r.previous.map(|p| p.to_string()),
            domains: r.domains.iter().map(ToString::to_string).collect(),
            elapsed_ms: r.elapsed_ms,
        }
    }
}

/// What a deploy would do; nothing was changed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanOutput {
    /// The project.
    pub project: String,
    /// The environment.
    pub env: String,
    /// The id the new release would get.
    pub release: String,
    /// The image it would run.
    pub image: String,
    /// The release that serves now, which the deploy would replace.
    pub previous: Option<String>,
    /// The domains that would be routed to it.
    pub domains: Vec<String>,
    /// The SSOT revision the plan was made at.
    pub revision: u64,
    /// The changes, in order.
    pub changes: Vec<serde_json::Value>,
    /// Always false: a plan changes nothing.
    pub applied: bool,
}

/// Which environment to roll back, and to where.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackParams {
    /// The project.
    pub project: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// The release id to go back to (see `releases`); default: the previous one.
    #[serde(default)]
    pub to: Option<String>,
    /// Really roll back. Without it the call returns the plan and changes nothing.
    #[serde(default)]
    pub force: bool,
}

/// What a rollback did, or would do without `force`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RollbackOutput {
    /// Whether the rollback was made (`false`: refused without `force`, nothing changed).
    pub applied: bool,
    /// The project.
    pub project: String,
    /// The environment.
    pub env: String,
    /// The release that served before.
    pub from: Option<String>,
    /// The release that serves (or would serve) afterwards.
    pub to: String,
    /// Its image.
    pub image: String,
    /// The changes the rollback would make (empty once applied).
    pub changes: Vec<serde_json::Value>,
    /// The port it serves on, once applied.
    pub port: Option<u16>,
    /// How long it took, once applied.
    pub elapsed_ms: Option<u64>,
    /// What to do next, when nothing was changed.
    pub hint: Option<String>,
}

/// The releases of an environment.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReleasesOutput {
    /// The project.
    pub project: String,
    /// The environment.
    pub env: String,
    /// The release serving now.
    pub current: Option<String>,
    /// The kept releases, oldest first.
    pub releases: Vec<ReleaseSummary>,
    /// Present when a failure reason may quote the app's own output.
    pub notice: Option<String>,
}

/// One release.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReleaseSummary {
    /// The id (`v3`), for `rollback`'s `to`.
    pub id: String,
    /// The image.
    pub image: String,
    /// `live`, `retired`, `pending` or `failed`.
    pub status: String,
    /// The step a failed release failed at.
    pub failed_step: Option<String>,
    /// Why it failed (may quote the app's answer to its health check).
    pub failure_reason: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

impl From<&ReleaseRecord> for ReleaseSummary {
    fn from(r: &ReleaseRecord) -> Self {
        let status = r.status.as_str();
        let (failed_step, failure_reason) = match &r.status {
            ReleaseStatus::Failed { step, reason } => (Some(step.to_string()), Some(reason.clone())),
            _ => (None, None),
        };
        ReleaseSummary {
            id: r.id.to_string(),
            image: r.image.to_string(),
            status: status.to_owned(),
            failed_step,
            failure_reason,
            created_at: r.created_at.to_rfc3339(),
        }
    }
}

/// Reads the project directory (if `roots` admit it) and builds the deploy request, like `we deploy`.
fn request(
    roots: &ProjectRoots,
    path: &str,
    env: &str,
    image: Option<&str>,
) -> Result<codeb::engine::DeployRequest, ToolFailure> {
    let dir = roots.admit("path", &project_dir("path", path)?)?;
    let env = required("env", env, Environment::parse)?;
    let image = optional("image", image, ImageRef::parse)?;
    let file = ProjectFile::read(&dir)?;
    Ok(file.deploy_request(&env, image)?)
}

/// Deploy options recorded in the lock as this server's.
pub(crate) fn options(what: String) -> DeployOptions {
    DeployOptions { message: Some(format!("mcp {what}")), ..DeployOptions::default() }
}

#[tool_router(router = deploy_tools, vis = "pub(crate)")]
impl CodebServer {
    /// Deploy a project directory (its codeb.toml) to an environment: health-gated, zero downtime,
    /// automatic rollback on failure. Returns the new release id and port; a failure is a tool error
    /// naming the failed step with the health evidence.
    #[tool(annotations(
        title = "Deploy",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn deploy(&self, params: Parameters<DeployParams>) -> Result<Json<DeployOutput>, ToolFailure> {
        let p = params.0;
        let request = request(&self.roots, &p.path, &p.env, p.image.as_deref())?;
        let wait = match p.wait_seconds {
            Some(s) if s > MAX_WAIT_SECONDS => {
                return Err(ToolFailure::bad_argument("wait_seconds", "is at most 600"));
            }
            other => other.map(Duration::from_secs),
        };
        let mut options = options(format!("deploy {}/{}", request.project, request.env));
        options.wait_for_lock = wait;
        Ok(Json(self.platform.deploy(&request, &options).await?.into()))
    }

    /// Dry run of `deploy`: what deploying the project directory to the environment would change
    /// (ports, accessories, image, routes, records, the release it replaces). Changes nothing.
    #[tool(annotations(title = "Plan a deploy", read_only_hint = true, open_world_hint = true))]
    async fn plan(&self, params: Parameters<PlanParams>) -> Result<Json<PlanOutput>, ToolFailure> {
        let p = params.0;
        let plan = self.platform.plan(&request(&self.roots, &p.path, &p.env, p.image.as_deref())?).await?;
        Ok(Json(PlanOutput {
            project: plan.project.to_string(),
            env: plan.env.to_string(),
            release: plan.release.to_string(),
            image: plan.image.to_string(),
            previous: plan.previous.as_ref().map(ToString::to_string),
            domains: plan.domains.iter().map(ToString::to_string).collect(),
            revision: plan.revision,
            changes: changes(&plan.changes)?,
            applied: false,
        }))
    }

    /// Go back to the previous release (or the one named by `to`), health-gated like a deploy.
    /// Needs `force: true`; without it, returns the plan and changes nothing.
    #[tool(annotations(
        title = "Roll back",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn rollback(&self, params: Parameters<RollbackParams>) -> Result<Json<RollbackOutput>, ToolFailure> {
        let p = params.0;
        let (project, env) = target(&p.project, &p.env)?;
        let to = optional("to", p.to.as_deref(), ReleaseId::parse)?;
        if !p.force {
            let plan = self.platform.plan_rollback(&project, &env, to.as_ref()).await?;
            return Ok(Json(RollbackOutput {
                applied: false,
                project: project.to_string(),
                env: env.to_string(),
                from: Some(plan.from.to_string()),
                to: plan.to.to_string(),
                image: plan.image.to_string(),
                changes: changes(&plan.changes)?,
                port: None,
                elapsed_ms: None,
                hint: Some(FORCE_HINT.to_owned()),
            }));
        }
        let report =
            self.platform.rollback(&project, &env, to.as_ref(), &options(format!("rollback {project}/{env}"))).await?;
        Ok(Json(RollbackOutput {
            applied: true,
            project: project.to_string(),
            env: env.to_string(),
            from: report.previous.as_ref().map(ToString::to_string),
            to: report.release.to_string(),
            image: report.image.to_string(),
            changes: Vec::new(),
            port: Some(report.port.get()),
            elapsed_ms: Some(report.elapsed_ms),
            hint: None,
        }))
    }

    /// The kept releases of an environment, oldest first, with the one serving now and why failed ones failed.
    #[tool(annotations(title = "List releases", read_only_hint = true, open_world_hint = false))]
    async fn releases(&self, params: Parameters<TargetParams>) -> Result<Json<ReleasesOutput>, ToolFailure> {
        let (project, env) = target(&params.0.project, &params.0.env)?;
        let list = self.platform.releases(&project, &env).await?;
        let releases: Vec<ReleaseSummary> = list.iter().map(ReleaseSummary::from).collect();
        let current = list.iter().find(|r| r.status == ReleaseStatus::Live).map(|r| r.id.to_string());
        let notice = releases.iter().any(|r| r.failure_reason.is_some()).then(|| UNTRUSTED_NOTICE.to_owned());
        Ok(Json(ReleasesOutput { project: project.to_string(), env: env.to_string(), current, releases, notice }))
    }
}
