//! `Platform` and its async twin `AsyncPlatform`: the SDK's operations as
//! Python methods.
//!
//! Both classes come from one macro over the same `calls`, so the twin can
//! never offer a method, a parameter or a default the other lacks; they
//! differ only in how a call runs (`runtime::block` or `runtime::awaitable`).

use std::path::PathBuf;
use std::sync::{PoisonError, RwLock};

use codeb::engine::Platform as Sdk;
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyMapping};

use crate::calls;
use crate::connect;
use crate::errors::{InternalError, IntoPyResult, to_py_err};
use crate::results::Plan;
use crate::runtime::{awaitable, block};

/// Runs a call blocking, with the GIL released, and returns its Python value.
fn run_blocking<T>(
    py: Python<'_>,
    call: codeb::Result<impl Future<Output = codeb::Result<T>> + Send>,
) -> PyResult<Py<PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send,
{
    block(py, call)?.into_py_any(py)
}

/// A coroutine that starts the call when it is first awaited (bad input is
/// refused at once, before any coroutine exists) and returns its Python value.
fn run_async<T>(
    py: Python<'_>,
    call: codeb::Result<impl Future<Output = codeb::Result<T>> + Send + 'static>,
) -> PyResult<Py<PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let pending = std::sync::Mutex::new(Some(call.py_err(py)?));
    let start = PyCFunction::new_closure(py, None, None, move |args, _| -> PyResult<Py<PyAny>> {
        let taken = pending.lock().unwrap_or_else(PoisonError::into_inner).take();
        let future = taken.ok_or_else(|| InternalError::new_err("a codeb coroutine was awaited twice"))?;
        Ok(awaitable(args.py(), Ok(future))?.unbind())
    })?;
    Ok(lazily(py)?.call1((start,))?.unbind())
}

/// `async def lazily(start): return await start()`, made once.
fn lazily(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static LAZILY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let code = c"async def lazily(start):\n    return await start()\n";
    LAZILY
        .get_or_try_init(py, || {
            Ok(PyModule::from_code(py, code, c"codeb_lazily.py", c"codeb._lazily")?.getattr("lazily")?.unbind())
        })
        .map(|f| f.bind(py))
}

/// `(key, value)` pairs of a dict of env vars. A value that is not a `str`
/// of valid UTF-8 is refused by key, never echoed (it may be a secret).
/// The pairs of any mapping of str to str (`dict`, `os.environ`, a `MappingProxyType`).
fn pairs(vars: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let py = vars.py();
    let mapping = vars.cast::<PyMapping>().map_err(|_| {
        to_py_err(py, codeb::Error::invalid("vars must be a mapping of str to str").with_context("field", "vars"))
    })?;
    let mut pairs = Vec::new();
    for item in mapping.items()?.iter() {
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        let key: String = k.extract()?;
        let value: String = v.extract().map_err(|_| {
            to_py_err(py, codeb::Error::invalid("an env value must be a str of valid UTF-8").with_context("key", &key))
        })?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// A platform until `close()`: each call takes its own handle, so closing
/// waits for no one and a call in flight finishes.
struct Open(RwLock<Option<Sdk>>);

impl Open {
    fn new(sdk: Sdk) -> Self {
        Open(RwLock::new(Some(sdk)))
    }

    /// The platform, or `InvalidError` once closed.
    fn get(&self, py: Python<'_>) -> PyResult<Sdk> {
        let open = self.0.read().unwrap_or_else(PoisonError::into_inner);
        open.clone().ok_or_else(|| to_py_err(py, codeb::Error::invalid("this platform is closed")))
    }

    fn close(&self) {
        self.0.write().unwrap_or_else(PoisonError::into_inner).take();
    }

    fn is_closed(&self) -> bool {
        self.0.read().unwrap_or_else(PoisonError::into_inner).is_none()
    }
}

fn describe(path: &std::path::Path) -> String {
    format!("config={}", crate::convert::quote(&path.display().to_string()))
}

macro_rules! platform_class {
    ($(#[$doc:meta])* $class:ident, $run:ident) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "codeb")]
        pub struct $class {
            inner: Open,
            origin: String,
        }

        #[pymethods]
        impl $class {
            /// The platform a platform file describes, found as the `we` CLI finds it: `path`,
            /// else `$CODEB_CONFIG`, else `$XDG_CONFIG_HOME/codeb/platform.toml` (or `~/.config/...`).
            #[staticmethod]
            #[pyo3(signature = (path=None))]
            fn from_config(py: Python<'_>, path: Option<PathBuf>) -> PyResult<Self> {
                let (inner, path) = connect::from_config(py, path)?;
                Ok($class { inner: Open::new(inner), origin: describe(&path) })
            }

            /// A whole platform in memory, on the SDK's fakes: every image pulls, releases answer
            /// healthy, nothing leaves the process. For scripts' own tests.
            #[staticmethod]
            fn memory() -> PyResult<Self> {
                Ok($class { inner: Open::new(connect::memory()?), origin: "memory".to_owned() })
            }

            /// Deploys the project in directory `path` (its `codeb.toml`) to `env`: a `DeployReport`.
            /// With `dry_run=True` nothing changes and the result is the `Plan`. `image` overrides
            /// the file's image; `progress` is called with each `DeployEvent`.
            #[pyo3(signature = (path, env, image=None, dry_run=false, progress=None))]
            fn deploy(
                &self,
                py: Python<'_>,
                path: PathBuf,
                env: &str,
                image: Option<&str>,
                dry_run: bool,
                progress: Option<Py<PyAny>>,
            ) -> PyResult<Py<PyAny>> {
                $run(py, calls::deploy(&self.inner.get(py)?, path, env, image, dry_run, progress))
            }

            /// Carries out a `Plan` from a dry run; `ConflictError` if the SSOT moved since (plan again).
            #[pyo3(signature = (plan, progress=None))]
            fn apply(&self, py: Python<'_>, plan: PyRef<'_, Plan>, progress: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
                $run(py, calls::apply(&self.inner.get(py)?, &plan, progress))
            }

            /// Rolls `project`'s `env` back to release `to`, or to the previous one: a `DeployReport`.
            /// With `dry_run=True` nothing changes and the result is the `RollbackPlan`.
            #[pyo3(signature = (project, env, to=None, dry_run=false, progress=None))]
            fn rollback(
                &self,
                py: Python<'_>,
                project: &str,
                env: &str,
                to: Option<&str>,
                dry_run: bool,
                progress: Option<Py<PyAny>>,
            ) -> PyResult<Py<PyAny>> {
                $run(py, calls::rollback(&self.inner.get(py)?, project, env, to, dry_run, progress))
            }

            /// Completes or cleans up an interrupted deploy; `force` takes the lock from a live holder.
            #[pyo3(signature = (project, env, force=false, progress=None))]
            fn recover(
                &self,
                py: Python<'_>,
                project: &str,
                env: &str,
                force: bool,
                progress: Option<Py<PyAny>>,
            ) -> PyResult<Py<PyAny>> {
                $run(py, calls::recover(&self.inner.get(py)?, project, env, force, progress))
            }

            /// Recovers every environment the SSOT records (serving releases, routes, DNS records): a `ReconcileReport`.
            #[pyo3(signature = (progress=None))]
            fn reconcile(&self, py: Python<'_>, progress: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
                $run(py, calls::reconcile(&self.inner.get(py)?, progress))
            }

            /// The releases of an environment, oldest first: a list of `Release`.
            fn releases(&self, py: Python<'_>, project: &str, env: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::releases(&self.inner.get(py)?, project, env))
            }

            /// Routes `domain` to the environment (route, DNS record, SSOT): a `DomainReport`;
            /// `force=True` moves a domain another environment owns.
            #[pyo3(signature = (project, env, domain, dry_run=false, force=false))]
            fn domain_setup(&self, py: Python<'_>, project: &str, env: &str, domain: &str, dry_run: bool, force: bool) -> PyResult<Py<PyAny>> {
                $run(py, calls::domain_setup(&self.inner.get(py)?, project, env, domain, dry_run, force))
            }

            /// Stops routing `domain` to the environment: a `Removal`, applied only with `force=True`.
            #[pyo3(signature = (project, env, domain, force=false))]
            fn domain_remove(&self, py: Python<'_>, project: &str, env: &str, domain: &str, force: bool) -> PyResult<Py<PyAny>> {
                $run(py, calls::domain_remove(&self.inner.get(py)?, project, env, domain, force))
            }

            /// The domains set up on an environment: a list of str.
            fn domain_list(&self, py: Python<'_>, project: &str, env: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::domain_list(&self.inner.get(py)?, project, env))
            }

            /// Sets env vars (`{KEY: value}`), all plain or all `secret`; the next deploy uses them.
            /// Returns the new env version (int).
            #[pyo3(signature = (project, env, vars, secret=false))]
            fn env_set(&self, py: Python<'_>, project: &str, env: &str, vars: &Bound<'_, PyAny>, secret: bool) -> PyResult<Py<PyAny>> {
                let pairs = pairs(vars)?;
                $run(py, calls::env_set(&self.inner.get(py)?, project, env, &pairs, secret))
            }

            /// The env vars of an environment: an `EnvSet` whose secret values are masked.
            fn env_list(&self, py: Python<'_>, project: &str, env: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::env_list(&self.inner.get(py)?, project, env))
            }

            /// Removes env vars: a `Removal`, applied only with `force=True`.
            #[pyo3(signature = (project, env, keys, force=false))]
            fn env_unset(&self, py: Python<'_>, project: &str, env: &str, keys: Vec<String>, force: bool) -> PyResult<Py<PyAny>> {
                $run(py, calls::env_unset(&self.inner.get(py)?, project, env, &keys, force))
            }

            /// Probes the release serving an environment once: a `HealthReport`.
            fn health_check(&self, py: Python<'_>, project: &str, env: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::health_check(&self.inner.get(py)?, project, env))
            }

            /// The last `tail` log lines of the serving release: the app's own output, untrusted.
            #[pyo3(signature = (project, env, tail=100))]
            fn logs(&self, py: Python<'_>, project: &str, env: &str, tail: usize) -> PyResult<Py<PyAny>> {
                $run(py, calls::logs(&self.inner.get(py)?, project, env, tail))
            }

            /// A summary of the SSOT: an `SsotStatus`.
            fn ssot_status(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                $run(py, calls::ssot_status(&self.inner.get(py)?))
            }

            /// The SSOT record of one project: a `ProjectRecord`.
            fn ssot_project(&self, py: Python<'_>, project: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::ssot_project(&self.inner.get(py)?, project))
            }

            /// Every project with the release serving each environment: a list of `ProjectSummary`.
            fn project_list(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                $run(py, calls::project_list(&self.inner.get(py)?))
            }

            /// Every server of the fleet: a list of `ServerSummary`.
            fn server_list(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                $run(py, calls::server_list(&self.inner.get(py)?))
            }

            /// A doctor's check of `server`, or of every server: a list of `ServerCheck`
            /// (a failing check is `ok=False` with its detail, not an exception).
            #[pyo3(signature = (server=None))]
            fn server_check(&self, py: Python<'_>, server: Option<&str>) -> PyResult<Py<PyAny>> {
                $run(py, calls::server_check(&self.inner.get(py)?, server))
            }

            /// Deletes a project whole: a `Removal`, applied only with `force=True`.
            /// Protected volumes survive even then.
            #[pyo3(signature = (project, force=false))]
            fn project_delete(&self, py: Python<'_>, project: &str, force: bool) -> PyResult<Py<PyAny>> {
                $run(py, calls::project_delete(&self.inner.get(py)?, project, force))
            }

            /// The port of a service (`app`, `postgres`, `redis`), allocated now if it has none: an int.
            #[pyo3(signature = (project, env, service="app"))]
            fn port_allocate(&self, py: Python<'_>, project: &str, env: &str, service: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::port_allocate(&self.inner.get(py)?, project, env, service))
            }

            /// The port allocations, of one project and/or environment or all: a list of `PortAllocation`.
            #[pyo3(signature = (project=None, env=None))]
            fn port_list(&self, py: Python<'_>, project: Option<&str>, env: Option<&str>) -> PyResult<Py<PyAny>> {
                $run(py, calls::port_list(&self.inner.get(py)?, project, env))
            }

            /// Frees a service's port: a `Removal`, applied only with `force=True`.
            #[pyo3(signature = (project, env, service="app", force=false))]
            fn port_release(&self, py: Python<'_>, project: &str, env: &str, service: &str, force: bool) -> PyResult<Py<PyAny>> {
                $run(py, calls::port_release(&self.inner.get(py)?, project, env, service, force))
            }

            /// Compares the recorded ports with what listens: a `PortReport`.
            fn port_check(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                $run(py, calls::port_check(&self.inner.get(py)?))
            }

            /// The deploy lock of an environment: a `LockStatus`, or None when free.
            fn lock_status(&self, py: Python<'_>, project: &str, env: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::lock_status(&self.inner.get(py)?, project, env))
            }

            /// Releases a lock whose holder is gone (any lock, with `force=True`): what was released,
            /// or None. A live holder's lock without force is `ForbiddenError`.
            #[pyo3(signature = (project, env, force=false))]
            fn lock_release(&self, py: Python<'_>, project: &str, env: &str, force: bool) -> PyResult<Py<PyAny>> {
                $run(py, calls::lock_release(&self.inner.get(py)?, project, env, force))
            }

            /// Lets go of the platform's backends once the calls in flight finish; any later
            /// call raises `InvalidError` (a `ValueError`). Closing again does nothing.
            fn close(&self) {
                self.inner.close();
            }

            fn __enter__(this: Py<Self>) -> Py<Self> {
                this
            }

            /// Closes the platform; an exception from the `with` block goes on.
            fn __exit__(&self, _kind: Py<PyAny>, _error: Py<PyAny>, _traceback: Py<PyAny>) -> bool {
                self.inner.close();
                false
            }

            fn __repr__(&self) -> String {
                let closed = if self.inner.is_closed() { ", closed" } else { "" };
                format!("{}({}{closed})", stringify!($class), self.origin)
            }
        }
    };
}

platform_class!(
    /// A codeb platform: deploys, rollbacks, domains, env vars, ports and the SSOT.
    ///
    /// Every method blocks until the SDK call finishes, with the GIL released,
    /// so other Python threads run meanwhile. Build one with
    /// `Platform.from_config()` or `Platform.memory()`.
    Platform,
    run_blocking
);

platform_class!(
    /// The async twin of `Platform`: the same methods with the same parameters,
    /// each returning a coroutine that starts the call when first awaited.
    ///
    /// The calls run on codeb's own runtime threads, never on the event loop.
    /// Cancelling an awaitable stops the waiting, not the operation: a deploy
    /// always finishes or cleans up and releases its lock.
    AsyncPlatform,
    run_async
);
