//! What [`super::PortRegistry::check`] finds.

use std::fmt;

use crate::model::{Port, ServerName};
use crate::ports::PortKey;
use crate::text::list;

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

impl fmt::Display for PortConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortConflict::RecordedTwice { port, keys } => write!(f, "port {port} is recorded for {}", list(keys)),
            PortConflict::ForeignListener { server, port, key, listener } => {
                write!(f, "port {port} of {key} on {server} is held by {listener}")
            }
            PortConflict::HeldByOther { server, port, key, holder } => {
                write!(f, "port {port} of {key} on {server} is held by {holder}")
            }
        }
    }
}

impl fmt::Display for PortDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortDrift::NotListening { server, port, key } => {
                write!(f, "port {port} of {key} on {server}: nothing listens")
            }
            PortDrift::Unrecorded { server, port, listener } => {
                write!(f, "port {port} on {server} listens ({listener}) but is not recorded")
            }
        }
    }
}

impl fmt::Display for PortReport {
    /// One line per finding (`conflict: ...`, then `drift: ...`), or that record and reality agree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return f.write_str("ports: record and reality agree");
        }
        let conflicts = self.conflicts.iter().map(|c| format!("conflict: {c}"));
        let lines: Vec<String> = conflicts.chain(self.drift.iter().map(|d| format!("drift: {d}"))).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl PortReport {
    /// Whether record and reality agree.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty() && self.drift.is_empty()
    }
}
