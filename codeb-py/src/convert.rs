//! Plain data into Python: the SDK's JSON form as dicts and lists.

use pyo3::prelude::*;
use serde_json::Value;

/// The SDK's serde form of `value` (the shape `we --json` prints), or `Null` if it cannot be serialised.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A JSON value as Python objects: dicts, lists, str, int, float, bool and None.
pub(crate) fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(pythonize::pythonize(py, value)?)
}

/// The fields of a tagged value without its tag.
pub(crate) fn untagged(tag: &str, value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().filter(|(k, _)| k.as_str() != tag).map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tagged_value_untagged_keeps_its_fields() {
        let value = serde_json::json!({"change": "release_port", "port": 3000, "key": {"project": "shop"}});
        assert_eq!(untagged("change", &value), serde_json::json!({"port": 3000, "key": {"project": "shop"}}));
    }
}
