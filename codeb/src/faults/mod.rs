//! Fault injection as a layer: [`Faulty`] wraps any backend, fake or real,
//! and can fail the next N calls of an operation with a chosen error kind,
//! or slow an operation down. The fakes hold no fault logic of their own.

mod layer;

pub use layer::{DNS_OPS, Faulty, HTTP_OPS, PORT_OPS, PROBE_OPS, PROXY_OPS, RUNTIME_OPS, SECRET_OPS, STATE_OPS};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::{Error, ErrorKind, Result};

/// The faults planned for one backend, shared by its clones.
///
/// Operation names are the backend trait's method names (each trait's are
/// listed in a constant, such as [`RUNTIME_OPS`]); naming an operation the
/// trait does not have is a bug in the test and panics at once, so a typo
/// can never make a fault test vacuous.
#[derive(Clone, Debug)]
pub struct Faults {
    backend: &'static str,
    ops: &'static [&'static str],
    table: Arc<Mutex<FaultTable>>,
}

#[derive(Debug, Default)]
struct FaultTable {
    failures: HashMap<&'static str, (usize, ErrorKind)>,
    latency: HashMap<&'static str, Duration>,
    calls: HashMap<&'static str, u64>,
}

impl Faults {
    /// Faults for a backend called `backend` whose operations are `ops`.
    pub fn new(backend: &'static str, ops: &'static [&'static str]) -> Self {
        Faults { backend, ops, table: Arc::default() }
    }

    /// Makes the next `times` calls of `op` fail with an error of `kind`.
    ///
    /// # Panics
    /// If the fake has no operation `op`.
    pub fn fail_next(&self, op: &str, times: usize, kind: ErrorKind) {
        let op = self.op(op);
        self.table().failures.insert(op, (times, kind));
    }

    /// Makes every call of `op` take at least `delay` longer.
    ///
    /// # Panics
    /// If the fake has no operation `op`.
    pub fn add_latency(&self, op: &str, delay: Duration) {
        let op = self.op(op);
        self.table().latency.insert(op, delay);
    }

    /// Removes every planned failure and latency (call counts stay).
    pub fn clear(&self) {
        let mut table = self.table();
        table.failures.clear();
        table.latency.clear();
    }

    /// How many times `op` has been called, failed calls included.
    ///
    /// # Panics
    /// If the fake has no operation `op`.
    pub fn calls(&self, op: &str) -> u64 {
        let op = self.op(op);
        self.table().calls.get(op).copied().unwrap_or(0)
    }

    /// Records a call of `op`, waits out its latency and returns its planned failure, if any.
    pub(crate) async fn enter(&self, op: &'static str) -> Result<()> {
        let delay = self.record(op);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        self.take_failure(op)
    }

    /// Like [`Faults::enter`] for synchronous backends: latency blocks the thread.
    pub(crate) fn enter_blocking(&self, op: &'static str) -> Result<()> {
        if let Some(delay) = self.record(op) {
            std::thread::sleep(delay);
        }
        self.take_failure(op)
    }

    fn record(&self, op: &'static str) -> Option<Duration> {
        debug_assert!(self.ops.contains(&op), "{} has no operation {op}", self.backend);
        let mut table = self.table();
        *table.calls.entry(op).or_default() += 1;
        table.latency.get(op).copied()
    }

    fn take_failure(&self, op: &'static str) -> Result<()> {
        let mut table = self.table();
        let Some((left, kind)) = table.failures.get_mut(op) else {
            return Ok(());
        };
        let kind = *kind;
        *left -= 1;
        if *left == 0 {
            table.failures.remove(op);
        }
        Err(Error::new(kind, format!("injected fault in {op}")).with_context("backend", self.backend))
    }

    fn op(&self, op: &str) -> &'static str {
        match self.ops.iter().find(|known| **known == op) {
            Some(known) => known,
            None => panic!("{} has no operation {op:?}; it has {:?}", self.backend, self.ops),
        }
    }

    fn table(&self) -> MutexGuard<'_, FaultTable> {
        // A panic while holding this lock can only come from a test's own assertion; the table stays usable.
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: &[&str] = &["create", "start"];

    #[tokio::test]
    async fn fails_exactly_the_next_n_calls_with_the_chosen_kind() {
        let faults = Faults::new("test", OPS);
        faults.fail_next("start", 2, ErrorKind::Unavailable);
        for _ in 0..2 {
            let err = faults.enter("start").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unavailable);
            assert_eq!(err.context_value("backend"), Some("test"));
        }
        assert!(faults.enter("start").await.is_ok());
        assert!(faults.enter("create").await.is_ok());
        assert_eq!(faults.calls("start"), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn latency_delays_each_call() {
        let faults = Faults::new("test", OPS);
        faults.add_latency("create", Duration::from_secs(5));
        let before = tokio::time::Instant::now();
        faults.enter("create").await.unwrap();
        assert!(before.elapsed() >= Duration::from_secs(5));
    }

    #[test]
    #[should_panic(expected = "has no operation \"strat\"")]
    fn a_misspelt_operation_is_caught_at_once() {
        Faults::new("test", OPS).fail_next("strat", 1, ErrorKind::Internal);
    }
}
