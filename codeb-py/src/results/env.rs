//! Env vars as listings show them: secret values masked.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::Repr;

/// One env var of an environment, as a listing shows it.
///
/// `value` is the plaintext of a plain variable and `********` for a secret:
/// a secret's value never enters Python through a listing, so no `repr`,
/// `str`, log line or traceback can show it.
#[pyclass(frozen, module = "codeb", name = "EnvVar")]
#[derive(Clone)]
pub struct EnvVar {
    /// The variable's name.
    #[pyo3(get)]
    key: String,
    /// The value as listings show it: masked when secret.
    #[pyo3(get)]
    value: String,
    /// Whether the value is a secret.
    #[pyo3(get)]
    secret: bool,
}

impl From<&codeb::model::EnvVar> for EnvVar {
    fn from(v: &codeb::model::EnvVar) -> Self {
        EnvVar { key: v.key.to_string(), value: v.listed_value().to_owned(), secret: v.secret }
    }
}

#[pymethods]
impl EnvVar {
    /// `{"key", "value", "secret"}` with the value as listings show it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("key", &self.key)?;
        dict.set_item("value", &self.value)?;
        dict.set_item("secret", self.secret)?;
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        Repr::new("EnvVar").str("key", &self.key).str("value", &self.value).bool("secret", self.secret).finish()
    }

    fn __str__(&self) -> String {
        format!("{}={}", self.key, self.value)
    }
}

/// The env vars of an environment at one version, ordered by key.
#[pyclass(frozen, module = "codeb", name = "EnvSet")]
pub struct EnvSet {
    /// The version of the set; every change makes a new one.
    #[pyo3(get)]
    version: u64,
    /// The variables, secret values masked.
    #[pyo3(get)]
    vars: Vec<EnvVar>,
}

impl From<codeb::secrets::EnvSet> for EnvSet {
    fn from(set: codeb::secrets::EnvSet) -> Self {
        EnvSet { version: set.version, vars: set.vars.iter().map(EnvVar::from).collect() }
    }
}

#[pymethods]
impl EnvSet {
    /// `{"version": n, "vars": [...]}` with values as listings show them.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("version", self.version)?;
        let vars = self.vars.iter().map(|v| v.to_dict(py)).collect::<PyResult<Vec<_>>>()?;
        dict.set_item("vars", vars)?;
        Ok(dict)
    }

    fn __len__(&self) -> usize {
        self.vars.len()
    }

    fn __repr__(&self) -> String {
        let vars: Vec<String> = self.vars.iter().map(EnvVar::__repr__).collect();
        Repr::new("EnvSet")
            .raw("version", &self.version.to_string())
            .raw("vars", &format!("[{}]", vars.join(", ")))
            .finish()
    }
}
