//! Everyday operations on a [`Platform`] beside deploys: domains, env vars,
//! ports, health, logs, projects and the SSOT with its drift report.
//!
//! Every front end calls these; none re-implements them. Destructive
//! operations take `force`: without it they return what they would do as a
//! [`Removal`] with `applied: false` and change nothing.

mod domains;
mod drift;
mod env;
mod migrate;
mod ports;
mod projects;
mod servers;
mod status;

pub use domains::DomainReport;
pub use drift::{DriftItem, DriftReport};
pub use env::{EnvListing, ListedVar};
pub use migrate::SsotImport;
pub use projects::{ProjectSummary, Removal};
pub use servers::{CheckResult, MAX_CLOCK_SKEW_SECONDS, MIN_FREE_DISK, ServerCheck, ServerSummary};
pub use status::{AccessoryHealth, HealthReport, SsotStatus};

use crate::engine::Platform;
use crate::model::{Environment, ProjectName};
use crate::ssot::{EnvironmentRecord, StateStoreExt};
use crate::{Error, Result};

impl Platform {
    /// The record of an environment that must exist: `NotFound` for a
    /// project or an environment the SSOT does not know.
    pub async fn existing_environment(&self, project: &ProjectName, env: &Environment) -> Result<EnvironmentRecord> {
        let (p, e) = (project.clone(), env.clone());
        self.blocking_state(move |s| {
            s.view(|doc| {
                if !doc.projects.contains_key(&p) {
                    return Err(Error::not_found(format!("project {p} is not in the SSOT")));
                }
                doc.environment(&p, &e).cloned().ok_or_else(|| Error::not_found(format!("{p} has no {e} environment")))
            })
        })
        .await
        .map_err(|e| e.with_context("project", project).with_context("environment", env))
    }
}
