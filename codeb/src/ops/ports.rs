//! Port allocations, as every front end offers them.

use crate::engine::{Change, PlannedChange, Platform};
use crate::model::Port;
use crate::ops::Removal;
use crate::ports::{PortAllocation, PortFilter, PortKey, PortReport};
use crate::{Error, Result};

impl Platform {
    /// The port of `key`, allocated now if it has none.
    pub async fn port_allocate(&self, key: &PortKey) -> Result<Port> {
        self.backends.ports.allocate(key).await
    }

    /// Like [`Platform::port_allocate`], answering with the whole allocation:
    /// the key, the port and the server it is on.
    pub async fn port_allocation(&self, key: &PortKey) -> Result<PortAllocation> {
        let port = self.port_allocate(key).await?;
        let filter = PortFilter { project: Some(key.project.clone()), env: Some(key.env.clone()) };
        self.backends
            .ports
            .list(&filter)
            .await?
            .into_iter()
            .find(|a| a.key == *key && a.port == port)
            .ok_or_else(|| Error::conflict(format!("{key} was allocated {port}, but released again meanwhile")))
    }

    /// The allocations that pass `filter`.
    pub async fn port_list(&self, filter: &PortFilter) -> Result<Vec<PortAllocation>> {
        self.backends.ports.list(filter).await
    }

    /// Frees the port of `key`; without `force` nothing changes and the report says what would.
    pub async fn port_release(&self, key: &PortKey, force: bool) -> Result<Removal> {
        let filter = PortFilter { project: Some(key.project.clone()), env: Some(key.env.clone()) };
        let allocation = self
            .backends
            .ports
            .list(&filter)
            .await?
            .into_iter()
            .find(|a| a.key == *key)
            .ok_or_else(|| Error::not_found(format!("{key} has no port")))?;
        if force {
            self.backends.ports.release(key).await?;
        }
        let change = Change::ReleasePort { key: key.clone(), port: allocation.port };
        Ok(Removal { changes: vec![PlannedChange { server: self.servers().control, change }], applied: force })
    }

    /// Compares allocations with what listens.
    pub async fn port_check(&self) -> Result<PortReport> {
        self.backends.ports.check().await
    }
}
