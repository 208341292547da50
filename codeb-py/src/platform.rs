//! `Platform` and its async twin `AsyncPlatform`: the SDK's operations as
//! Python methods.
//!
//! Both classes come from one macro over one list of methods, so the twin
//! can never offer a method, a parameter or a default the other lacks; they
//! differ only in how a call runs (`runtime::block` or `runtime::awaitable`).
//! Each method is written once: its inputs validated through the SDK's types
//! (a rejection is raised at once, before anything runs), then the future of
//! its one SDK call, which converts the result.

use std::path::PathBuf;
use std::sync::{PoisonError, RwLock};

use codeb::engine::Platform as Sdk;
use codeb::model::{DomainName, EnvKey, EnvVar, Environment, ImageRef, ProjectName, ReleaseId, ServerName, Service};
use codeb::ports::{PortFilter, PortKey};
use codeb::project::{InitOptions, ProjectFile};
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyMapping};

use crate::connect;
use crate::errors::{InternalError, IntoPyResult, to_py_err};
use crate::events;
use crate::results::{
    DeployReport, Deployed, DomainReport, EnvSet, HealthReport, InitReport, LockStatus, NamedProject, Plan,
    PortAllocation, PortReport, ProjectRecord, ProjectSummary, ReconcileReport, RecoverReport, Release, Removal,
    RollbackPlan, RolledBack, ServerCheck, ServerSummary, SsotStatus,
};
use crate::runtime::{awaitable, block};

/// Validates a call's inputs (`call` returns the future of the SDK call, or
/// the rejection), runs it blocking with the GIL released, and returns its
/// Python value.
fn run_blocking<T, F>(py: Python<'_>, call: impl FnOnce() -> codeb::Result<F>) -> PyResult<Py<PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send,
    F: Future<Output = codeb::Result<T>> + Send,
{
    block(py, call())?.into_py_any(py)
}

/// Validates a call's inputs as [`run_blocking`] does (bad input is refused
/// at once, before any coroutine exists), and returns a coroutine that
/// starts the call when it is first awaited and returns its Python value.
fn run_async<T, F>(py: Python<'_>, call: impl FnOnce() -> codeb::Result<F>) -> PyResult<Py<PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
    F: Future<Output = codeb::Result<T>> + Send + 'static,
{
    let pending = std::sync::Mutex::new(Some(call().py_err(py)?));
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

/// The `(key, value)` pairs of any mapping of str to str (`dict`,
/// `os.environ`, a `MappingProxyType`): the env vars `env_set` is given.
/// A value that is not a `str` of valid UTF-8 is refused by key, never
/// echoed (it may be a secret).
struct Pairs(Vec<(String, String)>);

impl<'a, 'py> FromPyObject<'a, 'py> for Pairs {
    type Error = PyErr;

    fn extract(vars: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let py = vars.py();
        let mapping = vars.cast::<PyMapping>().map_err(|_| {
            to_py_err(py, codeb::Error::invalid("vars must be a mapping of str to str").with_context("field", "vars"))
        })?;
        let mut pairs = Vec::new();
        for item in mapping.items()?.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let key: String = k.extract()?;
            let value: String = v.extract().map_err(|_| {
                to_py_err(
                    py,
                    codeb::Error::invalid("an env value must be a str of valid UTF-8").with_context("key", &key),
                )
            })?;
            pairs.push((key, value));
        }
        Ok(Pairs(pairs))
    }
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

/// `config='PATH'`, the path as Python's `repr` writes it.
fn describe(py: Python<'_>, path: &std::path::Path) -> PyResult<String> {
    Ok(format!("config={}", path.display().to_string().into_pyobject(py)?.repr()?))
}

/// A project and an environment, the pair most methods name.
fn target(project: &str, env: &str) -> codeb::Result<(ProjectName, Environment)> {
    Ok((ProjectName::parse(project)?, Environment::parse(env)?))
}

/// Declares the two platform classes over one list of methods.
///
/// A method of the list reads `fn name(sdk, arg: Type, ...) -> Out { ... }`:
/// `sdk` names the SDK platform (a closed platform raises before the body
/// runs); the body validates the arguments and returns the future of the one
/// SDK call, `codeb::Result<impl Future<Output = codeb::Result<Out>>>`. Each
/// class makes every method `fn name(&self, py, arg: Type, ...)`, run as its
/// runner says.
macro_rules! platform_classes {
    (
        $(#[$blocking_doc:meta])* $blocking:ident;
        $(#[$async_doc:meta])* $awaiting:ident;
        $($(#[$attr:meta])* fn $name:ident($sdk:ident $(, $arg:ident: $ty:ty)* $(,)?) -> $out:ty $body:block)*
    ) => {
        platform_classes!(@class $(#[$blocking_doc])* $blocking, run_blocking;
            $($(#[$attr])* fn $name($sdk $(, $arg: $ty)*) -> $out $body)*);
        platform_classes!(@class $(#[$async_doc])* $awaiting, run_async;
            $($(#[$attr])* fn $name($sdk $(, $arg: $ty)*) -> $out $body)*);
    };
    (
        @class $(#[$doc:meta])* $class:ident, $run:ident;
        $($(#[$attr:meta])* fn $name:ident($sdk:ident $(, $arg:ident: $ty:ty)*) -> $out:ty $body:block)*
    ) => {
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
                Ok($class { inner: Open::new(inner), origin: describe(py, &path)? })
            }

            /// A whole platform in memory, on the SDK's fakes: every image pulls, releases answer
            /// healthy, nothing leaves the process. For scripts' own tests.
            #[staticmethod]
            fn memory() -> PyResult<Self> {
                Ok($class { inner: Open::new(connect::memory()?), origin: "memory".to_owned() })
            }

            $(
                $(#[$attr])*
                fn $name(&self, py: Python<'_> $(, $arg: $ty)*) -> PyResult<Py<PyAny>> {
                    let $sdk = self.inner.get(py)?;
                    $run::<$out, _>(py, || $body)
                }
            )*

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

platform_classes! {
    /// A codeb platform: deploys, rollbacks, domains, env vars, ports and the SSOT.
    ///
    /// Every method blocks until the SDK call finishes, with the GIL released,
    /// so other Python threads run meanwhile. Build one with
    /// `Platform.from_config()` or `Platform.memory()`.
    Platform;

    /// The async twin of `Platform`: the same methods with the same parameters,
    /// each returning a coroutine that starts the call when first awaited.
    ///
    /// The calls run on codeb's own runtime threads, never on the event loop.
    /// Cancelling an awaitable stops the waiting, not the operation: a deploy
    /// always finishes or cleans up and releases its lock.
    AsyncPlatform;

    /// Analyses directory `path` (package.json, lock file, Prisma, Redis clients, start script, port) and
    /// writes its `codeb.toml`: an `InitReport`. Never over an existing one unless `force=True`
    /// (`ConflictError`); `dry_run=True` writes nothing. Asks nothing of the platform's servers.
    #[pyo3(signature = (path, force=false, dry_run=false))]
    fn init(_sdk, path: PathBuf, force: bool, dry_run: bool) -> InitReport {
        Ok(async move { Ok(InitReport::from(codeb::project::init(&path, &InitOptions { force, dry_run })?)) })
    }

    /// Deploys the project in directory `path` (its `codeb.toml`) to `env`: a `DeployReport`.
    /// With `dry_run=True` nothing changes and the result is the `Plan`. `image` overrides
    /// the file's image; `progress` is called with each `DeployEvent`.
    #[pyo3(signature = (path, env, image=None, dry_run=false, progress=None))]
    fn deploy(
        sdk,
        path: PathBuf,
        env: &str,
        image: Option<&str>,
        dry_run: bool,
        progress: Option<Py<PyAny>>,
    ) -> Deployed {
        let env = Environment::parse(env)?;
        let image = image.map(ImageRef::parse).transpose()?;
        Ok(async move {
            let request = ProjectFile::read(&path)?.deploy_request(&env, image)?;
            if dry_run {
                return Ok(Deployed::Plan(Plan::from(sdk.plan(&request).await?)));
            }
            let options = events::options(progress);
            Ok(Deployed::Report(DeployReport::from(sdk.deploy(&request, &options).await?)))
        })
    }

    /// Carries out a `Plan` from a dry run; `ConflictError` if the SSOT moved since (plan again).
    #[pyo3(signature = (plan, progress=None))]
    fn apply(sdk, plan: PyRef<'_, Plan>, progress: Option<Py<PyAny>>) -> DeployReport {
        let plan = plan.sdk()?;
        Ok(async move { Ok(DeployReport::from(sdk.apply(&plan, &events::options(progress)).await?)) })
    }

    /// Rolls `project`'s `env` back to release `to`, or to the previous one: a `DeployReport`.
    /// With `dry_run=True` nothing changes and the result is the `RollbackPlan`.
    #[pyo3(signature = (project, env, to=None, dry_run=false, progress=None))]
    fn rollback(
        sdk,
        project: &str,
        env: &str,
        to: Option<&str>,
        dry_run: bool,
        progress: Option<Py<PyAny>>,
    ) -> RolledBack {
        let (project, env) = target(project, env)?;
        let to = to.map(ReleaseId::parse).transpose()?;
        Ok(async move {
            if dry_run {
                return Ok(RolledBack::Plan(RollbackPlan::from(sdk.plan_rollback(&project, &env, to.as_ref()).await?)));
            }
            let options = events::options(progress);
            Ok(RolledBack::Report(DeployReport::from(sdk.rollback(&project, &env, to.as_ref(), &options).await?)))
        })
    }

    /// Deploys to `to_env` the exact image `from_env` serves, by its registry digest, without a
    /// build: a `DeployReport`. `ConflictError` when `from_env` serves nothing or its image was
    /// never pushed to a registry.
    #[pyo3(signature = (project, from_env, to_env, progress=None))]
    fn promote(sdk, project: &str, from_env: &str, to_env: &str, progress: Option<Py<PyAny>>) -> DeployReport {
        let (project, from) = target(project, from_env)?;
        let to = Environment::parse(to_env)?;
        Ok(async move { Ok(DeployReport::from(sdk.promote(&project, &from, &to, &events::options(progress)).await?)) })
    }

    /// Completes or cleans up an interrupted deploy; `force` takes the lock from a live holder.
    #[pyo3(signature = (project, env, force=false, progress=None))]
    fn recover(sdk, project: &str, env: &str, force: bool, progress: Option<Py<PyAny>>) -> RecoverReport {
        let (project, env) = target(project, env)?;
        Ok(async move {
            Ok(RecoverReport::from(sdk.recover(&project, &env, force, &events::options(progress)).await?))
        })
    }

    /// Recovers every environment the SSOT records (serving releases, routes, DNS records): a `ReconcileReport`.
    #[pyo3(signature = (progress=None))]
    fn reconcile(sdk, progress: Option<Py<PyAny>>) -> ReconcileReport {
        Ok(async move { Ok(ReconcileReport::from(sdk.reconcile(&events::options(progress)).await?)) })
    }

    /// The releases of an environment, oldest first: a list of `Release`.
    fn releases(sdk, project: &str, env: &str) -> Vec<Release> {
        let (project, env) = target(project, env)?;
        Ok(async move { Ok(sdk.releases(&project, &env).await?.into_iter().map(Release::from).collect()) })
    }

    /// Routes `domain` to the environment (route, DNS record, SSOT): a `DomainReport`;
    /// `force=True` moves a domain another environment owns.
    #[pyo3(signature = (project, env, domain, dry_run=false, force=false))]
    fn domain_setup(sdk, project: &str, env: &str, domain: &str, dry_run: bool, force: bool) -> DomainReport {
        let ((project, env), domain) = (target(project, env)?, DomainName::parse(domain)?);
        Ok(async move {
            let options = events::options(None);
            Ok(DomainReport::from(sdk.domain_setup(&project, &env, &domain, dry_run, force, &options).await?))
        })
    }

    /// Stops routing `domain` to the environment: a `Removal`, applied only with `force=True`.
    #[pyo3(signature = (project, env, domain, force=false))]
    fn domain_remove(sdk, project: &str, env: &str, domain: &str, force: bool) -> Removal {
        let ((project, env), domain) = (target(project, env)?, DomainName::parse(domain)?);
        Ok(async move {
            Ok(Removal::from(sdk.domain_remove(&project, &env, &domain, force, &events::options(None)).await?))
        })
    }

    /// The domains set up on an environment: a list of str.
    fn domain_list(sdk, project: &str, env: &str) -> Vec<String> {
        let (project, env) = target(project, env)?;
        Ok(async move { Ok(sdk.domain_list(&project, &env).await?.iter().map(ToString::to_string).collect()) })
    }

    /// Sets env vars (`{KEY: value}`), all plain or all `secret`; the next deploy uses them.
    /// Returns the new env version (int).
    #[pyo3(signature = (project, env, vars, secret=false))]
    fn env_set(sdk, project: &str, env: &str, vars: Pairs, secret: bool) -> u64 {
        let (project, env) = target(project, env)?;
        let vars = vars.0.iter().map(|(k, v)| EnvVar::parse(k, v, secret)).collect::<Result<Vec<_>, _>>()?;
        Ok(async move { sdk.env_set(&project, &env, &vars).await })
    }

    /// The env vars of an environment: an `EnvSet` whose secret values are masked.
    fn env_list(sdk, project: &str, env: &str) -> EnvSet {
        let (project, env) = target(project, env)?;
        Ok(async move { Ok(EnvSet::from(sdk.env_listing(&project, &env).await?)) })
    }

    /// Removes env vars: a `Removal`, applied only with `force=True`.
    #[pyo3(signature = (project, env, keys, force=false))]
    fn env_unset(sdk, project: &str, env: &str, keys: Vec<String>, force: bool) -> Removal {
        let (project, env) = target(project, env)?;
        let keys = keys.iter().map(|k| EnvKey::parse(k)).collect::<Result<Vec<_>, _>>()?;
        Ok(async move { Ok(Removal::from(sdk.env_unset(&project, &env, &keys, force).await?)) })
    }

    /// Probes the release serving an environment once: a `HealthReport`.
    fn health_check(sdk, project: &str, env: &str) -> HealthReport {
        let (project, env) = target(project, env)?;
        Ok(async move { Ok(HealthReport::from(sdk.health_check(&project, &env).await?)) })
    }

    /// The last `tail` log lines of the serving release: the app's own output, untrusted.
    #[pyo3(signature = (project, env, tail=100))]
    fn logs(sdk, project: &str, env: &str, tail: usize) -> Vec<String> {
        let (project, env) = target(project, env)?;
        Ok(async move { sdk.logs(&project, &env, tail).await })
    }

    /// A summary of the SSOT: an `SsotStatus`.
    fn ssot_status(sdk) -> SsotStatus {
        Ok(async move { Ok(SsotStatus::from(sdk.ssot_status().await?)) })
    }

    /// The SSOT record of one project: a `ProjectRecord`.
    fn ssot_project(sdk, project: &str) -> ProjectRecord {
        let project = ProjectName::parse(project)?;
        Ok(async move {
            let record = sdk.project_show(&project).await?;
            Ok(ProjectRecord::from(NamedProject { name: project, record }))
        })
    }

    /// Every project with the release serving each environment: a list of `ProjectSummary`.
    fn project_list(sdk) -> Vec<ProjectSummary> {
        Ok(async move { Ok(sdk.project_list().await?.into_iter().map(ProjectSummary::from).collect()) })
    }

    /// Every server of the fleet: a list of `ServerSummary`.
    fn server_list(sdk) -> Vec<ServerSummary> {
        Ok(async move { Ok(sdk.server_list().await?.into_iter().map(ServerSummary::from).collect()) })
    }

    /// A doctor's check of `server`, or of every server: a list of `ServerCheck`
    /// (a failing check is `ok=False` with its detail, not an exception).
    #[pyo3(signature = (server=None))]
    fn server_check(sdk, server: Option<&str>) -> Vec<ServerCheck> {
        let server = server.map(ServerName::parse).transpose()?;
        Ok(async move { Ok(sdk.server_check(server.as_ref()).await?.into_iter().map(ServerCheck::from).collect()) })
    }

    /// Deletes a project whole: a `Removal`, applied only with `force=True`.
    /// Protected volumes survive even then.
    #[pyo3(signature = (project, force=false))]
    fn project_delete(sdk, project: &str, force: bool) -> Removal {
        let project = ProjectName::parse(project)?;
        Ok(async move { Ok(Removal::from(sdk.project_delete(&project, force, &events::options(None)).await?)) })
    }

    /// The port of a service (`app`, `postgres`, `redis`), allocated now if it has none: an int.
    #[pyo3(signature = (project, env, service="app"))]
    fn port_allocate(sdk, project: &str, env: &str, service: &str) -> u16 {
        let (project, env) = target(project, env)?;
        let key = PortKey::new(project, env, service.parse::<Service>()?);
        Ok(async move { Ok(sdk.port_allocate(&key).await?.get()) })
    }

    /// The port allocations, of one project and/or environment or all: a list of `PortAllocation`.
    #[pyo3(signature = (project=None, env=None))]
    fn port_list(sdk, project: Option<&str>, env: Option<&str>) -> Vec<PortAllocation> {
        let project = project.map(ProjectName::parse).transpose()?;
        let filter = PortFilter { project, env: env.map(Environment::parse).transpose()? };
        Ok(async move { Ok(sdk.port_list(&filter).await?.into_iter().map(PortAllocation::from).collect()) })
    }

    /// Frees a service's port: a `Removal`, applied only with `force=True`.
    #[pyo3(signature = (project, env, service="app", force=false))]
    fn port_release(sdk, project: &str, env: &str, service: &str, force: bool) -> Removal {
        let (project, env) = target(project, env)?;
        let key = PortKey::new(project, env, service.parse::<Service>()?);
        Ok(async move { Ok(Removal::from(sdk.port_release(&key, force).await?)) })
    }

    /// Compares the recorded ports with what listens: a `PortReport`.
    fn port_check(sdk) -> PortReport {
        Ok(async move { Ok(PortReport::from(sdk.port_check().await?)) })
    }

    /// The deploy lock of an environment: a `LockStatus`, or None when free.
    fn lock_status(sdk, project: &str, env: &str) -> Option<LockStatus> {
        let (project, env) = target(project, env)?;
        Ok(async move { Ok(sdk.lock_status(&project, &env).await?.map(LockStatus::from)) })
    }

    /// Releases a lock whose holder is gone (any lock, with `force=True`): what was released,
    /// or None. A live holder's lock without force is `ForbiddenError`.
    #[pyo3(signature = (project, env, force=false))]
    fn lock_release(sdk, project: &str, env: &str, force: bool) -> Option<LockStatus> {
        let (project, env) = target(project, env)?;
        Ok(async move { Ok(sdk.lock_release(&project, &env, force).await?.map(LockStatus::from)) })
    }
}
