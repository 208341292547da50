//! `project_list`, `project_show`, `project_delete`.

use codeb::model::ProjectName;
use codeb::ops::{ProjectSummary, Removal};
use codeb::ssot::ProjectRecord;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::failure::ToolFailure;
use crate::input::required;
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
