//! One Python exception class per `codeb::ErrorKind`, under `codeb.errors`,
//! with a common base `CodebError`.
//!
//! Every raised instance carries `kind` (the snake_case kind name),
//! `message` (the SDK's message without context), `context` (a dict:
//! `project`, `environment`, `step`, `field`, `rule`, ...), and `temporary`
//! (whether retrying later may help). `str(error)` is the SDK's own text.
//! The timeout class is `CodebTimeoutError`, so it does not shadow Python's
//! builtin `TimeoutError`; it derives from it, as `NotFoundError` derives
//! from `LookupError`, `InvalidError` from `ValueError` and
//! `UnavailableError` from `ConnectionError`.

use codeb::ErrorKind;
use pyo3::exceptions::{PyConnectionError, PyException, PyLookupError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use pyo3::{PyTypeInfo, create_exception};

create_exception!(codeb.errors, CodebError, PyException, "The base of every error codeb raises.");
create_exception!(codeb.errors, InternalError, CodebError, "A bug or an unexpected answer; retrying will not help.");

/// Each other kind's class: its name, its doc, and the builtin it also
/// derives from, so that `except LookupError` catches a missing thing as it
/// catches a missing key.
fn declared(py: Python<'_>) -> [(ErrorKind, &'static str, &'static str, Option<Bound<'_, PyType>>); 10] {
    [
        (ErrorKind::NotFound, "NotFoundError", "The named thing does not exist.", Some(PyLookupError::type_object(py))),
        (ErrorKind::AlreadyExists, "AlreadyExistsError", "The thing to create exists already.", None),
        (
            ErrorKind::Invalid,
            "InvalidError",
            "The input breaks a rule; nothing was changed.",
            Some(PyValueError::type_object(py)),
        ),
        (
            ErrorKind::Conflict,
            "ConflictError",
            "The request contradicts the current state (a full port range, a moved revision, ...).",
            None,
        ),
        (ErrorKind::Locked, "LockedError", "Someone else holds the lock this operation needs.", None),
        (
            ErrorKind::Unavailable,
            "UnavailableError",
            "A backend or service could not be reached or answered with a server error.",
            Some(PyConnectionError::type_object(py)),
        ),
        (ErrorKind::Unhealthy, "UnhealthyError", "A release did not pass its health check.", None),
        (
            ErrorKind::Forbidden,
            "ForbiddenError",
            "The operation is refused by policy (protected volume, missing force, ...).",
            None,
        ),
        (
            ErrorKind::Unauthenticated,
            "UnauthenticatedError",
            "Credentials or an integrity check failed (wrong key, tampered ciphertext).",
            None,
        ),
        (
            ErrorKind::Timeout,
            "CodebTimeoutError",
            "The operation did not finish within its deadline (also a builtin TimeoutError).",
            Some(PyTimeoutError::type_object(py)),
        ),
    ]
}

/// The classes of [`declared`], made once: `type(name, (CodebError[, builtin]), ...)`.
static CLASSES: PyOnceLock<Vec<(ErrorKind, Py<PyType>)>> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Vec<(ErrorKind, Py<PyType>)>> {
    CLASSES.get_or_try_init(py, || {
        declared(py)
            .into_iter()
            .map(|(kind, name, doc, builtin)| {
                let mut bases = vec![CodebError::type_object(py)];
                bases.extend(builtin);
                let attrs = PyDict::new(py);
                attrs.set_item("__doc__", doc)?;
                attrs.set_item("__module__", "codeb.errors")?;
                let class = PyType::type_object(py).call1((name, PyTuple::new(py, bases)?, attrs))?;
                Ok((kind, class.cast_into::<PyType>()?.unbind()))
            })
            .collect()
    })
}

/// The class raised for `kind` (`InternalError` for a kind of its own).
pub(crate) fn class_of(py: Python<'_>, kind: ErrorKind) -> Bound<'_, PyType> {
    let made = classes(py).ok().and_then(|all| all.iter().find(|(k, _)| *k == kind));
    made.map_or_else(|| InternalError::type_object(py), |(_, class)| class.bind(py).clone())
}

pub(crate) fn to_py_err(py: Python<'_>, error: codeb::Error) -> PyErr {
    let err = PyErr::from_type(class_of(py, error.kind()), (error.to_string(),));
    if let Err(failed) = annotate(py, &err, &error) {
        return failed;
    }
    err
}

/// Sets `kind`, `message`, `context` and `temporary` on the exception instance.
fn annotate(py: Python<'_>, err: &PyErr, error: &codeb::Error) -> PyResult<()> {
    let value = err.value(py);
    let context = PyDict::new(py);
    for (key, item) in error.context() {
        context.set_item(*key, item)?;
    }
    value.setattr("kind", error.kind().as_str())?;
    value.setattr("message", error.message())?;
    value.setattr("context", context)?;
    value.setattr("temporary", error.is_temporary())?;
    Ok(())
}

/// Converts SDK results to Python results.
pub(crate) trait IntoPyResult<T> {
    /// The value, or the SDK error as its Python exception.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for codeb::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py_err(py, e))
    }
}

/// Adds the exception classes to the module, and `ERRORS_BY_KIND`: every
/// SDK kind name mapped to its class.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("CodebError", CodebError::type_object(py))?;
    let by_kind = PyDict::new(py);
    for kind in ErrorKind::ALL {
        let class = class_of(py, kind);
        m.add(class.name()?, &class)?;
        by_kind.set_item(kind.as_str(), class)?;
    }
    m.add("ERRORS_BY_KIND", by_kind)?;
    Ok(())
}
