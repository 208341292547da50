//! PostgreSQL and Redis beside an environment's app: a container each, on the
//! environment's network, its data on a protected volume, a generated
//! password, and its URL injected as a secret.
//!
//! Accessories are durable infrastructure: once created, their volume, port
//! and credentials stay across deploys (a failed deploy removes only the
//! accessory containers it created itself, so nothing it created keeps
//! running, while the data and the password that initialised it survive).

use crate::engine::Platform;
use crate::engine::naming::{accessory_container, accessory_volume, environment_network};
use crate::fleet::Host;
use std::time::Duration;

use crate::model::{
    ContainerName, EnvKey, EnvValue, EnvVar, Environment, ImageRef, Port, ProjectName, Service, VolumeName,
};
use crate::runtime::{
    ContainerSpec, ContainerState, ExecSpec, LABEL_PROTECTED, LogOptions, PortBinding, RemoveContainerOptions,
    Resources, SecretFile, VolumeMount, VolumeSpec, managed_labels,
};
use crate::secrets::Scope;
use crate::{Error, ErrorKind, Result};

/// How one accessory kind runs, and the secrets that hold its credentials.
pub(crate) struct Kind {
    service: Service,
    inner_port: u16,
    /// Where its data volume is mounted.
    data_dir: &'static str,
    /// The secret holding its generated password.
    password_key: &'static str,
    /// The secret holding the URL the app reaches it at (password included).
    url_key: &'static str,
}

impl Kind {
    pub(crate) fn of(service: Service) -> Result<Kind> {
        match service {
            Service::Postgres => Ok(Kind {
                service,
                inner_port: 5432,
                data_dir: "/var/lib/postgresql/data",
                password_key: "POSTGRES_PASSWORD",
                url_key: "DATABASE_URL",
            }),
            Service::Redis => Ok(Kind {
                service,
                inner_port: 6379,
                data_dir: "/data",
                password_key: "REDIS_PASSWORD",
                url_key: "REDIS_URL",
            }),
            Service::App => Err(Error::internal("the app is no accessory")),
        }
    }

    /// The secrets holding the accessory's credentials: they live as long as
    /// its protected volume, which holds data only they open.
    pub(crate) fn credential_keys(&self) -> [&'static str; 2] {
        [self.password_key, self.url_key]
    }

    /// The URL the app reaches the accessory at on the environment's network.
    fn url(&self, password: &str, container: &ContainerName, project: &ProjectName) -> String {
        match self.service {
            Service::Postgres => format!("postgres://postgres:{password}@{container}:{}/{project}", self.inner_port),
            Service::Redis | Service::App => format!("redis://:{password}@{container}:{}", self.inner_port),
        }
    }

    /// The command that exits 0 once the accessory answers clients over TCP,
    /// as the app reaches it: the server PostgreSQL's image runs during its
    /// initialisation listens on its unix socket only, and Redis answers an
    /// authenticated PING only once its data is loaded.
    fn readiness(&self, password: &EnvValue) -> Result<ExecSpec> {
        let port = self.inner_port.to_string();
        let (argv, env) = match self.service {
            Service::Postgres => {
                (vec!["pg_isready", "-q", "-h", "127.0.0.1", "-p", &port, "-U", "postgres"], Vec::new())
            }
            Service::Redis | Service::App => (
                vec!["redis-cli", "-e", "-h", "127.0.0.1", "-p", &port, "ping"],
                vec![var("REDISCLI_AUTH", password.expose(), true)?],
            ),
        };
        Ok(ExecSpec { argv: argv.into_iter().map(str::to_owned).collect(), env })
    }

    /// The environment, command and secret files the accessory's container
    /// runs with: its password only in a secret file (PostgreSQL reads it
    /// through `POSTGRES_PASSWORD_FILE`, Redis as a config file), so that
    /// inspecting the container never shows it.
    fn container_config(&self, password: &EnvValue, project: &ProjectName) -> Result<AccessoryConfig> {
        match self.service {
            Service::Postgres => {
                let file = SecretFile { name: EnvKey::parse(self.password_key)?, value: password.clone() };
                let env = vec![
                    var("POSTGRES_PASSWORD_FILE", &file.path(), false)?,
                    var("POSTGRES_DB", project.as_str(), false)?,
                ];
                Ok(AccessoryConfig { env, command: None, secret_files: vec![file] })
            }
            Service::Redis | Service::App => {
                let conf = EnvValue::parse(&format!("requirepass {}\n", password.expose()))?;
                let file = SecretFile { name: EnvKey::parse("REDIS_CONF")?, value: conf };
                let command = vec!["redis-server".to_owned(), file.path(), "--appendonly".to_owned(), "yes".to_owned()];
                Ok(AccessoryConfig { env: Vec::new(), command: Some(command), secret_files: vec![file] })
            }
        }
    }
}

/// What an accessory's container runs with besides its image, port and volume.
struct AccessoryConfig {
    env: Vec<EnvVar>,
    command: Option<Vec<String>>,
    secret_files: Vec<SecretFile>,
}

/// How long an accessory may take to answer after it starts (PostgreSQL's first start runs initdb).
const READY_DEADLINE: Duration = Duration::from_secs(120);
/// The pause between two readiness probes.
const READY_INTERVAL: Duration = Duration::from_millis(250);
/// How many of its last log lines an error about an accessory that exited quotes.
const LOG_LINES: usize = 5;

/// What one readiness probe of an accessory found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// It answers clients.
    Ready,
    /// It runs but does not answer yet (it may be initialising).
    Starting,
    /// Its container does not run, in this state (`None`: there is no container).
    Down(Option<ContainerState>),
}

impl Readiness {
    /// The readiness as a sentence about the accessory in `container`.
    pub(crate) fn describe(&self, service: Service, container: &ContainerName) -> String {
        match self {
            Readiness::Ready => format!("{service} ({container}) answers"),
            Readiness::Starting => format!("{service} ({container}) runs but does not answer yet"),
            Readiness::Down(None) => format!("{service} ({container}) has no container"),
            Readiness::Down(Some(ContainerState::Exited { code: Some(code) })) => {
                format!("{service} ({container}) exited with code {code}")
            }
            Readiness::Down(Some(_)) => format!("{service} ({container}) does not run"),
        }
    }
}

/// The accessory whose data volume `volume` is in `project`/`env`.
pub(crate) fn volume_service(project: &ProjectName, env: &Environment, volume: &VolumeName) -> Result<Service> {
    for service in [Service::Postgres, Service::Redis] {
        if accessory_volume(project, env, service)? == *volume {
            return Ok(service);
        }
    }
    Err(Error::internal(format!("{volume} is no accessory volume of {project}/{env}")))
}

impl Platform {
    /// Creates an accessory's protected data volume on `host` unless it exists.
    pub(crate) async fn ensure_volume(
        &self,
        host: &Host,
        project: &ProjectName,
        env: &Environment,
        volume: &VolumeName,
    ) -> Result<()> {
        let labels = managed_labels(project, env, volume_service(project, env, volume)?, None);
        if host.runtime.list_volumes(&labels).await?.iter().any(|v| v.name == *volume) {
            return Ok(());
        }
        let mut volume_labels = labels;
        volume_labels.insert(LABEL_PROTECTED.to_owned(), "true".to_owned());
        host.runtime.create_volume(&VolumeSpec { name: volume.clone(), labels: volume_labels }).await.map(drop)
    }

    /// Makes an accessory run on `host` at `host_port`, its data on its
    /// protected volume, with its password and URL set as secrets once.
    /// Returns the container when this call created it (a failed deploy
    /// removes it again).
    pub(crate) async fn ensure_accessory(
        &self,
        host: &Host,
        project: &ProjectName,
        env: &Environment,
        service: Service,
        image: &ImageRef,
        host_port: Port,
    ) -> Result<Option<ContainerName>> {
        let kind = Kind::of(service)?;
        let runtime = &host.runtime;
        let name = accessory_container(project, env, service)?;
        let scope = Scope::new(project.clone(), env.clone());
        let password = self.accessory_secrets(&scope, project, &kind, &name).await?;
        match runtime.inspect_container(&name).await {
            Ok(info) if info.state == ContainerState::Running => return Ok(None),
            Ok(_) => {
                runtime.start_container(&name).await?;
                self.wait_ready(host, project, env, service).await?;
                return Ok(None);
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let labels = managed_labels(project, env, service, None);
        let volume = accessory_volume(project, env, service)?;
        self.ensure_volume(host, project, env, &volume).await?;
        runtime.ensure_image(image).await?;
        let config = kind.container_config(&password, project)?;
        let spec = ContainerSpec {
            name: name.clone(),
            image: image.clone(),
            command: config.command,
            env: config.env,
            labels,
            ports: vec![PortBinding {
                host_ip: host.addresses.bind,
                host_port,
                container_port: Port::new(kind.inner_port)?,
            }],
            volumes: vec![VolumeMount { volume, target: kind.data_dir.to_owned() }],
            network: Some(environment_network(project, env)?),
            resources: Resources::default(),
            init: true,
            secret_files: config.secret_files,
        };
        runtime.create_container(&spec).await?;
        if let Err(e) = runtime.start_container(&name).await {
            let _ = runtime.remove_container(&name, RemoveContainerOptions::FORCE).await;
            return Err(e);
        }
        if let Err(e) = self.wait_ready(host, project, env, service).await {
            // One that exited is removed; one still initialising is never stopped.
            if e.kind() != ErrorKind::Timeout {
                let _ = runtime.remove_container(&name, RemoveContainerOptions::FORCE).await;
            }
            return Err(e);
        }
        Ok(Some(name))
    }

    /// Probes once whether an environment's accessory answers clients.
    pub(crate) async fn accessory_readiness(
        &self,
        host: &Host,
        project: &ProjectName,
        env: &Environment,
        service: Service,
    ) -> Result<Readiness> {
        let kind = Kind::of(service)?;
        let name = accessory_container(project, env, service)?;
        let state = match host.runtime.inspect_container(&name).await {
            Ok(info) => info.state,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Readiness::Down(None)),
            Err(e) => return Err(e),
        };
        if state != ContainerState::Running {
            return Ok(Readiness::Down(Some(state)));
        }
        let scope = Scope::new(project.clone(), env.clone());
        let password = self.backends.secrets.get(&scope, &EnvKey::parse(kind.password_key)?).await?;
        let password = password.map(|v| v.value).ok_or_else(|| {
            Error::conflict(format!("{service} of {project}/{env} has no {} secret", kind.password_key))
        })?;
        match host.runtime.exec(&name, &kind.readiness(&password)?).await {
            Ok(0) => Ok(Readiness::Ready),
            Ok(_) => Ok(Readiness::Starting),
            // It stopped between the inspect and the probe.
            Err(e) if e.kind() == ErrorKind::Conflict => Ok(Readiness::Down(Some(ContainerState::Other))),
            Err(e) => Err(e),
        }
    }

    /// Waits until an accessory answers clients, so the app never starts
    /// before its database. One that exits fails at once (`Unavailable`, with
    /// its exit code and last log lines); one still starting at the deadline
    /// fails with `Timeout` and is left to finish.
    async fn wait_ready(&self, host: &Host, project: &ProjectName, env: &Environment, service: Service) -> Result<()> {
        let name = accessory_container(project, env, service)?;
        let deadline = tokio::time::Instant::now() + READY_DEADLINE;
        loop {
            let readiness = self.accessory_readiness(host, project, env, service).await?;
            match readiness {
                Readiness::Ready => return Ok(()),
                Readiness::Down(_) => {
                    let logs = host.runtime.logs(&name, LogOptions { tail: LOG_LINES }).await.unwrap_or_default();
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!(
                            "{} before it answered; its last log lines:\n{}",
                            readiness.describe(service, &name),
                            logs.join("\n")
                        ),
                    )
                    .with_context("container", &name));
                }
                Readiness::Starting if tokio::time::Instant::now() >= deadline => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "{} after {READY_DEADLINE:?}; it is left running to finish its initialisation",
                            readiness.describe(service, &name)
                        ),
                    )
                    .with_context("container", &name));
                }
                Readiness::Starting => tokio::time::sleep(READY_INTERVAL).await,
            }
        }
    }

    /// Sets the accessory's password and URL as secrets unless already set,
    /// and returns the password to start it with.
    async fn accessory_secrets(
        &self,
        scope: &Scope,
        project: &ProjectName,
        kind: &Kind,
        container: &ContainerName,
    ) -> Result<EnvValue> {
        let secrets = &self.backends.secrets;
        if let Some(existing) = secrets.get(scope, &EnvKey::parse(kind.password_key)?).await? {
            return Ok(existing.value);
        }
        let password = random_secret()?;
        let url = kind.url(&password, container, project);
        secrets.set(scope, &[var(kind.password_key, &password, true)?, var(kind.url_key, &url, true)?]).await?;
        Ok(EnvValue::parse(&password)?)
    }
}

fn var(key: &str, value: &str, secret: bool) -> Result<EnvVar> {
    Ok(EnvVar { key: EnvKey::parse(key)?, value: EnvValue::parse(value)?, secret })
}

/// 24 random bytes from the operating system, hex-encoded.
fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::internal(format!("the operating system gave no random bytes: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
