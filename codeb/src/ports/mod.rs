//! Port allocation: every project environment service gets one host port from
//! its environment's range, never a duplicate, never one that is already
//! listening on the target server (or published there by a container the
//! runtime reports running), and `check` reports conflicts and drift.

mod probe;
mod ranges;
mod registry;
mod report;

use std::fmt;

use async_trait::async_trait;

use crate::Result;
use crate::model::{Environment, Port, ProjectName, ReleaseId, ServerName, Service};

pub use probe::{Listener, ListenerOwner, PortProbe, RuntimeAttributedProbe};
pub use ranges::{PortRanges, ServiceRanges};
pub use registry::SsotPortRegistry;
pub(crate) use registry::{free_in, reserve_in};
pub use report::{PortConflict, PortDrift, PortReport};

/// What a port is allocated to: one service of one project environment, or
/// one release of its app while that release is not the one serving.
///
/// The serving app port is `service: App, release: None`. A release being
/// deployed (or the previous one, during the watch window after a cutover)
/// holds its own app port under `release: Some(id)`, so old and new run side
/// by side; at cutover the new release's port becomes the serving one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PortKey {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The service.
    pub service: Service,
    /// The release holding the port, for a release's app port that is not (yet) serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseId>,
}

impl PortKey {
    /// The key of `service` in `project`'s `env`.
    pub fn new(project: ProjectName, env: Environment, service: Service) -> Self {
        PortKey { project, env, service, release: None }
    }

    /// The key of the app port of `release` while it is not the serving release.
    pub fn for_release(project: ProjectName, env: Environment, release: ReleaseId) -> Self {
        PortKey { project, env, service: Service::App, release: Some(release) }
    }
}

impl fmt::Display for PortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.project, self.env, self.service)?;
        match &self.release {
            Some(release) => write!(f, "@{release}"),
            None => Ok(()),
        }
    }
}

/// One recorded allocation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PortAllocation {
    /// What the port belongs to.
    pub key: PortKey,
    /// The port.
    pub port: Port,
    /// The server the environment runs on.
    pub server: ServerName,
}

/// Which allocations [`PortRegistry::list`] returns; `None` matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortFilter {
    /// Only this project's.
    pub project: Option<ProjectName>,
    /// Only this environment's.
    pub env: Option<Environment>,
}

impl PortFilter {
    /// Whether `key` passes the filter.
    pub fn matches(&self, key: &PortKey) -> bool {
        self.project.as_ref().is_none_or(|p| *p == key.project) && self.env.as_ref().is_none_or(|e| *e == key.env)
    }
}

/// Allocates host ports to project environment services.
///
/// Contract (checked by the conformance suite): `allocate` returns the
/// lowest port of the service's range that is neither recorded nor listening
/// on the target server; asking again for the same key returns the same
/// port; no two keys ever hold the same port; a full range is `Conflict`
/// naming the range; a service without a range in that environment (Postgres
/// in a preview) is `Invalid`; `release` frees the port and returns it.
#[async_trait]
pub trait PortRegistry: Send + Sync + std::fmt::Debug {
    /// The port of `key`, allocated now if it has none.
    async fn allocate(&self, key: &PortKey) -> Result<Port>;
    /// Frees the port of `key`, returning it if there was one.
    async fn release(&self, key: &PortKey) -> Result<Option<Port>>;
    /// The recorded allocations that pass `filter`, ordered by key.
    async fn list(&self, filter: &PortFilter) -> Result<Vec<PortAllocation>>;
    /// Compares what is recorded with what listens on the servers.
    async fn check(&self) -> Result<PortReport>;
    /// The ranges this registry allocates from.
    fn ranges(&self) -> &PortRanges;
}
