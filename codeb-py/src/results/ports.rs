//! Port allocations and the port check.

use pyo3::prelude::*;
use serde_json::Value;

use crate::convert::{Repr, json, to_py};

/// What a port is allocated to: one service of a project environment, or one release's app.
#[pyclass(frozen, module = "codeb", name = "PortKey")]
#[derive(Clone)]
pub struct PortKey {
    /// The project.
    #[pyo3(get)]
    project: String,
    /// The environment.
    #[pyo3(get)]
    env: String,
    /// The service: `app`, `postgres` or `redis`.
    #[pyo3(get)]
    service: String,
    /// The release holding an app port while it is not the serving one.
    #[pyo3(get)]
    release: Option<String>,
    text: String,
}

impl From<&codeb::ports::PortKey> for PortKey {
    fn from(k: &codeb::ports::PortKey) -> Self {
        PortKey {
            project: k.project.to_string(),
            env: k.env.to_string(),
            service: k.service.to_string(),
            release: k.release.as_ref().map(ToString::to_string),
            text: k.to_string(),
        }
    }
}

#[pymethods]
impl PortKey {
    fn __repr__(&self) -> String {
        Repr::new("PortKey")
            .str("project", &self.project)
            .str("env", &self.env)
            .str("service", &self.service)
            .opt("release", self.release.as_deref())
            .finish()
    }

    /// `project/env/service[@release]`.
    fn __str__(&self) -> String {
        self.text.clone()
    }
}

/// One recorded port allocation.
#[pyclass(frozen, module = "codeb", name = "PortAllocation")]
#[derive(Clone)]
pub struct PortAllocation {
    /// What the port belongs to.
    #[pyo3(get)]
    key: PortKey,
    /// The port.
    #[pyo3(get)]
    port: u16,
    /// The server the environment runs on.
    #[pyo3(get)]
    server: String,
    json: Value,
}

impl From<&codeb::ports::PortAllocation> for PortAllocation {
    fn from(a: &codeb::ports::PortAllocation) -> Self {
        PortAllocation { key: PortKey::from(&a.key), port: a.port.get(), server: a.server.to_string(), json: json(a) }
    }
}

#[pymethods]
impl PortAllocation {
    /// The allocation as the SDK serialises it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        Repr::new("PortAllocation")
            .raw("key", &self.key.__repr__())
            .raw("port", &self.port.to_string())
            .str("server", &self.server)
            .finish()
    }
}

/// What comparing the recorded ports with what listens found.
///
/// `conflicts` (ports claimed twice) and `drift` (record and reality differ)
/// are dicts in the SDK's serde form, tagged by `conflict` and `drift`.
#[pyclass(frozen, module = "codeb", name = "PortReport")]
pub struct PortReport {
    clean: bool,
    json: Value,
}

impl From<codeb::ports::PortReport> for PortReport {
    fn from(r: codeb::ports::PortReport) -> Self {
        PortReport { clean: r.is_clean(), json: json(&r) }
    }
}

#[pymethods]
impl PortReport {
    /// Ports claimed twice: each a dict tagged by `conflict`.
    #[getter]
    fn conflicts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, self.json.get("conflicts").unwrap_or(&Value::Array(Vec::new())))
    }

    /// Differences between record and reality: each a dict tagged by `drift`.
    #[getter]
    fn drift<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, self.json.get("drift").unwrap_or(&Value::Array(Vec::new())))
    }

    /// Whether record and reality agree.
    #[getter]
    fn is_clean(&self) -> bool {
        self.clean
    }

    /// The report as the SDK serialises it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        let count = |k: &str| self.json.get(k).and_then(Value::as_array).map_or(0, Vec::len);
        Repr::new("PortReport")
            .bool("is_clean", self.clean)
            .raw("conflicts", &count("conflicts").to_string())
            .raw("drift", &count("drift").to_string())
            .finish()
    }
}
