//! The engine's progress events in Python: the sink that hands each event, as
//! a `DeployEvent` (see `results`), to a Python callable.

use std::sync::Arc;

use codeb::engine::{DeployEvent as SdkEvent, DeployOptions, EventSink};
use pyo3::prelude::*;

use crate::results::DeployEvent;

/// Options whose events go to `progress`, a Python callable taking one `DeployEvent`
/// (the lock records what the operation does; its owner names Python).
///
/// The callable runs on the thread that drives the operation, with the GIL
/// taken for the call. An exception it raises cannot stop the operation
/// half-way: it is reported through `sys.unraisablehook` and the operation
/// goes on.
pub(crate) fn options(progress: Option<Py<PyAny>>) -> DeployOptions {
    let events = progress.map(|callback| {
        let sink: EventSink = Arc::new(move |event: &SdkEvent| {
            let event = DeployEvent::from(event.clone());
            Python::attach(|py| {
                if let Err(err) = callback.call1(py, (event,)) {
                    err.write_unraisable(py, Some(callback.bind(py)));
                }
            });
        });
        sink
    });
    DeployOptions { events, ..DeployOptions::default() }
}
