//! One Python exception class per `codeb::ErrorKind`, under `codeb.errors`,
//! with a common base `CodebError`.
//!
//! Every raised instance carries `kind` (the snake_case kind name),
//! `message` (the SDK's message without context), `context` (a dict:
//! `project`, `environment`, `step`, `field`, `rule`, ...), and `temporary`
//! (whether retrying later may help). `str(error)` is the SDK's own text.
//! The timeout class is `CodebTimeoutError`, so it does not shadow Python's
//! builtin `TimeoutError`.

use codeb::ErrorKind;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};
use pyo3::{PyTypeInfo, create_exception};

create_exception!(codeb.errors, CodebError, PyException, "The base of every error codeb raises.");
create_exception!(codeb.errors, NotFoundError, CodebError, "The named thing does not exist.");
create_exception!(codeb.errors, AlreadyExistsError, CodebError, "The thing to create exists already.");
create_exception!(codeb.errors, InvalidError, CodebError, "The input breaks a rule; nothing was changed.");
create_exception!(
    codeb.errors,
    ConflictError,
    CodebError,
    "The request contradicts the current state (a full port range, a moved revision, ...)."
);
create_exception!(codeb.errors, LockedError, CodebError, "Someone else holds the lock this operation needs.");
create_exception!(
    codeb.errors,
    UnavailableError,
    CodebError,
    "A backend or service could not be reached or answered with a server error."
);
create_exception!(codeb.errors, UnhealthyError, CodebError, "A release did not pass its health check.");
create_exception!(
    codeb.errors,
    ForbiddenError,
    CodebError,
    "The operation is refused by policy (protected volume, missing force, ...)."
);
create_exception!(
    codeb.errors,
    UnauthenticatedError,
    CodebError,
    "Credentials or an integrity check failed (wrong key, tampered ciphertext)."
);
create_exception!(
    codeb.errors,
    CodebTimeoutError,
    CodebError,
    "The operation did not finish within its deadline (named so it does not shadow the builtin TimeoutError)."
);
create_exception!(codeb.errors, InternalError, CodebError, "A bug or an unexpected answer; retrying will not help.");

/// The exception class of `kind`.
///
/// `ErrorKind` is non-exhaustive; a kind added to the SDK later maps to
/// `InternalError` until it gets its own class, and the Python test that
/// every kind has a distinct class then fails.
pub(crate) fn class_of(py: Python<'_>, kind: ErrorKind) -> Bound<'_, PyType> {
    match kind {
        ErrorKind::NotFound => NotFoundError::type_object(py),
        ErrorKind::AlreadyExists => AlreadyExistsError::type_object(py),
        ErrorKind::Invalid => InvalidError::type_object(py),
        ErrorKind::Conflict => ConflictError::type_object(py),
        ErrorKind::Locked => LockedError::type_object(py),
        ErrorKind::Unavailable => UnavailableError::type_object(py),
        ErrorKind::Unhealthy => UnhealthyError::type_object(py),
        ErrorKind::Forbidden => ForbiddenError::type_object(py),
        ErrorKind::Unauthenticated => UnauthenticatedError::type_object(py),
        ErrorKind::Timeout => CodebTimeoutError::type_object(py),
        _ => InternalError::type_object(py),
    }
}

/// The Python exception of an SDK error, with its kind and context as attributes.
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
