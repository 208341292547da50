//! A task of the engine's own that runs beside a call (a progress feed, a
//! lease's renewals) until told to stop, and is aborted if its owner is
//! dropped first (a cancelled call).

use std::future::Future;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A spawned task, told to stop through the receiver it was given.
#[derive(Debug)]
pub(crate) struct Background {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Background {
    /// Spawns the future `run` makes of the receiver that says when to stop.
    /// Must be called inside a Tokio runtime.
    pub(crate) fn spawn<Fut>(run: impl FnOnce(oneshot::Receiver<()>) -> Fut) -> Self
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        Background { stop: Some(stop), task: Some(tokio::spawn(run(stopped))) }
    }

    /// Tells the task to stop and waits until it has.
    pub(crate) async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
