//! The module's tokio runtime, and the two ways a Python call runs an SDK
//! future on it: blocking with the GIL released, or as an asyncio awaitable.

use std::future::Future;
use std::sync::OnceLock;

use pyo3::prelude::*;
use tokio::runtime::{Builder, Handle, Runtime};

use crate::errors::{InternalError, IntoPyResult, to_py_err};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Builds the runtime once per process and hands it to pyo3-async-runtimes,
/// so blocking and async calls share one set of worker threads.
pub(crate) fn init() -> PyResult<()> {
    if RUNTIME.get().is_none() {
        let runtime = Builder::new_multi_thread()
            .thread_name("codeb")
            .enable_all()
            .build()
            .map_err(|e| InternalError::new_err(format!("cannot start the codeb runtime: {e}")))?;
        // A lost race leaves the other thread's runtime in place; this one is dropped.
        let _ = RUNTIME.set(runtime);
    }
    if let Some(runtime) = RUNTIME.get() {
        // Err means it was handed over already (the module was imported before).
        let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime);
    }
    Ok(())
}

/// The runtime, built by [`init`] when the module was imported.
pub(crate) fn runtime() -> PyResult<&'static Runtime> {
    RUNTIME.get().ok_or_else(|| InternalError::new_err("the codeb runtime is not started"))
}

/// Runs an SDK call to its end with the GIL released, and returns its value.
///
/// `call` is the validated call: an `Err` there (a rejected input) is raised
/// before anything runs. Called from inside the runtime (a progress callback
/// calling back into codeb), the future runs on a helper thread, since a
/// runtime cannot block on itself.
pub(crate) fn block<T, F>(py: Python<'_>, call: codeb::Result<F>) -> PyResult<T>
where
    F: Future<Output = codeb::Result<T>> + Send,
    T: Send,
{
    let future = call.py_err(py)?;
    let runtime = runtime()?;
    let result = py.detach(|| {
        if Handle::try_current().is_ok() {
            std::thread::scope(|scope| match scope.spawn(|| runtime.block_on(future)).join() {
                Ok(result) => result,
                Err(_) => Err(codeb::Error::internal("a codeb call panicked")),
            })
        } else {
            runtime.block_on(future)
        }
    });
    result.py_err(py)
}

/// Starts an SDK call on the runtime and returns an asyncio awaitable of its value.
///
/// The call runs as its own tokio task: cancelling the awaitable stops the
/// waiting, not the operation, so a deploy always finishes or cleans up and
/// releases its lock. Must be called with an asyncio event loop running.
pub(crate) fn awaitable<'py, T, F>(py: Python<'py>, call: codeb::Result<F>) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = codeb::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let future = call.py_err(py)?;
    let locals = pyo3_async_runtimes::tokio::get_current_locals(py)?;
    let task = runtime()?.spawn(future);
    pyo3_async_runtimes::tokio::future_into_py_with_locals(py, locals, async move {
        match task.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(Python::attach(|py| to_py_err(py, error))),
            Err(join) => Err(InternalError::new_err(format!("a codeb task failed: {join}"))),
        }
    })
}
