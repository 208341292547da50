//! The port registry backed by the SSOT.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;

use crate::model::{Port, ServerName};
use crate::ports::{
    ListenerOwner, PortAllocation, PortConflict, PortDrift, PortFilter, PortKey, PortProbe,
    PortRanges, PortRegistry, PortReport,
};
use crate::ssot::{Ssot, StateStore, StateStoreExt};
use crate::{Error, Result};

/// Allocates ports by recording them in the SSOT, skipping ports that listen on the target server.
///
/// Ports are unique across the whole SSOT, not only per server, so an
/// environment can move between servers without renumbering.
#[derive(Debug, Clone)]
pub struct SsotPortRegistry {
    store: Arc<dyn StateStore>,
    probe: Arc<dyn PortProbe>,
    ranges: PortRanges,
}

impl SsotPortRegistry {
    /// A registry over `store` that asks `probe` what listens, allocating from `ranges`.
    pub fn new(
        store: Arc<dyn StateStore>,
        probe: Arc<dyn PortProbe>,
        ranges: PortRanges,
    ) -> Result<Self> {
        ranges.validate()?;
        Ok(SsotPortRegistry {
            store,
            probe,
            ranges,
        })
    }

    /// The ranges this registry allocates from.
    pub fn ranges(&self) -> &PortRanges {
        &self.ranges
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

/// Every recorded allocation in the document, ordered by key.
fn allocations(doc: &Ssot) -> Vec<PortAllocation> {
    let mut out = Vec::new();
    for (project, record) in &doc.projects {
        for (env, env_record) in &record.environments {
            for (service, port) in &env_record.ports {
                out.push(PortAllocation {
                    key: PortKey::new(project.clone(), env.clone(), *service),
                    port: *port,
                    server: env_record.server(),
                });
            }
        }
    }
    out
}

/// Records the lowest free port of the key's range, or returns the one it has.
fn allocate_in(
    doc: &mut Ssot,
    key: &PortKey,
    listening: &BTreeSet<Port>,
    ranges: &PortRanges,
) -> Result<Port> {
    if let Some(port) = doc
        .environment(&key.project, &key.env)
        .and_then(|e| e.ports.get(&key.service))
    {
        return Ok(*port);
    }
    let kind = key.env.kind();
    let range = ranges.get(kind, key.service).ok_or_else(|| {
        Error::invalid(format!(
            "{kind} environments have no {} port range",
            key.service
        ))
        .with_context("key", key)
    })?;
    let recorded: BTreeSet<Port> = allocations(doc).into_iter().map(|a| a.port).collect();
    let port = range
        .iter()
        .find(|p| !recorded.contains(p) && !listening.contains(p))
        .ok_or_else(|| {
            Error::conflict(format!("port range {kind}/{} {range} is full", key.service))
                .with_context("key", key)
        })?;
    doc.environment_mut(&key.project, &key.env)
        .ports
        .insert(key.service, port);
    Ok(port)
}

#[async_trait]
impl PortRegistry for SsotPortRegistry {
    async fn allocate(&self, key: &PortKey) -> Result<Port> {
        let doc = self.with_store(|s| s.load()).await?;
        let recorded = doc.environment(&key.project, &key.env);
        if let Some(port) = recorded.and_then(|e| e.ports.get(&key.service)) {
            return Ok(*port);
        }
        let server = recorded.map_or_else(ServerName::local, |e| e.server());
        let listening: BTreeSet<Port> = self
            .probe
            .listeners(&server)
            .await?
            .into_iter()
            .map(|l| l.port)
            .collect();
        let (key, ranges) = (key.clone(), self.ranges);
        self.with_store(move |s| s.modify(|doc| allocate_in(doc, &key, &listening, &ranges)))
            .await
    }

    async fn release(&self, key: &PortKey) -> Result<Option<Port>> {
        let key = key.clone();
        self.with_store(move |s| {
            s.modify(|doc| {
                let Some(project) = doc.projects.get_mut(&key.project) else {
                    return Ok(None);
                };
                Ok(project
                    .environments
                    .get_mut(&key.env)
                    .and_then(|e| e.ports.remove(&key.service)))
            })
        })
        .await
    }

    async fn list(&self, filter: &PortFilter) -> Result<Vec<PortAllocation>> {
        let doc = self.with_store(|s| s.load()).await?;
        Ok(allocations(&doc)
            .into_iter()
            .filter(|a| filter.matches(&a.key))
            .collect())
    }

    async fn check(&self) -> Result<PortReport> {
        let doc = self.with_store(|s| s.load()).await?;
        let recorded = allocations(&doc);
        let mut report = PortReport::default();

        let mut by_port: BTreeMap<Port, Vec<PortKey>> = BTreeMap::new();
        for a in &recorded {
            by_port.entry(a.port).or_default().push(a.key.clone());
        }
        for (port, keys) in by_port.into_iter().filter(|(_, keys)| keys.len() > 1) {
            report
                .conflicts
                .push(PortConflict::RecordedTwice { port, keys });
        }

        let servers: BTreeSet<ServerName> = recorded
            .iter()
            .map(|a| a.server.clone())
            .chain(doc.servers.keys().cloned())
            .chain([ServerName::local()])
            .collect();
        let ranges = self.ranges.all();
        for server in servers {
            let listeners: BTreeMap<Port, ListenerOwner> = self
                .probe
                .listeners(&server)
                .await?
                .into_iter()
                .map(|l| (l.port, l.owner))
                .collect();
            let on_server: Vec<&PortAllocation> =
                recorded.iter().filter(|a| a.server == server).collect();
            for a in &on_server {
                let (server, port, key) = (server.clone(), a.port, a.key.clone());
                match listeners.get(&a.port) {
                    None => report
                        .drift
                        .push(PortDrift::NotListening { server, port, key }),
                    Some(ListenerOwner::Unknown) => {}
                    Some(ListenerOwner::Managed { key: holder }) if *holder == key => {}
                    Some(ListenerOwner::Managed { key: holder }) => {
                        report.conflicts.push(PortConflict::HeldByOther {
                            server,
                            port,
                            key,
                            holder: holder.clone(),
                        })
                    }
                    Some(owner @ ListenerOwner::Foreign { .. }) => {
                        report.conflicts.push(PortConflict::ForeignListener {
                            server,
                            port,
                            key,
                            listener: owner.to_string(),
                        })
                    }
                }
            }
            let recorded_here: BTreeSet<Port> = on_server.iter().map(|a| a.port).collect();
            for (port, owner) in &listeners {
                let managed = ranges.iter().any(|(_, _, r)| r.contains(*port));
                if managed && !recorded_here.contains(port) {
                    let listener = owner.to_string();
                    report.drift.push(PortDrift::Unrecorded {
                        server: server.clone(),
                        port: *port,
                        listener,
                    });
                }
            }
        }
        Ok(report)
    }
}
