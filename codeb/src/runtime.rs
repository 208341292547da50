//! The container runtime every release and accessory runs on.
//!
//! A backend implements [`ContainerRuntime`]; the real one talks to Podman's
//! API, the fake in [`crate::fake`] keeps everything in memory. The trait holds
//! only what a backend must do; the SDK decides names, labels and ordering.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use crate::model::{
    ContainerName, EnvKey, EnvValue, EnvVar, Environment, ImageRef, NetworkName, Port, ProjectName, ReleaseId, Service,
    VolumeName,
};
use crate::{Error, Result};

/// Label every codeb object carries, set to `true`; list and cleanup touch nothing without it.
pub const LABEL_MANAGED: &str = "io.codeb.managed";
/// Label naming the project an object belongs to.
pub const LABEL_PROJECT: &str = "io.codeb.project";
/// Label naming the environment an object belongs to.
pub const LABEL_ENV: &str = "io.codeb.env";
/// Label naming the service (`app`, `postgres`, `redis`) a container or volume serves.
pub const LABEL_SERVICE: &str = "io.codeb.service";
/// Label naming the release a container runs.
pub const LABEL_RELEASE: &str = "io.codeb.release";
/// Label marking a volume that no deploy, rollback or cleanup may remove.
pub const LABEL_PROTECTED: &str = "io.codeb.protected";

/// Labels of a container, volume or network.
pub type Labels = BTreeMap<String, String>;

/// The labels that mark an object as codeb's: one service of one project
/// environment, and optionally the release it runs.
pub fn managed_labels(
    project: &ProjectName,
    env: &Environment,
    service: Service,
    release: Option<&ReleaseId>,
) -> Labels {
    let mut labels = Labels::new();
    labels.insert(LABEL_MANAGED.to_owned(), "true".to_owned());
    labels.insert(LABEL_PROJECT.to_owned(), project.to_string());
    labels.insert(LABEL_ENV.to_owned(), env.to_string());
    labels.insert(LABEL_SERVICE.to_owned(), service.to_string());
    if let Some(release) = release {
        labels.insert(LABEL_RELEASE.to_owned(), release.to_string());
    }
    labels
}

/// What [`ContainerRuntime::build_image`] builds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct BuildSpec {
    /// The build context directory on the runtime's host.
    pub context: PathBuf,
    /// The Containerfile/Dockerfile, relative to the context; when `None`, the
    /// first of [`CONTAINERFILE_NAMES`] the context holds.
    pub containerfile: Option<PathBuf>,
    /// The text of the Containerfile to build with when the context has none
    /// of its own (one codeb generated for a Node app); sent as the
    /// context's [`CONTAINERFILE_NAMES`]`[0]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    /// The reference to tag the result with.
    pub tag: ImageRef,
    /// Labels to put on the image.
    pub labels: Labels,
}

/// The names a build context's Containerfile goes by when none is named, in
/// the order they are looked for (Podman's and Docker's).
pub const CONTAINERFILE_NAMES: [&str; 2] = ["Containerfile", "Dockerfile"];

/// The Containerfile of a build in `context`, relative to it: `named`, else the
/// first of [`CONTAINERFILE_NAMES`] the context holds (else the first, so a
/// refusal names it).
pub fn build_containerfile(context: &Path, named: Option<&Path>) -> PathBuf {
    match named {
        Some(named) => named.to_owned(),
        None => CONTAINERFILE_NAMES
            .iter()
            .find(|name| context.join(name).is_file())
            .map_or_else(|| PathBuf::from(CONTAINERFILE_NAMES[0]), PathBuf::from),
    }
}

impl BuildSpec {
    /// Its Containerfile, relative to the context (see [`build_containerfile`]).
    pub fn containerfile(&self) -> PathBuf {
        build_containerfile(&self.context, self.containerfile.as_deref())
    }

    /// Refuses a build whose inputs are not there (the context is not a
    /// directory, or holds no Containerfile and none was generated), so a
    /// deploy says so before it changes anything.
    pub fn check_inputs(&self) -> Result<()> {
        if !self.context.is_dir() {
            return Err(Error::invalid(format!("the build context {} is not a directory", self.context.display()))
                .with_context("field", "build.context"));
        }
        let containerfile = self.containerfile();
        if self.generated.is_none() && !self.context.join(&containerfile).is_file() {
            let names = if self.containerfile.is_some() {
                containerfile.display().to_string()
            } else {
                CONTAINERFILE_NAMES.join(" or ")
            };
            return Err(Error::invalid(format!("the build context {} has no {names}", self.context.display()))
                .with_context("field", "build.containerfile"));
        }
        Ok(())
    }
}

/// An image present on the runtime's host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    /// The reference it was asked for.
    pub reference: ImageRef,
    /// The image id (content digest) as the runtime reports it.
    pub id: String,
}

/// A host port published to a container port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortBinding {
    /// The host address to bind (`127.0.0.1` unless configured otherwise).
    pub host_ip: IpAddr,
    /// The port on the host.
    pub host_port: Port,
    /// The port inside the container.
    pub container_port: Port,
}

/// A volume mounted into a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeMount {
    /// The volume to mount.
    pub volume: VolumeName,
    /// The absolute path inside the container.
    pub target: String,
}

/// Resource limits of a container; `None` means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Resources {
    /// Memory limit in bytes.
    pub memory_bytes: Option<u64>,
    /// CPU limit in thousandths of a CPU (1500 = 1.5 CPUs).
    pub cpu_millis: Option<u32>,
}

/// Everything needed to create a container.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerSpec {
    /// The container's name.
    pub name: ContainerName,
    /// The image to run; it must be present (see [`ContainerRuntime::ensure_image`]).
    pub image: ImageRef,
    /// The command to run instead of the image's default, as argv.
    pub command: Option<Vec<String>>,
    /// Environment variables. One marked secret reaches the container's
    /// process like any other, but inspecting the container shows at most
    /// its name, never its value (the Podman backend delivers it as a secret
    /// file that `codeb-envexec` sets as the variable before the image's
    /// entrypoint runs, so a command run with [`ContainerRuntime::exec`]
    /// does not get it).
    pub env: Vec<EnvVar>,
    /// Labels; codeb's own come from [`managed_labels`].
    pub labels: Labels,
    /// Published ports.
    pub ports: Vec<PortBinding>,
    /// Mounted volumes.
    pub volumes: Vec<VolumeMount>,
    /// The network to join, if any (accessories and their app share one).
    pub network: Option<NetworkName>,
    /// Resource limits.
    pub resources: Resources,
    /// Run a minimal init as PID 1 so stop signals reach the app.
    pub init: bool,
    /// Files under [`SECRETS_DIR`] holding secret values: delivered so that
    /// inspecting the container shows their names, never their values.
    pub secret_files: Vec<SecretFile>,
}

/// Where a container's [`SecretFile`]s appear.
pub const SECRETS_DIR: &str = "/run/secrets";

/// A file holding a secret value inside a container, at `SECRETS_DIR/<name>`.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretFile {
    /// The file's name (a valid env key, so a plain file name).
    pub name: EnvKey,
    /// Its contents.
    pub value: EnvValue,
}

impl SecretFile {
    /// The file's path inside the container.
    pub fn path(&self) -> String {
        format!("{SECRETS_DIR}/{}", self.name)
    }
}

/// The state of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ContainerState {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Stopped or exited, with its exit code when known.
    Exited {
        /// The exit code, when the runtime reports one.
        code: Option<i64>,
    },
    /// Any state the runtime reports that codeb does not distinguish.
    Other,
}

/// A container as the runtime sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerInfo {
    /// The container's name.
    pub name: ContainerName,
    /// The runtime's id for it.
    pub id: String,
    /// The image it runs.
    pub image: ImageRef,
    /// Its state.
    pub state: ContainerState,
    /// Its labels.
    pub labels: Labels,
    /// Its published ports.
    pub ports: Vec<PortBinding>,
}

/// Which log lines [`ContainerRuntime::logs`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogOptions {
    /// At most this many of the last lines.
    pub tail: usize,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions { tail: 100 }
    }
}

/// A command to run inside a running container ([`ContainerRuntime::exec`]),
/// such as a readiness probe (`pg_isready`).
#[derive(Clone, Debug, PartialEq)]
pub struct ExecSpec {
    /// The command, as argv (no shell).
    pub argv: Vec<String>,
    /// Variables set for the command only (a password a client reads from its environment).
    pub env: Vec<EnvVar>,
}

/// Everything needed to create a volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeSpec {
    /// The volume's name.
    pub name: VolumeName,
    /// Its labels; set [`LABEL_PROTECTED`] to `true` for data that must survive.
    pub labels: Labels,
}

/// A volume as the runtime sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeInfo {
    /// The volume's name.
    pub name: VolumeName,
    /// Its labels.
    pub labels: Labels,
}

impl VolumeInfo {
    /// Whether the volume is labelled protected.
    pub fn is_protected(&self) -> bool {
        self.labels.get(LABEL_PROTECTED).is_some_and(|v| v == "true")
    }
}

/// How to stop a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopOptions {
    /// The time the container gets to exit after SIGTERM before it is killed.
    pub grace: Duration,
}

impl Default for StopOptions {
    fn default() -> Self {
        StopOptions { grace: Duration::from_secs(10) }
    }
}

/// How to remove a container.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemoveContainerOptions {
    /// Remove it even while it runs (it is killed first).
    pub force: bool,
}

impl RemoveContainerOptions {
    /// Remove it whether or not it runs.
    pub const FORCE: RemoveContainerOptions = RemoveContainerOptions { force: true };
}

/// How to remove a volume.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemoveVolumeOptions {
    /// Required to remove a protected volume; the volume must also be named explicitly.
    pub force: bool,
}

/// Everything needed to create a network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkSpec {
    /// The network's name.
    pub name: NetworkName,
    /// Its labels.
    pub labels: Labels,
}

/// Label selector for listing: objects must carry every pair given.
pub type LabelFilter = Labels;

/// Runs containers: images, containers, volumes and networks on one host.
///
/// Contract (checked by the conformance suite in `testkit`): names are
/// unique; creating an existing name is `AlreadyExists`; acting on a missing
/// one is `NotFound`; stopping a stopped container and removing a removed
/// network are no-ops; removing a volume labelled protected without `force`
/// is `Forbidden`; removing an image a container uses is `Conflict`; a
/// command runs only in a running container.
#[async_trait]
pub trait ContainerRuntime: Send + Sync + std::fmt::Debug {
    /// Whether the runtime answers: its server is reachable and the service
    /// is up. A planner asks it before it plans changes on the server.
    async fn ping(&self) -> Result<()>;
    /// Makes sure the image is present, pulling it if it is not (with the
    /// credentials the backend was configured with for its registry).
    ///
    /// A backend may pull a mutable tag even when a copy is present, so the
    /// answer's id is the content the tag names now (the Podman backend does).
    async fn ensure_image(&self, image: &ImageRef) -> Result<ImageInfo>;
    /// Builds an image from a context directory and tags it.
    async fn build_image(&self, spec: &BuildSpec) -> Result<ImageInfo>;
    /// Pushes the local image `image` to its registry as `to` (with the
    /// credentials the backend was configured with for that registry) and
    /// returns the digest the registry names it by (`sha256:...`), so it can
    /// be pulled as `<repository>@<digest>`. `NotFound` when `image` is not
    /// here; `Unauthenticated`, naming the registry, when it refuses the credentials.
    async fn push_image(&self, image: &ImageRef, to: &ImageRef) -> Result<String>;
    /// Lists the images that carry every label of `filter`, one per tag.
    async fn list_images(&self, filter: &LabelFilter) -> Result<Vec<ImageInfo>>;
    /// Removes an image's tag, and the image once no tag is left; `NotFound`
    /// when there is no such tag, `Conflict` when a container uses the image.
    async fn remove_image(&self, image: &ImageRef) -> Result<()>;
    /// Creates a container (not started) and returns its id.
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String>;
    /// Starts a created or stopped container.
    async fn start_container(&self, name: &ContainerName) -> Result<()>;
    /// Stops a container, giving it the options' grace to exit before it is killed.
    async fn stop_container(&self, name: &ContainerName, options: StopOptions) -> Result<()>;
    /// Removes a container; a running one only with `force`.
    async fn remove_container(&self, name: &ContainerName, options: RemoveContainerOptions) -> Result<()>;
    /// Describes one container.
    async fn inspect_container(&self, name: &ContainerName) -> Result<ContainerInfo>;
    /// Lists the containers that carry every label of `filter`.
    async fn list_containers(&self, filter: &LabelFilter) -> Result<Vec<ContainerInfo>>;
    /// The last log lines of a container, oldest first.
    async fn logs(&self, name: &ContainerName, options: LogOptions) -> Result<Vec<String>>;
    /// Runs a command in a running container, waits until it ends and
    /// returns its exit code; `Conflict` when the container does not run.
    async fn exec(&self, name: &ContainerName, spec: &ExecSpec) -> Result<i64>;
    /// Creates a volume; an existing one with the same name is `AlreadyExists`.
    async fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo>;
    /// Lists the volumes that carry every label of `filter`.
    async fn list_volumes(&self, filter: &LabelFilter) -> Result<Vec<VolumeInfo>>;
    /// Removes a volume; a protected one only with `force`.
    async fn remove_volume(&self, name: &VolumeName, options: RemoveVolumeOptions) -> Result<()>;
    /// Creates the network if it does not exist.
    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()>;
    /// Removes a network if it exists.
    async fn remove_network(&self, name: &NetworkName) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(context: &Path, containerfile: Option<&str>) -> BuildSpec {
        BuildSpec {
            context: context.to_owned(),
            containerfile: containerfile.map(PathBuf::from),
            generated: None,
            tag: ImageRef::parse("localhost/shop:v1").unwrap(),
            labels: Labels::new(),
        }
    }

    #[test]
    fn an_unnamed_containerfile_is_the_containerfile_else_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let err = spec(dir.path(), None).check_inputs().unwrap_err();
        assert!(err.to_string().contains("has no Containerfile or Dockerfile"), "{err}");
        assert_eq!(err.context_value("field"), Some("build.containerfile"));
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        assert_eq!(spec(dir.path(), None).containerfile(), Path::new("Dockerfile"));
        assert!(spec(dir.path(), None).check_inputs().is_ok());
        std::fs::write(dir.path().join("Containerfile"), "FROM scratch\n").unwrap();
        assert_eq!(spec(dir.path(), None).containerfile(), Path::new("Containerfile"));
        let named = spec(dir.path(), Some("build/App.containerfile")).check_inputs().unwrap_err();
        assert!(named.to_string().contains("has no build/App.containerfile"), "{named}");
        let missing = spec(&dir.path().join("nope"), None).check_inputs().unwrap_err();
        assert_eq!(missing.context_value("field"), Some("build.context"));
        let empty = tempfile::tempdir().unwrap();
        let generated = BuildSpec { generated: Some("FROM scratch\n".into()), ..spec(empty.path(), None) };
        assert!(generated.check_inputs().is_ok(), "a generated Containerfile stands in for a missing one");
    }
}
