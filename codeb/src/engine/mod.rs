//! The deploy engine: plans, health-gated zero-downtime cutovers, automatic
//! and manual rollback, releases, deploy locks and crash recovery.
//!
//! The engine talks only to the backend traits, so everything here runs on
//! the in-memory fakes as well as on Podman, Caddy and PowerDNS.

pub(crate) mod accessories;
mod background;
mod cutover;
mod deploy;
mod events;
pub(crate) mod executor;
mod health;
pub(crate) mod lease;
pub(crate) mod lock;
pub(crate) mod naming;
pub(crate) mod plan;
pub mod progress;
mod promote;
mod recover;
mod release_command;
mod request;
mod retire;
mod rollback;

use std::sync::Arc;
use std::time::Duration;

pub use deploy::DeployReport;
pub use events::{DeployEvent, EventSink};
pub use health::{BODY_EXCERPT_BYTES, HttpProbe, ProbeRequest, ProbeResponse, ProbeVerdict, judge};
pub use lock::{Identity, Liveness, LockStatus};
pub use naming::{
    accessory_container, accessory_volume, environment_network, release_command_container, release_container,
};
pub use plan::{Change, Plan, PlannedChange};
pub use recover::{ReconcileReport, Reconciled, RecoverReport};
pub use request::{Accessories, DeployOptions, DeployRequest, ReleaseCommand};
pub use retire::{Retirement, Retiring};
pub use rollback::{Rollback, RollbackPlan};

use crate::dns::Dns;
use crate::fleet::Fleet;
use crate::model::{Environment, ImageRef, ProjectName, Role, ServerName, Service};
use crate::ports::PortRegistry;
use crate::proxy::{Proxy, TlsPolicy};
use crate::secrets::SecretStore;
use crate::ssot::{ReleaseRecord, StateStore};
use crate::{Error, Result};

/// The backends a platform drives, each behind its trait.
#[derive(Clone, Debug)]
pub struct Backends {
    /// The servers releases run on, each with its runtime, release driver, port probe and HTTP probe.
    pub fleet: Fleet,
    /// Routes hosts to releases.
    pub proxy: Arc<dyn Proxy>,
    /// Names releases.
    pub dns: Arc<dyn Dns>,
    /// Keeps env vars and secrets.
    pub secrets: Arc<dyn SecretStore>,
    /// Hands out ports.
    pub ports: Arc<dyn PortRegistry>,
    /// Keeps the SSOT.
    pub state: Arc<dyn StateStore>,
    /// Tells whether a lock holder still runs.
    pub liveness: Arc<dyn Liveness>,
}

/// The length of a deploy lock's lease unless the platform file says otherwise (`[deploy] lock_lease`).
pub const DEFAULT_LOCK_LEASE: Duration = Duration::from_secs(60);

/// How a platform deploys: addresses, policies and defaults.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The zone codeb manages records in; domains outside it get no record.
    pub zone: Option<crate::model::DomainName>,
    /// The zone of the environments' upstream records: with one, routes
    /// discover their release from an SRV record there and a cutover is one
    /// DNS change (the proxy's configuration changes only when domains do);
    /// without one, a cutover switches each route in the proxy.
    pub upstream_zone: Option<crate::model::DomainName>,
    /// TLS policy of new routes.
    pub tls: TlsPolicy,
    /// The registry images built here are pushed to, and run from by digest; none: they run where they were built.
    pub registry: Option<crate::config::Registry>,
    /// How many releases per environment to keep (records and stopped containers).
    pub keep_releases: usize,
    /// Time the previous release keeps serving in-flight requests after the switch.
    pub drain_grace: Duration,
    /// Time a container gets to stop before it is killed.
    pub stop_grace: Duration,
    /// Time after a cutover during which an unhealthy release is rolled back automatically; zero disables.
    pub watch_window: Duration,
    /// The PostgreSQL image of accessories.
    pub postgres_image: ImageRef,
    /// The Redis image of accessories.
    pub redis_image: ImageRef,
    /// Who this process is, for locks and the releases it records.
    pub identity: Identity,
    /// How long a deploy lock lasts unless its holder renews it (about every third of it, while it runs).
    pub lock_lease: Duration,
}

impl Settings {
    /// Defaults for one machine on loopback, for `user` in `front_end`.
    pub fn local(user: &str, front_end: &str) -> Self {
        let image = |s: &str| ImageRef::parse(s).unwrap_or_else(|_| unreachable!("a literal valid image reference"));
        Settings {
            zone: None,
            upstream_zone: None,
            tls: TlsPolicy::Off,
            registry: None,
            keep_releases: 5,
            drain_grace: Duration::from_secs(10),
            stop_grace: Duration::from_secs(10),
            watch_window: Duration::from_secs(30),
            postgres_image: image("docker.io/library/postgres:16"),
            redis_image: image("docker.io/library/redis:7"),
            identity: Identity {
                user: user.to_owned(),
                front_end: front_end.to_owned(),
                host: "localhost".to_owned(),
                pid: std::process::id(),
            },
            lock_lease: DEFAULT_LOCK_LEASE,
        }
    }

    /// The image of an accessory.
    pub fn accessory_image(&self, service: Service) -> &ImageRef {
        match service {
            Service::Postgres => &self.postgres_image,
            Service::Redis | Service::App => &self.redis_image,
        }
    }
}

/// The servers that hold the platform-wide parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Servers {
    /// The SSOT, the secrets and the locks.
    pub control: ServerName,
    /// The proxy.
    pub proxy: ServerName,
    /// DNS.
    pub dns: ServerName,
}

/// The one object every front end builds: backends plus settings, with the
/// SDK's operations as methods.
#[derive(Clone, Debug)]
pub struct Platform {
    pub(crate) backends: Backends,
    pub(crate) settings: Settings,
}

/// The event channel of an operation's options.
pub(crate) fn events_for(options: &DeployOptions) -> events::Events {
    events::Events::new(options.events.clone())
}

impl Platform {
    /// A platform over `backends` with `settings`.
    pub fn new(backends: Backends, settings: Settings) -> Self {
        Platform { backends, settings }
    }

    /// The backends.
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Which servers hold the SSOT, the proxy and DNS (with one server: that one).
    pub(crate) fn servers(&self) -> Servers {
        let fleet = &self.backends.fleet;
        let name = |role: Role| fleet.with_role(role).map_or_else(|_| ServerName::local(), |h| h.name.clone());
        Servers { control: name(Role::Control), proxy: name(Role::Proxy), dns: name(Role::Dns) }
    }

    /// The releases of an environment, oldest first; `NotFound` for a project or
    /// an environment the SSOT does not know.
    pub async fn releases(&self, project: &ProjectName, env: &Environment) -> Result<Vec<ReleaseRecord>> {
        Ok(self.existing_environment(project, env).await?.releases)
    }

    /// The deploy lock of an environment, if held.
    pub async fn lock_status(&self, project: &ProjectName, env: &Environment) -> Result<Option<LockStatus>> {
        let (store, me, liveness) = (&self.backends.state, &self.settings.identity, &self.backends.liveness);
        lock::status(store.as_ref(), project, env, me, liveness.as_ref()).await
    }

    /// Releases an environment's deploy lock held by a process that is gone
    /// (or by anyone, with `force`). Returns what was released.
    pub async fn lock_release(
        &self,
        project: &ProjectName,
        env: &Environment,
        force: bool,
    ) -> Result<Option<LockStatus>> {
        let (store, me, liveness) = (&self.backends.state, &self.settings.identity, &self.backends.liveness);
        let judged = lock::judge(store.as_ref(), project, env, me, liveness.as_ref()).await?;
        let (project, env) = (project.clone(), env.clone());
        self.blocking_state(move |s| lock::release_stale(s, &project, &env, &judged, force)).await
    }

    /// Runs a state store operation on a blocking thread (a file store may wait on a lock).
    pub(crate) async fn blocking_state<T: Send + 'static>(
        &self,
        op: impl FnOnce(&dyn StateStore) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = Arc::clone(&self.backends.state);
        tokio::task::spawn_blocking(move || op(store.as_ref()))
            .await
            .map_err(|e| Error::internal("a state store task panicked").with_source(e))?
    }

    /// Refuses to go on while the SSOT cannot be read whole (empty, torn,
    /// from a newer schema): a write that does not commit to the SSOT itself
    /// (env vars) checks it first, so nothing is changed on a platform whose
    /// truth is unknown.
    pub(crate) async fn check_ssot(&self) -> Result<()> {
        self.blocking_state(|s| s.load().map(drop)).await
    }
}
