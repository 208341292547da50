//! The typed, frozen Python classes of SDK results: one declaration each.
//!
//! A class holds the SDK value's serde JSON (never a secret value: the SDK
//! masks secrets in its serde form) and has an attribute per field of the SDK
//! type, read from the type's JSON schema when the module loads (`layout`),
//! `to_dict()` (the shape `we --json` prints), a repr, and equality and
//! hashing by value. `class` holds the macro, `layout` the rules, `change`
//! the one class written by hand. The result-class part of `_codeb.pyi` is
//! generated from the same declarations (`stubs_tests`).

mod change;
pub(crate) mod class;
pub(crate) mod layout;
#[cfg(test)]
mod stubs_tests;

use codeb::model::ProjectName;
use pyo3::prelude::*;

pub use change::Change;
use class::{ClassRef, ResultClass, read_back, result_class, sdk};

/// Over the list of result classes: `register` adds them to the module, and
/// other classes' attributes holding their SDK types become them (`class_of`).
macro_rules! classes {
    ($($class:ident),+ $(,)?) => {
        /// Adds every result class to the module, each with an attribute per field of its SDK type.
        pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $(
                m.add_class::<$class>()?;
                class::install::<$class>(m.py())?;
            )+
            Ok(())
        }

        /// The result class of the SDK type a schema names (`PortKey`, `ReleaseRecord`, ...).
        pub(crate) fn class_of(schema_name: &str) -> Option<ClassRef> {
            $(
                if schema_name == <$class as ResultClass>::schema_name() {
                    return Some(ClassRef::of::<$class>());
                }
            )+
            None
        }

        /// Every result class, for the stub generator.
        #[cfg(test)]
        fn stubs() -> Vec<stubs_tests::ClassStub> {
            vec![$(stubs_tests::ClassStub::of::<$class>()),+]
        }
    };
}

/// Declares every result class, each as `result_class!` reads it
/// (`Name => SdkType { options }`), and from the same list `register` and
/// `class_of` (see `classes!`). The classes written by hand come first.
macro_rules! result_classes {
    (
        by_hand [$($by_hand:ident),* $(,)?];
        $($(#[doc = $doc:literal])+ $name:ident => $sdk:ty { $($options:tt)* })*
    ) => {
        $(result_class! { $(#[doc = $doc])+ $name => $sdk, $($options)* })*
        classes![$($by_hand,)* $($name),*];
    };
}

result_classes! {
    by_hand [Change];

    /// One event of a deploy, rollback or recovery, as the engine emits it.
    ///
    /// `kind` says which; the attributes of the other kinds are `None`.
    DeployEvent => codeb::engine::DeployEvent {
        display [__str__],
        aliases {
            kind = "/event",
            upstreams = route_switched "/to",
            from_release = rolled_back "/from",
            to_release = rolled_back "/to",
        }
    }

    /// Where a route sends traffic: `str()` gives `host:port`.
    Upstream => codeb::proxy::Upstream {
        display [__str__]
    }

    /// What a finished deploy or rollback did.
    DeployReport => codeb::engine::DeployReport {
        display [__str__]
    }

    /// What a deploy would do: the result of `deploy(..., dry_run=True)`.
    ///
    /// Pass it to `apply` to carry it out; that refuses (`ConflictError`) if the
    /// SSOT moved since the plan was made.
    Plan => codeb::engine::Plan {
        display [__str__],
        quiet [request]
    }

    /// What a rollback would do: the result of `rollback(..., dry_run=True)`.
    RollbackPlan => codeb::engine::RollbackPlan {
        display [__str__],
        aliases { from_release = "/from", to_release = "/to" }
    }

    /// One env var of an environment, as a listing shows it.
    ///
    /// `value` is the plaintext of a plain variable and `********` for a secret:
    /// a secret's value never enters Python through a listing, so no `repr`,
    /// `str`, log line or traceback can show it.
    EnvVar => codeb::ops::ListedVar {
        display [__str__]
    }

    /// The env vars of an environment at one version, ordered by key; secret values masked.
    EnvSet => codeb::ops::EnvListing {
        extra {
            /// How many variables.
            fn __len__(&self) -> usize {
                self.json.get("vars").and_then(serde_json::Value::as_array).map_or(0, Vec::len)
            }
        } stubs ["def __len__(self) -> int: ..."]
    }

    /// What a port is allocated to: one service of a project environment, or one release's app.
    PortKey => codeb::ports::PortKey {
        display [__str__]
    }

    /// One recorded port allocation.
    PortAllocation => codeb::ports::PortAllocation {}

    /// What comparing the recorded ports with what listens found.
    ///
    /// `conflicts` (ports claimed twice) and `drift` (record and reality
    /// differ) are dicts in the SDK's serde form, tagged by `conflict` and `drift`.
    PortReport => codeb::ports::PortReport {
        display [__str__],
        extra {
            /// Whether record and reality agree.
            #[getter]
            fn is_clean(&self, py: Python<'_>) -> PyResult<bool> {
                Ok(read_back::<codeb::ports::PortReport>(py, &self.json)?.is_clean())
            }
        } stubs ["@property def is_clean(self) -> bool: ..."]
    }

    /// One recorded release of an environment.
    ///
    /// `status` is `pending`, `live`, `failed` or `retired`; a failed release
    /// has `failed_step` and `failure_reason`. `config` is the configuration
    /// snapshot it ran with.
    Release => codeb::ssot::ReleaseRecord {
        aliases {
            env_version = "/config/env_version",
            domains = "/config/domains",
            status = "/status/status",
            failed_step = "/status/step",
            failure_reason = "/status/reason",
        },
        quiet [config, updated_at]
    }

    /// Who made a release: the user, the host and the front end.
    Deployer => codeb::ssot::Deployer {
        display [__str__]
    }

    /// Who holds an environment's deploy lock.
    DeployLock => codeb::ssot::DeployLock {
        display [__str__]
    }

    /// A held deploy lock: its holder, the lease left, and whether it is stale.
    LockStatus => codeb::engine::LockStatus {
        display [__str__]
    }

    /// What a destructive operation would do, and whether it did it.
    ///
    /// Without `force=True` nothing changes: `applied` is `False` and `changes`
    /// says what would.
    Removal => codeb::ops::Removal {
        display [__str__]
    }

    /// What setting up a domain did (or, for a dry run, would do).
    DomainReport => codeb::ops::DomainReport {
        display [__str__]
    }

    /// The health of an environment's serving release, from one probe.
    HealthReport => codeb::ops::HealthReport {
        display [__str__],
        aliases { healthy = "/verdict/healthy", evidence = "/verdict/evidence" },
        quiet [verdict]
    }

    /// A summary of the SSOT.
    SsotStatus => codeb::ops::SsotStatus {
        display [__str__]
    }

    /// What a recovery after an interrupted deploy found and did.
    RecoverReport => codeb::engine::RecoverReport {
        display [__str__]
    }

    /// What reconciling the whole platform did, environment by environment.
    ReconcileReport => codeb::engine::ReconcileReport {
        display [__str__]
    }

    /// One environment of a reconcile: its recovery's report, or why it could not run.
    Reconciled => codeb::engine::Reconciled {}

    /// The SSOT record of one environment of a project.
    EnvironmentRecord => codeb::ssot::EnvironmentRecord {
        extra {
            /// The server it runs on (the record names no server for the local one).
            #[getter]
            fn server(&self, py: Python<'_>) -> PyResult<String> {
                Ok(read_back::<codeb::ssot::EnvironmentRecord>(py, &self.json)?.server().to_string())
            }
        } stubs ["@property def server(self) -> str: ..."]
    }

    /// The SSOT record of one project.
    ProjectRecord => NamedProject {}

    /// One line of a project listing: a project and the release serving each environment.
    ProjectSummary => codeb::ops::ProjectSummary {}

    /// One server of the fleet: its roles, how codeb reaches it, its addresses
    /// and the environments (`project/env`) on it.
    ServerSummary => codeb::ops::ServerSummary {}

    /// A doctor's report on one server: `ok` when every check passed.
    ServerCheck => codeb::ops::ServerCheck {}

    /// One check of a server (`login`, `engine`, `disk`, `clock`, `ports`, `proxy`, `dns`) and what it found.
    CheckResult => codeb::ops::CheckResult {}

    /// What `init` found in a directory (`analysis`, a dict) and the codeb.toml it wrote; `str()` says it.
    InitReport => codeb::project::InitReport {
        display [__str__]
    }
}

impl Plan {
    /// The SDK plan, to apply.
    pub(crate) fn sdk(&self) -> codeb::Result<codeb::engine::Plan> {
        sdk(&self.json)
    }
}

/// A project's SSOT record under its name: what `ssot_project` returns.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct NamedProject {
    /// The project.
    pub(crate) name: ProjectName,
    /// Its record.
    #[serde(flatten)]
    pub(crate) record: codeb::ssot::ProjectRecord,
}

/// A deploy's outcome: the plan of a dry run, or the report.
#[derive(IntoPyObject)]
pub(crate) enum Deployed {
    /// `dry_run=True`.
    Plan(Plan),
    /// The deploy ran.
    Report(DeployReport),
}

/// A rollback's outcome: the plan of a dry run, or the report.
#[derive(IntoPyObject)]
pub(crate) enum RolledBack {
    /// `dry_run=True`.
    Plan(RollbackPlan),
    /// The rollback ran.
    Report(DeployReport),
}
