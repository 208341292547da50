//! `setup_domain`, `remove_domain`.

use codeb::model::DomainName;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::failure::ToolFailure;
use crate::input::required;
use crate::output::{RemovalOutput, changes};
use crate::server::CodebServer;
use crate::tools::deploy::options;
use crate::tools::target;

/// A domain to route to an environment.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupDomainParams {
    /// The project.
    pub project: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// The fully qualified domain name (`shop.example.com`).
    pub domain: String,
    /// Only return what would change.
    #[serde(default)]
    pub dry_run: bool,
}

/// A domain to stop routing.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveDomainParams {
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

/// What setting up a domain did (or would do, for a dry run).
#[derive(Debug, Serialize, JsonSchema)]
pub struct DomainOutput {
    /// The domain, normalised (lowercase, punycode).
    pub domain: String,
    /// Whether the changes were made.
    pub applied: bool,
    /// The route and record changes, in order.
    pub changes: Vec<serde_json::Value>,
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
    async fn setup_domain(&self, params: Parameters<SetupDomainParams>) -> Result<Json<DomainOutput>, ToolFailure> {
        let p = params.0;
        let (project, env) = target(&p.project, &p.env)?;
        let domain = required("domain", &p.domain, DomainName::parse)?;
        let options = options(format!("setup_domain {domain}"));
        let report = self.platform.domain_setup(&project, &env, &domain, p.dry_run, &options).await?;
        Ok(Json(DomainOutput {
            domain: report.domain.to_string(),
            applied: report.applied,
            changes: changes(&report.changes)?,
        }))
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
    async fn remove_domain(&self, params: Parameters<RemoveDomainParams>) -> Result<Json<RemovalOutput>, ToolFailure> {
        let p = params.0;
        let (project, env) = target(&p.project, &p.env)?;
        let domain = required("domain", &p.domain, DomainName::parse)?;
        let options = options(format!("remove_domain {domain}"));
        let removal = self.platform.domain_remove(&project, &env, &domain, p.force, &options).await?;
        Ok(Json(RemovalOutput::from_removal(&removal)?))
    }
}
