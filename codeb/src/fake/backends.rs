//! Every fake wired together, for tests and scripts that need a whole platform in memory.

use std::sync::Arc;

use super::{FakeDns, FakeHttpProbe, FakeLiveness, FakePortRegistry, FakeProxy, FakeRuntime, FakeSecretStore};
use crate::engine::{Backends, Platform, Settings};
use crate::fleet::{Fleet, Host, HostAddresses};
use crate::model::ServerName;
use crate::releases::ContainerReleases;
use crate::ssot::MemoryStateStore;

/// The in-memory fakes of every backend, sharing one SSOT; keep it to reach each fake's controls.
#[derive(Debug, Clone)]
pub struct FakeBackends {
    /// The container runtime (its apps answer the HTTP probe).
    pub runtime: Arc<FakeRuntime>,
    /// The proxy.
    pub proxy: Arc<FakeProxy>,
    /// The DNS server.
    pub dns: Arc<FakeDns>,
    /// The secret store.
    pub secrets: Arc<FakeSecretStore>,
    /// The port registry, recording in `state`; it sees the ports the runtime's running containers publish.
    pub ports: Arc<FakePortRegistry>,
    /// The SSOT.
    pub state: Arc<MemoryStateStore>,
    /// The HTTP probe.
    pub http: Arc<FakeHttpProbe>,
    /// The process table.
    pub liveness: Arc<FakeLiveness>,
}

impl Default for FakeBackends {
    fn default() -> Self {
        let runtime = Arc::new(FakeRuntime::new());
        let ports = Arc::new(FakePortRegistry::attributed_to(runtime.clone()));
        FakeBackends {
            http: Arc::new(FakeHttpProbe::new(runtime.clone())),
            runtime,
            proxy: Arc::new(FakeProxy::new()),
            dns: Arc::new(FakeDns::new()),
            secrets: Arc::new(FakeSecretStore::new()),
            state: ports.store().clone(),
            ports,
            liveness: Arc::new(FakeLiveness::new()),
        }
    }
}

impl FakeBackends {
    /// Fresh fakes: nothing deployed, every process alive.
    pub fn new() -> Self {
        FakeBackends::default()
    }

    /// The local host on the fakes, at `addresses`: its runtime, releases as
    /// its containers, the port probe of the port registry, the HTTP probe.
    pub fn host_at(&self, addresses: HostAddresses) -> Host {
        Host {
            name: ServerName::local(),
            roles: Default::default(),
            addresses,
            runtime: self.runtime.clone(),
            releases: Arc::new(ContainerReleases::new(self.runtime.clone(), addresses.bind, addresses.upstream)),
            ports: self.ports.attributed_probe(),
            http: self.http.clone(),
        }
    }

    /// The local host on the fakes, on loopback.
    pub fn host(&self) -> Host {
        self.host_at(HostAddresses::loopback())
    }

    /// The fakes as the trait objects a [`Platform`] holds: a fleet of one local host.
    pub fn backends(&self) -> Backends {
        self.backends_on(Fleet::single(self.host()))
    }

    /// The fakes' shared backends over `fleet`.
    pub fn backends_on(&self, fleet: Fleet) -> Backends {
        Backends {
            fleet,
            proxy: self.proxy.clone(),
            dns: self.dns.clone(),
            secrets: self.secrets.clone(),
            ports: self.ports.clone(),
            state: self.state.clone(),
            liveness: self.liveness.clone(),
        }
    }
}

impl Platform {
    /// A whole platform in memory, on the fakes: every image pulls, releases
    /// answer healthy, and drain and watch times are zero, so scripts can test
    /// their own deploy logic in milliseconds. Nothing leaves the process.
    pub fn memory() -> Self {
        let fakes = FakeBackends::new();
        fakes.runtime.allow_any_image();
        let mut settings = Settings::local("memory");
        settings.drain_grace = std::time::Duration::ZERO;
        settings.stop_grace = std::time::Duration::ZERO;
        settings.watch_window = std::time::Duration::ZERO;
        settings.zone = crate::model::DomainName::parse("codeb.test").ok();
        Platform::new(fakes.backends(), settings)
    }
}
