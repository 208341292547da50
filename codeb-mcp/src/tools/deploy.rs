//! `deploy`, `plan`, `rollback`, `promote`, `recover`, `releases`.

use std::time::Duration;

use codeb::engine::{DeployReport, Plan, ReconcileReport, RecoverReport, Rollback};
use codeb::model::{Environment, ImageRef, ProjectName, ReleaseId};
use codeb::project::ProjectFile;
use codeb::ssot::ReleaseRecord;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::failure::ToolFailure;
use crate::input::{optional, project_dir, required};
use crate::output::{Guarded, Untrusted};
use crate::progress::Progress;
use crate::roots::ProjectRoots;
use crate::server::CodebServer;
use crate::tools::{NoParams, TargetParams, target};

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
    /// Wait up to this many seconds (0-600) for another deploy of the environment to finish; default: fail at once.
    #[serde(default, deserialize_with = "wait_seconds")]
    #[schemars(range(min = 0, max = MAX_WAIT_SECONDS))]
    pub wait_seconds: Option<u64>,
}

fn wait_seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    crate::input::integer(deserializer, "wait_seconds", "0-600")
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

/// Which environment's serving release to promote, and to which environment.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteParams {
    /// The project.
    pub project: String,
    /// The environment whose serving release is promoted: staging, production or preview-<id>.
    pub from: String,
    /// The environment that runs it next.
    pub to: String,
}

/// Which environment to recover.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverParams {
    /// The project.
    pub project: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// Take the deploy lock even from a holder that still runs (or runs on another host), which may break a
    /// deploy in progress. Without it a live holder's lock is refused; a stale one is released.
    #[serde(default)]
    pub force: bool,
}

/// Reads the project directory (if `roots` admit it, and every path its file names) and builds the deploy
/// request, like `we deploy`.
fn request(
    roots: &ProjectRoots,
    path: &str,
    env: &str,
    image: Option<&str>,
) -> Result<codeb::engine::DeployRequest, ToolFailure> {
    let dir = roots.admit("path", &project_dir("path", path)?)?;
    let env = required("env", env, Environment::parse)?;
    let image = optional("image", image, ImageRef::parse)?;
    let file = ProjectFile::read_under(&dir, roots.dirs())?;
    Ok(file.deploy_request(&env, image)?)
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
    async fn deploy(
        &self,
        params: Parameters<DeployParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<DeployReport>, ToolFailure> {
        let p = params.0;
        let request = request(&self.roots, &p.path, &p.env, p.image.as_deref())?;
        let wait = match p.wait_seconds {
            Some(s) if s > MAX_WAIT_SECONDS => {
                return Err(ToolFailure::bad_argument("wait_seconds", "is at most 600"));
            }
            other => other.map(Duration::from_secs),
        };
        let progress = Progress::start(&context, format!("deploy {}/{}", request.project, request.env));
        let mut options = progress.options();
        options.wait_for_lock = wait;
        let report = self.sdk()?.deploy(&request, &options).await;
        progress.finish().await;
        Ok(Json(report?))
    }

    /// Dry run of `deploy`: what deploying the project directory to the environment would change
    /// (ports, accessories, image, routes, records, the release it replaces). Changes nothing.
    #[tool(annotations(title = "Plan a deploy", read_only_hint = true, open_world_hint = true))]
    async fn plan(&self, params: Parameters<PlanParams>) -> Result<Json<Plan>, ToolFailure> {
        let p = params.0;
        Ok(Json(self.sdk()?.plan(&request(&self.roots, &p.path, &p.env, p.image.as_deref())?).await?))
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
    async fn rollback(
        &self,
        params: Parameters<RollbackParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<Guarded<Rollback>>, ToolFailure> {
        let p = params.0;
        let (project, env) = target(&p.project, &p.env)?;
        let to = optional("to", p.to.as_deref(), ReleaseId::parse)?;
        let progress = Progress::start(&context, format!("rollback {project}/{env}"));
        let rollback = self.sdk()?.rollback_guarded(&project, &env, to.as_ref(), p.force, &progress.options()).await;
        progress.finish().await;
        Ok(Json(Guarded::new(rollback?)))
    }

    /// Deploy to `to` the exact image `from` serves, by its registry digest, without a build: health-gated like
    /// a deploy, with `to`'s own env vars, secrets and domains. A tool error when `from` serves nothing or its image
    /// was never pushed to a registry.
    #[tool(annotations(
        title = "Promote",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn promote(
        &self,
        params: Parameters<PromoteParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<DeployReport>, ToolFailure> {
        let p = params.0;
        let project = required("project", &p.project, ProjectName::parse)?;
        let (from, to) = (required("from", &p.from, Environment::parse)?, required("to", &p.to, Environment::parse)?);
        let progress = Progress::start(&context, format!("promote {project}/{from} to {to}"));
        let report = self.sdk()?.promote(&project, &from, &to, &progress.options()).await;
        progress.finish().await;
        Ok(Json(report?))
    }

    /// Complete or clean up an interrupted deploy (a crash, a killed process): release its stale lock, start the
    /// recorded current release again if it is not running, point every route back at it, and remove releases
    /// still pending (recorded failed). A lock whose holder still runs is refused (`forbidden`) unless `force: true`.
    #[tool(annotations(
        title = "Recover an environment",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn recover(
        &self,
        params: Parameters<RecoverParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<RecoverReport>, ToolFailure> {
        let p = params.0;
        let (project, env) = target(&p.project, &p.env)?;
        let progress = Progress::start(&context, format!("recover {project}/{env}"));
        let report = self.sdk()?.recover(&project, &env, p.force, &progress.options()).await;
        progress.finish().await;
        Ok(Json(report?))
    }

    /// Recover every environment the SSOT records (as `recover` without force does, one at a time): after a proxy or
    /// server restart, each serving release runs again and every route and DNS record of its domains is made again.
    /// An environment that cannot be recovered (a live deploy holds it) is reported with its error; the rest still are.
    #[tool(annotations(
        title = "Reconcile the platform",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn reconcile(
        &self,
        _params: Parameters<NoParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ReconcileReport>, ToolFailure> {
        let progress = Progress::start(&context, "reconcile".to_owned());
        let report = self.sdk()?.reconcile(&progress.options()).await;
        progress.finish().await;
        Ok(Json(report?))
    }

    /// The kept releases of an environment, oldest first: image, configuration and status (`live` serves now;
    /// `failed` names the step and the reason, which may quote the app, so the list is marked untrusted).
    /// A project or environment the SSOT does not know is `not_found` (see `project_list`).
    #[tool(annotations(title = "List releases", read_only_hint = true, open_world_hint = false))]
    async fn releases(
        &self,
        params: Parameters<TargetParams>,
    ) -> Result<Json<Untrusted<Vec<ReleaseRecord>>>, ToolFailure> {
        let (project, env) = target(&params.0.project, &params.0.env)?;
        // Not `Platform::releases`, which answers an environment the SSOT does not know with no releases.
        Ok(Json(Untrusted::new(self.sdk()?.existing_environment(&project, &env).await?.releases)))
    }
}
