//! The port registry backed by the SSOT.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;

use crate::model::{Port, ServerName, Service};
use crate::ports::{
    ListenerOwner, PortAllocation, PortConflict, PortDrift, PortFilter, PortKey, PortProbe, PortRanges, PortRegistry,
    PortReport,
};
use crate::ssot::{EnvironmentRecord, Ssot, StateStore, StateStoreExt};
use crate::{Error, Result};

/// Allocates ports by recording them in the SSOT, skipping ports the probe reports taken on the target server.
///
/// Ports are unique across the whole SSOT, not only per server, so an
/// environment can move between servers without renumbering.
#[derive(Debug, Clone)]
pub struct SsotPortRegistry {
    store: Arc<dyn StateStore>,
    probe: Arc<dyn PortProbe>,
    ranges: PortRanges,
    new_environments_on: ServerName,
}

impl SsotPortRegistry {
    /// A registry over `store` that asks `probe` what listens, allocating from `ranges`.
    pub fn new(store: Arc<dyn StateStore>, probe: Arc<dyn PortProbe>, ranges: PortRanges) -> Result<Self> {
        ranges.validate()?;
        Ok(SsotPortRegistry { store, probe, ranges, new_environments_on: ServerName::local() })
    }

    /// Places an environment that the SSOT has not placed yet on `server`
    /// (a fleet's default app server) when its first port is allocated; the
    /// local server otherwise.
    pub fn placing_new_environments_on(mut self, server: ServerName) -> Self {
        self.new_environments_on = server;
        self
    }

    /// Runs a store operation on a blocking thread: a file store may wait on a cross-process lock.
    async fn with_store<T: Send + 'static>(
        &self,
        op: impl FnOnce(&dyn StateStore) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || op(store.as_ref()))
            .await
            .map_err(|e| Error::internal("a state store task panicked").with_source(e))?
    }
}

/// The recorded allocations that pass `filter`, ordered by key.
fn allocations(doc: &Ssot, filter: &PortFilter) -> Vec<PortAllocation> {
    let mut out = Vec::new();
    let projects = doc.projects.iter().filter(|(p, _)| filter.project.as_ref().is_none_or(|f| f == *p));
    for (project, record) in projects {
        let envs = record.environments.iter().filter(|(e, _)| filter.env.as_ref().is_none_or(|f| f == *e));
        for (env, env_record) in envs {
            for (service, port) in &env_record.ports {
                out.push(PortAllocation {
                    key: PortKey::new(project.clone(), env.clone(), *service),
                    port: *port,
                    server: env_record.server(),
                });
            }
            for (release, port) in &env_record.release_ports {
                out.push(PortAllocation {
                    key: PortKey::for_release(project.clone(), env.clone(), release.clone()),
                    port: *port,
                    server: env_record.server(),
                });
            }
        }
    }
    out
}

/// Whose container listens on the port recorded for `key`: the release's
/// for a release's port, the serving release's for an environment's app
/// port (a probe names a container's release), else the key's own.
fn holder_of(doc: &Ssot, key: &PortKey) -> PortKey {
    let serving = || doc.environment(&key.project, &key.env)?.current_release.clone();
    match (&key.release, key.service) {
        (None, Service::App) => PortKey { release: serving(), ..key.clone() },
        _ => key.clone(),
    }
}

/// Every recorded port, without building the allocations.
fn recorded_ports(doc: &Ssot) -> BTreeSet<Port> {
    let envs = doc.projects.values().flat_map(|p| p.environments.values());
    envs.flat_map(|e| e.ports.values().chain(e.release_ports.values()).copied()).collect()
}

/// Records the lowest free port of the key's range, or returns the one it has.
pub(crate) fn reserve_in(doc: &mut Ssot, key: &PortKey, taken: &BTreeSet<Port>, ranges: &PortRanges) -> Result<Port> {
    if let Some(port) = doc.environment(&key.project, &key.env).and_then(|e| port_of(e, key)) {
        return Ok(port);
    }
    if key.release.is_some() && key.service != Service::App {
        return Err(Error::invalid("only the app has per-release ports").with_context("key", key));
    }
    let kind = key.env.kind();
    let range = ranges.get(kind, key.service).ok_or_else(|| {
        Error::invalid(format!("{kind} environments have no {} port range", key.service)).with_context("key", key)
    })?;
    let recorded = recorded_ports(doc);
    let port = range.iter().find(|p| !recorded.contains(p) && !taken.contains(p)).ok_or_else(|| {
        Error::conflict(format!("port range {kind}/{} {range} is full", key.service)).with_context("key", key)
    })?;
    let env = doc.environment_mut(&key.project, &key.env);
    match &key.release {
        Some(release) => env.release_ports.insert(release.clone(), port),
        None => env.ports.insert(key.service, port),
    };
    Ok(port)
}

/// Forgets the port recorded for `key`, returning it.
pub(crate) fn free_in(doc: &mut Ssot, key: &PortKey) -> Option<Port> {
    let env = doc.projects.get_mut(&key.project)?.environments.get_mut(&key.env)?;
    match &key.release {
        Some(release) => env.release_ports.remove(release),
        None => env.ports.remove(&key.service),
    }
}

/// The port recorded for `key` in its environment's record.
fn port_of(env: &EnvironmentRecord, key: &PortKey) -> Option<Port> {
    match &key.release {
        Some(release) => env.release_ports.get(release).copied(),
        None => env.ports.get(&key.service).copied(),
    }
}

#[async_trait]
impl PortRegistry for SsotPortRegistry {
    async fn allocate(&self, key: &PortKey) -> Result<Port> {
        let lookup = key.clone();
        let recorded = self
            .with_store(move |s| {
                s.view(|doc| {
                    let env = doc.environment(&lookup.project, &lookup.env);
                    Ok((env.and_then(|e| port_of(e, &lookup)), env.and_then(|e| e.server.clone())))
                })
            })
            .await?;
        let (existing, placed) = recorded;
        if let Some(port) = existing {
            return Ok(port);
        }
        let server = placed.unwrap_or_else(|| self.new_environments_on.clone());
        let taken = self.probe.taken(&server).await?;
        let (key, ranges) = (key.clone(), self.ranges);
        self.with_store(move |s| {
            s.modify(|doc| {
                let port = reserve_in(doc, &key, &taken, &ranges)?;
                if server != ServerName::local() {
                    doc.environment_mut(&key.project, &key.env).server.get_or_insert(server);
                }
                Ok(port)
            })
        })
        .await
    }

    async fn release(&self, key: &PortKey) -> Result<Option<Port>> {
        let key = key.clone();
        self.with_store(move |s| s.modify(|doc| Ok(free_in(doc, &key)))).await
    }

    async fn list(&self, filter: &PortFilter) -> Result<Vec<PortAllocation>> {
        let filter = filter.clone();
        self.with_store(move |s| s.view(|doc| Ok(allocations(doc, &filter)))).await
    }

    fn ranges(&self) -> &PortRanges {
        &self.ranges
    }

    async fn check(&self) -> Result<PortReport> {
        let doc = self.with_store(|s| s.load()).await?;
        let recorded = allocations(&doc, &PortFilter::default());
        let mut report = PortReport::default();

        let mut by_port: BTreeMap<Port, Vec<PortKey>> = BTreeMap::new();
        for a in &recorded {
            by_port.entry(a.port).or_default().push(a.key.clone());
        }
        for (port, keys) in by_port.into_iter().filter(|(_, keys)| keys.len() > 1) {
            report.conflicts.push(PortConflict::RecordedTwice { port, keys });
        }

        let servers: BTreeSet<ServerName> = recorded
            .iter()
            .map(|a| a.server.clone())
            .chain(doc.servers.keys().cloned())
            .chain([ServerName::local()])
            .collect();
        let ranges = self.ranges.all();
        for server in servers {
            let listeners: BTreeMap<Port, ListenerOwner> =
                self.probe.listeners(&server).await?.into_iter().map(|l| (l.port, l.owner)).collect();
            let on_server: Vec<&PortAllocation> = recorded.iter().filter(|a| a.server == server).collect();
            for a in &on_server {
                let (server, port, key) = (server.clone(), a.port, a.key.clone());
                match listeners.get(&a.port) {
                    None => report.drift.push(PortDrift::NotListening { server, port, key }),
                    Some(ListenerOwner::Unknown) => {}
                    Some(ListenerOwner::Managed { key: holder }) if *holder == holder_of(&doc, &key) => {}
                    Some(ListenerOwner::Managed { key: holder }) => {
                        report.conflicts.push(PortConflict::HeldByOther { server, port, key, holder: holder.clone() })
                    }
                    Some(owner @ ListenerOwner::Foreign { .. }) => report
                        .conflicts
                        .push(PortConflict::ForeignListener { server, port, key, listener: owner.to_string() }),
                }
            }
            let recorded_here: BTreeSet<Port> = on_server.iter().map(|a| a.port).collect();
            for (port, owner) in &listeners {
                let managed = ranges.iter().any(|(_, _, r)| r.contains(*port));
                if managed && !recorded_here.contains(port) {
                    let listener = owner.to_string();
                    report.drift.push(PortDrift::Unrecorded { server: server.clone(), port: *port, listener });
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::fake::{FakePortProbe, FakeRuntime};
    use crate::faults::{Faulty, PROBE_OPS};
    use crate::model::{ContainerName, Environment, ImageRef, ProjectName, ReleaseId, Service};
    use crate::ports::{Listener, RuntimeAttributedProbe};
    use crate::runtime::{ContainerRuntime, ContainerSpec, PortBinding, Resources, managed_labels};
    use crate::ssot::MemoryStateStore;

    fn key(project: &str, env: Environment, service: Service) -> PortKey {
        PortKey::new(ProjectName::parse(project).unwrap(), env, service)
    }

    fn port(n: u16) -> Port {
        Port::new(n).unwrap()
    }

    fn registry(probe: Arc<dyn PortProbe>) -> (SsotPortRegistry, Arc<MemoryStateStore>) {
        let store = Arc::new(MemoryStateStore::default());
        (SsotPortRegistry::new(store.clone(), probe, PortRanges::default()).unwrap(), store)
    }

    #[tokio::test]
    async fn each_app_port_is_held_by_its_own_release_and_the_serving_port_by_the_serving_one() {
        let app = key("shop", Environment::Staging, Service::App);
        let of = |release: &str| {
            PortKey::for_release(app.project.clone(), app.env.clone(), ReleaseId::parse(release).unwrap())
        };
        let local = ServerName::local();
        let probe = Arc::new(FakePortProbe::default());
        // v1 retires on its port, v2 serves, v3 starts on v2's port by mistake.
        probe.listen(&local, port(3000), ListenerOwner::Managed { key: of("v1") });
        probe.listen(&local, port(3001), ListenerOwner::Managed { key: of("v2") });
        probe.listen(&local, port(3002), ListenerOwner::Managed { key: of("v2") });
        let (registry, store) = registry(probe);
        store
            .update(&mut |doc| {
                let record = doc.environment_mut(&app.project, &app.env);
                record.current_release = Some(ReleaseId::parse("v2").unwrap());
                record.ports.insert(Service::App, port(3001));
                record.release_ports.insert(ReleaseId::parse("v1").unwrap(), port(3000));
                record.release_ports.insert(ReleaseId::parse("v3").unwrap(), port(3002));
                Ok(())
            })
            .unwrap();
        let report = registry.check().await.unwrap();
        let held: Vec<(&PortKey, &PortKey)> = report
            .conflicts
            .iter()
            .filter_map(|c| match c {
                PortConflict::HeldByOther { key, holder, .. } => Some((key, holder)),
                _ => None,
            })
            .collect();
        assert_eq!(held, [(&of("v3"), &of("v2"))], "{report:?}");
    }

    #[tokio::test]
    async fn a_new_environment_is_placed_on_the_fleets_server_and_probed_there() {
        let app1 = ServerName::parse("app1").unwrap();
        let probe = Arc::new(FakePortProbe::new());
        probe.listen(&app1, port(3000), ListenerOwner::Unknown);
        let (registry, store) = registry(probe);
        let registry = registry.placing_new_environments_on(app1.clone());
        let first = registry.allocate(&key("a", Environment::Staging, Service::App)).await.unwrap();
        assert_eq!(first, port(3001), "3000 listens on app1");
        let record =
            store.load().unwrap().environment(&ProjectName::parse("a").unwrap(), &Environment::Staging).cloned();
        assert_eq!(record.unwrap().server, Some(app1), "the environment is placed where its port was probed");
    }

    #[tokio::test]
    async fn allocates_the_lowest_port_that_is_neither_recorded_nor_listening() {
        let probe = Arc::new(FakePortProbe::new());
        probe.listen(&ServerName::local(), port(3000), ListenerOwner::Unknown);
        probe.listen(&ServerName::local(), port(3002), ListenerOwner::Unknown);
        let (registry, store) = registry(probe);
        let a = registry.allocate(&key("a", Environment::Staging, Service::App)).await.unwrap();
        let b = registry.allocate(&key("b", Environment::Staging, Service::App)).await.unwrap();
        let c = registry.allocate(&key("c", Environment::Staging, Service::App)).await.unwrap();
        assert_eq!((a, b, c), (port(3001), port(3003), port(3004)));
        assert_eq!(store.load().unwrap().revision, 3, "each new allocation is one commit");
        registry.allocate(&key("a", Environment::Staging, Service::App)).await.unwrap();
        assert_eq!(store.load().unwrap().revision, 3, "asking again commits nothing");
    }

    #[tokio::test]
    async fn check_finds_every_kind_of_conflict_and_drift() {
        let probe = Arc::new(FakePortProbe::new());
        let (registry, store) = registry(probe.clone());
        let local = ServerName::local();
        let (a, b, c, d) = (
            key("a", Environment::Production, Service::App),
            key("b", Environment::Production, Service::App),
            key("c", Environment::Production, Service::App),
            key("d", Environment::Production, Service::App),
        );
        for k in [&a, &b, &c, &d] {
            registry.allocate(k).await.unwrap();
        }
        // a: listening and ours (clean); b: foreign process; c: another workload; d: nothing listening.
        probe.listen(&local, port(4000), ListenerOwner::Managed { key: a.clone() });
        probe.listen(&local, port(4001), ListenerOwner::Foreign { description: "nginx".into() });
        probe.listen(&local, port(4002), ListenerOwner::Managed { key: a.clone() });
        probe.listen(&local, port(4450), ListenerOwner::Unknown);
        probe.listen(&local, port(8080), ListenerOwner::Unknown);
        let e = key("e", Environment::Production, Service::Postgres);
        store
            .update(&mut |doc| {
                doc.environment_mut(&e.project, &e.env).ports.insert(e.service, port(4000));
                Ok(())
            })
            .unwrap();

        let report = registry.check().await.unwrap();
        assert!(
            report
                .conflicts
                .contains(&PortConflict::RecordedTwice { port: port(4000), keys: vec![a.clone(), e.clone()] })
        );
        assert!(report.conflicts.contains(&PortConflict::ForeignListener {
            server: local.clone(),
            port: port(4001),
            key: b,
            listener: "nginx".into()
        }));
        assert!(report.conflicts.contains(&PortConflict::HeldByOther {
            server: local.clone(),
            port: port(4002),
            key: c,
            holder: a.clone()
        }));
        assert!(report.drift.contains(&PortDrift::NotListening { server: local.clone(), port: port(4003), key: d }));
        assert!(report.drift.iter().any(|x| matches!(x, PortDrift::Unrecorded { port: p, .. } if *p == port(4450))));
        assert!(
            report.drift.iter().all(|x| !matches!(x, PortDrift::Unrecorded { port: p, .. } if *p == port(8080))),
            "ports outside the managed ranges are not drift"
        );
        assert_eq!(report.conflicts.len(), 4, "{report:?}");
    }

    #[tokio::test]
    async fn a_full_range_names_the_range_and_a_probe_failure_allocates_nothing() {
        let probe = Arc::new(Faulty::new("probe", PROBE_OPS, Arc::new(FakePortProbe::new())));
        let (registry, store) = registry(probe.clone());
        for i in 0..21 {
            registry.allocate(&key(&format!("r{i}"), Environment::Staging, Service::Redis)).await.unwrap();
        }
        let err = registry.allocate(&key("full", Environment::Staging, Service::Redis)).await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Conflict);
        assert!(err.to_string().contains("staging/redis 16379-16399 is full"), "{err}");

        probe.faults().fail_next("listeners", 1, crate::ErrorKind::Unavailable);
        let before = store.load().unwrap().revision;
        let err = registry.allocate(&key("x", Environment::Staging, Service::App)).await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Unavailable);
        assert_eq!(store.load().unwrap().revision, before, "nothing is recorded when the probe fails");
    }

    #[tokio::test]
    async fn the_runtime_attributes_published_ports_calls_the_rest_foreign_and_counts_socketless_ones() {
        let probe = Arc::new(FakePortProbe::new());
        let runtime = Arc::new(FakeRuntime::new());
        let image = ImageRef::parse("app:1").unwrap();
        runtime.add_registry_image(&image);
        runtime.ensure_image(&image).await.unwrap();
        let k = key("shop", Environment::Staging, Service::App);
        let v1 = ReleaseId::parse("v1").unwrap();
        let spec = ContainerSpec {
            name: ContainerName::parse("codeb-shop-staging-v1").unwrap(),
            image,
            command: None,
            env: Vec::new(),
            labels: managed_labels(&k.project, &k.env, k.service, Some(&v1)),
            // 3005 has no socket: the runtime says the container runs, but its conmon is gone.
            ports: [3000, 3005]
                .map(|p| PortBinding { host_ip: [127, 0, 0, 1].into(), host_port: port(p), container_port: port(80) })
                .to_vec(),
            volumes: Vec::new(),
            network: None,
            resources: Resources::default(),
            init: true,
            secret_files: Vec::new(),
        };
        runtime.create_container(&spec).await.unwrap();
        runtime.start_container(&spec.name).await.unwrap();
        let local = ServerName::local();
        probe.listen(&local, port(3000), ListenerOwner::Unknown);
        probe.listen(&local, port(3001), ListenerOwner::Unknown);
        let attributed = Arc::new(RuntimeAttributedProbe::new(probe, runtime));
        let listeners = attributed.listeners(&local).await.unwrap();
        assert_eq!(
            listeners,
            vec![
                // Attributed to the release whose container it is.
                Listener {
                    port: port(3000),
                    owner: ListenerOwner::Managed {
                        key: PortKey::for_release(k.project.clone(), k.env.clone(), v1.clone())
                    }
                },
                Listener {
                    port: port(3001),
                    owner: ListenerOwner::Foreign { description: "not published by a codeb container".into() }
                },
            ],
            "3005 is published but nothing listens there"
        );
        assert_eq!(attributed.taken(&local).await.unwrap(), [3000, 3001, 3005].map(port).into());
        let (registry, store) = registry(attributed);
        store
            .update(&mut |doc| {
                doc.environment_mut(&k.project, &k.env).ports.insert(k.service, port(3005));
                Ok(())
            })
            .unwrap();
        let report = registry.check().await.unwrap();
        assert!(
            report.drift.contains(&PortDrift::NotListening { server: local.clone(), port: port(3005), key: k }),
            "a release behind the orphan's port does not answer: {report:?}"
        );
        let mut given = Vec::new();
        for project in ["a", "b", "c", "d"] {
            given.push(registry.allocate(&key(project, Environment::Staging, Service::App)).await.unwrap());
        }
        assert_eq!(given, [3002, 3003, 3004, 3006].map(port), "a port the runtime publishes is never handed out");
    }
}
