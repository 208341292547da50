//! What a deploy is asked to do.

use std::time::Duration;

use crate::engine::EventSink;
use crate::model::{DomainName, EnvVar, Environment, HealthCheck, ImageRef, Port, ProjectName, ServerName, Service};
use crate::runtime::{BuildSpec, Resources};

/// The accessories an environment wants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Accessories {
    /// A PostgreSQL container with a protected volume; its URL is injected as `DATABASE_URL`.
    pub postgres: bool,
    /// A Redis container with a password and its data on a protected volume; its URL is injected as `REDIS_URL`.
    pub redis: bool,
}

impl Accessories {
    /// The accessory services wanted, PostgreSQL first.
    pub fn services(&self) -> Vec<Service> {
        [(self.postgres, Service::Postgres), (self.redis, Service::Redis)]
            .into_iter()
            .filter_map(|(wanted, service)| wanted.then_some(service))
            .collect()
    }
}

/// A deploy of one image to one project environment.
///
/// It serialises as part of a saved plan. Its variables are the project
/// file's plain ones; a request holding a secret value cannot be saved.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The server to place a new environment on; by default the first app server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerName>,
    /// The image to run.
    pub image: ImageRef,
    /// How to build `image` first, when it is built rather than pulled.
    pub build: Option<BuildSpec>,
    /// The port the app listens on inside its container.
    pub app_port: Port,
    /// The command to run instead of the image's default, as argv.
    pub command: Option<Vec<String>>,
    /// Plain (non-secret) env vars from the project file; stored with the environment's secrets.
    #[serde(with = "plain_vars")]
    #[cfg_attr(feature = "schemars", schemars(with = "std::collections::BTreeMap<String, String>"))]
    pub env_vars: Vec<EnvVar>,
    /// The domains routed to the app.
    pub domains: Vec<DomainName>,
    /// The accessories wanted.
    pub accessories: Accessories,
    /// When the release counts as healthy.
    pub health: HealthCheck,
    /// Resource limits of the app container.
    pub resources: Resources,
    /// The command run once before the new release starts (a migration), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_command: Option<ReleaseCommand>,
}

/// A command a deploy runs once, in a one-off container of the new image
/// with the new environment (accessories' URLs and secrets included), after
/// the accessories are ready and before the new release starts: a database
/// migration (`npx prisma migrate deploy`). A non-zero exit, or no exit
/// within the timeout, stops the deploy before any traffic moves.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReleaseCommand {
    /// The program and its arguments (argv, never a shell line).
    pub argv: Vec<String>,
    /// How long it may run before it is killed and the deploy fails.
    #[serde(with = "crate::model::health::millis", rename = "timeout_ms")]
    #[cfg_attr(feature = "schemars", schemars(with = "u64"))]
    pub timeout: Duration,
}

impl ReleaseCommand {
    /// How long a release command may run when the project file does not say (`release_command_timeout`).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

    /// `argv` with the default timeout.
    pub fn new(argv: Vec<String>) -> Self {
        ReleaseCommand { argv, timeout: Self::DEFAULT_TIMEOUT }
    }
}

impl DeployRequest {
    /// A request with defaults for everything but what names the deploy.
    pub fn new(project: ProjectName, env: Environment, image: ImageRef, app_port: Port) -> Self {
        DeployRequest {
            project,
            env,
            server: None,
            image,
            build: None,
            app_port,
            command: None,
            env_vars: Vec::new(),
            domains: Vec::new(),
            accessories: Accessories::default(),
            health: HealthCheck::default(),
            resources: Resources::default(),
            release_command: None,
        }
    }
}

/// How a deploy, rollback or recovery runs.
#[derive(Clone, Default)]
pub struct DeployOptions {
    /// Wait up to this long for another deploy of the environment to finish; fail at once when `None`.
    pub wait_for_lock: Option<Duration>,
    /// What to record in the lock (shown to whoever finds it held); by default
    /// the operation says itself (`deploy shop/staging`), the front end being
    /// in the lock's owner already.
    pub message: Option<String>,
    /// Where progress events go.
    pub events: Option<EventSink>,
    /// Leave the previous release's drain and stop (and the removal of the
    /// containers of pruned releases) to the caller, who runs
    /// [`Platform::retire`](crate::engine::Platform::retire) with the
    /// deploy report's [`retiring`](crate::engine::DeployReport::retiring)
    /// off the deploy's path. A watch window then watches the new release
    /// with the previous one still running (an automatic rollback needs no
    /// start). Rollbacks, and plans with no previous release, ignore it.
    pub retire_later: bool,
}

impl DeployOptions {
    /// What the lock records: the message given, else `operation`.
    pub(crate) fn lock_message(&self, operation: impl FnOnce() -> String) -> Option<String> {
        Some(self.message.clone().unwrap_or_else(operation))
    }
}

impl std::fmt::Debug for DeployOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployOptions")
            .field("wait_for_lock", &self.wait_for_lock)
            .field("message", &self.message)
            .field("events", &self.events.as_ref().map(|_| "sink"))
            .field("retire_later", &self.retire_later)
            .finish()
    }
}

/// A request's plain variables as a `KEY = value` map; a secret refuses to be written.
mod plain_vars {
    use std::collections::BTreeMap;

    use serde::ser::Error as _;

    use crate::model::{EnvKey, EnvValue, EnvVar};

    pub fn serialize<S: serde::Serializer>(vars: &[EnvVar], s: S) -> Result<S::Ok, S::Error> {
        let mut map = BTreeMap::new();
        for var in vars {
            if var.secret {
                return Err(S::Error::custom(format!("{} is a secret, and a plan never holds secret values", var.key)));
            }
            map.insert(var.key.as_str(), var.value.expose());
        }
        serde::Serialize::serialize(&map, s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<EnvVar>, D::Error> {
        let map: BTreeMap<String, String> = serde::Deserialize::deserialize(d)?;
        map.into_iter()
            .map(|(key, value)| {
                Ok(EnvVar {
                    key: EnvKey::parse(&key).map_err(serde::de::Error::custom)?,
                    value: EnvValue::parse(&value).map_err(serde::de::Error::custom)?,
                    secret: false,
                })
            })
            .collect()
    }
}
