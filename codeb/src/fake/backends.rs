//! Every fake wired together, for tests and scripts that need a whole platform in memory.

use std::sync::Arc;

use super::{
    FakeDns, FakeDoctor, FakeHttpProbe, FakeLiveness, FakePortRegistry, FakeProxy, FakeRuntime, FakeSecretStore,
};
use crate::engine::{Backends, Platform, Settings};
use crate::faults::{DNS_OPS, Faulty, HTTP_OPS, PORT_OPS, PROXY_OPS, RUNTIME_OPS, SECRET_OPS, STATE_OPS};
use crate::fleet::{Fleet, Host, HostAddresses};
use crate::model::ServerName;
use crate::releases::ContainerReleases;
use crate::ssot::MemoryStateStore;

/// The in-memory fakes of every backend, each behind the fault layer, sharing
/// one SSOT; keep it to reach each fake's controls (through the layer's
/// `Deref`) and its faults ([`Faulty::faults`]).
#[derive(Debug, Clone)]
pub struct FakeBackends {
    /// The container runtime (its apps answer the HTTP probe).
    pub runtime: Arc<Faulty<FakeRuntime>>,
    /// The proxy.
    pub proxy: Arc<Faulty<FakeProxy>>,
    /// The DNS server.
    pub dns: Arc<Faulty<FakeDns>>,
    /// The secret store.
    pub secrets: Arc<Faulty<FakeSecretStore>>,
    /// The port registry, recording in `state`; it sees the ports the runtime's running containers publish.
    pub ports: Arc<Faulty<FakePortRegistry>>,
    /// The SSOT.
    pub state: Arc<Faulty<MemoryStateStore>>,
    /// The HTTP probe.
    pub http: Arc<Faulty<FakeHttpProbe>>,
    /// The process table.
    pub liveness: Arc<FakeLiveness>,
    /// What the local host answers `server check`.
    pub doctor: Arc<FakeDoctor>,
}

impl Default for FakeBackends {
    fn default() -> Self {
        FakeBackends::on(FakeRuntime::new())
    }
}

impl FakeBackends {
    /// Fresh fakes around `fake_runtime`.
    fn on(fake_runtime: FakeRuntime) -> Self {
        let fake_runtime = Arc::new(fake_runtime);
        let runtime = Arc::new(Faulty::new("fake-runtime", RUNTIME_OPS, fake_runtime.clone()));
        let state = Arc::new(Faulty::new("state", STATE_OPS, Arc::new(MemoryStateStore::default())));
        let registry = FakePortRegistry::attributed_to(state.clone(), runtime.clone());
        FakeBackends {
            http: Arc::new(Faulty::new("fake-http", HTTP_OPS, Arc::new(FakeHttpProbe::new(fake_runtime)))),
            runtime,
            proxy: Arc::new(Faulty::new("fake-proxy", PROXY_OPS, Arc::new(FakeProxy::new()))),
            dns: Arc::new(Faulty::new("fake-dns", DNS_OPS, Arc::new(FakeDns::new()))),
            secrets: Arc::new(Faulty::new("fake-secrets", SECRET_OPS, Arc::new(FakeSecretStore::new()))),
            ports: Arc::new(Faulty::new("fake-ports", PORT_OPS, Arc::new(registry))),
            state,
            liveness: Arc::new(FakeLiveness::new()),
            doctor: Arc::new(FakeDoctor::new()),
        }
    }

    /// Fresh fakes: nothing deployed, every process alive.
    pub fn new() -> Self {
        FakeBackends::default()
    }

    /// Fresh fakes whose runtime pushes to and pulls from the registry of
    /// this one's: another server of the same fleet.
    pub fn sharing_registry(&self) -> Self {
        FakeBackends::on(self.runtime.sharing_registry())
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
            doctor: self.doctor.clone(),
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
        let mut settings = Settings::local("memory", "memory");
        settings.drain_grace = std::time::Duration::ZERO;
        settings.stop_grace = std::time::Duration::ZERO;
        settings.watch_window = std::time::Duration::ZERO;
        settings.zone = crate::model::DomainName::parse("codeb.test").ok();
        Platform::new(fakes.backends(), settings)
    }
}
