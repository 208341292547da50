//! `Platform` and its async twin `AsyncPlatform`: the SDK's operations as
//! Python methods.
//!
//! Both classes come from one macro over the same `calls`, so the twin can
//! never offer a method, a parameter or a default the other lacks; they
//! differ only in how a call runs (`runtime::block` or `runtime::awaitable`).

use std::path::PathBuf;

use codeb::engine::Platform as Sdk;
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::calls;
use crate::connect;
use crate::errors::to_py_err;
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

/// Starts a call and returns an asyncio awaitable of its Python value.
fn run_async<T>(
    py: Python<'_>,
    call: codeb::Result<impl Future<Output = codeb::Result<T>> + Send + 'static>,
) -> PyResult<Py<PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    Ok(awaitable(py, call)?.unbind())
}

/// `(key, value)` pairs of a dict of env vars. A value that is not a `str`
/// of valid UTF-8 is refused by key, never echoed (it may be a secret).
fn pairs(vars: &Bound<'_, PyDict>) -> PyResult<Vec<(String, String)>> {
    let py = vars.py();
    vars.iter()
        .map(|(k, v)| {
            let key: String = k.extract()?;
            let value: String = v.extract().map_err(|_| {
                to_py_err(
                    py,
                    codeb::Error::invalid("an env value must be a str of valid UTF-8").with_context("key", &key),
                )
            })?;
            Ok((key, value))
        })
        .collect()
}

/// Where a platform came from, for its `repr`.
fn describe(path: &std::path::Path) -> String {
    format!("config={}", crate::convert::quote(&path.display().to_string()))
}

macro_rules! platform_class {
    ($(#[$doc:meta])* $class:ident, $run:ident) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "codeb")]
        pub struct $class {
            inner: Sdk,
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
                Ok($class { inner, origin: describe(&path) })
            }

            /// A whole platform in memory, on the SDK's fakes: every image pulls, releases answer
            /// healthy, nothing leaves the process. For scripts' own tests.
            #[staticmethod]
            fn memory() -> PyResult<Self> {
                Ok($class { inner: connect::memory()?, origin: "memory".to_owned() })
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
                $run(py, calls::deploy(&self.inner, path, env, image, dry_run, progress))
            }

            /// Carries out a `Plan` from a dry run; `ConflictError` if the SSOT moved since (plan again).
            #[pyo3(signature = (plan, progress=None))]
            fn apply(&self, py: Python<'_>, plan: PyRef<'_, Plan>, progress: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
                $run(py, calls::apply(&self.inner, &plan, progress))
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
                $run(py, calls::rollback(&self.inner, project, env, to, dry_run, progress))
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
                $run(py, calls::recover(&self.inner, project, env, force, progress))
            }

            /// Recovers every environment the SSOT records (serving releases, routes, DNS records): a `ReconcileReport`.
            #[pyo3(signature = (progress=None))]
            fn reconcile(&self, py: Python<'_>, progress: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
                $run(py, calls::reconcile(&self.inner, progress))
            }

            /// The releases of an environment, oldest first: a list of `Release`.
            fn releases(&self, py: Python<'_>, project: &str, env: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::releases(&self.inner, project, env))
            }

            /// Routes `domain` to the environment (route, DNS record, SSOT): a `DomainReport`;
            /// `force=True` moves a domain another environment owns.
            #[pyo3(signature = (project, env, domain, dry_run=false, force=false))]
            fn domain_setup(&self, py: Python<'_>, project: &str, env: &str, domain: &str, dry_run: bool, force: bool) -> PyResult<Py<PyAny>> {
                $run(py, calls::domain_setup(&self.inner, project, env, domain, dry_run, force))
            }

            /// Stops routing `domain` to the environment: a `Removal`, applied only with `force=True`.
            #[pyo3(signature = (project, env, domain, force=false))]
            fn domain_remove(&self, py: Python<'_>, project: &str, env: &str, domain: &str, force: bool) -> PyResult<Py<PyAny>> {
                $run(py, calls::domain_remove(&self.inner, project, env, domain, force))
            }

            /// The domains set up on an environment: a list of str.
            fn domain_list(&self, py: Python<'_>, project: &str, env: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::domain_list(&self.inner, project, env))
            }

            /// Sets env vars (`{KEY: value}`), all plain or all `secret`; the next deploy uses them.
            /// Returns the new env version (int).
            #[pyo3(signature = (project, env, vars, secret=false))]
            fn env_set(&self, py: Python<'_>, project: &str, env: &str, vars: &Bound<'_, PyDict>, secret: bool) -> PyResult<Py<PyAny>> {
                let pairs = pairs(vars)?;
                $run(py, calls::env_set(&self.inner, project, env, &pairs, secret))
            }

            /// The env vars of an environment: an `EnvSet` whose secret values are masked.
            fn env_list(&self, py: Python<'_>, project: &str, env: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::env_list(&self.inner, project, env))
            }

            /// Removes env vars: a `Removal`, applied only with `force=True`.
            #[pyo3(signature = (project, env, keys, force=false))]
            fn env_unset(&self, py: Python<'_>, project: &str, env: &str, keys: Vec<String>, force: bool) -> PyResult<Py<PyAny>> {
                $run(py, calls::env_unset(&self.inner, project, env, &keys, force))
            }

            /// Probes the release serving an environment once: a `HealthReport`.
            fn health_check(&self, py: Python<'_>, project: &str, env: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::health_check(&self.inner, project, env))
            }

            /// The last `tail` log lines of the serving release: the app's own output, untrusted.
            #[pyo3(signature = (project, env, tail=100))]
            fn logs(&self, py: Python<'_>, project: &str, env: &str, tail: usize) -> PyResult<Py<PyAny>> {
                $run(py, calls::logs(&self.inner, project, env, tail))
            }

            /// A summary of the SSOT: an `SsotStatus`.
            fn ssot_status(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                $run(py, calls::ssot_status(&self.inner))
            }

            /// The SSOT record of one project: a `ProjectRecord`.
            fn ssot_project(&self, py: Python<'_>, project: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::ssot_project(&self.inner, project))
            }

            /// Every project with the release serving each environment: a list of `ProjectSummary`.
            fn project_list(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                $run(py, calls::project_list(&self.inner))
            }

            /// Deletes a project whole: a `Removal`, applied only with `force=True`.
            /// Protected volumes survive even then.
            #[pyo3(signature = (project, force=false))]
            fn project_delete(&self, py: Python<'_>, project: &str, force: bool) -> PyResult<Py<PyAny>> {
                $run(py, calls::project_delete(&self.inner, project, force))
            }

            /// The port of a service (`app`, `postgres`, `redis`), allocated now if it has none: an int.
            #[pyo3(signature = (project, env, service="app"))]
            fn port_allocate(&self, py: Python<'_>, project: &str, env: &str, service: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::port_allocate(&self.inner, project, env, service))
            }

            /// The port allocations, of one project and/or environment or all: a list of `PortAllocation`.
            #[pyo3(signature = (project=None, env=None))]
            fn port_list(&self, py: Python<'_>, project: Option<&str>, env: Option<&str>) -> PyResult<Py<PyAny>> {
                $run(py, calls::port_list(&self.inner, project, env))
            }

            /// Frees a service's port: a `Removal`, applied only with `force=True`.
            #[pyo3(signature = (project, env, service="app", force=false))]
            fn port_release(&self, py: Python<'_>, project: &str, env: &str, service: &str, force: bool) -> PyResult<Py<PyAny>> {
                $run(py, calls::port_release(&self.inner, project, env, service, force))
            }

            /// Compares the recorded ports with what listens: a `PortReport`.
            fn port_check(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                $run(py, calls::port_check(&self.inner))
            }

            /// The deploy lock of an environment: a `LockStatus`, or None when free.
            fn lock_status(&self, py: Python<'_>, project: &str, env: &str) -> PyResult<Py<PyAny>> {
                $run(py, calls::lock_status(&self.inner, project, env))
            }

            /// Releases a lock whose holder is gone (any lock, with `force=True`): what was released,
            /// or None. A live holder's lock without force is `ForbiddenError`.
            #[pyo3(signature = (project, env, force=false))]
            fn lock_release(&self, py: Python<'_>, project: &str, env: &str, force: bool) -> PyResult<Py<PyAny>> {
                $run(py, calls::lock_release(&self.inner, project, env, force))
            }

            fn __repr__(&self) -> String {
                format!("{}({})", stringify!($class), self.origin)
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
    /// each returning an awaitable for asyncio.
    ///
    /// The calls run on codeb's own runtime threads, never on the event loop.
    /// Cancelling an awaitable stops the waiting, not the operation: a deploy
    /// always finishes or cleans up and releases its lock.
    AsyncPlatform,
    run_async
);
