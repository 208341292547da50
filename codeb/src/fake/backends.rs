//! Every fake wired together, for tests and scripts that need a whole platform in memory.

use std::sync::Arc;

use super::{FakeDns, FakeHttpProbe, FakeLiveness, FakePortRegistry, FakeProxy, FakeRuntime, FakeSecretStore};
use crate::engine::Backends;
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

    /// The fakes as the trait objects a [`crate::engine::Platform`] holds.
    pub fn backends(&self) -> Backends {
        Backends {
            runtime: self.runtime.clone(),
            proxy: self.proxy.clone(),
            dns: self.dns.clone(),
            secrets: self.secrets.clone(),
            ports: self.ports.clone(),
            state: self.state.clone(),
            http: self.http.clone(),
            liveness: self.liveness.clone(),
        }
    }
}
