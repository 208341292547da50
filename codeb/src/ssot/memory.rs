//! The in-memory state store: the SSOT for tests and for scripts that need no file.

use std::sync::Mutex;

use crate::ssot::{Commit, Ssot, StateStore};
use crate::{Error, Result};

/// Keeps the SSOT document in memory.
#[derive(Debug)]
pub struct MemoryStateStore {
    doc: Mutex<Ssot>,
}

impl Default for MemoryStateStore {
    fn default() -> Self {
        MemoryStateStore::new(Ssot::default())
    }
}

impl MemoryStateStore {
    /// A store holding `doc`.
    pub fn new(doc: Ssot) -> Self {
        MemoryStateStore { doc: Mutex::new(doc) }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Ssot>> {
        self.doc.lock().map_err(|_| Error::internal("the in-memory state store was poisoned by a panic"))
    }
}

impl StateStore for MemoryStateStore {
    fn load(&self) -> Result<Ssot> {
        Ok(self.lock()?.clone())
    }

    fn read(&self, inspect: &mut dyn FnMut(&Ssot) -> Result<()>) -> Result<()> {
        inspect(&*self.lock()?)
    }

    fn update(&self, mutate: &mut dyn FnMut(&mut Ssot) -> Result<()>) -> Result<Commit> {
        let mut current = self.lock()?;
        let mut next = current.clone();
        mutate(&mut next)?;
        next.revision = current.revision;
        if next == *current {
            return Ok(Commit { revision: current.revision, changed: false });
        }
        next.revision = current.revision + 1;
        *current = next;
        Ok(Commit { revision: current.revision, changed: true })
    }
}
