//! How long each change of a run took, from the executor's events: for the
//! benchmarks that time a deploy by step (`benches/build_push.rs`,
//! `benches/build_server.rs`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use codeb::engine::{DeployEvent, EventSink};
use codeb::model::ServerName;

/// One change a run applied.
#[derive(Clone, Debug)]
pub struct TimedChange {
    /// Its kind (`build_image`).
    pub kind: String,
    /// The server it acted on.
    pub server: ServerName,
    /// How long it took: since the change before it, or since the lock was asked for.
    pub took: Duration,
}

/// The changes a run applied so far, in order.
pub type Timings = Arc<Mutex<Vec<TimedChange>>>;

/// An event sink for a run's options, and the timings it collects.
pub fn timed_changes() -> (EventSink, Timings) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let last = Arc::new(Mutex::new(Instant::now()));
    let sink_seen = seen.clone();
    let sink: EventSink = Arc::new(move |event: &DeployEvent| {
        let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            DeployEvent::StepStarted { step } if step.as_str() == "lock" => *last = Instant::now(),
            DeployEvent::ChangeApplied { change } => {
                let timed =
                    TimedChange { kind: change.change.kind(), server: change.server.clone(), took: last.elapsed() };
                sink_seen.lock().unwrap_or_else(|p| p.into_inner()).push(timed);
                *last = Instant::now();
            }
            _ => {}
        }
    });
    (sink, seen)
}
