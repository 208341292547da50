//! The in-memory port probe and port registry.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::Result;
use crate::faults::{Faulty, PROBE_OPS};
use crate::model::{Port, ServerName};
use crate::ports::{
    Listener, ListenerOwner, PortAllocation, PortFilter, PortKey, PortProbe, PortRanges, PortRegistry, PortReport,
    RuntimeAttributedProbe, SsotPortRegistry,
};
use crate::runtime::{ContainerRuntime, ContainerState, Labels};
use crate::ssot::{MemoryStateStore, StateStore};

/// A port probe whose listening sockets are set by the test, and, when it
/// watches a runtime, also held by that runtime's running containers (as
/// Podman's conmon holds a published port).
#[derive(Debug, Default)]
pub struct FakePortProbe {
    listening: Mutex<BTreeMap<(ServerName, Port), ListenerOwner>>,
    runtime: Option<Arc<dyn ContainerRuntime>>,
}

impl FakePortProbe {
    /// A probe that sees nothing listening.
    pub fn new() -> Self {
        FakePortProbe::default()
    }

    /// A probe that also sees the ports `runtime`'s running containers publish
    /// listening on the local server.
    pub fn watching(runtime: Arc<dyn ContainerRuntime>) -> Self {
        FakePortProbe { runtime: Some(runtime), ..FakePortProbe::default() }
    }

    /// Makes `port` listen on `server`, owned by `owner`.
    pub fn listen(&self, server: &ServerName, port: Port, owner: ListenerOwner) {
        self.listening().insert((server.clone(), port), owner);
    }

    /// Stops `port` listening on `server`.
    pub fn close(&self, server: &ServerName, port: Port) {
        self.listening().remove(&(server.clone(), port));
    }

    fn listening(&self) -> MutexGuard<'_, BTreeMap<(ServerName, Port), ListenerOwner>> {
        self.listening.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl PortProbe for FakePortProbe {
    async fn listeners(&self, server: &ServerName) -> Result<Vec<Listener>> {
        let mut ports: BTreeMap<Port, ListenerOwner> = BTreeMap::new();
        if let Some(runtime) = self.runtime.as_ref().filter(|_| *server == ServerName::local()) {
            for container in runtime.list_containers(&Labels::new()).await? {
                if container.state == ContainerState::Running {
                    ports.extend(container.ports.iter().map(|p| (p.host_port, ListenerOwner::Unknown)));
                }
            }
        }
        let listening = self.listening();
        ports.extend(listening.iter().filter(|((s, _), _)| s == server).map(|((_, p), o)| (*p, o.clone())));
        Ok(ports.into_iter().map(|(port, owner)| Listener { port, owner }).collect())
    }
}

/// The SSOT port registry over a store and a [`FakePortProbe`] (behind the fault layer).
#[derive(Debug)]
pub struct FakePortRegistry {
    inner: SsotPortRegistry,
    probe: Arc<Faulty<FakePortProbe>>,
    seen: Arc<dyn PortProbe>,
}

impl Default for FakePortRegistry {
    fn default() -> Self {
        FakePortRegistry::with_store(Arc::new(MemoryStateStore::default()), PortRanges::default())
            .unwrap_or_else(|_| unreachable!("the default ranges are valid"))
    }
}

impl FakePortRegistry {
    /// A registry with the default ranges, an empty SSOT and nothing listening.
    pub fn new() -> Self {
        FakePortRegistry::default()
    }

    /// A registry over `store` with `ranges`; refuses overlapping ranges.
    pub fn with_store(store: Arc<dyn StateStore>, ranges: PortRanges) -> Result<Self> {
        FakePortRegistry::build(store, ranges, None)
    }

    /// A registry with the default ranges over `store` whose probe sees
    /// `runtime`'s running containers listen on the ports they publish and,
    /// like the real platform's, attributes them ([`RuntimeAttributedProbe`]).
    pub fn attributed_to(store: Arc<dyn StateStore>, runtime: Arc<dyn ContainerRuntime>) -> Self {
        FakePortRegistry::build(store, PortRanges::default(), Some(runtime))
            .unwrap_or_else(|_| unreachable!("the default ranges are valid"))
    }

    fn build(
        store: Arc<dyn StateStore>,
        ranges: PortRanges,
        runtime: Option<Arc<dyn ContainerRuntime>>,
    ) -> Result<Self> {
        let fake = match &runtime {
            Some(runtime) => FakePortProbe::watching(runtime.clone()),
            None => FakePortProbe::new(),
        };
        let probe = Arc::new(Faulty::new("fake-probe", PROBE_OPS, Arc::new(fake)));
        let seen: Arc<dyn PortProbe> = match runtime {
            Some(runtime) => Arc::new(RuntimeAttributedProbe::new(probe.clone(), runtime)),
            None => probe.clone(),
        };
        let inner = SsotPortRegistry::new(store, seen.clone(), ranges)?;
        Ok(FakePortRegistry { inner, probe, seen })
    }

    /// The probe of listening sockets, behind its fault layer.
    pub fn probe(&self) -> &Arc<Faulty<FakePortProbe>> {
        &self.probe
    }

    /// The probe the registry allocates with: [`FakePortRegistry::probe`],
    /// attributed to the runtime when the registry watches one.
    pub fn attributed_probe(&self) -> Arc<dyn PortProbe> {
        self.seen.clone()
    }
}

#[async_trait]
impl PortRegistry for FakePortRegistry {
    async fn allocate(&self, key: &PortKey) -> Result<Port> {
        self.inner.allocate(key).await
    }

    async fn release(&self, key: &PortKey) -> Result<Option<Port>> {
        self.inner.release(key).await
    }

    async fn list(&self, filter: &PortFilter) -> Result<Vec<PortAllocation>> {
        self.inner.list(filter).await
    }

    async fn check(&self) -> Result<PortReport> {
        self.inner.check().await
    }

    fn ranges(&self) -> &PortRanges {
        self.inner.ranges()
    }
}
