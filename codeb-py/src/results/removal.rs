//! What destructive operations and domain setups did, or would do.

use pyo3::prelude::*;
use serde_json::Value;

use super::change::{Change, changes};
use crate::convert::{Repr, json, to_py};

/// What a destructive operation would do, and whether it did it.
///
/// Without `force=True` nothing changes: `applied` is `False` and `changes`
/// says what would.
#[pyclass(frozen, module = "codeb", name = "Removal")]
pub struct Removal {
    /// The changes, in order.
    #[pyo3(get)]
    changes: Vec<Change>,
    /// Whether they were made.
    #[pyo3(get)]
    applied: bool,
    json: Value,
}

impl From<codeb::ops::Removal> for Removal {
    fn from(r: codeb::ops::Removal) -> Self {
        Removal { json: json(&r), changes: changes(&r.changes), applied: r.applied }
    }
}

#[pymethods]
impl Removal {
    /// The removal as the SDK serialises it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        let changes: Vec<String> = self.changes.iter().map(Change::__repr__).collect();
        Repr::new("Removal").bool("applied", self.applied).raw("changes", &format!("[{}]", changes.join(", "))).finish()
    }
}

/// What setting up a domain did (or, for a dry run, would do).
#[pyclass(frozen, module = "codeb", name = "DomainReport")]
pub struct DomainReport {
    /// The domain.
    #[pyo3(get)]
    domain: String,
    /// The changes.
    #[pyo3(get)]
    changes: Vec<Change>,
    /// Whether they were made.
    #[pyo3(get)]
    applied: bool,
    json: Value,
}

impl From<codeb::ops::DomainReport> for DomainReport {
    fn from(r: codeb::ops::DomainReport) -> Self {
        DomainReport { json: json(&r), domain: r.domain.to_string(), changes: changes(&r.changes), applied: r.applied }
    }
}

#[pymethods]
impl DomainReport {
    /// The report as the SDK serialises it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        let changes: Vec<String> = self.changes.iter().map(Change::__repr__).collect();
        Repr::new("DomainReport")
            .str("domain", &self.domain)
            .bool("applied", self.applied)
            .raw("changes", &format!("[{}]", changes.join(", ")))
            .finish()
    }
}
