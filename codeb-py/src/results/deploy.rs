//! What a deploy or rollback did, or would do.

use pyo3::prelude::*;
use serde_json::Value;

use super::change::{Change, changes};
use crate::convert::{Repr, json, to_py};

/// What a finished deploy or rollback did.
#[pyclass(frozen, module = "codeb", name = "DeployReport")]
pub struct DeployReport {
    /// The project.
    #[pyo3(get)]
    project: String,
    /// The environment.
    #[pyo3(get)]
    env: String,
    /// The release that serves now.
    #[pyo3(get)]
    release: String,
    /// Its image.
    #[pyo3(get)]
    image: String,
    /// The host port it serves on.
    #[pyo3(get)]
    port: u16,
    /// The release it replaced.
    #[pyo3(get)]
    previous: Option<String>,
    /// The domains routed to it.
    #[pyo3(get)]
    domains: Vec<String>,
    /// How long it took, in milliseconds.
    #[pyo3(get)]
    elapsed_ms: u64,
    json: Value,
}

impl From<codeb::engine::DeployReport> for DeployReport {
    fn from(r: codeb::engine::DeployReport) -> Self {
        DeployReport {
            json: json(&r),
            project: r.project.to_string(),
            env: r.env.to_string(),
            release: r.release.to_string(),
            image: r.image.to_string(),
            port: r.port.get(),
            previous: r.previous.map(|p| p.to_string()),
            domains: r.domains.iter().map(ToString::to_string).collect(),
            elapsed_ms: r.elapsed_ms,
        }
    }
}

#[pymethods]
impl DeployReport {
    /// The report as the SDK serialises it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        Repr::new("DeployReport")
            .str("project", &self.project)
            .str("env", &self.env)
            .str("release", &self.release)
            .str("image", &self.image)
            .raw("port", &self.port.to_string())
            .opt("previous", self.previous.as_deref())
            .list("domains", &self.domains)
            .raw("elapsed_ms", &self.elapsed_ms.to_string())
            .finish()
    }
}

/// What a deploy would do: the result of `deploy(..., dry_run=True)`.
///
/// Pass it to `apply` to carry it out; that refuses (`ConflictError`) if the
/// SSOT moved since the plan was made.
#[pyclass(frozen, module = "codeb", name = "Plan")]
pub struct Plan {
    /// The project.
    #[pyo3(get)]
    project: String,
    /// The environment.
    #[pyo3(get)]
    env: String,
    /// The SSOT revision the plan was made at.
    #[pyo3(get)]
    revision: u64,
    /// The id the new release will get.
    #[pyo3(get)]
    release: String,
    /// The image it will run.
    #[pyo3(get)]
    image: String,
    /// The release serving now, which the new one replaces.
    #[pyo3(get)]
    previous: Option<String>,
    /// The domains that will route to it.
    #[pyo3(get)]
    domains: Vec<String>,
    /// The changes, in the order they will be made.
    #[pyo3(get)]
    changes: Vec<Change>,
    json: Value,
    text: String,
    pub(crate) inner: Box<codeb::engine::Plan>,
}

impl From<codeb::engine::Plan> for Plan {
    fn from(p: codeb::engine::Plan) -> Self {
        Plan {
            json: json(&p),
            text: p.to_string(),
            project: p.project.to_string(),
            env: p.env.to_string(),
            revision: p.revision,
            release: p.release.to_string(),
            image: p.image.to_string(),
            previous: p.previous.as_ref().map(ToString::to_string),
            domains: p.domains.iter().map(ToString::to_string).collect(),
            changes: changes(&p.changes),
            inner: Box::new(p),
        }
    }
}

#[pymethods]
impl Plan {
    /// The plan as the SDK serialises it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        Repr::new("Plan")
            .str("project", &self.project)
            .str("env", &self.env)
            .str("release", &self.release)
            .str("image", &self.image)
            .opt("previous", self.previous.as_deref())
            .raw("revision", &self.revision.to_string())
            .raw("changes", &self.changes.len().to_string())
            .finish()
    }

    fn __str__(&self) -> String {
        self.text.clone()
    }
}

/// What a rollback would do: the result of `rollback(..., dry_run=True)`.
#[pyclass(frozen, module = "codeb", name = "RollbackPlan")]
pub struct RollbackPlan {
    /// The release that serves now.
    #[pyo3(get)]
    from_release: String,
    /// The release that would serve again.
    #[pyo3(get)]
    to_release: String,
    /// Its image.
    #[pyo3(get)]
    image: String,
    /// The changes, in order.
    #[pyo3(get)]
    changes: Vec<Change>,
    json: Value,
}

impl From<codeb::engine::RollbackPlan> for RollbackPlan {
    fn from(p: codeb::engine::RollbackPlan) -> Self {
        RollbackPlan {
            json: json(&p),
            from_release: p.from.to_string(),
            to_release: p.to.to_string(),
            image: p.image.to_string(),
            changes: changes(&p.changes),
        }
    }
}

#[pymethods]
impl RollbackPlan {
    /// The plan as the SDK serialises it (`from`, `to`, `image`, `changes`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        Repr::new("RollbackPlan")
            .str("from_release", &self.from_release)
            .str("to_release", &self.to_release)
            .str("image", &self.image)
            .raw("changes", &self.changes.len().to_string())
            .finish()
    }
}

/// A deploy's outcome: the plan of a dry run, or the report.
#[derive(IntoPyObject)]
pub(crate) enum Deployed {
    /// `dry_run=True`.
    Plan(Plan),
    /// The deploy ran.
    Report(DeployReport),
}

/// A rollback's outcome: the plan of a dry run, or the report.
#[derive(IntoPyObject)]
pub(crate) enum RolledBack {
    /// `dry_run=True`.
    Plan(RollbackPlan),
    /// The rollback ran.
    Report(DeployReport),
}
