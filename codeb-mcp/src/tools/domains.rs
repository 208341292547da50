//! `domain_setup`, `domain_remove`.

use codeb::model::DomainName;
use codeb::ops::{DomainReport, Removal};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::failure::ToolFailure;
use crate::input::required;
use crate::output::Guarded;
use crate::progress::Progress;
use crate::server::CodebServer;
use crate::tools::target;

/// A domain to route to an environment.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainSetupParams {
    /// The project.
    pub project: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// The fully qualified domain name (`shop.example.com`).
    pub domain: String,
    /// Only return what would change.
    #[serde(default)]
    pub dry_run: bool,
    /// Move the domain here when another environment owns it (without it, that is a conflict naming the owner).
    #[serde(default)]
    pub force: bool,
}

/// A domain to stop routing.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainRemoveParams {
    /// The project.
    pub project: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// The fully qualified domain name.
    pub domain: String,
    /// Really remove it. Without it the call returns the plan and changes nothing.
    #[serde(default)]
    pub force: bool,
}

#[tool_router(router = domain_tools, vis = "pub(crate)")]
impl CodebServer {
    /// Route a domain to an environment: recorded in the SSOT, a proxy route to the serving release
    /// (re-pointing an existing route of that host), and a DNS record when it lies in the managed zone.
    #[tool(annotations(
        title = "Set up a domain",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn domain_setup(
        &self,
        params: Parameters<DomainSetupParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<DomainReport>, ToolFailure> {
        let p = params.0;
        let (project, env) = target(&p.project, &p.env)?;
        let domain = required("domain", &p.domain, DomainName::parse)?;
        let progress = Progress::start(&context, format!("domain_setup {domain}"));
        let report = self.sdk()?.domain_setup(&project, &env, &domain, p.dry_run, p.force, &progress.options()).await;
        progress.finish().await;
        Ok(Json(report?))
    }

    /// Stop routing a domain to an environment: its route, DNS record and SSOT entry go.
    /// Needs `force: true`; without it, returns the plan and changes nothing.
    #[tool(annotations(
        title = "Remove a domain",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn domain_remove(
        &self,
        params: Parameters<DomainRemoveParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<Guarded<Removal>>, ToolFailure> {
        let p = params.0;
        let (project, env) = target(&p.project, &p.env)?;
        let domain = required("domain", &p.domain, DomainName::parse)?;
        let progress = Progress::start(&context, format!("domain_remove {domain}"));
        let removal = self.sdk()?.domain_remove(&project, &env, &domain, p.force, &progress.options()).await;
        progress.finish().await;
        Ok(Json(Guarded::new(removal?)))
    }
}
