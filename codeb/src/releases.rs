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
use std::time::Duration;

use async_trait::async_trait;

use crate::engine::naming::{release_command_container, release_container};
use crate::error::gone_is_done;
use crate::model::{ContainerName, EnvVar, Environment, ImageRef, NetworkName, Port, ProjectName, ReleaseId, Service};
use crate::proxy::Upstream;
use crate::runtime::{
    ContainerRuntime, ContainerSpec, ContainerState, LogOptions, PortBinding, RemoveContainerOptions, Resources,
    StopOptions, managed_labels,
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

/// A one-off command of a release (its release command): run once to its end
/// in the release's image and environment, with no port published.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSpec {
    /// The release it belongs to.
    pub release: ReleaseRef,
    /// The image it runs in.
    pub image: ImageRef,
    /// The command, as argv.
    pub command: Vec<String>,
    /// Its environment variables, secrets included.
    pub env: Vec<EnvVar>,
    /// The network it shares with the accessories, if any.
    pub network: Option<NetworkName>,
    /// Its resource limits (the release's).
    pub resources: Resources,
    /// How long it may run before it is killed.
    pub timeout: Duration,
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskExit {
    /// It exited, with its exit code when the runtime reports one.
    Exited(Option<i64>),
    /// It was still running when its timeout passed, and was killed.
    TimedOut,
}

/// What running a task gave: how it ended and the last lines it wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskOutcome {
    /// How it ended.
    pub exit: TaskExit,
    /// Its last output lines (stdout and stderr), oldest first, at most [`TASK_OUTPUT_LINES`].
    pub output: Vec<String>,
}

/// How many of a task's last output lines [`TaskOutcome::output`] keeps.
pub const TASK_OUTPUT_LINES: usize = 20;

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
    /// The runtime's id of what runs the release now: what
    /// [`ReleaseDriver::stop_instance`] stops later, whatever starts for the
    /// release meanwhile. `NotFound` when nothing runs it.
    async fn instance(&self, release: &ReleaseRef) -> Result<String>;
    /// Stops `instance` (from [`ReleaseDriver::instance`]) and nothing
    /// else: a container started for the same release since (a rollback's)
    /// is left alone. One that is gone or stopped already is done; one that
    /// does not run `release` is `Conflict`, and nothing is stopped.
    async fn stop_instance(&self, release: &ReleaseRef, instance: &str, options: StopOptions) -> Result<()>;
    /// Removes the release, stopping it first.
    async fn remove(&self, release: &ReleaseRef) -> Result<()>;
    /// Where the release stands.
    async fn state(&self, release: &ReleaseRef) -> Result<ReleaseState>;
    /// Runs a task of the release to its end, or kills it when its timeout
    /// passes; whatever it ran in is removed however it ends.
    async fn run_task(&self, task: &TaskSpec) -> Result<TaskOutcome>;
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

    /// Creates and starts a task's container, waits for its end up to its timeout, and reads its output.
    async fn run_to_end(&self, container: &ContainerSpec, timeout: Duration) -> Result<TaskOutcome> {
        self.runtime.create_container(container).await?;
        self.runtime.start_container(&container.name).await?;
        let exit = match tokio::time::timeout(timeout, self.exit_code(&container.name)).await {
            Ok(code) => TaskExit::Exited(code?),
            Err(_) => TaskExit::TimedOut,
        };
        let output = match self.runtime.logs(&container.name, LogOptions { tail: TASK_OUTPUT_LINES }).await {
            Ok(lines) => lines,
            Err(e) => vec![format!("(its output could not be read: {e})")],
        };
        Ok(TaskOutcome { exit, output })
    }

    /// Waits until the container exits, and returns its exit code.
    async fn exit_code(&self, name: &ContainerName) -> Result<Option<i64>> {
        loop {
            if let ContainerState::Exited { code } = self.runtime.inspect_container(name).await?.state {
                return Ok(code);
            }
            tokio::time::sleep(TASK_POLL).await;
        }
    }
}

/// How often a task's container is asked whether it exited.
const TASK_POLL: Duration = Duration::from_millis(200);

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

    async fn instance(&self, release: &ReleaseRef) -> Result<String> {
        let name = release_container(&release.project, &release.env, &release.release)?;
        Ok(self.runtime.inspect_container(&name).await?.id)
    }

    async fn stop_instance(&self, release: &ReleaseRef, instance: &str, options: StopOptions) -> Result<()> {
        // The runtime takes a container's id wherever it takes its name.
        let id = ContainerName::parse(instance)?;
        let info = match self.runtime.inspect_container(&id).await {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            other => other?,
        };
        if info.name != release_container(&release.project, &release.env, &release.release)? {
            return Err(crate::Error::conflict(format!(
                "container {instance} is {}, not release {} of {}/{}: it is not stopped",
                info.name, release.release, release.project, release.env
            )));
        }
        gone_is_done(self.runtime.stop_container(&id, options).await)
    }

    async fn remove(&self, release: &ReleaseRef) -> Result<()> {
        let name = release_container(&release.project, &release.env, &release.release)?;
        gone_is_done(self.runtime.remove_container(&name, RemoveContainerOptions::FORCE).await)
    }

    async fn run_task(&self, task: &TaskSpec) -> Result<TaskOutcome> {
        let r = &task.release;
        let name = release_command_container(&r.project, &r.env, &r.release)?;
        // A deploy killed while its task ran leaves the container: replace it.
        gone_is_done(self.runtime.remove_container(&name, RemoveContainerOptions::FORCE).await)?;
        let container = ContainerSpec {
            name: name.clone(),
            image: task.image.clone(),
            command: Some(task.command.clone()),
            env: task.env.clone(),
            labels: managed_labels(&r.project, &r.env, Service::App, Some(&r.release)),
            ports: Vec::new(),
            volumes: Vec::new(),
            network: task.network.clone(),
            resources: task.resources,
            init: true,
            secret_files: Vec::new(),
        };
        let outcome = self.run_to_end(&container, task.timeout).await;
        // Removed however it ended: a timed-out task is killed here.
        let removed = gone_is_done(self.runtime.remove_container(&name, RemoveContainerOptions::FORCE).await);
        let outcome = outcome?;
        removed?;
        Ok(outcome)
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
