//! The in-memory port probe and port registry.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::Faults;
use crate::Result;
use crate::model::{Port, ServerName};
use crate::ports::{
    Listener, ListenerOwner, PortAllocation, PortFilter, PortKey, PortProbe, PortRanges, PortRegistry, PortReport,
    RuntimeAttributedProbe, SsotPortRegistry,
};
use crate::runtime::{ContainerRuntime, ContainerState, Labels};
use crate::ssot::MemoryStateStore;

/// Operation names [`FakePortProbe`] accepts in its [`Faults`].
pub const PROBE_OPS: &[&str] = &["listeners"];

/// A port probe whose listening sockets are set by the test, and, when it
/// watches a runtime, also held by that runtime's running containers (as
/// Podman's conmon holds a published port).
#[derive(Debug)]
pub struct FakePortProbe {
    listening: Mutex<BTreeMap<(ServerName, Port), ListenerOwner>>,
    runtime: Option<Arc<dyn ContainerRuntime>>,
    faults: Faults,
}

impl Default for FakePortProbe {
    fn default() -> Self {
        FakePortProbe { listening: Mutex::default(), runtime: None, faults: Faults::new("fake-probe", PROBE_OPS) }
    }
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

    /// The fault injection of this probe (operations: [`PROBE_OPS`]).
    pub fn faults(&self) -> &Faults {
        &self.faults
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
        self.faults.enter("listeners").await?;
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

/// Operation names [`FakePortRegistry`] accepts in its [`Faults`].
pub const PORT_OPS: &[&str] = &["allocate", "release", "list", "check"];

/// The SSOT port registry over an in-memory store and a [`FakePortProbe`], with fault injection.
#[derive(Debug)]
pub struct FakePortRegistry {
    inner: SsotPortRegistry,
    store: Arc<MemoryStateStore>,
    probe: Arc<FakePortProbe>,
    seen: Arc<dyn PortProbe>,
    faults: Faults,
}

impl Default for FakePortRegistry {
    fn default() -> Self {
        FakePortRegistry::with_store(Arc::default(), PortRanges::default())
            .unwrap_or_else(|_| unreachable!("the default ranges are valid"))
    }
}

impl FakePortRegistry {
    /// A registry with the default ranges, an empty SSOT and nothing listening.
    pub fn new() -> Self {
        FakePortRegistry::default()
    }

    /// A registry over `store` with `ranges`; refuses overlapping ranges.
    pub fn with_store(store: Arc<MemoryStateStore>, ranges: PortRanges) -> Result<Self> {
        FakePortRegistry::build(store, ranges, None)
    }

    /// A registry with the default ranges and an empty SSOT whose probe sees
    /// `runtime`'s running containers listen on the ports they publish and,
    /// like the real platform's, attributes them ([`RuntimeAttributedProbe`]).
    pub fn attributed_to(runtime: Arc<dyn ContainerRuntime>) -> Self {
        FakePortRegistry::build(Arc::default(), PortRanges::default(), Some(runtime))
            .unwrap_or_else(|_| unreachable!("the default ranges are valid"))
    }

    fn build(
        store: Arc<MemoryStateStore>,
        ranges: PortRanges,
        runtime: Option<Arc<dyn ContainerRuntime>>,
    ) -> Result<Self> {
        let (probe, seen): (Arc<FakePortProbe>, Arc<dyn PortProbe>) = match runtime {
            Some(runtime) => {
                let probe = Arc::new(FakePortProbe::watching(runtime.clone()));
                (probe.clone(), Arc::new(RuntimeAttributedProbe::new(probe, runtime)))
            }
            None => {
                let probe = Arc::new(FakePortProbe::new());
                (probe.clone(), probe)
            }
        };
        let inner = SsotPortRegistry::new(store.clone(), seen.clone(), ranges)?;
        Ok(FakePortRegistry { inner, store, probe, seen, faults: Faults::new("fake-ports", PORT_OPS) })
    }

    /// The fault injection of this registry (operations: [`PORT_OPS`]).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The SSOT the registry records in.
    pub fn store(&self) -> &Arc<MemoryStateStore> {
        &self.store
    }

    /// The probe of listening sockets.
    pub fn probe(&self) -> &Arc<FakePortProbe> {
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
        self.faults.enter("allocate").await?;
        self.inner.allocate(key).await
    }

    async fn release(&self, key: &PortKey) -> Result<Option<Port>> {
        self.faults.enter("release").await?;
        self.inner.release(key).await
    }

    async fn list(&self, filter: &PortFilter) -> Result<Vec<PortAllocation>> {
        self.faults.enter("list").await?;
        self.inner.list(filter).await
    }

    async fn check(&self) -> Result<PortReport> {
        self.faults.enter("check").await?;
        self.inner.check().await
    }

    fn ranges(&self) -> &PortRanges {
        self.inner.ranges()
    }
}
