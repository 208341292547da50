//! Progress events the engine emits, so front ends can show progress without the library printing.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::PlannedChange;
use crate::model::{DomainName, ReleaseId, Step};
use crate::proxy::Upstreams;

/// Something that happened during a deploy, rollback or recovery.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
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
        #[serde(with = "crate::model::health::millis", rename = "elapsed_ms")]
        #[cfg_attr(feature = "schemars", schemars(with = "u64"))]
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
        to: Upstreams,
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

impl std::fmt::Display for DeployEvent {
    /// The event as a line of progress for people.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeployEvent::StepStarted { step } => write!(f, "{step}: started"),
            DeployEvent::StepFinished { step, elapsed } => write!(f, "{step}: done in {} ms", elapsed.as_millis()),
            DeployEvent::StepFailed { step, error } => write!(f, "{step}: failed: {error}"),
            DeployEvent::ChangeApplied { change } => write!(f, "did: {change}"),
            DeployEvent::ChangeUndone { change } => write!(f, "undid: {change}"),
            DeployEvent::HealthProbe { release, attempt, evidence, .. } => {
                write!(f, "health of {release}: probe {attempt}: {evidence}")
            }
            DeployEvent::RouteSwitched { host, to } => write!(f, "routed {host} to {to}"),
            DeployEvent::RolledBack { from, to, reason } => write!(f, "rolled back from {from} to {to}: {reason}"),
            DeployEvent::Note { message } => f.write_str(message),
        }
    }
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
