//! Where the SSOT document lives.

use crate::Result;
use crate::ssot::Ssot;

/// The outcome of one [`StateStore::update`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The document's revision after the update.
    pub revision: u64,
    /// Whether the update changed the document (and so bumped the revision).
    pub changed: bool,
}

/// Keeps the SSOT document.
///
/// The store is synchronous: it is local, small and fast, and a file store's
/// cross-process lock is a blocking call. Async callers run it on a blocking
/// thread (see [`crate::ports::SsotPortRegistry`]).
///
/// Contract (checked by the conformance suite): `update` runs `mutate` on the
/// latest committed document under an exclusive lock; if `mutate` fails,
/// nothing is written; if it changes nothing, nothing is written and the
/// revision stays; otherwise the new document is committed with the revision
/// bumped by one. A document that cannot be read (malformed, or from a newer
/// schema) is an error for both `load` and `update`, never an empty document.
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// The latest committed document.
    fn load(&self) -> Result<Ssot>;
    /// Applies `mutate` as one read-modify-write under the store's lock.
    fn update(&self, mutate: &mut dyn FnMut(&mut Ssot) -> Result<()>) -> Result<Commit>;

    /// Lets `inspect` read the latest committed document; stores that hold it
    /// in memory override this to avoid a copy.
    fn read(&self, inspect: &mut dyn FnMut(&Ssot) -> Result<()>) -> Result<()> {
        inspect(&self.load()?)
    }
}

/// Conveniences on every [`StateStore`].
pub trait StateStoreExt: StateStore {
    /// Like [`StateStore::update`], returning what `mutate` returns.
    fn modify<T>(&self, mutate: impl FnOnce(&mut Ssot) -> Result<T>) -> Result<T> {
        let mut mutate = Some(mutate);
        let mut out = None;
        self.update(&mut |doc| {
            let f = mutate.take().ok_or_else(|| crate::Error::internal("a state store ran a mutation twice"))?;
            out = Some(f(doc)?);
            Ok(())
        })?;
        out.ok_or_else(|| crate::Error::internal("a state store committed without running the mutation"))
    }

    /// Like [`StateStore::read`], returning what `inspect` returns.
    fn view<T>(&self, inspect: impl FnOnce(&Ssot) -> Result<T>) -> Result<T> {
        let mut inspect = Some(inspect);
        let mut out = None;
        self.read(&mut |doc| {
            let f = inspect.take().ok_or_else(|| crate::Error::internal("a state store ran a reader twice"))?;
            out = Some(f(doc)?);
            Ok(())
        })?;
        out.ok_or_else(|| crate::Error::internal("a state store returned without running the reader"))
    }
}

impl<S: StateStore + ?Sized> StateStoreExt for S {}
