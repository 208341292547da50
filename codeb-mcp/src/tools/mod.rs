//! The tools, one module per group. Each tool: a params struct of plain
//! strings, validated through the SDK's types ([`crate::input`]); one SDK
//! call; its SDK result type as the answer, wrapped only by what is MCP's
//! own ([`crate::output`]).

mod deploy;
mod domains;
mod env;
mod ports;
mod projects;
mod status;

use codeb::model::{Environment, ProjectName};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::failure::ToolFailure;
use crate::input::required;

/// A project environment.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetParams {
    /// The project.
    pub project: String,
    /// The environment: staging, production or preview-<id>.
    pub env: String,
}

/// No arguments (and none other accepted).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// The project and environment every environment-scoped tool starts from.
pub(crate) fn target(project: &str, env: &str) -> Result<(ProjectName, Environment), ToolFailure> {
    Ok((required("project", project, ProjectName::parse)?, required("env", env, Environment::parse)?))
}
