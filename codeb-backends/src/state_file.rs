//! The SSOT in one JSON file: the embedded default state store.
//!
//! Crash safety is the point. Readers never lock: writers replace the file
//! whole by `rename`, so a reader sees either the old or the new document.
//! Writers serialise on an exclusive lock of a separate `<path>.lock` file
//! (the kernel drops it when the process dies), write `<path>.tmp`, fsync it,
//! rename it over `<path>` and fsync the directory, so a kill or power loss at
//! any instant leaves the last committed document, never a torn one.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use codeb::ssot::{Commit, Ssot, StateStore};
use codeb::{Error, ErrorKind, Result};

use crate::atomic_file::{self, Access};

/// Keeps the SSOT document in a JSON file, safe against concurrent writers in
/// other processes and against crashes.
///
/// A missing file is the empty document (revision 0); a file that cannot be
/// read as an SSOT of this codeb's schema is an error for both reading and
/// writing, so a damaged or newer file is never silently replaced.
#[derive(Debug, Clone)]
pub struct FileStateStore {
    path: PathBuf,
}

impl FileStateStore {
    /// A store keeping its document at `path`; nothing is created until the first write.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStateStore { path: path.into() }
    }

    /// Where the document lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The committed document, or the empty one when the file does not exist.
    fn read(&self) -> Result<Ssot> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Ssot::default()),
            Err(e) => return Err(io_error("read", &self.path, e)),
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            Error::invalid("the SSOT document is not UTF-8 text")
                .with_context("path", self.path.display())
                .with_source(e)
        })?;
        Ssot::from_json(&text).map_err(|e| e.with_context("path", self.path.display()))
    }

    /// Takes the writers' lock, waiting for it; released when the file is dropped.
    fn lock(&self) -> Result<File> {
        atomic_file::lock(&self.path, Access::Default).map_err(|e| io_error("lock", &self.path, e))
    }

    /// Replaces the document with `doc` atomically and durably. The caller holds the lock.
    fn write(&self, doc: &Ssot) -> Result<()> {
        let text = doc.to_json()?;
        atomic_file::replace(&self.path, text.as_bytes(), Access::Default)
            .map_err(|e| io_error("replace", &self.path, e))
    }
}

/// An I/O failure on the document: the store is unavailable.
fn io_error(what: &str, path: &Path, source: io::Error) -> Error {
    Error::new(ErrorKind::Unavailable, format!("cannot {what} the SSOT file"))
        .with_context("path", path.display())
        .with_source(source)
}

impl StateStore for FileStateStore {
    fn load(&self) -> Result<Ssot> {
        self.read()
    }

    fn update(&self, mutate: &mut dyn FnMut(&mut Ssot) -> Result<()>) -> Result<Commit> {
        let _lock = self.lock()?;
        let current = self.read()?;
        let mut next = current.clone();
        mutate(&mut next)?;
        next.revision = current.revision;
        if next == current {
            return Ok(Commit { revision: current.revision, changed: false });
        }
        next.revision = current.revision.checked_add(1).ok_or_else(|| {
            Error::conflict("the SSOT revision cannot grow any further").with_context("path", self.path.display())
        })?;
        self.write(&next)?;
        Ok(Commit { revision: next.revision, changed: true })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use codeb::model::{Environment, Port, ProjectName, Service};

    use super::*;

    fn store_in(dir: &tempfile::TempDir) -> FileStateStore {
        FileStateStore::new(dir.path().join("state").join("ssot.json"))
    }

    fn add_project(name: &str) -> impl FnMut(&mut Ssot) -> Result<()> {
        let name = name.to_owned();
        move |doc| {
            doc.projects.insert(ProjectName::parse(&name)?, Default::default());
            Ok(())
        }
    }

    #[test]
    fn a_missing_file_loads_as_the_empty_document_at_revision_zero() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        assert_eq!(store.load().unwrap(), Ssot::default());
        assert_eq!(store.load().unwrap().revision, 0);
        assert!(!store.path().exists(), "loading must create nothing");
        assert!(!store.path().parent().unwrap().exists());
    }

    #[test]
    fn an_update_bumps_the_revision_by_one_and_commits_a_parseable_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        let commit = store.update(&mut add_project("shop")).unwrap();
        assert_eq!(commit, Commit { revision: 1, changed: true });
        let commit = store
            .update(&mut |doc| {
                doc.environment_mut(&ProjectName::parse("shop")?, &Environment::Staging)
                    .ports
                    .insert(Service::App, Port::new(3000)?);
                Ok(())
            })
            .unwrap();
        assert_eq!(commit.revision, 2);

        let text = fs::read_to_string(store.path()).unwrap();
        let doc = Ssot::from_json(&text).unwrap();
        assert_eq!(doc.revision, 2);
        assert_eq!(doc, store.load().unwrap());
        let shop = ProjectName::parse("shop").unwrap();
        assert_eq!(doc.environment(&shop, &Environment::Staging).unwrap().ports[&Service::App].get(), 3000);
        assert!(!atomic_file::sibling(store.path(), ".tmp").exists(), "the temp file is renamed away");
    }

    #[test]
    fn a_no_op_update_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        let commit = store.update(&mut |_| Ok(())).unwrap();
        assert_eq!(commit, Commit { revision: 0, changed: false });
        assert!(!store.path().exists(), "no document is created for a no-op");

        store.update(&mut add_project("shop")).unwrap();
        let before = fs::read(store.path()).unwrap();
        let mtime = fs::metadata(store.path()).unwrap().modified().unwrap();
        // Re-inserting what is there, and touching only the revision, are no-ops.
        let commit = store.update(&mut add_project("shop")).unwrap();
        assert_eq!(commit, Commit { revision: 1, changed: false });
        let commit = store.update(&mut |doc| {
            doc.revision = 77;
            Ok(())
        });
        assert_eq!(commit.unwrap().revision, 1);
        assert_eq!(fs::read(store.path()).unwrap(), before);
        assert_eq!(fs::metadata(store.path()).unwrap().modified().unwrap(), mtime);
    }

    #[test]
    fn a_failing_mutation_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        let err = store
            .update(&mut |doc| {
                add_project("half")(doc)?;
                Err(Error::conflict("changed my mind"))
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert!(!store.path().exists());

        store.update(&mut add_project("shop")).unwrap();
        let before = fs::read(store.path()).unwrap();
        let err = store
            .update(&mut |doc| {
                add_project("half")(doc)?;
                ProjectName::parse("Not Valid")?;
                Ok(())
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert_eq!(fs::read(store.path()).unwrap(), before);
        assert_eq!(store.load().unwrap().revision, 1);
    }

    #[test]
    fn a_corrupt_file_is_refused_for_load_and_update_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        fs::create_dir_all(store.path().parent().unwrap()).unwrap();
        for corrupt in [
            &b"{\"schema_version\": 1, \"revision\": 4, \"proj"[..],
            b"",
            b"\xff\xfe not utf-8",
            b"{\"schema_version\": 1, \"revision\": 4, \"projects\": {\"Bad Name\": {}}}",
            b"{\"schema_version\": 1, \"revision\": 5}",
        ] {
            fs::write(store.path(), corrupt).unwrap();
            let err = store.load().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
            assert_eq!(err.context_value("path"), Some(store.path().display().to_string().as_str()));
            let mut ran = false;
            let err = store
                .update(&mut |doc| {
                    ran = true;
                    add_project("shop")(doc)
                })
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
            assert!(!ran, "the mutation must not run on a document that was not read");
            assert_eq!(fs::read(store.path()).unwrap(), corrupt);
        }
    }

    #[test]
    fn a_newer_schema_file_is_refused_for_writing_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        fs::create_dir_all(store.path().parent().unwrap()).unwrap();
        let newer = b"{\"schema_version\": 99, \"revision\": 12, \"shiny\": {}}\n";
        fs::write(store.path(), newer).unwrap();
        assert_eq!(store.load().unwrap_err().kind(), ErrorKind::Conflict);
        let err = store.update(&mut add_project("shop")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        assert_eq!(fs::read(store.path()).unwrap(), newer);
    }

    #[test]
    fn a_stray_temp_file_from_a_crashed_writer_is_ignored_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        store.update(&mut add_project("shop")).unwrap();
        fs::write(atomic_file::sibling(store.path(), ".tmp"), b"{\"schema_version\": 1, \"rev").unwrap();
        assert_eq!(store.load().unwrap().revision, 1);
        assert_eq!(store.update(&mut add_project("blog")).unwrap().revision, 2);
        assert_eq!(store.load().unwrap().projects.len(), 2);
        assert!(!atomic_file::sibling(store.path(), ".tmp").exists());
    }

    #[test]
    fn io_failures_are_unavailable_and_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        // The document's directory would have to live under a regular file.
        let blocker = dir.path().join("not-a-dir");
        fs::write(&blocker, b"").unwrap();
        let store = FileStateStore::new(blocker.join("ssot.json"));
        let err = store.update(&mut add_project("shop")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert_eq!(err.context_value("path"), Some(store.path().display().to_string().as_str()));
        assert!(std::error::Error::source(&err).is_some());
        let err = store.load().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    }

    #[test]
    fn the_lock_excludes_concurrent_writers_so_no_update_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("ssot.json"));
        let writers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|prefix| {
                let path = Arc::clone(&path);
                std::thread::spawn(move || {
                    // Each writer has its own store, so each update opens and locks its own handle.
                    let store = FileStateStore::new(path.as_path());
                    for i in 0..200 {
                        let commit = store.update(&mut add_project(&format!("{prefix}{i}")));
                        assert!(commit.unwrap().changed);
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        let doc = FileStateStore::new(path.as_path()).load().unwrap();
        assert_eq!(doc.projects.len(), 400);
        assert_eq!(doc.revision, 400);
    }
}
