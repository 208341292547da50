//! codeb's own known_hosts: the host keys it has pinned, in OpenSSH's
//! format (hashed entries are read too), replaced atomically when one is added.
//!
//! There is no way to accept a key that is not pinned: a key is pinned by
//! [`KnownHosts::pin`], which `we server add` calls only when the key
//! matches a fingerprint the user gave or confirmed.

use std::path::{Path, PathBuf};

use codeb::{Error, ErrorKind, Result};
use russh::keys::{HashAlg, PublicKey};

use super::target::{DEFAULT_PORT, SshTarget};
use crate::atomic_file::{self, Access};

/// What the known_hosts file says of the key a server offered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// The key is the pinned one.
    Pinned,
    /// No key of its type is pinned for the server.
    Unknown,
    /// Another key of the same type is pinned: the server changed, or someone is in the middle.
    Changed {
        /// The fingerprint of the pinned key.
        pinned: String,
    },
}

/// The SHA-256 fingerprint of `key`, as OpenSSH prints it (`SHA256:...`).
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// A known_hosts file of codeb's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownHosts {
    path: PathBuf,
}

impl KnownHosts {
    /// The file at `path` (it need not exist yet: then nothing is pinned).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        KnownHosts { path: path.into() }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the key `target`'s server offered against the pinned ones.
    pub fn check(&self, target: &SshTarget, key: &PublicKey) -> Result<HostKeyCheck> {
        let pinned = russh::keys::known_hosts::known_host_keys_path(target.host(), target.port(), &self.path)
            .map_err(|e| self.unreadable(e))?;
        let same_type: Vec<&PublicKey> =
            pinned.iter().map(|(_, k)| k).filter(|k| k.algorithm() == key.algorithm()).collect();
        Ok(if same_type.contains(&key) {
            HostKeyCheck::Pinned
        } else if let Some(other) = same_type.first() {
            HostKeyCheck::Changed { pinned: fingerprint(other) }
        } else {
            HostKeyCheck::Unknown
        })
    }

    /// Pins `key` for `target`'s server, keeping every other line.
    pub fn pin(&self, target: &SshTarget, key: &PublicKey) -> Result<()> {
        let openssh = key.to_openssh().map_err(|e| Error::internal("cannot encode a host key").with_source(e))?;
        let write = || {
            atomic_file::create_dir_of(&self.path, Access::OwnerOnly)?;
            // Two pins at once must not lose one: read and replace under the lock.
            let _lock = atomic_file::lock(&self.path, Access::OwnerOnly)?;
            let mut text = match std::fs::read_to_string(&self.path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(e),
            };
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("{} {openssh}\n", host_pattern(target)));
            atomic_file::replace(&self.path, text.as_bytes(), Access::OwnerOnly)
        };
        write().map_err(|e| {
            Error::new(ErrorKind::Unavailable, format!("cannot write {}", self.path.display()))
                .with_context("path", self.path.display())
                .with_source(e)
        })
    }

    fn unreadable(&self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::invalid(format!("cannot read the known hosts file {}", self.path.display()))
            .with_context("path", self.path.display())
            .with_source(source)
    }
}

/// The host as known_hosts names it: `host`, or `[host]:port` off port 22.
fn host_pattern(target: &SshTarget) -> String {
    if target.port() == DEFAULT_PORT {
        target.host().to_owned()
    } else {
        format!("[{}]:{}", target.host(), target.port())
    }
}
