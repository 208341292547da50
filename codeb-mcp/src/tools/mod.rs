//! The tools, one module per group. Each tool: a params struct (strings
//! for names and values, validated through the SDK's types in
//! [`crate::input`]); one SDK call; its SDK result type as the answer,
//! wrapped only by what is MCP's own ([`crate::output`]).
//!
//! A tool is named like the `we` command it mirrors: a top-level command is
//! one word (`deploy`, `rollback`, `recover`, `releases`, `logs`; `plan` is
//! `we deploy --dry-run`), a command of a group is `group_action`
//! (`domain_setup`, `env_set`, `ssot_diff`, `project_list`, `lock_release`).

mod deploy;
mod domains;
mod env;
mod lock;
mod ports;
mod projects;
mod servers;
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
