//! `server_list`, `server_check`. Servers are added and removed by people
//! (`we server`), never over MCP.

use codeb::model::ServerName;
use codeb::ops::{ServerCheck, ServerSummary};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::failure::ToolFailure;
use crate::input::optional;
use crate::output::Items;
use crate::server::CodebServer;
use crate::tools::NoParams;

/// Which server to check.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerCheckParams {
    /// Only this server (see `server_list`); default: every server.
    #[serde(default)]
    pub server: Option<String>,
}

#[tool_router(router = server_tools, vis = "pub(crate)")]
impl CodebServer {
    /// Every server of the fleet: its roles, how codeb reaches it (`local`, `ssh user@host:port`), its
    /// addresses and the environments (`project/env`) the SSOT records on it.
    #[tool(annotations(title = "List servers", read_only_hint = true, open_world_hint = false))]
    async fn server_list(&self, _params: Parameters<NoParams>) -> Result<Json<Items<ServerSummary>>, ToolFailure> {
        Ok(Json(Items { items: self.sdk()?.server_list().await? }))
    }

    /// Check servers as a doctor would: login (SSH host key and key), the container engine, free disk,
    /// clock skew, foreign listeners in the managed port ranges, and the proxy and DNS APIs on their servers.
    /// A failing check is in the result (`ok: false` with its detail), not a tool error.
    #[tool(annotations(title = "Check servers", read_only_hint = true, open_world_hint = true))]
    async fn server_check(
        &self,
        params: Parameters<ServerCheckParams>,
    ) -> Result<Json<Items<ServerCheck>>, ToolFailure> {
        let server = optional("server", params.0.server.as_deref(), ServerName::parse)?;
        Ok(Json(Items { items: self.sdk()?.server_check(server.as_ref()).await? }))
    }
}
