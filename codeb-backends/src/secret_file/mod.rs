//! Env vars and secrets in encrypted files: one file per project environment.
//!
//! Each scope (`project/env`) has its own file, `<dir>/<project>/<env>.secrets`,
//! holding the last K versions of its variable set (K = 50 by default),
//! encrypted with XChaCha20-Poly1305 under a fresh random nonce per write
//! (see [`envelope`] for the format). One file per scope, rather than one for
//! all, because a change then re-encrypts and rewrites only its own scope,
//! writers of different scopes never wait for each other, a damaged file
//! costs one environment rather than all, and a scope's history stays
//! bounded by K on its own.
//!
//! Files and their locks are 0600 in 0700 directories; writes are atomic
//! (temp file, fsync, rename, directory fsync; shared with the SSOT store in
//! `atomic_file`) under a cross-process `flock`, so concurrent writers lose no
//! update and readers never see a torn file. A missing file is a scope never
//! written (version 0, empty); a file that cannot be read or authenticated is
//! an error, never an empty set, so a deploy cannot proceed without its secrets.

mod envelope;
mod history;
mod key;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use codeb::model::{EnvKey, EnvVar};
use codeb::secrets::{EnvSet, EnvVersion, Scope, SecretStore};
use codeb::{Error, ErrorKind, Result};

pub use key::{KEY_BYTES, KeySource, SecretKey, load_key};

use crate::atomic_file::{self, Access};
use history::History;

/// How many versions of each scope a store keeps unless configured otherwise.
pub const DEFAULT_KEEP_VERSIONS: usize = 50;

/// Where a [`FileSecretStore`] keeps its files, where its key comes from, and how much history it keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretFileConfig {
    /// The directory holding one file per scope.
    pub dir: PathBuf,
    /// Where the key comes from.
    pub key: KeySource,
    /// How many versions of each scope are kept; older ones are `NotFound`. At least 1.
    pub keep_versions: usize,
}

impl SecretFileConfig {
    /// Files in `dir`, the key from `key`, the last [`DEFAULT_KEEP_VERSIONS`] versions kept.
    pub fn new(dir: impl Into<PathBuf>, key: KeySource) -> Self {
        SecretFileConfig { dir: dir.into(), key, keep_versions: DEFAULT_KEEP_VERSIONS }
    }

    /// Keeps the last `keep` versions of each scope.
    pub fn with_keep_versions(mut self, keep: usize) -> Self {
        self.keep_versions = keep;
        self
    }
}

/// A [`SecretStore`] of encrypted files, one per project environment.
///
/// Each scope has its own file, `<dir>/<project>/<env>.secrets`, holding its
/// last K versions (older ones are `NotFound`), encrypted with
/// XChaCha20-Poly1305 under a fresh random nonce per write, with the scope in
/// the associated data so one scope's file cannot stand in for another's.
/// Files are 0600 in 0700 directories, replaced atomically under a
/// cross-process lock. A missing file is a scope never written (version 0);
/// a wrong key, a changed or truncated file is `Unauthenticated`, and any
/// other unreadable file an error: never an empty set.
///
/// `Debug` shows the directory and the history length, never the key or a value.
#[derive(Clone)]
pub struct FileSecretStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    key: SecretKey,
    keep: usize,
}

impl fmt::Debug for FileSecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSecretStore")
            .field("dir", &self.inner.dir)
            .field("keep_versions", &self.inner.keep)
            .field("key", &self.inner.key)
            .finish()
    }
}

impl FileSecretStore {
    /// A store as `config` says; loads (or creates) the key now, so a missing key fails here.
    pub fn open(config: SecretFileConfig) -> Result<Self> {
        let key = load_key(&config.key)?;
        FileSecretStore::with_key(config.dir, key, config.keep_versions)
    }

    /// A store in `dir` with `key` that keeps the last `keep_versions` versions of each scope.
    pub fn with_key(dir: impl Into<PathBuf>, key: SecretKey, keep_versions: usize) -> Result<Self> {
        if keep_versions == 0 {
            return Err(
                Error::invalid("a secret store must keep at least one version").with_context("backend", "secret-file")
            );
        }
        Ok(FileSecretStore { inner: Arc::new(Inner { dir: dir.into(), key, keep: keep_versions }) })
    }

    /// The file holding `scope`'s variables.
    pub fn path_of(&self, scope: &Scope) -> PathBuf {
        self.inner.path_of(scope)
    }

    /// Runs blocking file work off the async runtime's threads.
    async fn blocking<T: Send + 'static>(&self, work: impl FnOnce(&Inner) -> Result<T> + Send + 'static) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner)).await.map_err(|e| {
            Error::internal(format!("a secret store task failed: {e}")).with_context("backend", "secret-file")
        })?
    }
}

fn io_error(what: &str, path: &Path, e: io::Error) -> Error {
    Error::new(ErrorKind::Unavailable, format!("cannot {what} the secrets file"))
        .with_context("backend", "secret-file")
        .with_context("path", path.display())
        .with_source(e)
}

impl Inner {
    fn path_of(&self, scope: &Scope) -> PathBuf {
        // Project names are DNS labels and environments `staging`, `production` or `preview-<label>`: safe file names.
        self.dir.join(scope.project.as_str()).join(format!("{}.secrets", scope.env))
    }

    /// The scope's history; a missing file is the empty history, anything unreadable is an error.
    fn read(&self, scope: &Scope) -> Result<History> {
        let path = self.path_of(scope);
        let sealed = match std::fs::read(&path) {
            Ok(sealed) => sealed,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(History::empty(scope)),
            Err(e) => return Err(io_error("read", &path, e)),
        };
        let plaintext =
            envelope::open(&self.key, scope, &sealed).map_err(|e| e.with_context("path", path.display()))?;
        History::from_plaintext(scope, &plaintext).map_err(|e| e.with_context("path", path.display()))
    }

    /// One locked read-modify-write of the scope's file; writes only if `change` changed something.
    fn update(&self, scope: &Scope, change: impl FnOnce(&mut History, usize) -> bool) -> Result<EnvVersion> {
        let path = self.path_of(scope);
        let _lock = atomic_file::lock(&path, Access::OwnerOnly).map_err(|e| io_error("lock", &path, e))?;
        let mut history = self.read(scope)?;
        if change(&mut history, self.keep) {
            let plaintext = history.to_plaintext()?;
            let sealed = envelope::seal(&self.key, scope, &plaintext)?;
            atomic_file::replace(&path, &sealed, Access::OwnerOnly).map_err(|e| io_error("write", &path, e))?;
        }
        Ok(history.version())
    }
}

#[async_trait]
impl SecretStore for FileSecretStore {
    async fn set(&self, scope: &Scope, vars: &[EnvVar]) -> Result<EnvVersion> {
        let (scope, vars) = (scope.clone(), vars.to_vec());
        self.blocking(move |inner| inner.update(&scope, |history, keep| history.set(&vars, keep))).await
    }

    async fn unset(&self, scope: &Scope, keys: &[EnvKey]) -> Result<EnvVersion> {
        let (scope, keys) = (scope.clone(), keys.to_vec());
        self.blocking(move |inner| inner.update(&scope, |history, keep| history.unset(&keys, keep))).await
    }

    async fn get(&self, scope: &Scope, key: &EnvKey) -> Result<Option<EnvVar>> {
        let current = self.list(scope).await?;
        Ok(current.vars.into_iter().find(|var| &var.key == key))
    }

    async fn list(&self, scope: &Scope) -> Result<EnvSet> {
        let scope = scope.clone();
        self.blocking(move |inner| inner.read(&scope)?.current(&scope)).await
    }

    async fn list_at(&self, scope: &Scope, version: EnvVersion) -> Result<EnvSet> {
        let scope = scope.clone();
        self.blocking(move |inner| {
            inner.read(&scope)?.at(&scope, version)?.ok_or_else(|| {
                Error::not_found(format!("{scope} keeps no env version {version}"))
                    .with_context("backend", "secret-file")
                    .with_context("path", inner.path_of(&scope).display())
            })
        })
        .await
    }
}
