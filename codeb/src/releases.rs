//! The release seam: how one release of an app starts, where it can be
//! reached, and how it stops and goes away.
//!
//! The engine never creates app containers itself: it asks a
//! [`ReleaseDriver`] to start a release and gets back the [`Endpoint`] that
//! the proxy routes to and the health probe probes. [`ContainerReleases`]
//! runs releases as containers on a [`ContainerRuntime`] (Podman); a driver
//! for an orchestrator (a Kubernetes Deployment behind a Service) can sit
//! beside it without any change to the engine.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;

use crate::engine::naming::release_container;
use crate::error::gone_is_done;
use crate::model::{EnvVar, Environment, ImageRef, NetworkName, Port, ProjectName, ReleaseId, Service};
use crate::proxy::Upstream;
use crate::runtime::{
    ContainerRuntime, ContainerSpec, ContainerState, PortBinding, RemoveContainerOptions, Resources, StopOptions,
    managed_labels,
};
use crate::{ErrorKind, Result};

/// Which release: one release of one project environment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReleaseRef {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The release.
    pub release: ReleaseId,
}

impl fmt::Display for ReleaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.project, self.env, self.release)
    }
}

/// Everything a driver needs to run a release.
#[derive(Clone, Debug, PartialEq)]
pub struct ReleaseSpec {
    /// Which release.
    pub release: ReleaseRef,
    /// The image it runs.
    pub image: ImageRef,
    /// The command instead of the image's default, as argv.
    pub command: Option<Vec<String>>,
    /// Its environment variables, secrets included.
    pub env: Vec<EnvVar>,
    /// The port the app listens on inside.
    pub container_port: Port,
    /// The host port reserved for it in the SSOT.
    pub host_port: Port,
    /// The network it shares with its accessories, if any.
    pub network: Option<NetworkName>,
    /// Its resource limits.
    pub resources: Resources,
}

/// Where a running release answers: what the proxy routes to and the probe probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Endpoint {
    /// The address.
    pub host: IpAddr,
    /// The port.
    pub port: Port,
}

impl From<Endpoint> for Upstream {
    fn from(e: Endpoint) -> Self {
        Upstream { host: e.host, port: e.port }
    }
}

/// How far a release is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseState {
    /// It runs.
    Running,
    /// It exists but does not run.
    Stopped,
    /// It does not exist.
    Gone,
}

/// Starts, stops and removes releases on one server.
///
/// Every operation is idempotent: starting a release replaces what is left of
/// an earlier start of the same release, stopping or removing a release that
/// is already stopped or gone succeeds.
#[async_trait]
pub trait ReleaseDriver: Send + Sync + fmt::Debug {
    /// Runs the release and says where it answers (it may not answer healthy yet).
    async fn start(&self, spec: &ReleaseSpec) -> Result<Endpoint>;
    /// Starts a stopped release again, where it ran before.
    async fn resume(&self, release: &ReleaseRef, host_port: Port) -> Result<Endpoint>;
    /// Stops the release, giving it the options' grace to finish before it is killed.
    async fn stop(&self, release: &ReleaseRef, options: StopOptions) -> Result<()>;
    /// Removes the release, stopping it first.
    async fn remove(&self, release: &ReleaseRef) -> Result<()>;
    /// Where the release stands.
    async fn state(&self, release: &ReleaseRef) -> Result<ReleaseState>;
}

/// Releases as containers: one container per release, published on the
/// server's bind address at the release's host port.
#[derive(Clone, Debug)]
pub struct ContainerReleases {
    runtime: Arc<dyn ContainerRuntime>,
    bind: IpAddr,
    upstream: IpAddr,
}

impl ContainerReleases {
    /// Releases on `runtime`, published on `bind` and reached at `upstream`.
    pub fn new(runtime: Arc<dyn ContainerRuntime>, bind: IpAddr, upstream: IpAddr) -> Self {
        ContainerReleases { runtime, bind, upstream }
    }

    fn endpoint(&self, port: Port) -> Endpoint {
        Endpoint { host: self.upstream, port }
    }
}

#[async_trait]
impl ReleaseDriver for ContainerReleases {
    async fn start(&self, spec: &ReleaseSpec) -> Result<Endpoint> {
        let r = &spec.release;
        let name = release_container(&r.project, &r.env, &r.release)?;
        // A rollback target may still have its stopped container from before: replace it.
        gone_is_done(self.runtime.remove_container(&name, RemoveContainerOptions::FORCE).await)?;
        let container = ContainerSpec {
            name: name.clone(),
            image: spec.image.clone(),
            command: spec.command.clone(),
            env: spec.env.clone(),
            labels: managed_labels(&r.project, &r.env, Service::App, Some(&r.release)),
            ports: vec![PortBinding {
                host_ip: self.bind,
                host_port: spec.host_port,
                container_port: spec.container_port,
            }],
            volumes: Vec::new(),
            network: spec.network.clone(),
            resources: spec.resources,
            init: true,
            secret_files: Vec::new(),
        };
        self.runtime.create_container(&container).await?;
        self.runtime.start_container(&name).await?;
        Ok(self.endpoint(spec.host_port))
    }

    async fn resume(&self, release: &ReleaseRef, host_port: Port) -> Result<Endpoint> {
        let name = release_container(&release.project, &release.env, &release.release)?;
        self.runtime.start_container(&name).await?;
        Ok(self.endpoint(host_port))
    }

    async fn stop(&self, release: &ReleaseRef, options: StopOptions) -> Result<()> {
        let name = release_container(&release.project, &release.env, &release.release)?;
        gone_is_done(self.runtime.stop_container(&name, options).await)
    }

    async fn remove(&self, release: &ReleaseRef) -> Result<()> {
        let name = release_container(&release.project, &release.env, &release.release)?;
        gone_is_done(self.runtime.remove_container(&name, RemoveContainerOptions::FORCE).await)
    }

    async fn state(&self, release: &ReleaseRef) -> Result<ReleaseState> {
        let name = release_container(&release.project, &release.env, &release.release)?;
        match self.runtime.inspect_container(&name).await {
            Ok(info) if info.state == ContainerState::Running => Ok(ReleaseState::Running),
            Ok(_) => Ok(ReleaseState::Stopped),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(ReleaseState::Gone),
            Err(e) => Err(e),
        }
    }
}
