//! What [`super::PortRegistry::check`] finds.

use crate::model::{Port, ServerName};
use crate::ports::PortKey;

/// A port that two parties claim: it needs attention before the next deploy.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "conflict")]
pub enum PortConflict {
    /// The SSOT records the same port for more than one key.
    RecordedTwice {
        /// The port.
        port: Port,
        /// Every key that records it.
        keys: Vec<PortKey>,
    },
    /// The port is recorded for `key`, but a process codeb does not own listens on it.
    ForeignListener {
        /// The server.
        server: ServerName,
        /// The port.
        port: Port,
        /// The key that records it.
        key: PortKey,
        /// What the probe knows of the listener.
        listener: String,
    },
    /// The port is recorded for `key`, but another codeb workload listens on it.
    HeldByOther {
        /// The server.
        server: ServerName,
        /// The port.
        port: Port,
        /// The key that records it.
        key: PortKey,
        /// The key of the workload listening.
        holder: PortKey,
    },
}

/// A difference between the SSOT and the servers that is not (yet) a clash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "drift")]
pub enum PortDrift {
    /// Recorded, but nothing listens on it.
    NotListening {
        /// The server.
        server: ServerName,
        /// The port.
        port: Port,
        /// The key that records it.
        key: PortKey,
    },
    /// Something listens on a port in a managed range that the SSOT does not record.
    Unrecorded {
        /// The server.
        server: ServerName,
        /// The port.
        port: Port,
        /// What the probe knows of the listener.
        listener: String,
    },
}

/// The result of a port check.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PortReport {
    /// Ports claimed twice.
    pub conflicts: Vec<PortConflict>,
    /// Differences between record and reality.
    pub drift: Vec<PortDrift>,
}

impl PortReport {
    /// Whether record and reality agree.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty() && self.drift.is_empty()
    }
}
