//! `init`, `project_list`, `project_show`, `project_delete`.

use codeb::model::ProjectName;
use codeb::ops::{ProjectSummary, Removal};
use codeb::project::{InitOptions, InitReport};
use codeb::ssot::ProjectRecord;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::failure::ToolFailure;
use crate::input::{project_dir, required};
use crate::output::{Guarded, Items, Untrusted};
use crate::progress::Progress;
use crate::server::CodebServer;
use crate::tools::NoParams;

/// A project.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectParams {
    /// The project.
    pub project: String,
}

/// A directory to write codeb.toml in.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InitParams {
    /// The project directory (absolute, or relative to the server's working directory).
    pub path: String,
    /// Write over an existing codeb.toml. Without it an existing one is a conflict and nothing is written.
    #[serde(default)]
    pub force: bool,
    /// Analyse and return the file without writing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// A project to delete.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectDeleteParams {
    /// The project.
    pub project: String,
    /// Really delete it. Without it the call returns the plan and changes nothing.
    #[serde(default)]
    pub force: bool,
}

#[tool_router(router = project_tools, vis = "pub(crate)")]
impl CodebServer {
    /// Analyse a project directory (package.json, lock file, Prisma and its database, Redis clients, start
    /// script, port, Next.js standalone output) and write its codeb.toml, ready for `deploy`. Never writes over
    /// an existing codeb.toml without `force: true`; `dry_run: true` writes nothing. Returns what was found, the
    /// file, and the Containerfile a deploy generates when the directory has none; it quotes the repository's
    /// files, so it is marked untrusted.
    #[tool(annotations(
        title = "Write a project's codeb.toml",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn init(&self, params: Parameters<InitParams>) -> Result<Json<Untrusted<InitReport>>, ToolFailure> {
        let p = params.0;
        let dir = self.roots.admit("path", &project_dir("path", &p.path)?)?;
        let options = InitOptions { force: p.force, dry_run: p.dry_run };
        Ok(Json(Untrusted::new(codeb::project::init_under(&dir, self.roots.dirs(), &options)?)))
    }

    /// Every project the SSOT records, with the release serving each of its environments (`null`: none serves).
    /// Start here to find project names; `project_show` gives one project whole.
    #[tool(annotations(title = "List projects", read_only_hint = true, open_world_hint = false))]
    async fn project_list(&self, _params: Parameters<NoParams>) -> Result<Json<Items<ProjectSummary>>, ToolFailure> {
        Ok(Json(Items { items: self.sdk()?.project_list().await? }))
    }

    /// One project as the SSOT records it: per environment the serving release, ports, domains,
    /// accessories, kept releases and the lock if held. Failure reasons may quote the app, so it is marked untrusted.
    #[tool(annotations(title = "Show a project", read_only_hint = true, open_world_hint = false))]
    async fn project_show(
        &self,
        params: Parameters<ProjectParams>,
    ) -> Result<Json<Untrusted<ProjectRecord>>, ToolFailure> {
        let project = required("project", &params.0.project, ProjectName::parse)?;
        Ok(Json(Untrusted::new(self.sdk()?.project_show(&project).await?)))
    }

    /// Delete a project whole: containers, routes, records, ports, env vars and its SSOT entry.
    /// Protected data volumes are always kept. Needs `force: true`; without it, returns the plan and changes nothing.
    #[tool(annotations(
        title = "Delete a project",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn project_delete(
        &self,
        params: Parameters<ProjectDeleteParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<Guarded<Removal>>, ToolFailure> {
        let p = params.0;
        let project = required("project", &p.project, ProjectName::parse)?;
        let progress = Progress::start(&context, format!("project_delete {project}"));
        let removal = self.sdk()?.project_delete(&project, p.force, &progress.options()).await;
        progress.finish().await;
        Ok(Json(Guarded::new(removal?)))
    }
}
