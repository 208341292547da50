//! The engine's progress events in Python: the `DeployEvent` class, and the
//! sink that hands each event to a Python callable.

use std::sync::Arc;

use codeb::engine::{DeployEvent as SdkEvent, DeployOptions, EventSink};
use pyo3::prelude::*;
use serde_json::Value;

use crate::convert::{json, tagged_repr, to_py};
use crate::results::Change;

/// One event of a deploy, rollback or recovery, as the engine emits it.
///
/// `kind` is one of `step_started`, `step_finished`, `step_failed`,
/// `change_applied`, `change_undone`, `health_probe`, `route_switched`,
/// `rolled_back` and `note`; the fields
/// that kind does not have are `None`.
#[pyclass(frozen, module = "codeb", name = "DeployEvent")]
pub struct DeployEvent {
    /// The event kind.
    #[pyo3(get)]
    kind: String,
    /// The step (`lock`, `configure`, `image`, `health_check`, ...), for step events.
    #[pyo3(get)]
    step: Option<String>,
    /// How long the step took, for `step_finished`.
    #[pyo3(get)]
    elapsed_ms: Option<u64>,
    /// The error as people read it, for `step_failed`.
    #[pyo3(get)]
    error: Option<String>,
    /// The release probed, for `health_probe`.
    #[pyo3(get)]
    release: Option<String>,
    /// The probe's number from 1, for `health_probe`.
    #[pyo3(get)]
    attempt: Option<u32>,
    /// Whether the probe counted as healthy, for `health_probe`.
    #[pyo3(get)]
    healthy: Option<bool>,
    /// What the probe saw, for `health_probe`.
    #[pyo3(get)]
    evidence: Option<String>,
    /// The host whose route switched, for `route_switched`.
    #[pyo3(get)]
    host: Option<String>,
    /// Where the route points now (`ip:port`), for `route_switched`.
    #[pyo3(get)]
    upstreams: Option<Vec<String>>,
    /// The abandoned release, for `rolled_back`.
    #[pyo3(get)]
    from_release: Option<String>,
    /// The release that serves again, for `rolled_back`.
    #[pyo3(get)]
    to_release: Option<String>,
    /// Why, for `rolled_back`.
    #[pyo3(get)]
    reason: Option<String>,
    /// The text of a `note`.
    #[pyo3(get)]
    message: Option<String>,
    /// The change made or undone, for `change_applied` and `change_undone`.
    #[pyo3(get)]
    change: Option<Change>,
    json: Value,
}

impl From<&SdkEvent> for DeployEvent {
    fn from(event: &SdkEvent) -> Self {
        let mut e = DeployEvent {
            kind: String::new(),
            step: None,
            elapsed_ms: None,
            error: None,
            release: None,
            attempt: None,
            healthy: None,
            evidence: None,
            host: None,
            upstreams: None,
            from_release: None,
            to_release: None,
            reason: None,
            message: None,
            change: None,
            json: json(event),
        };
        e.kind = e.json.get("event").and_then(Value::as_str).unwrap_or_default().to_owned();
        match event {
            SdkEvent::StepStarted { step } => e.step = Some(step.to_string()),
            SdkEvent::StepFinished { step, elapsed } => {
                e.step = Some(step.to_string());
                e.elapsed_ms = Some(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
            }
            SdkEvent::StepFailed { step, error } => {
                e.step = Some(step.to_string());
                e.error = Some(error.clone());
            }
            SdkEvent::HealthProbe { release, attempt, healthy, evidence } => {
                e.release = Some(release.to_string());
                e.attempt = Some(*attempt);
                e.healthy = Some(*healthy);
                e.evidence = Some(evidence.clone());
            }
            SdkEvent::RouteSwitched { host, to } => {
                e.host = Some(host.to_string());
                e.upstreams = Some(to.iter().map(ToString::to_string).collect());
            }
            SdkEvent::RolledBack { from, to, reason } => {
                e.from_release = Some(from.to_string());
                e.to_release = Some(to.to_string());
                e.reason = Some(reason.clone());
            }
            SdkEvent::Note { message } => e.message = Some(message.clone()),
            SdkEvent::ChangeApplied { change } | SdkEvent::ChangeUndone { change } => {
                e.change = Some(Change::from(change))
            }
        }
        e
    }
}

#[pymethods]
impl DeployEvent {
    /// The event as the SDK serialises it (`{"event": kind, ...}`), like `we --json` output.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        tagged_repr("DeployEvent", "event", &self.json)
    }
}

/// Options whose events go to `progress`, a Python callable taking one `DeployEvent`.
///
/// The callable runs on the thread that drives the operation, with the GIL
/// taken for the call. An exception it raises cannot stop the operation
/// half-way: it is reported through `sys.unraisablehook` and the operation
/// goes on.
pub(crate) fn options(progress: Option<Py<PyAny>>, message: &str) -> DeployOptions {
    let events = progress.map(|callback| {
        let sink: EventSink = Arc::new(move |event: &SdkEvent| {
            let event = DeployEvent::from(event);
            Python::attach(|py| {
                if let Err(err) = callback.call1(py, (event,)) {
                    err.write_unraisable(py, Some(callback.bind(py)));
                }
            });
        });
        sink
    });
    DeployOptions { events, message: Some(message.to_owned()), ..DeployOptions::default() }
}
