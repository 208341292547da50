//! `env_set`, `env_list`, `env_unset`. No tool reveals a secret value:
//! there is deliberately no `env_get`.

use std::collections::BTreeMap;

use codeb::model::{EnvKey, EnvValue, EnvVar};
use codeb::ops::{EnvListing, Removal};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::failure::ToolFailure;
use crate::input::required;
use crate::output::Guarded;
use crate::server::CodebServer;
use crate::tools::{TargetParams, target};

/// Most variables one `env_set` call takes.
const MAX_VARS: usize = 100;

/// Variables to set. Not `Debug`: its values may be secrets.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvSetParams {
    /// The project.
    pub project: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// The variables, `{"KEY": "value"}`: keys `[A-Za-z_][A-Za-z0-9_]*`, values UTF-8 without NUL, at most 64 KiB.
    pub vars: BTreeMap<String, String>,
    /// Mark them secret: their values are never shown again by any tool.
    #[serde(default)]
    pub secret: bool,
}

/// Variables to remove.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvUnsetParams {
    /// The project.
    pub project: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
    /// The variable names.
    pub keys: Vec<String>,
    /// Really remove them. Without it the call returns the plan and changes nothing.
    #[serde(default)]
    pub force: bool,
}

#[tool_router(router = env_tools, vis = "pub(crate)")]
impl CodebServer {
    /// Set env vars of an environment (plain, or secret with `secret: true`); the next deploy runs with them.
    /// Returns the new version and what was set, listed like `env_list`: a secret value is never shown.
    #[tool(annotations(
        title = "Set env vars",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn env_set(&self, params: Parameters<EnvSetParams>) -> Result<Json<EnvListing>, ToolFailure> {
        let p = params.0;
        let (project, env) = target(&p.project, &p.env)?;
        if p.vars.is_empty() {
            return Err(ToolFailure::bad_argument("vars", "must name at least one variable"));
        }
        if p.vars.len() > MAX_VARS {
            return Err(ToolFailure::bad_argument("vars", "holds at most 100 variables"));
        }
        let vars = p
            .vars
            .iter()
            .map(|(k, v)| {
                Ok(EnvVar {
                    key: required("vars", k, EnvKey::parse)?,
                    value: required("vars", v, EnvValue::parse)?,
                    secret: p.secret,
                })
            })
            .collect::<Result<Vec<_>, ToolFailure>>()?;
        let version = self.sdk()?.env_set(&project, &env, &vars).await?;
        Ok(Json(EnvListing::new(project, env, version, &vars)))
    }

    /// The env vars of an environment: plain values shown, secret values masked as `********`.
    #[tool(annotations(title = "List env vars", read_only_hint = true, open_world_hint = false))]
    async fn env_list(&self, params: Parameters<TargetParams>) -> Result<Json<EnvListing>, ToolFailure> {
        let (project, env) = target(&params.0.project, &params.0.env)?;
        Ok(Json(self.sdk()?.env_listing(&project, &env).await?))
    }

    /// Remove env vars of an environment. Needs `force: true`; without it, returns the plan and changes nothing.
    #[tool(annotations(
        title = "Unset env vars",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn env_unset(&self, params: Parameters<EnvUnsetParams>) -> Result<Json<Guarded<Removal>>, ToolFailure> {
        let p = params.0;
        let (project, env) = target(&p.project, &p.env)?;
        if p.keys.is_empty() {
            return Err(ToolFailure::bad_argument("keys", "must name at least one variable"));
        }
        let keys = p.keys.iter().map(|k| required("keys", k, EnvKey::parse)).collect::<Result<Vec<_>, _>>()?;
        let removal = self.sdk()?.env_unset(&project, &env, &keys, p.force).await?;
        Ok(Json(Guarded::new(removal)))
    }
}
