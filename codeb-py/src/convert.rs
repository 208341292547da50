//! Plain data into Python: the SDK's JSON form as dicts and lists, and
//! `repr` text in Python's own quoting.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

/// The SDK's serde form of `value` (the shape `we --json` prints), or `Null` if it cannot be serialised.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A JSON value as Python objects: dicts, lists, str, int, float, bool and None.
pub(crate) fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            (None, None) => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// A string as Python's `repr` writes it: single quotes, escapes for quotes, backslashes and control characters.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A JSON value in Python literal syntax, for `repr` (strings quoted, `null` as `None`).
pub(crate) fn literal(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(items) => format!("[{}]", items.iter().map(literal).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter().map(|(k, v)| format!("{}: {}", quote(k), literal(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Builds `Name(field=value, ...)` for a `__repr__`.
pub(crate) struct Repr {
    text: String,
    first: bool,
}

impl Repr {
    /// Starts the repr of a class.
    pub(crate) fn new(class: &str) -> Self {
        Repr { text: format!("{class}("), first: true }
    }

    /// A bare leading value (the kind of a tagged value), written without a name.
    pub(crate) fn bare(mut self, value: &str) -> Self {
        self.sep();
        self.text.push_str(value);
        self
    }

    /// A field written as given (numbers, booleans, nested reprs).
    pub(crate) fn raw(mut self, name: &str, value: &str) -> Self {
        self.sep();
        self.text.push_str(name);
        self.text.push('=');
        self.text.push_str(value);
        self
    }

    /// The finished text.
    pub(crate) fn finish(mut self) -> String {
        self.text.push(')');
        self.text
    }

    fn sep(&mut self) {
        if !self.first {
            self.text.push_str(", ");
        }
        self.first = false;
    }
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
    fn quoting_escapes_what_would_break_a_repr_or_a_terminal() {
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote("it's"), r"'it\'s'");
        assert_eq!(quote("a\\b"), r"'a\\b'");
        assert_eq!(quote("line\nnext\tx\r"), r"'line\nnext\tx\r'");
        assert_eq!(quote("\u{1b}[31mred"), r"'\x1b[31mred'");
    }

    #[test]
    fn json_values_print_as_python_literals() {
        let value = serde_json::json!({"a": [1, true, null], "b": "x'y"});
        assert_eq!(literal(&value), r#"{'a': [1, True, None], 'b': 'x\'y'}"#);
    }

    #[test]
    fn a_tagged_value_untagged_keeps_its_fields() {
        let value = serde_json::json!({"change": "release_port", "port": 3000, "key": {"project": "shop"}});
        assert_eq!(untagged("change", &value), serde_json::json!({"port": 3000, "key": {"project": "shop"}}));
    }

    #[test]
    fn reprs_write_fields_in_order() {
        let repr = Repr::new("X").bare("kind").raw("a", &quote("b")).raw("c", "None").finish();
        assert_eq!(repr, "X(kind, a='b', c=None)");
    }
}
