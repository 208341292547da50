//! One declaration per result class: `result_class!` makes a frozen pyclass
//! that holds an SDK value's serde JSON, and `install` gives it an attribute
//! per field of the SDK type, read from the type's JSON schema when the
//! module loads. A field the SDK gains is an attribute at once; the stub test
//! (`stubs_tests`) fails until `_codeb.pyi` describes it.

use std::borrow::Cow;

use codeb::schema::TypeSchema;
use pyo3::PyClass;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::pyclass::boolean_struct::True;
use pyo3::pyclass_init::PyClassInitializer;
use pyo3::types::{PyCFunction, PyTuple};
use serde_json::Value;

use super::layout::{Alias, Layout};
use crate::errors::to_py_err;

/// A Python class that mirrors one SDK type through its JSON.
///
/// Its Python name is `PyClass::NAME`.
pub(crate) trait ResultClass: PyClass<Frozen = True> + Into<PyClassInitializer<Self>> + Sync + Sized {
    /// The SDK type whose JSON it holds.
    type Sdk: schemars::JsonSchema;
    /// The class's doc comment.
    #[cfg_attr(not(test), allow(dead_code))]
    const DOC: &'static str;
    /// Attributes at other places than their own field.
    const ALIASES: &'static [Alias] = &[];
    /// Attributes the repr leaves out (still attributes, still in `to_dict()`).
    const QUIET: &'static [&'static str] = &[];
    /// Stub lines of the members written by hand beside the declaration.
    #[cfg_attr(not(test), allow(dead_code))]
    const STUBS: &'static [&'static str] = &[];

    /// An object holding `json`, the SDK value's serde form.
    fn new(json: Value) -> Self;
    /// The SDK value's serde form.
    fn json(&self) -> &Value;
    /// The attributes, read from the schema once (by `read_layout`) and kept.
    fn layout() -> PyResult<&'static Layout>;

    /// Reads the attributes from the SDK type's schema.
    fn read_layout() -> Result<Layout, String> {
        super::layout::layout(<Self as PyClass>::NAME, &Self::schema(), Self::ALIASES, super::class_of)
    }

    /// `Name(field=value, ...)` of the fields `json` holds, each value as Python's `repr` of the attribute
    /// (times as the SDK writes them); a tagged enum's kind comes first, bare.
    fn repr(py: Python<'_>, json: &Value) -> PyResult<String> {
        let layout = Self::layout()?;
        let tag = layout.tag.as_ref().map(|t| format!("/{t}"));
        let kind = tag.as_deref().and_then(|t| json.pointer(t)).and_then(Value::as_str);
        let mut parts: Vec<String> = kind.map(str::to_owned).into_iter().collect();
        for attr in &layout.attrs {
            if Self::QUIET.contains(&attr.name.as_str()) || tag.as_deref() == Some(attr.pointer()) {
                continue;
            }
            if let Some(value) = attr.repr(py, json)? {
                parts.push(format!("{}={value}", attr.name));
            }
        }
        Ok(format!("{}({})", <Self as PyClass>::NAME, parts.join(", ")))
    }

    /// The SDK type's schema name (`ReleaseRecord`, `PlannedChange`, ...), by which other schemas refer to it.
    fn schema_name() -> Cow<'static, str> {
        <Self::Sdk as schemars::JsonSchema>::schema_name()
    }

    /// The SDK type's JSON schema.
    fn schema() -> TypeSchema {
        TypeSchema::of::<Self::Sdk>()
    }
}

/// A result class as the layouts of other classes refer to it.
#[derive(Clone, Copy)]
pub(crate) struct ClassRef {
    /// The Python class name.
    pub(crate) name: &'static str,
    /// A new object of the class holding a JSON value.
    pub(crate) new: for<'py> fn(Python<'py>, Value) -> PyResult<Bound<'py, PyAny>>,
}

impl ClassRef {
    /// The reference to `T`.
    pub(crate) fn of<T: ResultClass>() -> Self {
        ClassRef { name: <T as PyClass>::NAME, new: new_object::<T> }
    }
}

impl PartialEq for ClassRef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

fn new_object<'py, T: ResultClass>(py: Python<'py>, json: Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(Bound::new(py, T::new(json))?.into_any())
}

/// The error of a class whose declaration does not fit its schema.
pub(crate) fn layout_error(message: &str) -> PyErr {
    PyRuntimeError::new_err(format!("codeb-py result class: {message}"))
}

/// Gives `T` a read-only property per attribute of its layout. A member the
/// class defines itself (a getter written beside the declaration) wins.
pub(crate) fn install<T: ResultClass>(py: Python<'_>) -> PyResult<()> {
    let class = py.get_type::<T>();
    let own = class.getattr("__dict__")?;
    let property = py.import("builtins")?.getattr("property")?;
    for (index, attr) in T::layout()?.attrs.iter().enumerate() {
        if own.contains(attr.name.as_str())? {
            continue;
        }
        let getter =
            PyCFunction::new_closure(py, None, None, move |args: &Bound<'_, PyTuple>, _| -> PyResult<Py<PyAny>> {
                let this = args.get_item(0)?;
                let this = this.cast::<T>()?;
                let attr = &T::layout()?.attrs[index];
                Ok(attr.read(args.py(), this.get().json())?.unbind())
            })?;
        class.setattr(attr.name.as_str(), property.call1((getter, py.None(), py.None(), attr.field.doc.trim()))?)?;
    }
    Ok(())
}

/// The SDK value a result object holds, read back from its JSON.
pub(crate) fn sdk<T: serde::de::DeserializeOwned>(json: &Value) -> codeb::Result<T> {
    serde_json::from_value(json.clone())
        .map_err(|e| codeb::Error::internal("a result object does not read back as its SDK type").with_source(e))
}

/// [`sdk`] for Python: a failure is the exception of its kind.
pub(crate) fn read_back<T: serde::de::DeserializeOwned>(py: Python<'_>, json: &Value) -> PyResult<T> {
    sdk(json).map_err(|e| to_py_err(py, e))
}

/// The SDK's own text of the value a result object holds (its `Display`).
pub(crate) fn display<T: serde::de::DeserializeOwned + std::fmt::Display>(
    py: Python<'_>,
    json: &Value,
) -> PyResult<String> {
    read_back::<T>(py, json).map(|v| v.to_string())
}

/// `None`, or `Some` of a variant's name: the optional part of an alias.
macro_rules! variant {
    () => {
        None
    };
    ($variant:ident) => {
        Some(stringify!($variant))
    };
}
pub(crate) use variant;

/// Declares a result class that mirrors an SDK type: a frozen pyclass holding
/// the value's serde JSON, with value equality and hashing by that JSON,
/// `to_dict()`, a repr, and an attribute per field of the SDK type (added by
/// `install` from the type's schema). `result_classes!` in `results` calls
/// it once per entry of its list, with the entry's options.
///
/// ```ignore
/// result_class! {
///     /// The class's doc comment.
///     Name => codeb::path::SdkType,
///     display [__str__],                                                // optional: the SDK type's `Display`
///     aliases { attr = "/json/pointer", other = variant "/pointer" },  // optional
///     quiet [field, ...],                                               // optional: left out of the repr
///     extra { /* more #[pymethods] */ } stubs ["def __str__(self) -> str: ..."], // optional
/// }
/// ```
macro_rules! result_class {
    (
        $(#[doc = $doc:literal])+
        $name:ident => $sdk:ty
        $(, display [$display:ident])?
        $(, aliases { $($alias:ident = $($variant:ident)? $pointer:literal),+ $(,)? })?
        $(, quiet [$($quiet:ident),+ $(,)?])?
        $(, extra { $($extra:tt)* } stubs [$($stub:literal),+ $(,)?])?
        $(,)?
    ) => {
        $(#[doc = $doc])+
        #[pyclass(frozen, eq, hash, module = "codeb")]
        #[derive(PartialEq, Eq, Hash)]
        pub struct $name {
            json: serde_json::Value,
        }

        impl $crate::results::class::ResultClass for $name {
            type Sdk = $sdk;
            const DOC: &'static str = concat!($($doc, "\n"),+);
            const ALIASES: &'static [$crate::results::layout::Alias] = &[$($(
                $crate::results::layout::Alias {
                    name: stringify!($alias),
                    variant: $crate::results::class::variant!($($variant)?),
                    pointer: $pointer,
                }
            ),+)?];
            const QUIET: &'static [&'static str] = &[$($(stringify!($quiet)),+)?];
            const STUBS: &'static [&'static str] =
                &[$(concat!("def ", stringify!($display), "(self) -> str: ..."),)? $($($stub),+)?];

            fn new(json: serde_json::Value) -> Self {
                $name { json }
            }

            fn json(&self) -> &serde_json::Value {
                &self.json
            }

            fn layout() -> PyResult<&'static $crate::results::layout::Layout> {
                static LAYOUT: std::sync::OnceLock<Result<$crate::results::layout::Layout, String>> =
                    std::sync::OnceLock::new();
                LAYOUT
                    .get_or_init(<Self as $crate::results::class::ResultClass>::read_layout)
                    .as_ref()
                    .map_err(|e| $crate::results::class::layout_error(e))
            }
        }

        impl From<$sdk> for $name {
            fn from(value: $sdk) -> Self {
                $name { json: $crate::convert::json(&value) }
            }
        }

        #[pymethods]
        impl $name {
            /// The value as the SDK serialises it: the shape `we --json` prints.
            fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                $crate::convert::to_py(py, &self.json)
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                <Self as $crate::results::class::ResultClass>::repr(py, &self.json)
            }

            $(
                /// The SDK's own text of the value (its `Display`): what `we` prints.
                fn $display(&self, py: Python<'_>) -> PyResult<String> {
                    $crate::results::class::display::<$sdk>(py, &self.json)
                }
            )?

            $($($extra)*)?
        }
    };
}
pub(crate) use result_class;
