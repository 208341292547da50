//! The module's tokio runtime, and the two ways a Python call runs an SDK
//! future on it: blocking with the GIL released, or as an asyncio awaitable.
//!
//! The runtime belongs to the process that built it. A child made by
//! `fork()` (multiprocessing's default start method on Linux) inherits a
//! copy whose worker threads do not exist there, so the child builds its own
//! on first use; the inherited copy is abandoned, never dropped (dropping
//! would wait for those threads). At interpreter exit, [`_drain`] shuts the
//! runtime down, so no worker thread outlives the interpreter.

use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{self, ContextExt};
use tokio::runtime::{Builder, Handle, Runtime};

use crate::errors::{InternalError, IntoPyResult, to_py_err};

/// The runtime of the process whose id is recorded with it.
static CURRENT: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// How long interpreter exit waits for the worker threads once no call runs.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// The longest interpreter exit waits for calls in flight (a deploy's deadlines bound it well below).
const CALLS_WAIT: Duration = Duration::from_secs(15 * 60);

/// How many SDK calls are running, blocking or awaited.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Counts one call in flight for as long as it lives.
struct InFlight;

impl InFlight {
    fn start() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits until no call is in flight: an interpreter that exits in the middle
/// of a deploy lets it finish or clean up and release its lock, never cuts it off.
fn wait_for_calls() {
    let deadline = Instant::now() + CALLS_WAIT;
    let mut said = false;
    while IN_FLIGHT.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        if !said {
            eprintln!("codeb: waiting for the calls in flight to finish or clean up before exit");
            said = true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// This process's runtime, built on first use (and again after a fork or after [`_drain`]).
pub(crate) fn runtime() -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
    match current.take() {
        Some((owner, runtime)) if owner == pid => {
            *current = Some((owner, Arc::clone(&runtime)));
            return Ok(runtime);
        }
        // Inherited through fork(): its threads are not in this process, and dropping it would wait for them.
        Some(inherited) => std::mem::forget(inherited),
        None => {}
    }
    let runtime = Builder::new_multi_thread()
        .thread_name("codeb")
        .enable_all()
        .build()
        .map_err(|e| InternalError::new_err(format!("cannot start the codeb runtime: {e}")))?;
    let runtime = Arc::new(runtime);
    *current = Some((pid, Arc::clone(&runtime)));
    Ok(runtime)
}

/// Shuts this process's runtime down at interpreter exit (registered with
/// `atexit` by the package), with the GIL released: it waits until no call
/// is in flight (a deploy finishes or cleans up and releases its lock; at
/// most [`CALLS_WAIT`]), then until no task runs (at most five seconds), then
/// joins the worker threads.
///
/// A worker still dropping an awaitable's task, and the Python objects it
/// holds, while the interpreter finalizes would touch a dying interpreter
/// (seen as a crash at exit, about once in 15 runs of an asyncio script).
/// If a call is still running in another thread, the runtime is left as it
/// is rather than pulled from under it.
#[pyfunction]
pub(crate) fn _drain(py: Python<'_>) {
    let taken = {
        let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
        match current.take() {
            Some((owner, runtime)) if owner == std::process::id() => Some(runtime),
            other => {
                *current = other;
                None
            }
        }
    };
    let Some(runtime) = taken else { return };
    py.detach(|| {
        wait_for_calls();
        let deadline = Instant::now() + EXIT_WAIT;
        while runtime.metrics().num_alive_tasks() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        match Arc::try_unwrap(runtime) {
            Ok(runtime) => runtime.shutdown_timeout(EXIT_WAIT),
            // A blocking call in another thread still holds it: never drop it under that call.
            Err(shared) => std::mem::forget(shared),
        }
    });
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
    let _counted = InFlight::start();
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
    let locals = generic::get_current_locals::<CodebRuntime>(py)?;
    let runtime = runtime()?;
    // pyo3-async-runtimes spawns its helper tasks through `CodebRuntime`, onto the entered runtime.
    let _context = runtime.enter();
    let counted = InFlight::start();
    let task = runtime.spawn(async move {
        let _counted = counted;
        future.await
    });
    generic::future_into_py_with_locals::<CodebRuntime, _, T>(py, locals, async move {
        match task.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(Python::attach(|py| to_py_err(py, error))),
            Err(join) => Err(InternalError::new_err(format!("a codeb task failed: {join}"))),
        }
    })
}

/// pyo3-async-runtimes' handle on this module's runtime: it spawns onto the
/// runtime of the current context, which `awaitable` enters first (and which
/// every task it spawns runs inside).
struct CodebRuntime;

tokio::task_local! {
    static TASK_LOCALS: OnceCell<TaskLocals>;
}

impl generic::Runtime for CodebRuntime {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = tokio::task::JoinHandle<()>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(fut)
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        tokio::task::spawn_blocking(f)
    }
}

impl ContextExt for CodebRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS.try_with(|cell| cell.get().cloned()).unwrap_or_default()
    }
}
