//! The in-memory container runtime.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::model::{ContainerName, ImageRef, NetworkName, VolumeName};
use crate::runtime::{
    BuildSpec, ContainerInfo, ContainerRuntime, ContainerSpec, ContainerState, ExecSpec, ImageInfo, LabelFilter,
    Labels, LogOptions, NetworkSpec, RemoveContainerOptions, RemoveVolumeOptions, StopOptions, VolumeInfo, VolumeSpec,
};
use crate::{Error, ErrorKind, Result};

/// A container runtime that keeps images, containers, volumes and networks in memory.
///
/// Images must be made pullable first ([`FakeRuntime::add_registry_image`]),
/// as a registry would hold them. Starting a container whose host port another
/// running container publishes fails with `Conflict`, as on a real host.
/// Runtimes made with [`FakeRuntime::sharing_registry`] push to and pull
/// from one registry, as the servers of a fleet do.
#[derive(Debug, Default)]
pub struct FakeRuntime {
    state: Mutex<State>,
    /// The registry: the image id each pullable name gives (`None`: a fresh one).
    registry: Arc<Mutex<BTreeMap<String, Option<String>>>>,
}

/// How the app in a fake image answers HTTP, for the fake health probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppBehaviour {
    /// Answers every request with this status and body.
    Serve {
        /// The status.
        status: u16,
        /// The body.
        body: String,
    },
    /// Never listens: connections are refused.
    Refuse,
    /// Accepts connections but never answers.
    Hang,
}

/// How a container's command ends in the fake, for commands that run to an
/// end (a release command); an unscripted one runs until stopped, as a server does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandScript {
    /// Exits as soon as it starts, with `code`, having written `output`.
    Exit {
        /// The exit code.
        code: i64,
        /// The lines it writes.
        output: Vec<String>,
    },
    /// Runs and never exits.
    Hang,
}

#[derive(Debug, Default)]
struct State {
    any_image: bool,
    behaviours: BTreeMap<String, AppBehaviour>,
    images: BTreeMap<String, ImageInfo>,
    /// The labels of built images, by tag.
    image_labels: BTreeMap<String, Labels>,
    containers: BTreeMap<ContainerName, FakeContainer>,
    volumes: BTreeMap<VolumeName, VolumeInfo>,
    networks: BTreeMap<NetworkName, Labels>,
    /// The exit code of commands run in a container, by name (0 when absent).
    exec_codes: BTreeMap<ContainerName, i64>,
    /// Every command run in a container, in order, by name.
    execs: BTreeMap<ContainerName, Vec<ExecSpec>>,
    /// How containers that run these commands end.
    scripts: BTreeMap<Vec<String>, CommandScript>,
    /// The spec of every container created, in order, removed ones included.
    created: Vec<ContainerSpec>,
    next_id: u64,
}

#[derive(Debug)]
struct FakeContainer {
    info: ContainerInfo,
    spec: ContainerSpec,
    logs: Vec<String>,
}

impl FakeRuntime {
    /// An empty runtime with an empty registry.
    pub fn new() -> Self {
        FakeRuntime::default()
    }

    /// An empty runtime that pushes to and pulls from the registry of `self`.
    pub fn sharing_registry(&self) -> Self {
        FakeRuntime { state: Mutex::default(), registry: self.registry.clone() }
    }

    /// Makes `image` pullable, as if a registry held it.
    pub fn add_registry_image(&self, image: &ImageRef) {
        self.registry().insert(image.to_string(), None);
    }

    /// Makes every image pullable, as if a registry held them all (for scripts' own tests).
    pub fn allow_any_image(&self) {
        self.state().any_image = true;
    }

    /// Points the local tag `image` at new content (a new id), as a rebuild
    /// or a pull of a re-pushed tag leaves it; `NotFound` if it is not local.
    pub fn move_tag(&self, image: &ImageRef) -> Result<()> {
        let mut state = self.state();
        let id = state.fresh_id();
        let info = state.images.get_mut(image.as_str()).ok_or_else(|| missing("image", image))?;
        info.id = id;
        Ok(())
    }

    /// Appends a line to a container's log, as if the app printed it.
    pub fn push_log(&self, name: &ContainerName, line: &str) -> Result<()> {
        let mut state = self.state();
        let container = state.containers.get_mut(name).ok_or_else(|| missing("container", name))?;
        container.logs.push(line.to_owned());
        Ok(())
    }

    /// The spec a container was created with (for asserting what the SDK asked for).
    pub fn container_spec(&self, name: &ContainerName) -> Option<ContainerSpec> {
        self.state().containers.get(name).map(|c| c.spec.clone())
    }

    /// Makes every container whose command is `command` end as `script` says when it starts.
    pub fn script_command(&self, command: &[&str], script: CommandScript) {
        self.state().scripts.insert(command.iter().map(|w| w.to_string()).collect(), script);
    }

    /// The spec of every container created so far, in order, those removed since included.
    pub fn created(&self) -> Vec<ContainerSpec> {
        self.state().created.clone()
    }

    /// Makes a running container exit with `code`, as if the app crashed.
    pub fn crash(&self, name: &ContainerName, code: i64) -> Result<()> {
        let mut state = self.state();
        let container = state.containers.get_mut(name).ok_or_else(|| missing("container", name))?;
        container.info.state = ContainerState::Exited { code: Some(code) };
        Ok(())
    }

    /// Makes every command run in the container `name` exit with `code` (by
    /// default 0), as a readiness probe of a server that never becomes ready would.
    pub fn set_exec_code(&self, name: &ContainerName, code: i64) {
        self.state().exec_codes.insert(name.clone(), code);
    }

    /// The commands run in the container `name` so far, oldest first.
    pub fn execs(&self, name: &ContainerName) -> Vec<ExecSpec> {
        self.state().execs.get(name).cloned().unwrap_or_default()
    }

    /// Sets how containers of `image` answer HTTP (by default: 200 with the body `ok from <image>`).
    pub fn set_app_behaviour(&self, image: &ImageRef, behaviour: AppBehaviour) {
        self.state().behaviours.insert(image.to_string(), behaviour);
    }

    /// How the app published on host `port` answers, as a real socket would:
    /// refused unless a running container publishes that port.
    pub fn app_behind(&self, port: crate::model::Port) -> AppBehaviour {
        let state = self.state();
        let running = state
            .containers
            .values()
            .find(|c| c.info.state == ContainerState::Running && c.info.ports.iter().any(|p| p.host_port == port));
        match running {
            None => AppBehaviour::Refuse,
            Some(c) => state
                .behaviours
                .get(c.info.image.as_str())
                .cloned()
                .unwrap_or_else(|| AppBehaviour::Serve { status: 200, body: format!("ok from {}", c.info.image) }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn registry(&self) -> MutexGuard<'_, BTreeMap<String, Option<String>>> {
        self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn missing(what: &str, name: &impl std::fmt::Display) -> Error {
    Error::not_found(format!("no {what} named {name}")).with_context("backend", "fake-runtime")
}

fn matches(labels: &Labels, filter: &LabelFilter) -> bool {
    filter.iter().all(|(k, v)| labels.get(k) == Some(v))
}

impl State {
    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:064x}", self.next_id)
    }
}

#[async_trait]
impl ContainerRuntime for FakeRuntime {
    async fn ensure_image(&self, image: &ImageRef) -> Result<ImageInfo> {
        let mut state = self.state();
        if let Some(info) = state.images.get(image.as_str()) {
            return Ok(info.clone());
        }
        let pushed = self.registry().get(image.as_str()).cloned();
        let id = match pushed {
            Some(Some(id)) => id,
            Some(None) => state.fresh_id(),
            None if state.any_image => state.fresh_id(),
            None => return Err(missing("image in any registry", image)),
        };
        let info = ImageInfo { reference: image.clone(), id };
        state.images.insert(image.to_string(), info.clone());
        Ok(info)
    }

    async fn build_image(&self, spec: &BuildSpec) -> Result<ImageInfo> {
        let mut state = self.state();
        let info = ImageInfo { reference: spec.tag.clone(), id: state.fresh_id() };
        state.images.insert(spec.tag.to_string(), info.clone());
        state.image_labels.insert(spec.tag.to_string(), spec.labels.clone());
        Ok(info)
    }

    async fn push_image(&self, image: &ImageRef, to: &ImageRef) -> Result<String> {
        let mut state = self.state();
        let id = state.images.get(image.as_str()).ok_or_else(|| missing("image", image))?.id.clone();
        let digest = format!("sha256:{id}");
        let pinned = to.pinned(&digest)?;
        // Pushed from here, so here it is present under both names, as Podman keeps its repo digests.
        for name in [to.clone(), pinned] {
            self.registry().insert(name.to_string(), Some(id.clone()));
            state.images.insert(name.to_string(), ImageInfo { reference: name, id: id.clone() });
        }
        Ok(digest)
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn list_images(&self, filter: &LabelFilter) -> Result<Vec<ImageInfo>> {
        let state = self.state();
        let labelled = |tag: &String| state.image_labels.get(tag).is_some_and(|labels| matches(labels, filter));
        Ok(state.images.iter().filter(|(tag, _)| labelled(tag)).map(|(_, info)| info.clone()).collect())
    }

    async fn remove_image(&self, image: &ImageRef) -> Result<()> {
        let mut state = self.state();
        if !state.images.contains_key(image.as_str()) {
            return Err(missing("image", image));
        }
        if let Some(user) = state.containers.values().find(|c| c.info.image == *image) {
            return Err(Error::conflict(format!("image {image} is used by container {}", user.info.name)));
        }
        state.images.remove(image.as_str());
        state.image_labels.remove(image.as_str());
        Ok(())
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        let mut state = self.state();
        if state.containers.contains_key(&spec.name) {
            return Err(Error::new(ErrorKind::AlreadyExists, format!("a container named {} exists", spec.name)));
        }
        if !state.images.contains_key(spec.image.as_str()) {
            return Err(missing("image", &spec.image));
        }
        if let Some(network) = &spec.network
            && !state.networks.contains_key(network)
        {
            return Err(missing("network", network));
        }
        for mount in &spec.volumes {
            let volume = VolumeInfo { name: mount.volume.clone(), labels: Labels::new() };
            state.volumes.entry(mount.volume.clone()).or_insert(volume);
        }
        let id = state.fresh_id();
        let info = ContainerInfo {
            name: spec.name.clone(),
            id: id.clone(),
            image: spec.image.clone(),
            state: ContainerState::Created,
            labels: spec.labels.clone(),
            ports: spec.ports.clone(),
        };
        state.containers.insert(spec.name.clone(), FakeContainer { info, spec: spec.clone(), logs: Vec::new() });
        state.created.push(spec.clone());
        Ok(id)
    }

    async fn start_container(&self, name: &ContainerName) -> Result<()> {
        let mut state = self.state();
        let ports = state.containers.get(name).ok_or_else(|| missing("container", name))?.info.ports.clone();
        let taken =
            state.containers.values().filter(|c| &c.info.name != name && c.info.state == ContainerState::Running);
        for other in taken {
            if let Some(clash) = other.info.ports.iter().find(|p| ports.iter().any(|q| q.host_port == p.host_port)) {
                return Err(Error::conflict(format!(
                    "host port {} is already published by container {}",
                    clash.host_port, other.info.name
                )));
            }
        }
        let script = state.containers.get(name).and_then(|c| state.scripts.get(c.spec.command.as_ref()?)).cloned();
        if let Some(container) = state.containers.get_mut(name) {
            container.info.state = match script {
                Some(CommandScript::Exit { code, output }) => {
                    container.logs.extend(output);
                    ContainerState::Exited { code: Some(code) }
                }
                Some(CommandScript::Hang) | None => ContainerState::Running,
            };
        }
        Ok(())
    }

    async fn stop_container(&self, name: &ContainerName, _options: StopOptions) -> Result<()> {
        let mut state = self.state();
        // As Podman does, a container is also found by its id.
        let container = state
            .containers
            .values_mut()
            .find(|c| c.info.name == *name || c.info.id == name.as_str())
            .ok_or_else(|| missing("container", name))?;
        if container.info.state == ContainerState::Running {
            container.info.state = ContainerState::Exited { code: Some(0) };
        }
        Ok(())
    }

    async fn remove_container(&self, name: &ContainerName, options: RemoveContainerOptions) -> Result<()> {
        let mut state = self.state();
        let container = state.containers.get(name).ok_or_else(|| missing("container", name))?;
        if container.info.state == ContainerState::Running && !options.force {
            return Err(Error::conflict(format!("container {name} is running; stop it or remove it with force")));
        }
        state.containers.remove(name);
        Ok(())
    }

    async fn inspect_container(&self, name: &ContainerName) -> Result<ContainerInfo> {
        let state = self.state();
        let found = state.containers.values().find(|c| c.info.name == *name || c.info.id == name.as_str());
        found.map(|c| c.info.clone()).ok_or_else(|| missing("container", name))
    }

    async fn list_containers(&self, filter: &LabelFilter) -> Result<Vec<ContainerInfo>> {
        let state = self.state();
        Ok(state.containers.values().filter(|c| matches(&c.info.labels, filter)).map(|c| c.info.clone()).collect())
    }

    async fn logs(&self, name: &ContainerName, options: LogOptions) -> Result<Vec<String>> {
        let state = self.state();
        let logs = &state.containers.get(name).ok_or_else(|| missing("container", name))?.logs;
        Ok(logs[logs.len().saturating_sub(options.tail)..].to_vec())
    }

    async fn exec(&self, name: &ContainerName, spec: &ExecSpec) -> Result<i64> {
        let mut state = self.state();
        let container = state.containers.get(name).ok_or_else(|| missing("container", name))?;
        if container.info.state != ContainerState::Running {
            return Err(Error::conflict(format!("container {name} does not run, so nothing can run in it")));
        }
        state.execs.entry(name.clone()).or_default().push(spec.clone());
        Ok(state.exec_codes.get(name).copied().unwrap_or(0))
    }

    async fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo> {
        let mut state = self.state();
        if state.volumes.contains_key(&spec.name) {
            return Err(Error::new(ErrorKind::AlreadyExists, format!("a volume named {} exists", spec.name)));
        }
        let info = VolumeInfo { name: spec.name.clone(), labels: spec.labels.clone() };
        state.volumes.insert(spec.name.clone(), info.clone());
        Ok(info)
    }

    async fn list_volumes(&self, filter: &LabelFilter) -> Result<Vec<VolumeInfo>> {
        Ok(self.state().volumes.values().filter(|v| matches(&v.labels, filter)).cloned().collect())
    }

    async fn remove_volume(&self, name: &VolumeName, options: RemoveVolumeOptions) -> Result<()> {
        let mut state = self.state();
        let volume = state.volumes.get(name).ok_or_else(|| missing("volume", name))?;
        if volume.is_protected() && !options.force {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("volume {name} is protected; removing it needs force"),
            ));
        }
        if let Some(user) = state.containers.values().find(|c| c.spec.volumes.iter().any(|m| &m.volume == name)) {
            return Err(Error::conflict(format!("volume {name} is used by container {}", user.info.name)));
        }
        state.volumes.remove(name);
        Ok(())
    }

    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()> {
        self.state().networks.entry(spec.name.clone()).or_insert_with(|| spec.labels.clone());
        Ok(())
    }

    async fn remove_network(&self, name: &NetworkName) -> Result<()> {
        let mut state = self.state();
        if let Some(user) = state.containers.values().find(|c| c.spec.network.as_ref() == Some(name)) {
            return Err(Error::conflict(format!("network {name} is used by container {}", user.info.name)));
        }
        state.networks.remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Resources;

    fn spec(name: &str, image: &ImageRef) -> ContainerSpec {
        ContainerSpec {
            name: ContainerName::parse(name).unwrap(),
            image: image.clone(),
            command: None,
            env: Vec::new(),
            labels: Labels::new(),
            ports: Vec::new(),
            volumes: Vec::new(),
            network: None,
            resources: Resources::default(),
            init: false,
            secret_files: Vec::new(),
        }
    }

    #[tokio::test]
    async fn logs_return_the_tail_and_unknown_images_are_not_found() {
        let rt = FakeRuntime::new();
        let image = ImageRef::parse("app:1").unwrap();
        let err = rt.ensure_image(&image).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(rt.create_container(&spec("c", &image)).await.unwrap_err().kind(), ErrorKind::NotFound);
        rt.add_registry_image(&image);
        rt.ensure_image(&image).await.unwrap();
        let name = ContainerName::parse("c").unwrap();
        rt.create_container(&spec("c", &image)).await.unwrap();
        for i in 0..5 {
            rt.push_log(&name, &format!("line {i}")).unwrap();
        }
        assert_eq!(rt.logs(&name, LogOptions { tail: 2 }).await.unwrap(), ["line 3", "line 4"]);
        rt.start_container(&name).await.unwrap();
        rt.crash(&name, 137).unwrap();
        assert_eq!(rt.inspect_container(&name).await.unwrap().state, ContainerState::Exited { code: Some(137) });
    }
}
