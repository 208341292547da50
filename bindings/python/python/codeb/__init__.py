"""codeb: deploy containerised apps to your own servers, from Python.

A thin layer over the codeb SDK (Rust)::

    import codeb

    platform = codeb.Platform.from_config()        # the platform file, found as `we` finds it
    report = platform.deploy("./shop", "staging", progress=print)
    print(report.release, report.port)

:class:`Platform` blocks (with the GIL released); :class:`AsyncPlatform` has
the same methods as awaitables. ``Platform.memory()`` runs the whole platform
in memory, for scripts' own tests. Failures raise the classes in
:mod:`codeb.errors`.
"""

import atexit

from codeb import errors
from codeb import _codeb as _codeb_native
from codeb._codeb import (
    AsyncPlatform,
    Change,
    CheckResult,
    DeployEvent,
    DeployLock,
    Deployer,
    DeployReport,
    DomainReport,
    EnvironmentRecord,
    EnvSet,
    EnvVar,
    HealthReport,
    InitReport,
    LockStatus,
    Plan,
    Platform,
    PortAllocation,
    PortKey,
    PortReport,
    ProjectRecord,
    ProjectSummary,
    Reconciled,
    ReconcileReport,
    RecoverReport,
    Release,
    Removal,
    RollbackPlan,
    ServerCheck,
    ServerSummary,
    SsotStatus,
    Upstream,
    __version__,
)

__all__ = [
    "AsyncPlatform",
    "Change",
    "CheckResult",
    "DeployEvent",
    "DeployLock",
    "DeployReport",
    "Deployer",
    "DomainReport",
    "EnvSet",
    "EnvVar",
    "EnvironmentRecord",
    "HealthReport",
    "InitReport",
    "LockStatus",
    "Plan",
    "Platform",
    "PortAllocation",
    "PortKey",
    "PortReport",
    "ProjectRecord",
    "ProjectSummary",
    "ReconcileReport",
    "Reconciled",
    "RecoverReport",
    "Release",
    "Removal",
    "RollbackPlan",
    "ServerCheck",
    "ServerSummary",
    "SsotStatus",
    "Upstream",
    "__version__",
    "errors",
]

# Shut codeb's runtime down (its last calls finished, its threads joined) before the interpreter finalizes.
atexit.register(_codeb_native._drain)
