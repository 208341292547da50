//! The container runtime on Podman: bollard over Podman's Docker-compatible API socket.
//!
//! Requests are built by the pure functions of [`request`] and answers mapped
//! by [`response`]; this module only sends. See [`PodmanRuntime`] for how it
//! copes with what Podman does differently from Docker.

mod build_output;
mod config;
mod context;
mod envexec;
mod error;
mod ignore;
mod libpod;
mod logs;
mod raw;
mod request;
mod response;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use bollard::container::LogOutput;
use bollard::models::{
    ContainerInspectResponse, ContainerSummary, NetworkCreateRequest, SecretSpec, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, ListImagesOptions, ListSecretsOptions, ListVolumesOptions,
    PushImageOptions, RemoveContainerOptions, RemoveImageOptions as ApiRemoveImage,
    RemoveVolumeOptions as ApiRemoveVolume, TagImageOptions, UploadToContainerOptionsBuilder,
};
use bollard::{BollardRequest, Docker};
use codeb::model::{ContainerName, ImageRef, NetworkName, VolumeName};
use codeb::runtime::{
    BuildSpec, ContainerInfo, ContainerRuntime, ContainerSpec, ExecSpec, ImageInfo, LabelFilter, LogOptions,
    NetworkSpec, RemoveContainerOptions as RemoveOptions, RemoveVolumeOptions, StopOptions, VolumeInfo, VolumeSpec,
};
use codeb::{Error, ErrorKind, Result};
use futures_util::StreamExt;

use build_output::BuildOutput;
pub use config::{PodmanConfig, RegistryLogin, Ulimit};
pub use context::{PackedContext, pack as pack_build_context};
use error::{Failure, Op, to_error};

use crate::transport::http::{Connections, Connector, client_failure, hyper_client};
use crate::transport::{Endpoint, Transport, trace};

/// The Docker-compatible API version used for the raw fallback reads (Podman accepts any).
const RAW_API_PREFIX: &str = "/v1.41";
/// The prefix of Podman's own API, for what the compatible one lacks (secret files).
const LIBPOD_API_PREFIX: &str = "/v4.0.0/libpod";

/// A [`ContainerRuntime`] backed by one Podman API service on a unix socket,
/// reached through the transport of its server.
///
/// Every object is created with exactly the labels the SDK passes (see
/// `codeb::runtime::managed_labels`); listing returns only objects labelled
/// `io.codeb.managed=true`, whatever the filter; a volume labelled
/// `io.codeb.protected=true` is removed only by [`ContainerRuntime::remove_volume`]
/// naming it with `force`, and there is no bulk removal at all.
///
/// [`ContainerRuntime::ensure_image`] pulls a registry's tag every time (the
/// tag may have been re-pushed, and deploying it must deploy its current
/// content, as Kamal does); an image pinned by digest, or a `localhost/` image
/// built here, is used as present.
///
/// What Podman does differently from Docker, and how this backend copes:
///
/// - A container whose conmon died (a killed session, an OOM kill) is still
///   "running" to Podman. Stopping it signals it, fails after a 5 s wait for
///   the exit file conmon would have written, and marks it exited: the stop
///   counts as done, and a forced removal (which stops first) is repeated once.
/// - Conflicts (a taken name, a running container, a busy network, a taken
///   host port) come back as 500s with a message; they are mapped by
///   operation and message to `AlreadyExists` or `Conflict`.
/// - A container whose process just ended is briefly `stopped`, a state
///   bollard's models refuse; inspect and list then re-read the same endpoint
///   as plain JSON and read `stopped` as exited.
/// - Creating an existing volume succeeds in the API; the backend inspects
///   first so a taken name is `AlreadyExists`, as the trait requires.
/// - The OCI runtime and default rlimits come from the service's
///   `containers.conf`; the backend sends [`PodmanConfig::ulimits`] with every
///   container so creation does not depend on that file.
/// - The compatible create ignores secrets, and a secret given as an env
///   var is plain in Podman 4.3's inspect and the OCI config: a container
///   with secret files ([`ContainerSpec::secret_files`]) or secret variables
///   is created through Podman's own create, each value a Podman secret file
///   (`<container>.<file>`, `<container>.env.<VAR>`; removed with the
///   container), which inspect names but never shows. Secret variables are
///   set from their files by `codeb-envexec`, copied into the container
///   before it starts and run ahead of the image's entrypoint and command.
/// - A detached exec session stays "running" in inspect after its command
///   ended: [`ContainerRuntime::exec`] starts the session attached and reads
///   until it ends.
/// - Pulling from a plain-HTTP registry needs that registry marked
///   `insecure = true` in the `registries.conf` the service was started with
///   (`CONTAINERS_REGISTRIES_CONF`): the compatible pull endpoint has no
///   TLS switch. Credentials travel only in the `X-Registry-Auth` header.
///
/// bollard logs request bodies at `trace` and response bodies at `debug`
/// (an inspect answer holds the container's env): front ends must cap the
/// `bollard` log target at `info`. Errors from this backend mask the env
/// values of the request they concern.
pub struct PodmanRuntime {
    /// The client; it connects per request, so commands that never reach
    /// Podman work while it is down.
    docker: Docker,
    transport: Arc<dyn Transport>,
    config: PodmanConfig,
}

impl std::fmt::Debug for PodmanRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodmanRuntime").field("config", &self.config).finish_non_exhaustive()
    }
}

impl PodmanRuntime {
    /// A runtime that will talk to the socket of `config` on the server
    /// `transport` reaches; `Invalid` if the socket path is not UTF-8.
    ///
    /// Nothing is sent and the socket need not exist yet: every call
    /// connects, and is `Unavailable` (naming the socket) if there is none.
    /// See [`PodmanRuntime::ping`] or [`PodmanRuntime::connect_when_ready`].
    pub fn connect(transport: Arc<dyn Transport>, config: PodmanConfig) -> Result<Self> {
        if config.socket.to_str().is_none() {
            return Err(Error::invalid("the Podman socket path must be UTF-8")
                .with_context("backend", "podman")
                .with_context("path", config.socket.display()));
        }
        let docker = client(Arc::clone(&transport), &config)?;
        Ok(PodmanRuntime { docker, transport, config })
    }

    /// Waits until the service of `config` answers a ping, for at most `wait`.
    ///
    /// A freshly started `podman system service` can take more than two
    /// seconds to create its socket. The last failure (`Unavailable`) is
    /// returned when `wait` runs out.
    pub async fn connect_when_ready(
        transport: Arc<dyn Transport>,
        config: PodmanConfig,
        wait: Duration,
    ) -> Result<Self> {
        let deadline = Instant::now() + wait;
        loop {
            let attempt = match PodmanRuntime::connect(Arc::clone(&transport), config.clone()) {
                Ok(runtime) => runtime.ping().await.map(|()| runtime),
                Err(e) => Err(e),
            };
            match attempt {
                Ok(runtime) => return Ok(runtime),
                Err(e) if e.kind() == ErrorKind::Unavailable && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Checks that the service answers (`GET /_ping`).
    pub async fn ping(&self) -> Result<()> {
        self.docker.ping().await.map(drop).map_err(|e| self.fail(Op::Ping, "", e))
    }

    /// The engine and API versions the service reports (`Podman Engine 4.3.1, API 1.41`).
    pub async fn engine_version(&self) -> Result<String> {
        let version = self.docker.version().await.map_err(|e| self.fail(Op::Ping, "", e))?;
        let engine = version.components.iter().flatten().next().map_or("Podman".to_owned(), |c| c.name.clone());
        Ok(format!("{engine} {}, API {}", version.version.unwrap_or_default(), version.api_version.unwrap_or_default()))
    }

    /// Where the service keeps images and containers (its storage's graph root).
    pub async fn storage_root(&self) -> Result<std::path::PathBuf> {
        let info = self.docker.info().await.map_err(|e| self.fail(Op::Ping, "", e))?;
        Ok(std::path::PathBuf::from(info.docker_root_dir.unwrap_or_else(|| "/".to_owned())))
    }

    /// The configuration this runtime was built with.
    pub fn config(&self) -> &PodmanConfig {
        &self.config
    }

    fn fail(&self, op: Op, name: &str, e: impl Into<Failure>) -> Error {
        let error = to_error(op, name, &e.into(), &[]);
        if error.kind() == ErrorKind::Unavailable {
            error.with_context("path", self.config.socket.display())
        } else {
            error
        }
    }

    /// Inspects a container, reading Podman's transient `stopped` state as exited.
    async fn inspect(&self, name: &ContainerName) -> Result<ContainerInspectResponse, Failure> {
        match self.docker.inspect_container(name.as_str(), None).await.map_err(Failure::from) {
            Err(failure) if failure.is_decode() => {
                let path = format!("{RAW_API_PREFIX}/containers/{name}/json");
                self.read_raw(&path).await
            }
            other => other,
        }
    }

    /// Lists containers matching `filters`, reading Podman's transient `stopped` state as exited.
    async fn list(&self, filter: &LabelFilter) -> Result<Vec<ContainerSummary>, Failure> {
        let filters = request::label_filters(filter);
        let options = ListContainersOptions { all: true, filters: Some(filters.clone()), ..Default::default() };
        match self.docker.list_containers(Some(options)).await.map_err(Failure::from) {
            Err(failure) if failure.is_decode() => {
                let json = serde_json::to_string(&filters).map_err(|e| Failure::Other(e.to_string()))?;
                let path = format!("{RAW_API_PREFIX}/containers/json?all=true&filters={}", percent_encode(&json));
                self.read_raw(&path).await
            }
            other => other,
        }
    }

    /// Whether the container runs, as far as an inspect tells; `true` when unsure.
    async fn is_running(&self, name: &ContainerName) -> bool {
        self.inspect(name).await.ok().and_then(|c| c.state).and_then(|s| s.running).unwrap_or(true)
    }

    /// Removes a container; a forced removal of an orphan (its conmon died) is
    /// repeated once, since the failed stop has marked it exited.
    async fn remove(&self, name: &ContainerName, force: bool) -> Result<(), Failure> {
        let options = RemoveContainerOptions { force, v: false, link: false };
        let docker = &self.docker;
        match docker.remove_container(name.as_str(), Some(options.clone())).await.map_err(Failure::from) {
            Err(failure) if force && failure.is_failed_stop_before_removal() => {
                docker.remove_container(name.as_str(), Some(options)).await.map_err(Failure::from)
            }
            other => other,
        }
    }

    async fn read_raw<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        let endpoint = Endpoint::Unix(self.config.socket.clone());
        let mut value = raw::get_json(self.transport.as_ref(), &endpoint, path, self.config.timeout).await?;
        response::rewrite_stopped(&mut value);
        serde_json::from_value(value).map_err(|e| Failure::Decode(e.to_string()))
    }

    /// Creates a container with secret files or variables: each secret as a
    /// Podman secret (one left by an earlier container of that name is
    /// replaced), then the container through Podman's own create, which
    /// mounts them; with secret variables it runs `codeb-envexec` (copied in
    /// before it starts) ahead of its image's entrypoint and command.
    ///
    /// All or nothing: a failure removes the secrets it made and, when the
    /// program could not be copied in, the container; a taken name is left
    /// as it is.
    async fn create_with_secrets(&self, spec: &ContainerSpec) -> Result<String> {
        let launch = match envexec::secret_vars(spec).next() {
            Some(_) => {
                let (entrypoint, cmd) = self.image_command(&spec.image).await?;
                envexec::launch(spec, &entrypoint, &cmd)?
            }
            None => None,
        };
        let body = libpod::create_body(spec, &self.config.ulimits, launch.as_ref())?;
        let created = self.create_secrets_and_container(spec, &body).await;
        let copied = match (&created, &launch) {
            (Ok(_), Some(_)) => self.copy_envexec(spec).await,
            _ => Ok(()),
        };
        match (created, copied) {
            (Ok(id), Ok(())) => Ok(id),
            (Err(e), _) if e.kind() == ErrorKind::AlreadyExists => Err(e),
            (Err(e), _) => {
                let _ = self.remove_secrets_of(&spec.name).await;
                Err(e)
            }
            (Ok(_), Err(e)) => {
                let _ = self.remove(&spec.name, true).await;
                let _ = self.remove_secrets_of(&spec.name).await;
                Err(e)
            }
        }
    }

    /// The Podman secrets of `spec`, then its container from the libpod create `body`.
    async fn create_secrets_and_container(&self, spec: &ContainerSpec, body: &serde_json::Value) -> Result<String> {
        let secrets = request::secrets_of(spec);
        let fail = |op: Op, failure: Failure| to_error(op, spec.name.as_str(), &failure, &secrets);
        self.remove_secrets_of(&spec.name).await?;
        for mount in libpod::secret_mounts(spec) {
            let secret = SecretSpec {
                name: Some(mount.name),
                labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                // The compatible API takes a secret's data base64-encoded.
                data: Some(base64::engine::general_purpose::STANDARD.encode(mount.value.expose())),
                ..Default::default()
            };
            self.docker.create_secret(secret).await.map_err(|e| fail(Op::CreateSecret, e.into()))?;
        }
        let endpoint = Endpoint::Unix(self.config.socket.clone());
        let created = raw::post_json(
            self.transport.as_ref(),
            &endpoint,
            &format!("{LIBPOD_API_PREFIX}/containers/create"),
            body,
            self.config.timeout,
        )
        .await
        .map_err(|failure| fail(Op::CreateContainer, failure))?;
        created
            .get("Id")
            .and_then(|id| id.as_str())
            .map(ToOwned::to_owned)
            .ok_or_else(|| fail(Op::CreateContainer, Failure::Decode("the create answer has no Id".to_owned())))
    }

    /// Copies `codeb-envexec` into the created container of `spec`.
    async fn copy_envexec(&self, spec: &ContainerSpec) -> Result<()> {
        let options = UploadToContainerOptionsBuilder::new().path("/").build();
        let archive = bollard::body_full(bytes::Bytes::from(envexec::archive()?));
        self.docker
            .upload_to_container(spec.name.as_str(), Some(options), archive)
            .await
            .map_err(|e| self.fail(Op::CopyEnvexec, spec.name.as_str(), e))
    }

    /// The entrypoint and command the image `image` runs by default (empty when it names none).
    async fn image_command(&self, image: &ImageRef) -> Result<(Vec<String>, Vec<String>)> {
        let inspect = self
            .docker
            .inspect_image(image.as_str())
            .await
            .map_err(|e| self.fail(Op::InspectImage, image.as_str(), e))?;
        let config = inspect.config.unwrap_or_default();
        Ok((config.entrypoint.unwrap_or_default(), config.cmd.unwrap_or_default()))
    }

    /// Removes the Podman secrets of the container `name`'s secret files
    /// (through Podman's own API: Podman 4.3's compatible one cannot delete one).
    async fn remove_secrets_of(&self, name: &ContainerName) -> Result<()> {
        let fail = |failure: Failure| self.fail(Op::RemoveSecret, name.as_str(), failure);
        let all = self.docker.list_secrets(None::<ListSecretsOptions>).await.map_err(|e| fail(e.into()))?;
        let endpoint = Endpoint::Unix(self.config.socket.clone());
        for secret in all {
            let secret_name = secret.spec.and_then(|s| s.name).unwrap_or_default();
            let Some(id) = secret.id.filter(|_| libpod::is_secret_of(&secret_name, name.as_str())) else { continue };
            let path = format!("{LIBPOD_API_PREFIX}/secrets/{id}");
            match raw::delete(self.transport.as_ref(), &endpoint, &path, self.config.timeout).await {
                Err(failure) if !failure.is_not_found() => return Err(fail(failure)),
                _ => {}
            }
        }
        Ok(())
    }

    async fn image_id(&self, image: &ImageRef) -> Result<Option<String>> {
        match self.docker.inspect_image(image.as_str()).await.map_err(Failure::from) {
            Ok(inspect) => Ok(Some(inspect.id.unwrap_or_default())),
            Err(failure) if failure.is_not_found() => Ok(None),
            Err(failure) => Err(self.fail(Op::InspectImage, image.as_str(), failure)),
        }
    }

    async fn present_image(&self, image: &ImageRef, op: Op) -> Result<ImageInfo> {
        match self.image_id(image).await? {
            Some(id) => Ok(ImageInfo { reference: image.clone(), id }),
            None => Err(Error::internal(format!("image {image} is missing right after it was made"))
                .with_context("backend", "podman")
                .with_context("step", format!("{op:?}"))),
        }
    }
}

/// bollard over `transport`: every request opens a connection to the
/// socket of `config` on the transport's server.
fn client(transport: Arc<dyn Transport>, config: &PodmanConfig) -> Result<Docker> {
    let endpoint = Endpoint::Unix(config.socket.clone());
    // Like bollard's own unix client: a fresh connection per request.
    let server = transport.server().clone();
    let client = hyper_client(Connector::new(transport, endpoint.clone()), Connections::FreshEachTime);
    let send = move |request: BollardRequest| {
        let (client, endpoint, server) = (client.clone(), endpoint.clone(), server.clone());
        let request_line =
            format!("{} {}", request.method(), request.uri().path_and_query().map_or("/", |p| p.as_str()));
        async move {
            let started = Instant::now();
            let result = client.request(request).await.map_err(|e| client_failure(&e, &endpoint));
            trace::http(
                &server,
                &endpoint,
                &request_line,
                started,
                result.as_ref().map(|r| r.status().as_u16()).map_err(|(_, message)| message),
            );
            // bollard keeps only the error's text: say which socket and why, not just hyper's category;
            // a refusal (host key, login) travels as an `Error`, so its kind survives (`error::Failure`).
            result.map_err(|(kind, message)| {
                let err = if error::is_refusal(kind) {
                    std::io::Error::other(Error::new(kind, message))
                } else {
                    std::io::Error::other(message)
                };
                bollard::errors::Error::IOError { err }
            })
        }
    };
    let timeout = config.timeout.as_secs().max(1);
    // The authority only fills the Host header: every connection goes to the socket.
    Docker::connect_with_custom_transport(send, Some("http://podman"), timeout, bollard::API_DEFAULT_VERSION)
        .map_err(|e| Error::internal("cannot build the Podman client").with_context("backend", "podman").with_source(e))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[async_trait]
impl ContainerRuntime for PodmanRuntime {
    async fn ensure_image(&self, image: &ImageRef) -> Result<ImageInfo> {
        if !request::pulls_when_present(image)
            && let Some(id) = self.image_id(image).await?
        {
            return Ok(ImageInfo { reference: image.clone(), id });
        }
        let login = self.config.login_for(image);
        let credentials = login.map(request::credentials);
        let secrets: Vec<&str> = login.map(|l| l.password.expose()).into_iter().collect();
        let mut progress = self.docker.create_image(Some(request::pull_options(image)), None, credentials);
        while let Some(step) = progress.next().await {
            step.map_err(|e| to_error(Op::PullImage, image.as_str(), &e.into(), &secrets))?;
        }
        self.present_image(image, Op::PullImage).await
    }

    async fn push_image(&self, image: &ImageRef, to: &ImageRef) -> Result<String> {
        let repository = format!("{}/{}", to.registry().unwrap_or_default(), to.repository());
        let tag = to.tag().unwrap_or("latest").to_owned();
        let options = TagImageOptions { repo: Some(repository.clone()), tag: Some(tag.clone()) };
        self.docker
            .tag_image(image.as_str(), Some(options))
            .await
            .map_err(|e| self.fail(Op::TagImage, image.as_str(), e))?;
        let login = self.config.login_for(to);
        let secrets: Vec<&str> = login.map(|l| l.password.expose()).into_iter().collect();
        let fail = |failure: Failure| {
            to_error(Op::PushImage, to.as_str(), &failure, &secrets)
                .with_context("registry", to.registry().unwrap_or_default())
        };
        let options = PushImageOptions { tag: Some(tag), ..Default::default() };
        let mut progress = self.docker.push_image(&repository, Some(options), login.map(request::credentials));
        let mut digest = None;
        while let Some(step) = progress.next().await {
            let status = step.map_err(|e| fail(e.into()))?.status.unwrap_or_default();
            digest = digest.or_else(|| response::pushed_digest(&status));
        }
        digest.ok_or_else(|| fail(Failure::Decode("the push named no digest".to_owned())))
    }

    async fn build_image(&self, spec: &BuildSpec) -> Result<ImageInfo> {
        let options = request::build_options(spec)?;
        let (context, containerfile, generated) =
            (spec.context.clone(), options.dockerfile.clone(), spec.generated.clone());
        let packed = tokio::task::spawn_blocking(move || context::pack(&context, &containerfile, generated.as_deref()))
            .await
            .map_err(|e| {
                Error::internal(format!("packing the build context failed: {e}")).with_context("backend", "podman")
            })??;
        let body = bollard::body_full(bytes::Bytes::from(packed.archive));
        let mut progress = self.docker.build_image(options, None, Some(body));
        let mut output = BuildOutput::default();
        while let Some(step) = progress.next().await {
            match step {
                Ok(info) => output.add(&spec.tag, info.stream.as_deref().unwrap_or_default()),
                Err(e) => return Err(output.attach(self.fail(Op::BuildImage, spec.tag.as_str(), e))),
            }
        }
        self.present_image(&spec.tag, Op::BuildImage).await
    }

    async fn ping(&self) -> Result<()> {
        PodmanRuntime::ping(self).await
    }

    async fn list_images(&self, filter: &LabelFilter) -> Result<Vec<ImageInfo>> {
        // Podman 4.3 lists no image for two label filters that both hold: ask
        // for codeb's images and select by the other labels here.
        let managed = request::label_filters(&LabelFilter::new());
        let options = ListImagesOptions { filters: Some(managed), ..Default::default() };
        let images = self.docker.list_images(Some(options)).await.map_err(|e| self.fail(Op::ListImages, "", e))?;
        let listed = images.into_iter().filter(|i| request::is_listed(&i.labels.clone().into_iter().collect(), filter));
        let tagged = listed.flat_map(|image| image.repo_tags.into_iter().map(move |tag| (tag, image.id.clone())));
        tagged
            .filter(|(tag, _)| tag != "<none>:<none>")
            .map(|(tag, id)| Ok(ImageInfo { reference: response::image_of(&tag)?, id }))
            .collect()
    }

    async fn remove_image(&self, image: &ImageRef) -> Result<()> {
        // Never the API's force, which would untag an image a container still runs.
        let options = ApiRemoveImage { force: false, noprune: false, ..Default::default() };
        self.docker
            .remove_image(image.as_str(), Some(options), None)
            .await
            .map(drop)
            .map_err(|e| self.fail(Op::RemoveImage, image.as_str(), e))
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        if !spec.secret_files.is_empty() || envexec::secret_vars(spec).next().is_some() {
            return self.create_with_secrets(spec).await;
        }
        let body = request::create_body(spec, &self.config.ulimits)?;
        let options = CreateContainerOptions { name: Some(spec.name.to_string()), ..Default::default() };
        match self.docker.create_container(Some(options), body).await {
            Ok(created) => Ok(created.id),
            Err(e) => Err(to_error(Op::CreateContainer, spec.name.as_str(), &e.into(), &request::secrets_of(spec))),
        }
    }

    async fn start_container(&self, name: &ContainerName) -> Result<()> {
        // A container that already runs answers 304, which bollard reads as success.
        self.docker
            .start_container(name.as_str(), None)
            .await
            .map_err(|e| self.fail(Op::StartContainer, name.as_str(), e))
    }

    async fn stop_container(&self, name: &ContainerName, options: StopOptions) -> Result<()> {
        // A container that is not running answers 304, which bollard reads as success.
        let stop = self.docker.stop_container(name.as_str(), Some(request::stop_options(options.grace))).await;
        match stop.map_err(Failure::from) {
            // An orphan (its conmon died) is signalled, then the wait for its
            // exit file times out: what counts is that it no longer runs.
            Err(failure) if failure.is_server_error() && !self.is_running(name).await => Ok(()),
            other => other.map_err(|failure| self.fail(Op::StopContainer, name.as_str(), failure)),
        }
    }

    async fn remove_container(&self, name: &ContainerName, options: RemoveOptions) -> Result<()> {
        self.remove(name, options.force)
            .await
            .map_err(|failure| self.fail(Op::RemoveContainer, name.as_str(), failure))?;
        self.remove_secrets_of(name).await
    }

    async fn inspect_container(&self, name: &ContainerName) -> Result<ContainerInfo> {
        let inspect = self.inspect(name).await.map_err(|f| self.fail(Op::InspectContainer, name.as_str(), f))?;
        response::container_info(inspect)
    }

    async fn list_containers(&self, filter: &LabelFilter) -> Result<Vec<ContainerInfo>> {
        let summaries = self.list(filter).await.map_err(|f| self.fail(Op::ListContainers, "", f))?;
        summaries
            .into_iter()
            .filter(|s| request::is_listed(&s.labels.clone().unwrap_or_default().into_iter().collect(), filter))
            .map(response::summary_info)
            .collect()
    }

    async fn logs(&self, name: &ContainerName, options: LogOptions) -> Result<Vec<String>> {
        if options.tail == 0 {
            // Asking for no lines still tells a missing container apart.
            self.inspect(name).await.map_err(|f| self.fail(Op::Logs, name.as_str(), f))?;
            return Ok(Vec::new());
        }
        // Podman returns a line only once it is complete: an unfinished last line appears when it ends.
        let mut lines = logs::Lines::new(options.tail);
        let mut frames = self.docker.logs(name.as_str(), Some(request::logs_options(options.tail)));
        while let Some(frame) = frames.next().await {
            match frame.map_err(|e| self.fail(Op::Logs, name.as_str(), e))? {
                LogOutput::StdErr { message } => lines.push(logs::Source::Err, &message),
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    lines.push(logs::Source::Out, &message)
                }
                LogOutput::StdIn { .. } => {}
            }
        }
        Ok(lines.finish())
    }

    async fn exec(&self, name: &ContainerName, spec: &ExecSpec) -> Result<i64> {
        let secrets: Vec<&str> = spec.env.iter().map(|var| var.value.expose()).collect();
        let fail = |e: Failure| to_error(Op::Exec, name.as_str(), &e, &secrets);
        let session =
            self.docker.create_exec(name.as_str(), request::exec_options(spec)).await.map_err(|e| fail(e.into()))?;
        // Started attached: the answer streams until the command ends (its output is not read).
        let endpoint = Endpoint::Unix(self.config.socket.clone());
        let path = format!("{RAW_API_PREFIX}/exec/{}/start", session.id);
        let started =
            raw::post_until_closed(self.transport.as_ref(), &endpoint, &path, request::EXEC_START, self.config.timeout)
                .await
                .map_err(fail)?;
        if !(200..300).contains(&started) {
            return Err(fail(Failure::Status { code: started, message: "the exec session did not start".to_owned() }));
        }
        let state = self.docker.inspect_exec(&session.id).await.map_err(|e| fail(e.into()))?;
        state.exit_code.ok_or_else(|| fail(Failure::Decode("the ended exec session has no exit code".to_owned())))
    }

    async fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo> {
        // Podman answers a create of an existing name with the existing volume; the trait wants AlreadyExists.
        match self.docker.inspect_volume(spec.name.as_str()).await.map_err(Failure::from) {
            Ok(_) => {
                return Err(to_error(
                    Op::CreateVolume,
                    spec.name.as_str(),
                    &Failure::Status { code: 409, message: "the volume exists".to_owned() },
                    &[],
                ));
            }
            Err(failure) if failure.is_not_found() => {}
            Err(failure) => return Err(self.fail(Op::InspectVolume, spec.name.as_str(), failure)),
        }
        let request = VolumeCreateRequest {
            name: Some(spec.name.to_string()),
            labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            ..Default::default()
        };
        let volume =
            self.docker.create_volume(request).await.map_err(|e| self.fail(Op::CreateVolume, spec.name.as_str(), e))?;
        response::volume_info(volume)
    }

    async fn list_volumes(&self, filter: &LabelFilter) -> Result<Vec<VolumeInfo>> {
        let options = ListVolumesOptions { filters: Some(request::label_filters(filter)) };
        let answer = self.docker.list_volumes(Some(options)).await.map_err(|e| self.fail(Op::ListVolumes, "", e))?;
        answer
            .volumes
            .unwrap_or_default()
            .into_iter()
            .filter(|v| request::is_listed(&v.labels.clone().into_iter().collect(), filter))
            .map(response::volume_info)
            .collect()
    }

    async fn remove_volume(&self, name: &VolumeName, options: RemoveVolumeOptions) -> Result<()> {
        let volume = self
            .docker
            .inspect_volume(name.as_str())
            .await
            .map_err(|e| self.fail(Op::RemoveVolume, name.as_str(), e))?;
        if response::volume_info(volume)?.is_protected() && !options.force {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("volume {name} is protected; removing it needs force"),
            )
            .with_context("backend", "podman")
            .with_context("volume", name));
        }
        // `force` here only lifts the protection: the API's own force (remove even if in use) is never sent.
        self.docker
            .remove_volume(name.as_str(), Some(ApiRemoveVolume { force: false }))
            .await
            .map_err(|e| self.fail(Op::RemoveVolume, name.as_str(), e))
    }

    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()> {
        match self.docker.inspect_network(spec.name.as_str(), None).await.map_err(Failure::from) {
            Ok(_) => return Ok(()),
            Err(failure) if failure.is_not_found() => {}
            Err(failure) => return Err(self.fail(Op::InspectNetwork, spec.name.as_str(), failure)),
        }
        let request = NetworkCreateRequest {
            name: spec.name.to_string(),
            labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let error = self.fail(Op::CreateNetwork, spec.name.as_str(), e);
                // Someone created it between our inspect and create: it exists, which is all we ensure.
                if error.kind() == ErrorKind::AlreadyExists { Ok(()) } else { Err(error) }
            }
        }
    }

    async fn remove_network(&self, name: &NetworkName) -> Result<()> {
        match self.docker.remove_network(name.as_str()).await.map_err(Failure::from) {
            Ok(()) => Ok(()),
            Err(failure) if failure.is_not_found() => Ok(()),
            Err(failure) => Err(self.fail(Op::RemoveNetwork, name.as_str(), failure)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use base64::Engine as _;
    use codeb::model::EnvValue;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    use super::*;
    use crate::transport::LocalTransport;

    fn local() -> Arc<dyn Transport> {
        Arc::new(LocalTransport::new())
    }

    /// One request as a scripted API server saw it.
    #[derive(Clone, Debug)]
    struct Seen {
        line: String,
        headers: Vec<(String, String)>,
    }

    /// A scripted API on a unix socket: answers each request with `answer(request line)`
    /// (status, body) and records what it saw.
    fn scripted_api(
        socket: &std::path::Path,
        answer: impl Fn(&str) -> (u16, String) + Send + 'static,
    ) -> Arc<Mutex<Vec<Seen>>> {
        let listener = UnixListener::bind(socket).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut byte = [0; 1];
                    if conn.read(&mut byte).await.unwrap() == 0 {
                        break;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8(head).unwrap();
                let mut lines = head.lines();
                let line = lines.next().unwrap_or_default().to_owned();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| {
                        l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    })
                    .collect();
                let length = headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0; length];
                conn.read_exact(&mut body).await.unwrap();
                let (status, body) = answer(&line);
                log.lock().unwrap().push(Seen { line, headers });
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                conn.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        seen
    }

    /// The runtime at `socket` with credentials for registry.example:5000.
    fn logged_in(socket: &std::path::Path) -> PodmanRuntime {
        let login = RegistryLogin {
            registry: "registry.example:5000".to_owned(),
            username: "ci".to_owned(),
            password: EnvValue::parse("t0ken-s3cret").unwrap(),
        };
        PodmanRuntime::connect(local(), PodmanConfig::new(socket).with_login(login)).unwrap()
    }

    #[tokio::test]
    async fn pull_credentials_travel_only_in_the_registry_auth_header() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("api.sock");
        // The image is present all along: a registry's tag is pulled anyway.
        let seen = scripted_api(&socket, move |line| {
            if line.contains("/images/create") {
                (200, "{\"status\":\"Pulling fs layer\"}\n{\"status\":\"Download complete\"}\n".to_owned())
            } else {
                (200, "{\"Id\":\"sha256:abc\"}".to_owned())
            }
        });
        let runtime = logged_in(&socket);
        let image = ImageRef::parse("registry.example:5000/team/app:v1").unwrap();
        let info = runtime.ensure_image(&image).await.unwrap();
        assert_eq!(info.id, "sha256:abc");

        let seen = seen.lock().unwrap().clone();
        let pull = seen.iter().find(|s| s.line.contains("/images/create")).unwrap();
        assert!(pull.line.starts_with("POST "), "{}", pull.line);
        assert!(pull.line.contains("fromImage=registry.example%3A5000%2Fteam%2Fapp%3Av1"), "{}", pull.line);
        let header = pull.headers.iter().find(|(k, _)| k == "x-registry-auth").map(|(_, v)| v.clone()).unwrap();
        let decoded = base64::engine::general_purpose::STANDARD.decode(header).unwrap();
        let creds: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(creds["username"], "ci");
        assert_eq!(creds["password"], "t0ken-s3cret");
        assert_eq!(creds["serveraddress"], "registry.example:5000");
        for request in &seen {
            assert!(!request.line.contains("t0ken"), "the password must never be in a URL: {}", request.line);
        }
    }

    #[tokio::test]
    async fn a_pull_error_that_echoes_the_password_is_masked() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("api.sock");
        let _seen = scripted_api(&socket, |line| {
            if line.contains("/images/create") {
                let message = "unable to retrieve auth token: invalid username/password t0ken-s3cret: unauthorized";
                (200, format!("{{\"error\":\"{message}\",\"errorDetail\":{{\"message\":\"{message}\"}}}}\n"))
            } else {
                (404, "{\"message\":\"no such image\"}".to_owned())
            }
        });
        let runtime = logged_in(&socket);
        let image = ImageRef::parse("registry.example:5000/team/app:v1").unwrap();
        let err = runtime.ensure_image(&image).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
        assert_eq!(err.context_value("image"), Some(image.as_str()));
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains("t0ken"), "{text}");
        }
    }

    /// The container `codeb-shop-web` of `localhost/shop:v1` with the variable
    /// `API_TOKEN=hunter2-value`, `secret` or not.
    fn web_with_api_token(secret: bool) -> ContainerSpec {
        ContainerSpec {
            name: ContainerName::parse("codeb-shop-web").unwrap(),
            image: ImageRef::parse("localhost/shop:v1").unwrap(),
            command: None,
            env: vec![codeb::model::EnvVar::parse("API_TOKEN", "hunter2-value", secret).unwrap()],
            labels: Default::default(),
            ports: Vec::new(),
            volumes: Vec::new(),
            network: None,
            resources: Default::default(),
            init: true,
            secret_files: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_create_error_that_echoes_an_env_value_is_masked() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("api.sock");
        let _seen = scripted_api(&socket, |_| {
            (500, "{\"message\":\"invalid environment entry API_TOKEN=hunter2-value\",\"response\":500}".to_owned())
        });
        let runtime = PodmanRuntime::connect(local(), PodmanConfig::new(&socket)).unwrap();
        let spec = web_with_api_token(false);
        let err = runtime.create_container(&spec).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert_eq!(err.context_value("container"), Some("codeb-shop-web"));
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("API_TOKEN="), "the rest of the message is kept: {text}");
        }
    }

    #[tokio::test]
    async fn a_container_codeb_envexec_cannot_be_copied_into_is_removed_with_its_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("api.sock");
        let seen = scripted_api(&socket, |line| match line {
            l if l.contains("/images/") => (200, r#"{"Id":"sha256:1","Config":{"Cmd":["httpd"]}}"#.to_owned()),
            l if l.starts_with("GET ") && l.contains("/secrets") => {
                (200, r#"[{"ID":"s1","Spec":{"Name":"codeb-shop-web.env.API_TOKEN"}}]"#.to_owned())
            }
            l if l.contains("/secrets/create") => (201, r#"{"ID":"s1"}"#.to_owned()),
            l if l.contains("/libpod/containers/create") => (201, r#"{"Id":"c1"}"#.to_owned()),
            l if l.contains("/archive") => (500, r#"{"message":"no space left on device"}"#.to_owned()),
            _ => (204, String::new()),
        });
        let runtime = PodmanRuntime::connect(local(), PodmanConfig::new(&socket)).unwrap();
        let err = runtime.create_container(&web_with_api_token(true)).await.unwrap_err();
        assert!(err.to_string().contains("copy codeb-envexec into container codeb-shop-web"), "{err}");
        let lines: Vec<String> = seen.lock().unwrap().iter().map(|s| s.line.clone()).collect();
        let copy = lines.iter().position(|l| l.contains("/archive")).expect("the copy was tried");
        let after = &lines[copy..];
        assert!(
            after.iter().any(|l| l.starts_with("DELETE ") && l.contains("/containers/codeb-shop-web")),
            "{lines:?}"
        );
        assert!(after.iter().any(|l| l.starts_with("DELETE ") && l.contains("/libpod/secrets/s1")), "{lines:?}");
    }

    #[test]
    fn filters_are_percent_encoded_for_the_raw_list() {
        assert_eq!(
            percent_encode(r#"{"label":["io.codeb.managed=true"]}"#),
            "%7B%22label%22%3A%5B%22io.codeb.managed%3Dtrue%22%5D%7D"
        );
        assert_eq!(percent_encode("a-b_c.d~"), "a-b_c.d~");
    }

    #[tokio::test]
    async fn a_missing_socket_is_unavailable_at_the_first_call_naming_the_path_and_found_once_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("podman.sock");
        let runtime = PodmanRuntime::connect(local(), PodmanConfig::new(&socket)).expect("nothing is reached yet");
        let err = runtime.list_containers(&LabelFilter::new()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert_eq!(err.context_value("backend"), Some("podman"));
        assert_eq!(err.context_value("path"), Some(socket.display().to_string().as_str()));

        // The service comes up later: the same runtime reaches it.
        scripted_api(&socket, |_| (200, "[]".to_owned()));
        assert_eq!(runtime.list_containers(&LabelFilter::new()).await.unwrap(), Vec::new());
    }

    /// Podman's answer to the first forced removal of a container whose conmon died.
    const ORPHAN_STOP: &str = "{\"cause\":\"internal libpod error\",\"message\":\"cannot remove container 75f7 as it could not be stopped: timed out waiting for file /run/libpod/exits/75f7: internal libpod error\",\"response\":500}";

    #[tokio::test]
    async fn a_forced_removal_of_an_orphan_is_repeated_once_and_an_unforced_one_is_not() {
        for (force, expected_deletes) in [(true, 2), (false, 1)] {
            let dir = tempfile::tempdir().unwrap();
            let socket = dir.path().join("api.sock");
            let deletes = Arc::new(Mutex::new(0));
            let count = Arc::clone(&deletes);
            scripted_api(&socket, move |line| {
                if line.contains("/secrets") {
                    // A removal also removes the container's secrets: it has none.
                    return (200, "[]".to_owned());
                }
                let mut n = count.lock().unwrap();
                *n += 1;
                if *n == 1 { (500, ORPHAN_STOP.to_owned()) } else { (204, String::new()) }
            });
            let runtime = PodmanRuntime::connect(local(), PodmanConfig::new(&socket)).unwrap();
            let name = ContainerName::parse("codeb-shop-staging-v1").unwrap();
            let result = runtime.remove_container(&name, RemoveOptions { force }).await;
            assert_eq!(result.is_ok(), force, "{result:?}");
            assert_eq!(*deletes.lock().unwrap(), expected_deletes);
        }
    }

    #[tokio::test]
    async fn a_stop_that_fails_counts_as_done_only_if_the_container_no_longer_runs() {
        let orphan = "{\"message\":\"timed out waiting for file /run/libpod/exits/75f7: internal libpod error\"}";
        for (running, expected_ok) in [(false, true), (true, false)] {
            let dir = tempfile::tempdir().unwrap();
            let socket = dir.path().join("api.sock");
            scripted_api(&socket, move |line| {
                if line.contains("/stop") {
                    (500, orphan.to_owned())
                } else {
                    (200, format!("{{\"Id\":\"75f7\",\"State\":{{\"Running\":{running},\"Status\":\"exited\"}}}}"))
                }
            });
            let runtime = PodmanRuntime::connect(local(), PodmanConfig::new(&socket)).unwrap();
            let name = ContainerName::parse("codeb-shop-staging-v1").unwrap();
            let result = runtime.stop_container(&name, StopOptions { grace: Duration::from_secs(1) }).await;
            assert_eq!(result.is_ok(), expected_ok, "running afterwards: {running}: {result:?}");
        }
    }

    #[tokio::test]
    async fn a_socket_nobody_listens_on_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("podman.sock");
        drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
        let runtime = PodmanRuntime::connect(local(), PodmanConfig::new(&socket)).unwrap();
        let err = runtime.list_containers(&LabelFilter::new()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert_eq!(err.context_value("path"), Some(socket.display().to_string().as_str()));
        let err = PodmanRuntime::connect_when_ready(local(), PodmanConfig::new(&socket), Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    }
}
