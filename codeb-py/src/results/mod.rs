//! The typed, frozen Python classes of SDK results.
//!
//! Each holds plain Rust data converted from the SDK's result (never a
//! secret value), exposes it through read-only attributes, prints a useful
//! `repr`, and gives `to_dict()`: the SDK's serde form, the same shape as
//! `we --json` prints.

mod change;
mod deploy;
mod env;
mod ports;
mod project;
mod release;
mod removal;
mod status;

pub use change::Change;
pub use deploy::{DeployReport, Plan, RollbackPlan};
pub use env::{EnvSet, EnvVar};
pub use ports::{PortAllocation, PortKey, PortReport};
pub use project::{EnvironmentRecord, ProjectRecord, ProjectSummary};
pub use release::{DeployLock, LockStatus, Release};
pub use removal::{DomainReport, Removal};
pub use status::{HealthReport, RecoverReport, SsotStatus};

pub(crate) use deploy::{Deployed, RolledBack};

use pyo3::prelude::*;

/// Adds every result class to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Change>()?;
    m.add_class::<DeployReport>()?;
    m.add_class::<Plan>()?;
    m.add_class::<RollbackPlan>()?;
    m.add_class::<EnvVar>()?;
    m.add_class::<EnvSet>()?;
    m.add_class::<PortKey>()?;
    m.add_class::<PortAllocation>()?;
    m.add_class::<PortReport>()?;
    m.add_class::<ProjectRecord>()?;
    m.add_class::<EnvironmentRecord>()?;
    m.add_class::<ProjectSummary>()?;
    m.add_class::<Release>()?;
    m.add_class::<DeployLock>()?;
    m.add_class::<LockStatus>()?;
    m.add_class::<Removal>()?;
    m.add_class::<DomainReport>()?;
    m.add_class::<HealthReport>()?;
    m.add_class::<SsotStatus>()?;
    m.add_class::<RecoverReport>()?;
    Ok(())
}
