//! What a deploy is asked to do.

use std::time::Duration;

use crate::engine::{EventSink, HealthCheck};
use crate::model::{DomainName, EnvVar, Environment, ImageRef, Port, ProjectName};
use crate::runtime::{BuildSpec, Resources};

/// The accessories an environment wants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Accessories {
    /// A PostgreSQL container with a protected volume; its URL is injected as `DATABASE_URL`.
    pub postgres: bool,
    /// A Redis container; its URL is injected as `REDIS_URL`.
    pub redis: bool,
}

/// A deploy of one image to one project environment.
#[derive(Clone, Debug)]
pub struct DeployRequest {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
    /// The image to run.
    pub image: ImageRef,
    /// How to build `image` first, when it is built rather than pulled.
    pub build: Option<BuildSpec>,
    /// The port the app listens on inside its container.
    pub app_port: Port,
    /// The command to run instead of the image's default, as argv.
    pub command: Option<Vec<String>>,
    /// Plain (non-secret) env vars from the project file; stored with the environment's secrets.
    pub env_vars: Vec<EnvVar>,
    /// The domains routed to the app.
    pub domains: Vec<DomainName>,
    /// The accessories wanted.
    pub accessories: Accessories,
    /// When the release counts as healthy.
    pub health: HealthCheck,
    /// Resource limits of the app container.
    pub resources: Resources,
}

impl DeployRequest {
    /// A request with defaults for everything but what names the deploy.
    pub fn new(project: ProjectName, env: Environment, image: ImageRef, app_port: Port) -> Self {
        DeployRequest {
            project,
            env,
            image,
            build: None,
            app_port,
            command: None,
            env_vars: Vec::new(),
            domains: Vec::new(),
            accessories: Accessories::default(),
            health: HealthCheck::default(),
            resources: Resources::default(),
        }
    }
}

/// How a deploy, rollback or recovery runs.
#[derive(Clone, Default)]
pub struct DeployOptions {
    /// Wait up to this long for another deploy of the environment to finish; fail at once when `None`.
    pub wait_for_lock: Option<Duration>,
    /// What to record in the lock (shown to whoever finds it held).
    pub message: Option<String>,
    /// Where progress events go.
    pub events: Option<EventSink>,
}

impl std::fmt::Debug for DeployOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployOptions")
            .field("wait_for_lock", &self.wait_for_lock)
            .field("message", &self.message)
            .field("events", &self.events.as_ref().map(|_| "sink"))
            .finish()
    }
}
