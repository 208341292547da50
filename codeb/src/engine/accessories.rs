//! PostgreSQL and Redis beside an environment's app: a container each, on the
//! environment's network, PostgreSQL's data on a protected volume, and their
//! URLs injected as secrets.
//!
//! Accessories are durable infrastructure: once created, their volume, port
//! and credentials stay across deploys (a failed deploy removes only the
//! accessory containers it created itself, so nothing it created keeps
//! running, while the data and the password that initialised it survive).

use crate::engine::naming::{accessory_container, accessory_volume, environment_network};
use crate::engine::{Accessories, Platform};
use crate::model::{ContainerName, EnvKey, EnvValue, EnvVar, Environment, ImageRef, Port, ProjectName, Service};
use crate::ports::PortKey;
use crate::runtime::{
    ContainerSpec, ContainerState, LABEL_PROTECTED, NetworkSpec, PortBinding, Resources, VolumeMount, VolumeSpec,
    managed_labels,
};
use crate::secrets::Scope;
use crate::{Error, ErrorKind, Result};

/// What ensuring the accessories did, so a failed deploy can undo it.
#[derive(Debug, Default)]
pub(crate) struct AccessoryOutcome {
    /// Accessory containers this call created (removed again if the deploy fails).
    pub created: Vec<ContainerName>,
}

/// How one accessory kind runs.
struct Kind {
    service: Service,
    image: ImageRef,
    inner_port: u16,
    data_dir: Option<&'static str>,
}

impl Platform {
    /// Makes the wanted accessories exist and run, and their URLs be set as secrets.
    pub(crate) async fn ensure_accessories(
        &self,
        project: &ProjectName,
        env: &Environment,
        wanted: Accessories,
    ) -> Result<AccessoryOutcome> {
        let mut outcome = AccessoryOutcome::default();
        if !wanted.postgres && !wanted.redis {
            return Ok(outcome);
        }
        let network = environment_network(project, env)?;
        let labels = managed_labels(project, env, Service::App, None);
        self.backends.runtime.ensure_network(&NetworkSpec { name: network.clone(), labels }).await?;
        let kinds = [
            (
                wanted.postgres,
                Kind {
                    service: Service::Postgres,
                    image: self.settings.postgres_image.clone(),
                    inner_port: 5432,
                    data_dir: Some("/var/lib/postgresql/data"),
                },
            ),
            (
                wanted.redis,
                Kind {
                    service: Service::Redis,
                    image: self.settings.redis_image.clone(),
                    inner_port: 6379,
                    data_dir: None,
                },
            ),
        ];
        for (_, kind) in kinds.into_iter().filter(|(want, _)| *want) {
            if let Some(created) = self.ensure_accessory(project, env, &kind, &network).await? {
                outcome.created.push(created);
            }
        }
        Ok(outcome)
    }

    async fn ensure_accessory(
        &self,
        project: &ProjectName,
        env: &Environment,
        kind: &Kind,
        network: &crate::model::NetworkName,
    ) -> Result<Option<ContainerName>> {
        let runtime = &self.backends.runtime;
        let name = accessory_container(project, env, kind.service)?;
        let host_port = self.backends.ports.allocate(&PortKey::new(project.clone(), env.clone(), kind.service)).await?;
        let scope = Scope::new(project.clone(), env.clone());
        let password = self.accessory_secrets(&scope, project, kind, &name).await?;
        match runtime.inspect_container(&name).await {
            Ok(info) if info.state == ContainerState::Running => return Ok(None),
            Ok(_) => {
                runtime.start_container(&name).await?;
                return Ok(None);
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let labels = managed_labels(project, env, kind.service, None);
        let mut volumes = Vec::new();
        if let Some(target) = kind.data_dir {
            let volume = accessory_volume(project, env, kind.service)?;
            let existing = runtime.list_volumes(&labels).await?;
            if !existing.iter().any(|v| v.name == volume) {
                let mut volume_labels = labels.clone();
                volume_labels.insert(LABEL_PROTECTED.to_owned(), "true".to_owned());
                runtime.create_volume(&VolumeSpec { name: volume.clone(), labels: volume_labels }).await?;
            }
            volumes.push(VolumeMount { volume, target: target.to_owned() });
        }
        runtime.ensure_image(&kind.image, None).await?;
        let env_vars = match (&password, kind.service) {
            (Some(password), Service::Postgres) => {
                vec![var("POSTGRES_PASSWORD", password.expose(), true)?, var("POSTGRES_DB", project.as_str(), false)?]
            }
            _ => Vec::new(),
        };
        let spec = ContainerSpec {
            name: name.clone(),
            image: kind.image.clone(),
            command: None,
            env: env_vars,
            labels,
            ports: vec![PortBinding {
                host_ip: self.settings.bind_address,
                host_port,
                container_port: Port::new(kind.inner_port)?,
            }],
            volumes,
            network: Some(network.clone()),
            resources: Resources::default(),
            init: true,
        };
        runtime.create_container(&spec).await?;
        if let Err(e) = runtime.start_container(&name).await {
            let _ = runtime.remove_container(&name, true).await;
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
