//! Releases and deploy locks.

use chrono::{DateTime, Utc};
use codeb::ssot::ReleaseStatus;
use pyo3::prelude::*;
use serde_json::Value;

use crate::convert::{Repr, json, to_py};

/// One recorded release of an environment.
#[pyclass(frozen, module = "codeb", name = "Release")]
#[derive(Clone)]
pub struct Release {
    /// The release's id (`v1`, `v2`, ...).
    #[pyo3(get)]
    id: String,
    /// The image, as asked for.
    #[pyo3(get)]
    image: String,
    /// The image's content digest, when known.
    #[pyo3(get)]
    image_digest: Option<String>,
    /// Where it stands: `pending`, `live`, `failed` or `retired`.
    #[pyo3(get)]
    status: String,
    /// The step a failed release failed at.
    #[pyo3(get)]
    failed_step: Option<String>,
    /// Why a failed release failed, with the evidence.
    #[pyo3(get)]
    failure_reason: Option<String>,
    /// The version of the env var set it ran with.
    #[pyo3(get)]
    env_version: u64,
    /// The domains routed to it.
    #[pyo3(get)]
    domains: Vec<String>,
    /// When it was created (UTC).
    #[pyo3(get)]
    created_at: DateTime<Utc>,
    /// When its status last changed (UTC).
    #[pyo3(get)]
    updated_at: DateTime<Utc>,
    json: Value,
}

impl From<&codeb::ssot::ReleaseRecord> for Release {
    fn from(r: &codeb::ssot::ReleaseRecord) -> Self {
        let (status, failed_step, failure_reason) = match &r.status {
            ReleaseStatus::Pending => ("pending", None, None),
            ReleaseStatus::Live => ("live", None, None),
            ReleaseStatus::Retired => ("retired", None, None),
            ReleaseStatus::Failed { step, reason } => ("failed", Some(step.to_string()), Some(reason.clone())),
        };
        Release {
            id: r.id.to_string(),
            image: r.image.to_string(),
            image_digest: r.image_digest.clone(),
            status: status.to_owned(),
            failed_step,
            failure_reason,
            env_version: r.config.env_version,
            domains: r.config.domains.iter().map(ToString::to_string).collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            json: json(r),
        }
    }
}

#[pymethods]
impl Release {
    /// The release record as the SDK serialises it (with its configuration snapshot).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        let mut repr = Repr::new("Release").str("id", &self.id).str("image", &self.image).str("status", &self.status);
        if let Some(step) = &self.failed_step {
            repr = repr.str("failed_step", step);
        }
        repr.str("created_at", &self.created_at.to_rfc3339()).finish()
    }
}

/// Who holds an environment's deploy lock.
#[pyclass(frozen, module = "codeb", name = "DeployLock")]
#[derive(Clone)]
pub struct DeployLock {
    /// The user or agent that took it.
    #[pyo3(get)]
    owner: String,
    /// The host its process runs on.
    #[pyo3(get)]
    host: String,
    /// Its process id on that host.
    #[pyo3(get)]
    pid: u32,
    /// When it was taken (UTC).
    #[pyo3(get)]
    started_at: DateTime<Utc>,
    /// What the holder is doing.
    #[pyo3(get)]
    message: Option<String>,
}

impl From<&codeb::ssot::DeployLock> for DeployLock {
    fn from(l: &codeb::ssot::DeployLock) -> Self {
        DeployLock {
            owner: l.owner.clone(),
            host: l.host.clone(),
            pid: l.pid,
            started_at: l.started_at,
            message: l.message.clone(),
        }
    }
}

#[pymethods]
impl DeployLock {
    fn __repr__(&self) -> String {
        Repr::new("DeployLock")
            .str("owner", &self.owner)
            .str("host", &self.host)
            .raw("pid", &self.pid.to_string())
            .str("started_at", &self.started_at.to_rfc3339())
            .opt("message", self.message.as_deref())
            .finish()
    }
}

/// A held deploy lock: its holder, and whether the holder is gone.
#[pyclass(frozen, module = "codeb", name = "LockStatus")]
pub struct LockStatus {
    /// The project.
    #[pyo3(get)]
    project: String,
    /// The environment.
    #[pyo3(get)]
    env: String,
    /// The holder.
    #[pyo3(get)]
    holder: DeployLock,
    /// Whether the holder's process is gone, so releasing the lock is safe.
    #[pyo3(get)]
    stale: bool,
    text: String,
    json: Value,
}

impl From<codeb::engine::LockStatus> for LockStatus {
    fn from(s: codeb::engine::LockStatus) -> Self {
        LockStatus {
            project: s.project.to_string(),
            env: s.env.to_string(),
            holder: DeployLock::from(&s.holder),
            stale: s.stale,
            text: s.to_string(),
            json: json(&s),
        }
    }
}

#[pymethods]
impl LockStatus {
    /// The status as the SDK serialises it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        Repr::new("LockStatus")
            .str("project", &self.project)
            .str("env", &self.env)
            .raw("holder", &self.holder.__repr__())
            .bool("stale", self.stale)
            .finish()
    }

    /// The SDK's sentence about the lock (who holds it since when; how to release a stale one).
    fn __str__(&self) -> String {
        self.text.clone()
    }
}
