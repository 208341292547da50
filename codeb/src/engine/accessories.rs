//! PostgreSQL and Redis beside an environment's app: a container each, on the
//! environment's network, PostgreSQL's data on a protected volume, and their
//! URLs injected as secrets.
//!
//! Accessories are durable infrastructure: once created, their volume, port
//! and credentials stay across deploys (a failed deploy removes only the
//! accessory containers it created itself, so nothing it created keeps
//! running, while the data and the password that initialised it survive).

use crate::engine::Platform;
use crate::engine::naming::{accessory_container, accessory_volume, environment_network};
use crate::fleet::Host;
use crate::model::{
    ContainerName, EnvKey, EnvValue, EnvVar, Environment, ImageRef, Port, ProjectName, Service, VolumeName,
};
use crate::runtime::RemoveContainerOptions;
use crate::runtime::{
    ContainerSpec, ContainerState, LABEL_PROTECTED, PortBinding, Resources, VolumeMount, VolumeSpec, managed_labels,
};
use crate::secrets::Scope;
use crate::{Error, ErrorKind, Result};

/// How one accessory kind runs.
struct Kind {
    service: Service,
    inner_port: u16,
    data_dir: Option<&'static str>,
}

impl Kind {
    fn of(service: Service) -> Result<Kind> {
        match service {
            Service::Postgres => Ok(Kind { service, inner_port: 5432, data_dir: Some("/var/lib/postgresql/data") }),
            Service::Redis => Ok(Kind { service, inner_port: 6379, data_dir: None }),
            Service::App => Err(Error::internal("the app is no accessory")),
        }
    }
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
        let labels = managed_labels(project, env, Service::Postgres, None);
        if host.runtime.list_volumes(&labels).await?.iter().any(|v| v.name == *volume) {
            return Ok(());
        }
        let mut volume_labels = labels;
        volume_labels.insert(LABEL_PROTECTED.to_owned(), "true".to_owned());
        host.runtime.create_volume(&VolumeSpec { name: volume.clone(), labels: volume_labels }).await.map(drop)
    }

    /// Makes an accessory run on `host` at `host_port`, with its URL (and
    /// PostgreSQL's password) set as secrets once. Returns the container when
    /// this call created it (a failed deploy removes it again).
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
                return Ok(None);
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let labels = managed_labels(project, env, service, None);
        let mut volumes = Vec::new();
        if let Some(target) = kind.data_dir {
            let volume = accessory_volume(project, env, service)?;
            self.ensure_volume(host, project, env, &volume).await?;
            volumes.push(VolumeMount { volume, target: target.to_owned() });
        }
        runtime.ensure_image(image).await?;
        let env_vars = match (&password, service) {
            (Some(password), Service::Postgres) => {
                vec![var("POSTGRES_PASSWORD", password.expose(), true)?, var("POSTGRES_DB", project.as_str(), false)?]
            }
            _ => Vec::new(),
        };
        let spec = ContainerSpec {
            name: name.clone(),
            image: image.clone(),
            command: None,
            env: env_vars,
            labels,
            ports: vec![PortBinding {
                host_ip: host.addresses.bind,
                host_port,
                container_port: Port::new(kind.inner_port)?,
            }],
            volumes,
            network: Some(environment_network(project, env)?),
            resources: Resources::default(),
            init: true,
        };
        runtime.create_container(&spec).await?;
        if let Err(e) = runtime.start_container(&name).await {
            let _ = runtime.remove_container(&name, RemoveContainerOptions::FORCE).await;
            return Err(e);
        }
        Ok(Some(name))
    }

    /// Sets the accessory's URL (and PostgreSQL's password) as secrets unless
    /// already set, and returns the password to start PostgreSQL with.
    async fn accessory_secrets(
        &self,
        scope: &Scope,
        project: &ProjectName,
        kind: &Kind,
        container: &ContainerName,
    ) -> Result<Option<EnvValue>> {
        let secrets = &self.backends.secrets;
        match kind.service {
            Service::Postgres => {
                let key = EnvKey::parse("POSTGRES_PASSWORD")?;
                if let Some(existing) = secrets.get(scope, &key).await? {
                    return Ok(Some(existing.value));
                }
                let password = random_secret()?;
                let url = format!("postgres://postgres:{password}@{container}:{}/{project}", kind.inner_port);
                secrets
                    .set(scope, &[var("POSTGRES_PASSWORD", &password, true)?, var("DATABASE_URL", &url, true)?])
                    .await?;
                Ok(Some(EnvValue::parse(&password)?))
            }
            Service::Redis => {
                let key = EnvKey::parse("REDIS_URL")?;
                if secrets.get(scope, &key).await?.is_none() {
                    let url = format!("redis://{container}:{}", kind.inner_port);
                    secrets.set(scope, &[var("REDIS_URL", &url, true)?]).await?;
                }
                Ok(None)
            }
            Service::App => Ok(None),
        }
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
