//! `lock_status`, `lock_release`: an environment's deploy lock.

use codeb::engine::LockStatus;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::failure::ToolFailure;
use crate::server::CodebServer;
use crate::tools::{TargetParams, target};

/// A deploy lock to release.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockReleaseParams {
    /// The project.
    pub project: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// Release it even though its holder may still run (its lease runs), which may break a deploy in progress.
    /// Without it only a stale lock (its lease ran out, or its holder is gone) is released.
    #[serde(default)]
    pub force: bool,
}

/// An environment's deploy lock as a JSON object (a tool's answer must be
/// one): the SDK answers `None` when no one holds it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LockState {
    /// The lock and its holder; `null` when no one holds it.
    pub lock: Option<LockStatus>,
}

/// What `lock_release` released, as a JSON object: the SDK answers `None`
/// when no lock was held.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LockReleased {
    /// The lock that was released, with its holder; `null` when none was held.
    pub released: Option<LockStatus>,
}

#[tool_router(router = lock_tools, vis = "pub(crate)")]
impl CodebServer {
    /// Who holds an environment's deploy lock, on which host, since when, the lease left, and whether it is stale.
    #[tool(annotations(title = "Lock status", read_only_hint = true, open_world_hint = false))]
    async fn lock_status(&self, params: Parameters<TargetParams>) -> Result<Json<LockState>, ToolFailure> {
        let (project, env) = target(&params.0.project, &params.0.env)?;
        Ok(Json(LockState { lock: self.sdk()?.lock_status(&project, &env).await? }))
    }

    /// Release an environment's stale deploy lock (its lease ran out, or its holder is gone: a crashed, killed or vanished deploy), so the next
    /// deploy can run; `recover` also cleans up what that deploy left. A lock whose holder still runs is refused
    /// (`forbidden`) unless `force: true`.
    #[tool(annotations(
        title = "Release a deploy lock",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn lock_release(&self, params: Parameters<LockReleaseParams>) -> Result<Json<LockReleased>, ToolFailure> {
        let p = params.0;
        let (project, env) = target(&p.project, &p.env)?;
        Ok(Json(LockReleased { released: self.sdk()?.lock_release(&project, &env, p.force).await? }))
    }
}
