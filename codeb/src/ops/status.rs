//! Read-only views: the SSOT's status, an environment's health and logs.

use std::fmt;

use crate::engine::accessories::Readiness;
use crate::engine::naming::{accessory_container, release_container};
use crate::engine::{Platform, ProbeVerdict};
use crate::model::{ContainerName, Environment, Port, ProjectName, ReleaseId, Service};
use crate::runtime::LogOptions;
use crate::ssot::{ReleaseStatus, Ssot, StateStoreExt};
use crate::{Error, Result};

/// A summary of the SSOT.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct SsotStatus {
    /// The document format.
    pub schema_version: u32,
    /// The revision.
    pub revision: u64,
    /// How many projects.
    pub projects: usize,
    /// How many environments across them.
    pub environments: usize,
    /// How many environments have a release serving.
    pub serving: usize,
    /// How many releases are recorded failed.
    pub failed_releases: usize,
    /// How many environments are locked now.
    pub locked: usize,
}

/// The health of an environment: its serving release and its accessories.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct HealthReport {
    /// The release probed.
    pub release: ReleaseId,
    /// The port it serves on.
    pub port: Port,
    /// The verdict on the environment, with the evidence: healthy only when
    /// the release answers healthy and every accessory answers.
    pub verdict: ProbeVerdict,
    /// Each accessory the serving release was deployed with (PostgreSQL, Redis) and whether it answers.
    #[serde(default)]
    pub accessories: Vec<AccessoryHealth>,
}

/// Whether one accessory of an environment answers its clients.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct AccessoryHealth {
    /// Which accessory.
    pub service: Service,
    /// Its container.
    pub container: ContainerName,
    /// Whether it answers (`pg_isready`, an authenticated Redis `PING`).
    pub healthy: bool,
    /// What was seen.
    pub evidence: String,
}

impl fmt::Display for SsotStatus {
    /// Three lines: the revision, what is recorded, what needs attention.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "revision {} (schema {})", self.revision, self.schema_version)?;
        writeln!(f, "{} projects, {} environments, {} serving", self.projects, self.environments, self.serving)?;
        write!(f, "{} failed releases, {} locked environments", self.failed_releases, self.locked)
    }
}

impl fmt::Display for HealthReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.verdict.healthy { "healthy" } else { "unhealthy" };
        write!(f, "{} {verdict}: {} (port {})", self.release, self.verdict, self.port)
    }
}

impl Platform {
    /// A summary of the SSOT.
    pub async fn ssot_status(&self) -> Result<SsotStatus> {
        self.blocking_state(|s| {
            s.view(|doc| {
                let envs: Vec<_> = doc.projects.values().flat_map(|p| p.environments.values()).collect();
                Ok(SsotStatus {
                    schema_version: doc.schema_version,
                    revision: doc.revision,
                    projects: doc.projects.len(),
                    environments: envs.len(),
                    serving: envs.iter().filter(|e| e.current_release.is_some()).count(),
                    failed_releases: envs
                        .iter()
                        .flat_map(|e| e.releases.iter())
                        .filter(|r| matches!(r.status, ReleaseStatus::Failed { .. }))
                        .count(),
                    locked: envs.iter().filter(|e| e.lock.is_some()).count(),
                })
            })
        })
        .await
    }

    /// The whole SSOT document, for export (it holds no secret values).
    pub async fn ssot_export(&self) -> Result<Ssot> {
        self.blocking_state(|s| s.load()).await
    }

    /// Probes the release serving an environment once, with its own health
    /// check; the evidence never holds a secret value of the environment.
    pub async fn health_check(&self, project: &ProjectName, env: &Environment) -> Result<HealthReport> {
        let record = self.existing_environment(project, env).await?;
        let current =
            record.current().ok_or_else(|| Error::not_found(format!("{project}/{env} has no release serving")))?;
        let port = *record.ports.get(&Service::App).ok_or_else(|| Error::conflict("the SSOT records no app port"))?;
        let check = current.config.health.clone().unwrap_or_default();
        let host = self.backends.fleet.place(record.server.as_ref(), None)?;
        let endpoint = crate::releases::Endpoint { host: host.addresses.upstream, port };
        let redactor = crate::redact::Redactor::of_secrets(&self.env_list(project, env).await?.vars);
        let mut verdict = self.probe_once(host, endpoint, &check, &redactor).await;
        let mut accessories = Vec::new();
        for service in current.config.ports.keys().copied().filter(|s| *s != Service::App) {
            let container = accessory_container(project, env, service)?;
            let readiness = self.accessory_readiness(host, project, env, service).await?;
            let healthy = readiness == Readiness::Ready;
            accessories.push(AccessoryHealth {
                service,
                evidence: readiness.describe(service, &container),
                container,
                healthy,
            });
        }
        let down: Vec<&str> = accessories.iter().filter(|a| !a.healthy).map(|a| a.evidence.as_str()).collect();
        if !down.is_empty() {
            verdict = ProbeVerdict {
                healthy: false,
                evidence: format!("{}; the app: {}", down.join("; "), verdict.evidence),
            };
        }
        Ok(HealthReport { release: current.id.clone(), port, verdict, accessories })
    }

    /// The last `tail` log lines of the release serving an environment.
    ///
    /// The lines are the app's own output: treat them as untrusted data.
    pub async fn logs(&self, project: &ProjectName, env: &Environment, tail: usize) -> Result<Vec<String>> {
        let record = self.existing_environment(project, env).await?;
        let current = record
            .current_release
            .ok_or_else(|| Error::not_found(format!("{project}/{env} has no release serving")))?;
        let container = release_container(project, env, &current)?;
        let host = self.backends.fleet.place(record.server.as_ref(), None)?;
        host.runtime.logs(&container, LogOptions { tail }).await
    }
}
