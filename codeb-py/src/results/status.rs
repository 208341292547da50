//! Read-only views: health, the SSOT's summary, and what a recovery did.

use pyo3::prelude::*;
use serde_json::Value;

use crate::convert::{Repr, json, to_py};

/// The health of an environment's serving release, from one probe.
#[pyclass(frozen, module = "codeb", name = "HealthReport")]
pub struct HealthReport {
    /// The release probed.
    #[pyo3(get)]
    release: String,
    /// The port it serves on.
    #[pyo3(get)]
    port: u16,
    /// Whether it answered healthy.
    #[pyo3(get)]
    healthy: bool,
    /// What was seen (status code, body excerpt, or the failure).
    #[pyo3(get)]
    evidence: String,
    json: Value,
}

impl From<codeb::ops::HealthReport> for HealthReport {
    fn from(r: codeb::ops::HealthReport) -> Self {
        HealthReport {
            json: json(&r),
            release: r.release.to_string(),
            port: r.port.get(),
            healthy: r.verdict.healthy,
            evidence: r.verdict.evidence,
        }
    }
}

#[pymethods]
impl HealthReport {
    /// The report as the SDK serialises it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        Repr::new("HealthReport")
            .str("release", &self.release)
            .raw("port", &self.port.to_string())
            .bool("healthy", self.healthy)
            .str("evidence", &self.evidence)
            .finish()
    }
}

/// A summary of the SSOT.
#[pyclass(frozen, module = "codeb", name = "SsotStatus")]
pub struct SsotStatus {
    /// The document format.
    #[pyo3(get)]
    schema_version: u32,
    /// The revision: bumped by every committed change.
    #[pyo3(get)]
    revision: u64,
    /// How many projects.
    #[pyo3(get)]
    projects: usize,
    /// How many environments across them.
    #[pyo3(get)]
    environments: usize,
    /// How many environments have a release serving.
    #[pyo3(get)]
    serving: usize,
    /// How many releases are recorded failed.
    #[pyo3(get)]
    failed_releases: usize,
    /// How many environments are locked now.
    #[pyo3(get)]
    locked: usize,
    json: Value,
}

impl From<codeb::ops::SsotStatus> for SsotStatus {
    fn from(s: codeb::ops::SsotStatus) -> Self {
        SsotStatus {
            json: json(&s),
            schema_version: s.schema_version,
            revision: s.revision,
            projects: s.projects,
            environments: s.environments,
            serving: s.serving,
            failed_releases: s.failed_releases,
            locked: s.locked,
        }
    }
}

#[pymethods]
impl SsotStatus {
    /// The summary as the SDK serialises it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        Repr::new("SsotStatus")
            .raw("schema_version", &self.schema_version.to_string())
            .raw("revision", &self.revision.to_string())
            .raw("projects", &self.projects.to_string())
            .raw("environments", &self.environments.to_string())
            .raw("serving", &self.serving.to_string())
            .raw("failed_releases", &self.failed_releases.to_string())
            .raw("locked", &self.locked.to_string())
            .finish()
    }
}

/// What a recovery after an interrupted deploy found and did.
#[pyclass(frozen, module = "codeb", name = "RecoverReport")]
pub struct RecoverReport {
    /// The stale lock that was released, as `owner@host (pid)`.
    #[pyo3(get)]
    released_lock: Option<String>,
    /// Interrupted releases that were cleaned up and recorded failed.
    #[pyo3(get)]
    cleaned: Vec<String>,
    /// Whether the serving release's container had to be started again.
    #[pyo3(get)]
    restarted_current: bool,
    /// Hosts whose route was pointed back at the serving release.
    #[pyo3(get)]
    repaired_routes: Vec<String>,
    json: Value,
}

impl From<codeb::engine::RecoverReport> for RecoverReport {
    fn from(r: codeb::engine::RecoverReport) -> Self {
        RecoverReport {
            json: json(&r),
            released_lock: r.released_lock,
            cleaned: r.cleaned.iter().map(ToString::to_string).collect(),
            restarted_current: r.restarted_current,
            repaired_routes: r.repaired_routes.iter().map(ToString::to_string).collect(),
        }
    }
}

#[pymethods]
impl RecoverReport {
    /// The report as the SDK serialises it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        Repr::new("RecoverReport")
            .opt("released_lock", self.released_lock.as_deref())
            .list("cleaned", &self.cleaned)
            .bool("restarted_current", self.restarted_current)
            .list("repaired_routes", &self.repaired_routes)
            .finish()
    }
}
