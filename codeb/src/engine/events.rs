//! Progress events the engine emits, so front ends can show progress without the library printing.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::PlannedChange;
use crate::model::{DomainName, ReleaseId};
use crate::proxy::Upstream;

/// A step of a deploy, rollback or recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Taking the environment's deploy lock.
    Lock,
    /// Storing the environment's variables.
    Configure,
    /// Allocating ports in the SSOT.
    AllocatePorts,
    /// Creating or starting PostgreSQL and Redis.
    Accessories,
    /// Making the image present.
    Image,
    /// Creating and starting the release's container.
    StartRelease,
    /// Waiting until the release answers healthy.
    HealthCheck,
    /// Pointing the proxy route at the release.
    SwitchRoute,
    /// Ensuring the DNS records.
    Dns,
    /// Draining and stopping the previous release.
    StopPrevious,
    /// Recording the outcome in the SSOT.
    Record,
    /// Watching the new release after the cutover.
    Watch,
    /// Removing a project's containers, networks and volumes.
    Remove,
    /// Undoing what a failed deploy created.
    Cleanup,
    /// Nothing failed in a step: the process doing the deploy stopped (a crash, a kill) and recovery cleaned up.
    Interrupted,
}

impl Step {
    /// The step's stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Lock => "lock",
            Step::Configure => "configure",
            Step::AllocatePorts => "allocate_ports",
            Step::Accessories => "accessories",
            Step::Image => "image",
            Step::StartRelease => "start_release",
            Step::HealthCheck => "health_check",
            Step::SwitchRoute => "switch_route",
            Step::Dns => "dns",
            Step::StopPrevious => "stop_previous",
            Step::Record => "record",
            Step::Watch => "watch",
            Step::Remove => "remove",
            Step::Cleanup => "cleanup",
            Step::Interrupted => "interrupted",
        }
    }

    /// Every step, in the order a deploy runs them.
    pub const ALL: [Step; 15] = [
        Step::Lock,
        Step::AllocatePorts,
        Step::Configure,
        Step::Accessories,
        Step::Image,
        Step::StartRelease,
        Step::HealthCheck,
        Step::SwitchRoute,
        Step::Dns,
        Step::Record,
        Step::StopPrevious,
        Step::Watch,
        Step::Remove,
        Step::Cleanup,
        Step::Interrupted,
    ];
}

impl std::str::FromStr for Step {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        Step::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| crate::Error::invalid(format!("unknown deploy step {s:?}")))
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened during a deploy, rollback or recovery.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum DeployEvent {
    /// A step began.
    StepStarted {
        /// The step.
        step: Step,
    },
    /// A step ended well.
    StepFinished {
        /// The step.
        step: Step,
        /// How long it took.
        #[serde(with = "crate::engine::health::millis", rename = "elapsed_ms")]
        elapsed: Duration,
    },
    /// A step failed; cleanup follows.
    StepFailed {
        /// The step.
        step: Step,
        /// The error, as people read it.
        error: String,
    },
    /// A change of the plan was made.
    ChangeApplied {
        /// The change.
        change: PlannedChange,
    },
    /// A change made earlier was undone, because a later step failed.
    ChangeUndone {
        /// The change that was undone.
        change: PlannedChange,
    },
    /// One health probe of a release.
    HealthProbe {
        /// The release probed.
        release: ReleaseId,
        /// The probe's number, from 1.
        attempt: u32,
        /// Whether it counted as healthy.
        healthy: bool,
        /// What was seen.
        evidence: String,
    },
    /// The proxy route of a host now points at new upstreams.
    RouteSwitched {
        /// The host.
        host: DomainName,
        /// Where it points now.
        to: Vec<Upstream>,
    },
    /// Traffic went back from one release to another.
    RolledBack {
        /// The release that was abandoned.
        from: ReleaseId,
        /// The release that serves again.
        to: ReleaseId,
        /// Why.
        reason: String,
    },
    /// Anything else worth telling.
    Note {
        /// The message.
        message: String,
    },
}

/// Receives events as they happen. It runs on the engine's task: keep it quick.
pub type EventSink = Arc<dyn Fn(&DeployEvent) + Send + Sync>;

/// Where the engine sends events; empty when nobody listens.
#[derive(Clone, Default)]
pub(crate) struct Events(Option<EventSink>);

impl Events {
    pub(crate) fn new(sink: Option<EventSink>) -> Self {
        Events(sink)
    }

    pub(crate) fn emit(&self, event: DeployEvent) {
        if let Some(sink) = &self.0 {
            sink(&event);
        }
    }

    pub(crate) fn note(&self, message: impl Into<String>) {
        self.emit(DeployEvent::Note { message: message.into() });
    }
}
