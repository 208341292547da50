//! The in-memory secret store.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::model::{EnvKey, EnvVar};
use crate::secrets::{EnvSet, EnvVersion, Scope, SecretStore};
use crate::{Error, Result};

type Vars = BTreeMap<EnvKey, EnvVar>;

/// A secret store that keeps every version of every scope in memory (unencrypted: it never leaves the process).
#[derive(Debug, Default)]
pub struct FakeSecretStore {
    scopes: Mutex<BTreeMap<Scope, Vec<Vars>>>,
}

impl FakeSecretStore {
    /// A store with no variables.
    pub fn new() -> Self {
        FakeSecretStore::default()
    }

    fn scopes(&self) -> MutexGuard<'_, BTreeMap<Scope, Vec<Vars>>> {
        self.scopes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `change` to the current variables of `scope`, recording a new version if anything changed.
    fn change(&self, scope: &Scope, change: impl FnOnce(&mut Vars)) -> EnvVersion {
        let mut scopes = self.scopes();
        let versions = scopes.entry(scope.clone()).or_default();
        let mut next = versions.last().cloned().unwrap_or_default();
        change(&mut next);
        if versions.last().map_or(next.is_empty(), |current| *current == next) {
            return versions.len() as EnvVersion;
        }
        versions.push(next);
        versions.len() as EnvVersion
    }
}

fn env_set(version: EnvVersion, vars: &Vars) -> EnvSet {
    EnvSet { version, vars: vars.values().cloned().collect() }
}

#[async_trait]
impl SecretStore for FakeSecretStore {
    async fn set(&self, scope: &Scope, vars: &[EnvVar]) -> Result<EnvVersion> {
        Ok(self.change(scope, |current| {
            for var in vars {
                current.insert(var.key.clone(), var.clone());
            }
        }))
    }

    async fn unset(&self, scope: &Scope, keys: &[EnvKey]) -> Result<EnvVersion> {
        Ok(self.change(scope, |current| {
            for key in keys {
                current.remove(key);
            }
        }))
    }

    async fn get(&self, scope: &Scope, key: &EnvKey) -> Result<Option<EnvVar>> {
        Ok(self.scopes().get(scope).and_then(|v| v.last()).and_then(|vars| vars.get(key).cloned()))
    }

    async fn list(&self, scope: &Scope) -> Result<EnvSet> {
        let scopes = self.scopes();
        let versions = scopes.get(scope).map(Vec::as_slice).unwrap_or_default();
        Ok(versions.last().map_or(EnvSet { version: 0, vars: Vec::new() }, |v| env_set(versions.len() as u64, v)))
    }

    async fn list_at(&self, scope: &Scope, version: EnvVersion) -> Result<EnvSet> {
        if version == 0 {
            return Ok(EnvSet { version: 0, vars: Vec::new() });
        }
        let scopes = self.scopes();
        let vars = usize::try_from(version - 1)
            .ok()
            .and_then(|i| scopes.get(scope).and_then(|v| v.get(i)))
            .ok_or_else(|| Error::not_found(format!("{scope} has no env version {version}")))?;
        Ok(env_set(version, vars))
    }
}
