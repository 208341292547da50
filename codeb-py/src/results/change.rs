//! `Change`: one change a plan or a removal lists.

use std::sync::OnceLock;

use pyo3::prelude::*;
use serde_json::Value;

use super::class::ResultClass;
use super::layout::{Layout, Shape, Times};
use crate::convert::{to_py, untagged};

/// One change a deploy, rollback or removal makes (or would make).
///
/// `kind` is the SDK's change name (`allocate_port`, `start_release`,
/// `switch_route`, `keep_volume`, ...); `details` holds its fields, values of
/// SDK types with a result class as that class (a `PortKey`, `Upstream`s),
/// like every result's attributes. Env var changes name keys only, never values.
#[pyclass(frozen, eq, hash, module = "codeb")]
#[derive(PartialEq, Eq, Hash)]
pub struct Change {
    json: Value,
}

/// Written by hand rather than by `result_class!`: a change is its kind and
/// a dict of details, not an attribute per field of some thirty variants.
impl ResultClass for Change {
    type Sdk = codeb::engine::PlannedChange;
    const DOC: &'static str = "One change a deploy, rollback or removal makes (or would make).";
    const STUBS: &'static [&'static str] = &[
        "@property def kind(self) -> str: ...",
        "@property def details(self) -> dict[str, Any]: ...",
        "def __str__(self) -> str: ...",
    ];

    fn new(json: Value) -> Self {
        Change { json }
    }

    fn json(&self) -> &Value {
        &self.json
    }

    fn layout() -> PyResult<&'static Layout> {
        static NONE: Layout = Layout { tag: None, attrs: Vec::new() };
        Ok(&NONE)
    }

    fn read_layout() -> Result<Layout, String> {
        Ok(Layout { tag: None, attrs: Vec::new() })
    }

    /// `Change(kind, field=value, ...)`.
    fn repr(py: Python<'_>, json: &Value) -> PyResult<String> {
        let mut parts = vec![json.get("change").and_then(Value::as_str).unwrap_or_default().to_owned()];
        if let Value::Object(fields) = untagged("change", json) {
            for (k, v) in &fields {
                parts.push(format!("{k}={}", shape().field(k).repr(py, v)?));
            }
        }
        Ok(format!("Change({})", parts.join(", ")))
    }
}

/// How the fields of a change become Python values, read from `PlannedChange`'s schema once.
fn shape() -> &'static Shape {
    static SHAPE: OnceLock<Shape> = OnceLock::new();
    SHAPE.get_or_init(|| super::layout::shape(&Change::schema(), super::class_of))
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
        shape().to_py(py, &untagged("change", &self.json), Times::Datetime)
    }

    /// The change as the SDK serialises it (`{"change": kind, ...}`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Self::repr(py, &self.json)
    }

    /// The change as a sentence (the SDK's `Display`): what `we` prints.
    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        super::class::display::<codeb::engine::PlannedChange>(py, &self.json)
    }
}
