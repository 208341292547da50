//! `port_allocate`, `port_list`, `port_release`, `port_check`.

use codeb::model::{Environment, ProjectName, Service};
use codeb::ops::Removal;
use codeb::ports::{PortAllocation, PortFilter, PortKey, PortReport};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::failure::ToolFailure;
use crate::input::optional;
use crate::output::{Guarded, Items};
use crate::server::CodebServer;
use crate::tools::{NoParams, target};

/// The service of a project environment that holds a port.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortParams {
    /// The project.
    pub project: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// The service: app, postgres or redis (default: app).
    #[serde(default)]
    pub service: Option<String>,
}

/// A port to free.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortReleaseParams {
    /// The project.
    pub project: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// The service: app, postgres or redis (default: app).
    #[serde(default)]
    pub service: Option<String>,
    /// Really free it. Without it the call returns the plan and changes nothing.
    #[serde(default)]
    pub force: bool,
}

/// Which allocations to list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortListParams {
    /// Only this project's.
    #[serde(default)]
    pub project: Option<String>,
    /// Only this environment's: staging, production or preview-<id>.
    #[serde(default)]
    pub env: Option<String>,
}

/// The port key the arguments name; the service defaults to `app`.
fn key(project: &str, env: &str, service: Option<&str>) -> Result<PortKey, ToolFailure> {
    let (project, env) = target(project, env)?;
    let service = optional("service", service, str::parse::<Service>)?.unwrap_or(Service::App);
    Ok(PortKey::new(project, env, service))
}

#[tool_router(router = port_tools, vis = "pub(crate)")]
impl CodebServer {
    /// The port of a project environment's service, allocated now from the environment's range if it has none.
    /// Asking again returns the same port.
    #[tool(annotations(
        title = "Allocate a port",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn port_allocate(&self, params: Parameters<PortParams>) -> Result<Json<PortAllocation>, ToolFailure> {
        let p = params.0;
        let key = key(&p.project, &p.env, p.service.as_deref())?;
        Ok(Json(self.sdk()?.port_allocation(&key).await?))
    }

    /// Recorded port allocations, optionally of one project and/or environment.
    #[tool(annotations(title = "List ports", read_only_hint = true, open_world_hint = false))]
    async fn port_list(&self, params: Parameters<PortListParams>) -> Result<Json<Items<PortAllocation>>, ToolFailure> {
        let p = params.0;
        let filter = PortFilter {
            project: optional("project", p.project.as_deref(), ProjectName::parse)?,
            env: optional("env", p.env.as_deref(), Environment::parse)?,
        };
        Ok(Json(Items { items: self.sdk()?.port_list(&filter).await? }))
    }

    /// Free a project environment service's port. Needs `force: true`; without it, returns the plan and changes nothing.
    #[tool(annotations(
        title = "Release a port",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn port_release(&self, params: Parameters<PortReleaseParams>) -> Result<Json<Guarded<Removal>>, ToolFailure> {
        let p = params.0;
        let key = key(&p.project, &p.env, p.service.as_deref())?;
        let removal = self.sdk()?.port_release(&key, p.force).await?;
        Ok(Json(Guarded::new(removal)))
    }

    /// Compare the recorded allocations with the ports that really listen: conflicts and drift.
    #[tool(annotations(title = "Check ports", read_only_hint = true, open_world_hint = true))]
    async fn port_check(&self, _params: Parameters<NoParams>) -> Result<Json<PortReport>, ToolFailure> {
        Ok(Json(self.sdk()?.port_check().await?))
    }
}
