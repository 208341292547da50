//! The single source of truth (SSOT): one versioned document of servers,
//! projects, environments, ports, domains, accessories and releases, and the
//! [`StateStore`] that keeps it.
//!
//! The document is plain serde JSON with maps ordered by key, so a file store
//! is human-readable and diffs well in git. Every change is a read-modify-write
//! under the store's lock that bumps [`Ssot::revision`] by exactly one.

mod document;
mod domains;
mod memory;
mod store;

pub use document::{
    AccessoryRecord, DeployLock, Deployer, EnvironmentRecord, ProjectRecord, ReleaseConfig, ReleaseRecord,
    ReleaseStatus, SCHEMA_VERSION, ServerRecord, Ssot,
};
pub use domains::DomainOwner;
pub(crate) use domains::taken;
pub use memory::MemoryStateStore;
pub use store::{Commit, StateStore, StateStoreExt};
