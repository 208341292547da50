//! Seeing which ports listen on a server, and whose they are.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::{Environment, Port, ProjectName, ReleaseId, ServerName, Service};
use crate::ports::PortKey;
use crate::runtime::{
    ContainerInfo, ContainerRuntime, ContainerState, LABEL_ENV, LABEL_MANAGED, LABEL_PROJECT, LABEL_RELEASE,
    LABEL_SERVICE, Labels,
};

/// Who listens on a port, as far as a probe can tell.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "owner")]
pub enum ListenerOwner {
    /// The probe cannot attribute listeners (a bare socket table).
    Unknown,
    /// A codeb-managed workload.
    Managed {
        /// Its key.
        key: PortKey,
    },
    /// A process codeb does not manage.
    Foreign {
        /// What is known of it (a process name, or why it is foreign).
        description: String,
    },
}

/// A listening TCP port on a server.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Listener {
    /// The port.
    pub port: Port,
    /// Whose it is.
    pub owner: ListenerOwner,
}

impl fmt::Display for ListenerOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenerOwner::Unknown => f.write_str("unknown listener"),
            ListenerOwner::Managed { key } => write!(f, "codeb workload {key}"),
            ListenerOwner::Foreign { description } => f.write_str(description),
        }
    }
}

/// Tells which TCP ports listen on a server.
#[async_trait]
pub trait PortProbe: Send + Sync + std::fmt::Debug {
    /// The listening ports of `server`, each once, ordered by port.
    async fn listeners(&self, server: &ServerName) -> Result<Vec<Listener>>;

    /// The ports of `server` that must not be handed out: every listener,
    /// and whatever else the probe knows to be taken without a socket.
    async fn taken(&self, server: &ServerName) -> Result<BTreeSet<Port>> {
        Ok(self.listeners(server).await?.into_iter().map(|l| l.port).collect())
    }
}

/// A probe that attributes another probe's listeners using the container
/// runtime: a port published by a running codeb-managed container is that
/// workload's; any other listener is foreign.
///
/// [`PortProbe::taken`] also counts every port that a running codeb container
/// publishes when no socket listens on it. Podman's conmon normally holds
/// such a port open, but when conmon dies (a killed session, an OOM kill) the
/// runtime still reports the container running and the kernel's NAT rule for
/// the port stays: a new container published there would never receive a
/// connection. Such a port is still no *listener*, so `check` reports a
/// release behind it as not listening.
#[derive(Debug, Clone)]
pub struct RuntimeAttributedProbe {
    probe: Arc<dyn PortProbe>,
    runtime: Arc<dyn ContainerRuntime>,
}

impl RuntimeAttributedProbe {
    /// Attributes `probe`'s listeners using `runtime`'s containers.
    pub fn new(probe: Arc<dyn PortProbe>, runtime: Arc<dyn ContainerRuntime>) -> Self {
        RuntimeAttributedProbe { probe, runtime }
    }
}

/// The key a codeb-managed container's labels name, if they name one: its
/// release's, for a release's container.
fn key_from_labels(labels: &Labels) -> Option<PortKey> {
    let project = ProjectName::parse(labels.get(LABEL_PROJECT)?).ok()?;
    let env = Environment::parse(labels.get(LABEL_ENV)?).ok()?;
    let service = labels.get(LABEL_SERVICE)?.parse::<Service>().ok()?;
    let release = labels.get(LABEL_RELEASE).and_then(|r| ReleaseId::parse(r).ok());
    Some(PortKey { release, ..PortKey::new(project, env, service) })
}

impl RuntimeAttributedProbe {
    /// The codeb containers the runtime reports running.
    async fn running(&self) -> Result<Vec<ContainerInfo>> {
        let filter = Labels::from([(LABEL_MANAGED.to_owned(), "true".to_owned())]);
        let containers = self.runtime.list_containers(&filter).await?;
        Ok(containers.into_iter().filter(|c| c.state == ContainerState::Running).collect())
    }
}

#[async_trait]
impl PortProbe for RuntimeAttributedProbe {
    async fn listeners(&self, server: &ServerName) -> Result<Vec<Listener>> {
        let mut listeners = self.probe.listeners(server).await?;
        let running = self.running().await?;
        for listener in listeners.iter_mut().filter(|l| l.owner == ListenerOwner::Unknown) {
            let publisher = running.iter().find(|c| c.ports.iter().any(|p| p.host_port == listener.port));
            listener.owner = match publisher.and_then(|c| key_from_labels(&c.labels)) {
                Some(key) => ListenerOwner::Managed { key },
                None => ListenerOwner::Foreign { description: "not published by a codeb container".to_owned() },
            };
        }
        Ok(listeners)
    }

    async fn taken(&self, server: &ServerName) -> Result<BTreeSet<Port>> {
        // Both asks are on every deploy's path: made at once.
        let (mut taken, running) = tokio::try_join!(self.probe.taken(server), self.running())?;
        taken.extend(running.iter().flat_map(|c| c.ports.iter().map(|p| p.host_port)));
        Ok(taken)
    }
}
