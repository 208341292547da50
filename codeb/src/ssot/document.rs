//! The SSOT document and its records.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::model::{
    ContainerName, DomainName, EnvKey, Environment, HealthCheck, ImageRef, Port, ProjectName, ReleaseId, ServerName,
    Service, Step, VolumeName,
};
use crate::runtime::Resources;
use crate::secrets::EnvVersion;
use crate::{Error, Result};

/// The document format this SDK reads and writes. A document with a higher
/// version was written by a newer codeb and is never overwritten by this one.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole SSOT document.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ssot {
    /// The format of this document; see [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Bumped by one on every committed change; 0 for a document never written.
    pub revision: u64,
    /// The servers codeb deploys to. Required, like `projects`: every document
    /// codeb writes holds both, so one without them is not whole and is
    /// refused, never read as an empty platform.
    pub servers: BTreeMap<ServerName, ServerRecord>,
    /// The projects, by name.
    pub projects: BTreeMap<ProjectName, ProjectRecord>,
}

impl Default for Ssot {
    fn default() -> Self {
        Ssot { schema_version: SCHEMA_VERSION, revision: 0, servers: BTreeMap::new(), projects: BTreeMap::new() }
    }
}

impl Ssot {
    /// Parses a document, refusing malformed JSON, invalid values, unknown
    /// fields and a missing top-level collection.
    ///
    /// A document from a newer schema is parsed only as far as its version:
    /// the error is `Conflict`, so callers never mistake it for an empty SSOT.
    pub fn from_json(text: &str) -> Result<Ssot> {
        #[derive(serde::Deserialize)]
        struct Version {
            schema_version: u32,
        }
        let version: Version = serde_json::from_str(text)
            .map_err(|e| Error::invalid("the SSOT document is not valid JSON with a schema_version").with_source(e))?;
        if version.schema_version > SCHEMA_VERSION {
            return Err(Error::conflict(format!(
                "the SSOT document has schema_version {}, newer than the {} this codeb understands; upgrade codeb",
                version.schema_version, SCHEMA_VERSION
            )));
        }
        serde_json::from_str(text).map_err(|e| Error::invalid("the SSOT document is malformed").with_source(e))
    }

    /// The document in the JSON file at `path` (an export), read as [`Ssot::from_json`] reads.
    pub fn read_file(path: &std::path::Path) -> Result<Ssot> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(crate::ErrorKind::NotFound, format!("cannot read {}", path.display()))
                .with_context("path", path.display())
                .with_source(e)
        })?;
        Ssot::from_json(&text).map_err(|e| e.with_context("path", path.display()))
    }

    /// The document as pretty JSON with a trailing newline, keys in a stable order.
    pub fn to_json(&self) -> Result<String> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::internal("cannot serialise the SSOT").with_source(e))?;
        text.push('\n');
        Ok(text)
    }

    /// The record of one project environment, if recorded.
    pub fn environment(&self, project: &ProjectName, env: &Environment) -> Option<&EnvironmentRecord> {
        self.projects.get(project).and_then(|p| p.environments.get(env))
    }

    /// The record of one project environment, created empty when missing.
    pub fn environment_mut(&mut self, project: &ProjectName, env: &Environment) -> &mut EnvironmentRecord {
        self.projects.entry(project.clone()).or_default().environments.entry(env.clone()).or_default()
    }
}

/// One server environments are placed on, as the SSOT last saw it: written
/// when an environment is first placed there, so every reader of the SSOT
/// knows the servers its environments name.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ServerRecord {
    /// The address the proxy and the health probe reach its releases at.
    pub address: IpAddr,
    /// What the server is for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<crate::model::Role>,
}

/// One project and its environments.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProjectRecord {
    /// The environments, by name.
    #[serde(default)]
    pub environments: BTreeMap<Environment, EnvironmentRecord>,
}

/// One environment of a project: where it runs and what it holds.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EnvironmentRecord {
    /// The server it runs on; the local server when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerName>,
    /// The host port of each service; the app's is the port of the release that serves.
    #[serde(default)]
    pub ports: BTreeMap<Service, Port>,
    /// App ports held by releases that run but do not serve (one being deployed, or the previous one during the watch window).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub release_ports: BTreeMap<ReleaseId, Port>,
    /// The deploy lock, while a deploy, rollback or recovery runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<DeployLock>,
    /// The domains routed to the app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<DomainName>,
    /// The PostgreSQL and Redis accessories.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accessories: BTreeMap<Service, AccessoryRecord>,
    /// The releases, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub releases: Vec<ReleaseRecord>,
    /// The release that serves traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_release: Option<ReleaseId>,
    /// The env vars set with `we env set`: their values win over the project
    /// file's `[env]` until `we env unset` (names only, never values).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub env_overrides: BTreeSet<EnvKey>,
}

impl EnvironmentRecord {
    /// The server this environment runs on.
    pub fn server(&self) -> ServerName {
        self.server.clone().unwrap_or_else(ServerName::local)
    }

    /// The release record with `id`.
    pub fn release(&self, id: &ReleaseId) -> Option<&ReleaseRecord> {
        self.releases.iter().find(|r| &r.id == id)
    }

    /// The release record with `id`, mutable.
    pub fn release_mut(&mut self, id: &ReleaseId) -> Option<&mut ReleaseRecord> {
        self.releases.iter_mut().find(|r| &r.id == id)
    }

    /// The release that serves traffic, if any.
    pub fn current(&self) -> Option<&ReleaseRecord> {
        self.current_release.as_ref().and_then(|id| self.release(id))
    }
}

/// Who holds an environment's deploy lock.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DeployLock {
    /// The user or agent that took it.
    pub owner: String,
    /// The host its process runs on.
    pub host: String,
    /// Its process id on that host.
    pub pid: u32,
    /// When it was taken.
    pub started_at: DateTime<Utc>,
    /// What the holder is doing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When its lease runs out unless the holder renews it: then the lock is
    /// stale, whoever holds it. A lock written by a codeb without leases has
    /// none, and is stale only when its holder is a process on this host that
    /// no longer runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
}

impl DeployLock {
    /// The holder as people name it: `owner@host (pid N)`.
    pub fn who(&self) -> String {
        format!("{}@{} (pid {})", self.owner, self.host, self.pid)
    }

    /// Whether `other` is this very lock: the same holder, taken at the same
    /// instant (its lease may have been renewed since).
    pub fn is_same_holding(&self, other: &DeployLock) -> bool {
        (&self.owner, &self.host, self.pid, self.started_at) == (&other.owner, &other.host, other.pid, other.started_at)
    }

    /// What is left of its lease at `now` (zero once it ran out); `None` for a lock without a lease.
    pub fn lease_left(&self, now: DateTime<Utc>) -> Option<std::time::Duration> {
        self.lease_until.map(|until| (until - now).to_std().unwrap_or_default())
    }
}

impl std::fmt::Display for DeployLock {
    /// Who holds it since when, and what for.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} since {}", self.who(), self.started_at)?;
        match &self.message {
            Some(message) => write!(f, ": {message}"),
            None => Ok(()),
        }
    }
}

/// A PostgreSQL or Redis container that belongs to an environment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AccessoryRecord {
    /// The image it runs.
    pub image: ImageRef,
    /// Its container.
    pub container: ContainerName,
    /// Its data volume, which is protected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeName>,
}

/// One release of an environment: an image plus the configuration it ran with.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReleaseRecord {
    /// The release's id.
    pub id: ReleaseId,
    /// The image, as asked for.
    pub image: ImageRef,
    /// The image's content digest, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// The configuration snapshot.
    pub config: ReleaseConfig,
    /// Where the release stands.
    pub status: ReleaseStatus,
    /// When the release was created.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
    /// Who deployed it; absent in records written before codeb recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_by: Option<Deployer>,
    /// Who last made it serve again with a rollback, if anyone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_by: Option<Deployer>,
}

/// Who made a release: the user, the host and the front end they ran codeb through.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Deployer {
    /// The user on whose behalf codeb ran (`$USER`).
    pub user: String,
    /// The host codeb ran on.
    pub host: String,
    /// The front end: `we`, `mcp`, `python`, or the program that built the platform.
    pub front_end: String,
}

impl std::fmt::Display for Deployer {
    /// `user@host via front_end`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{} via {}", self.user, self.host, self.front_end)
    }
}

impl ReleaseRecord {
    /// Who deployed it, and who last rolled back to it (`ana@laptop via we, rolled back to by ...`); `None` when not recorded.
    pub fn made_by(&self) -> Option<String> {
        match (&self.deployed_by, &self.rolled_back_by) {
            (Some(by), Some(back)) => Some(format!("{by}, rolled back to by {back}")),
            (Some(by), None) => Some(by.to_string()),
            (None, Some(back)) => Some(format!("rolled back to by {back}")),
            (None, None) => None,
        }
    }
}

/// The configuration a release ran with, so a rollback restores it whole.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReleaseConfig {
    /// The version of the environment's variable set.
    pub env_version: EnvVersion,
    /// The host port of each service.
    #[serde(default)]
    pub ports: BTreeMap<Service, Port>,
    /// The domains routed to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<DomainName>,
    /// Its resource limits.
    #[serde(default)]
    pub resources: Resources,
    /// The port the app listens on inside its container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<Port>,
    /// The command it ran instead of the image's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Its health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthCheck>,
    /// Whether it joined the environment's accessory network.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub networked: bool,
    /// The release command it ran before it started, which a promotion of it runs again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_command: Option<crate::engine::ReleaseCommand>,
}

/// Where a release stands.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ReleaseStatus {
    /// Being deployed.
    Pending,
    /// Serving traffic.
    Live,
    /// Failed at `step` because of `reason`.
    Failed {
        /// The deploy step that failed.
        step: Step,
        /// Why, with the evidence (status code, body excerpt, backend error).
        reason: String,
    },
    /// Replaced by a later release.
    Retired,
}

impl std::fmt::Display for ReleaseStatus {
    /// The status in a few words (`failed at health_check`); a failure's reason is its own field.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())?;
        match self {
            ReleaseStatus::Failed { step, .. } => write!(f, " at {step}"),
            ReleaseStatus::Pending | ReleaseStatus::Live | ReleaseStatus::Retired => Ok(()),
        }
    }
}

impl ReleaseStatus {
    /// The status's stable name (`pending`, `live`, `failed`, `retired`), as the JSON document writes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReleaseStatus::Pending => "pending",
            ReleaseStatus::Live => "live",
            ReleaseStatus::Failed { .. } => "failed",
            ReleaseStatus::Retired => "retired",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Ssot {
        let mut doc = Ssot::default();
        let project = ProjectName::parse("my-app").unwrap();
        let env = doc.environment_mut(&project, &Environment::Staging);
        env.ports.insert(Service::App, Port::new(3001).unwrap());
        env.ports.insert(Service::Postgres, Port::new(15433).unwrap());
        env.domains.push(DomainName::parse("my-app-staging.one-q.xyz").unwrap());
        doc
    }

    #[test]
    fn status_names_match_their_json_form() {
        let failed = ReleaseStatus::Failed { step: Step::HealthCheck, reason: "503".into() };
        for status in [ReleaseStatus::Pending, ReleaseStatus::Live, failed, ReleaseStatus::Retired] {
            assert_eq!(serde_json::to_value(&status).unwrap()["status"], status.as_str());
        }
    }

    #[test]
    fn round_trips_through_json_with_the_seed_shape() {
        let doc = sample();
        let text = doc.to_json().unwrap();
        assert!(text.contains("\"app\": 3001"), "{text}");
        assert!(text.contains("\"my-app-staging.one-q.xyz\""));
        assert_eq!(Ssot::from_json(&text).unwrap(), doc);
    }

    #[test]
    fn serialisation_is_stable_whatever_the_insertion_order() {
        let mut a = Ssot::default();
        let mut b = Ssot::default();
        for name in ["zeta", "alpha", "mid"] {
            a.environment_mut(&ProjectName::parse(name).unwrap(), &Environment::Production);
        }
        for name in ["mid", "zeta", "alpha"] {
            b.environment_mut(&ProjectName::parse(name).unwrap(), &Environment::Production);
        }
        assert_eq!(a.to_json().unwrap(), b.to_json().unwrap());
    }

    #[test]
    fn refuses_newer_schemas_malformed_documents_and_invalid_values() {
        let newer = Ssot::from_json(r#"{"schema_version": 99, "revision": 1, "whatever": true}"#).unwrap_err();
        assert_eq!(newer.kind(), crate::ErrorKind::Conflict);
        assert!(Ssot::from_json("{\"schema_version\": 1, \"revision\": ").is_err());
        assert!(Ssot::from_json("").is_err());
        let bad_name = r#"{"schema_version":1,"revision":1,"projects":{"Bad Name":{}}}"#;
        assert_eq!(Ssot::from_json(bad_name).unwrap_err().kind(), crate::ErrorKind::Invalid);
        let unknown = r#"{"schema_version":1,"revision":1,"extra":1}"#;
        assert!(Ssot::from_json(unknown).is_err());
    }

    #[test]
    fn a_document_missing_a_top_level_collection_is_refused_like_a_torn_one() {
        for partial in [
            r#"{"schema_version":1,"revision":5}"#,
            r#"{"schema_version":1,"revision":5,"servers":{}}"#,
            r#"{"schema_version":1,"revision":5,"projects":{}}"#,
        ] {
            let err = Ssot::from_json(partial).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Invalid, "{partial}: {err}");
        }
        let whole = r#"{"schema_version":1,"revision":5,"servers":{},"projects":{}}"#;
        assert_eq!(Ssot::from_json(whole).unwrap().revision, 5);
    }
}
