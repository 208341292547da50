//! `Change`: one change a plan or a removal lists.

use pyo3::prelude::*;
use serde_json::Value;

use crate::convert::{json, tagged_repr, to_py, untagged};

/// One change a deploy, rollback or removal makes (or would make).
///
/// `kind` is the SDK's change name (`allocate_port`, `start_release`,
/// `switch_route`, `keep_volume`, ...); `details` holds its fields. Env var
/// changes name keys only, never values.
#[pyclass(frozen, module = "codeb", name = "Change")]
#[derive(Clone)]
pub struct Change {
    json: Value,
}

impl From<&codeb::engine::PlannedChange> for Change {
    fn from(change: &codeb::engine::PlannedChange) -> Self {
        Change { json: json(change) }
    }
}

/// The changes of a plan or report.
pub(crate) fn changes(list: &[codeb::engine::PlannedChange]) -> Vec<Change> {
    list.iter().map(Change::from).collect()
}

#[pymethods]
impl Change {
    /// The change's kind.
    #[getter]
    fn kind(&self) -> &str {
        self.json.get("change").and_then(Value::as_str).unwrap_or_default()
    }

    /// The change's fields, without the kind.
    #[getter]
    fn details<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &untagged("change", &self.json))
    }

    /// The change as the SDK serialises it (`{"change": kind, ...}`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    pub(crate) fn __repr__(&self) -> String {
        tagged_repr("Change", "change", &self.json)
    }
}
