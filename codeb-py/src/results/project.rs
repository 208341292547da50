//! Projects and their environments as the SSOT records them.

use std::collections::BTreeMap;

use pyo3::prelude::*;
use serde_json::Value;

use super::release::{DeployLock, Release};
use crate::convert::{Repr, json, to_py};

/// The SSOT record of one project.
#[pyclass(frozen, module = "codeb", name = "ProjectRecord")]
pub struct ProjectRecord {
    /// The project.
    #[pyo3(get)]
    name: String,
    /// Its environments, by name.
    #[pyo3(get)]
    environments: BTreeMap<String, EnvironmentRecord>,
    json: Value,
}

impl ProjectRecord {
    /// The record of `name`.
    pub(crate) fn new(name: &codeb::model::ProjectName, record: &codeb::ssot::ProjectRecord) -> Self {
        ProjectRecord {
            name: name.to_string(),
            environments: record
                .environments
                .iter()
                .map(|(e, r)| (e.to_string(), EnvironmentRecord::from(r)))
                .collect(),
            json: json(record),
        }
    }
}

#[pymethods]
impl ProjectRecord {
    /// The record as the SDK serialises it (`{"environments": {...}}`), like `we ssot show`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        let envs: Vec<String> = self.environments.keys().cloned().collect();
        Repr::new("ProjectRecord").str("name", &self.name).list("environments", &envs).finish()
    }
}

/// The SSOT record of one environment of a project.
#[pyclass(frozen, module = "codeb", name = "EnvironmentRecord")]
#[derive(Clone)]
pub struct EnvironmentRecord {
    /// The server it runs on.
    #[pyo3(get)]
    server: String,
    /// The host port of each service (`app`, `postgres`, `redis`).
    #[pyo3(get)]
    ports: BTreeMap<String, u16>,
    /// App ports of releases that run but do not serve, by release.
    #[pyo3(get)]
    release_ports: BTreeMap<String, u16>,
    /// The deploy lock, while held.
    #[pyo3(get)]
    lock: Option<DeployLock>,
    /// The domains routed to the app.
    #[pyo3(get)]
    domains: Vec<String>,
    /// The releases, oldest first.
    #[pyo3(get)]
    releases: Vec<Release>,
    /// The release that serves traffic.
    #[pyo3(get)]
    current_release: Option<String>,
    json: Value,
}

impl From<&codeb::ssot::EnvironmentRecord> for EnvironmentRecord {
    fn from(r: &codeb::ssot::EnvironmentRecord) -> Self {
        EnvironmentRecord {
            server: r.server().to_string(),
            ports: r.ports.iter().map(|(s, p)| (s.to_string(), p.get())).collect(),
            release_ports: r.release_ports.iter().map(|(id, p)| (id.to_string(), p.get())).collect(),
            lock: r.lock.as_ref().map(DeployLock::from),
            domains: r.domains.iter().map(ToString::to_string).collect(),
            releases: r.releases.iter().map(Release::from).collect(),
            current_release: r.current_release.as_ref().map(ToString::to_string),
            json: json(r),
        }
    }
}

#[pymethods]
impl EnvironmentRecord {
    /// The PostgreSQL and Redis accessories: service to `{"image", "container", "volume"}`.
    #[getter]
    fn accessories<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, self.json.get("accessories").unwrap_or(&Value::Object(Default::default())))
    }

    /// The record as the SDK serialises it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        Repr::new("EnvironmentRecord")
            .str("server", &self.server)
            .opt("current_release", self.current_release.as_deref())
            .list("domains", &self.domains)
            .raw("releases", &self.releases.len().to_string())
            .bool("locked", self.lock.is_some())
            .finish()
    }
}

/// One line of a project listing: a project and the release serving each environment.
#[pyclass(frozen, module = "codeb", name = "ProjectSummary")]
pub struct ProjectSummary {
    /// The project.
    #[pyo3(get)]
    project: String,
    /// Each environment with the release that serves it (`None` when nothing serves).
    #[pyo3(get)]
    environments: BTreeMap<String, Option<String>>,
}

impl From<&codeb::ops::ProjectSummary> for ProjectSummary {
    fn from(s: &codeb::ops::ProjectSummary) -> Self {
        ProjectSummary {
            project: s.project.to_string(),
            environments: s
                .environments
                .iter()
                .map(|(e, r)| (e.to_string(), r.as_ref().map(ToString::to_string)))
                .collect(),
        }
    }
}

#[pymethods]
impl ProjectSummary {
    fn __repr__(&self) -> String {
        let envs: Vec<String> = self
            .environments
            .iter()
            .map(|(e, r)| {
                format!(
                    "{}: {}",
                    crate::convert::quote(e),
                    r.as_deref().map_or("None".to_owned(), crate::convert::quote)
                )
            })
            .collect();
        Repr::new("ProjectSummary")
            .str("project", &self.project)
            .raw("environments", &format!("{{{}}}", envs.join(", ")))
            .finish()
    }
}
