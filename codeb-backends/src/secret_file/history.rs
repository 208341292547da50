//! The plaintext of one scope's file: its last versions of the variable set.
//!
//! Deliberately without `Debug`: nothing here can be printed by accident.

use std::collections::BTreeMap;

use codeb::model::{EnvKey, EnvValue, EnvVar};
use codeb::secrets::{EnvSet, EnvVersion, Scope};
use codeb::{Error, Result};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// One variable as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredVar {
    value: String,
    secret: bool,
}

type Vars = BTreeMap<String, StoredVar>;

/// One version of the set.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Version {
    version: EnvVersion,
    vars: Vars,
}

/// The versions a scope's file keeps, oldest first; the last is current.
#[derive(Serialize, Deserialize)]
pub(crate) struct History {
    scope: String,
    versions: Vec<Version>,
}

/// Authenticated plaintext that is not a history of this codeb (a bug, or a newer format).
fn unreadable(scope: &Scope, what: &str) -> Error {
    Error::internal(format!("the secrets of {scope} decrypted but {what}")).with_context("backend", "secret-file")
}

impl History {
    /// The history of a scope that has never been changed (version 0, empty).
    pub(crate) fn empty(scope: &Scope) -> Self {
        History { scope: scope.to_string(), versions: Vec::new() }
    }

    /// Reads decrypted plaintext, checking it belongs to `scope` and holds only valid variables.
    pub(crate) fn from_plaintext(scope: &Scope, plaintext: &[u8]) -> Result<Self> {
        let history: History =
            serde_json::from_slice(plaintext).map_err(|_| unreadable(scope, "is not a secrets history"))?;
        if history.scope != scope.to_string() {
            return Err(unreadable(scope, "belongs to another scope"));
        }
        for version in &history.versions {
            to_env_set(scope, version)?;
        }
        Ok(history)
    }

    /// The plaintext to encrypt, wiped from memory when dropped.
    pub(crate) fn to_plaintext(&self) -> Result<Zeroizing<Vec<u8>>> {
        serde_json::to_vec(self).map(Zeroizing::new).map_err(|e| {
            Error::internal(format!("cannot serialise the secrets: {e}")).with_context("backend", "secret-file")
        })
    }

    /// The current version number (0 before any change).
    pub(crate) fn version(&self) -> EnvVersion {
        self.versions.last().map_or(0, |v| v.version)
    }

    /// The current variables.
    pub(crate) fn current(&self, scope: &Scope) -> Result<EnvSet> {
        match self.versions.last() {
            Some(version) => to_env_set(scope, version),
            None => Ok(EnvSet { version: 0, vars: Vec::new() }),
        }
    }

    /// The variables at `version`, if this history still keeps it (version 0, the empty set, always).
    pub(crate) fn at(&self, scope: &Scope, version: EnvVersion) -> Result<Option<EnvSet>> {
        if version == 0 {
            return Ok(Some(EnvSet { version: 0, vars: Vec::new() }));
        }
        self.versions.iter().find(|v| v.version == version).map(|v| to_env_set(scope, v)).transpose()
    }

    /// Sets `vars` (later entries win); returns whether anything changed.
    pub(crate) fn set(&mut self, vars: &[EnvVar], keep: usize) -> bool {
        self.change(keep, |current| {
            for var in vars {
                let stored = StoredVar { value: var.value.expose().to_owned(), secret: var.secret };
                current.insert(var.key.to_string(), stored);
            }
        })
    }

    /// Removes `keys` (absent ones are ignored); returns whether anything changed.
    pub(crate) fn unset(&mut self, keys: &[EnvKey], keep: usize) -> bool {
        self.change(keep, |current| {
            for key in keys {
                current.remove(key.as_str());
            }
        })
    }

    /// Applies `change` to a copy of the current set; if that differs, it becomes
    /// the next version and only the last `keep` versions are kept.
    fn change(&mut self, keep: usize, change: impl FnOnce(&mut Vars)) -> bool {
        let current = self.versions.last().map(|v| v.vars.clone()).unwrap_or_default();
        let mut next = current.clone();
        change(&mut next);
        if next == current {
            return false;
        }
        self.versions.push(Version { version: self.version() + 1, vars: next });
        let excess = self.versions.len().saturating_sub(keep.max(1));
        self.versions.drain(..excess);
        true
    }
}

fn to_env_set(scope: &Scope, version: &Version) -> Result<EnvSet> {
    let mut vars = Vec::with_capacity(version.vars.len());
    for (key, stored) in &version.vars {
        let key = EnvKey::parse(key).map_err(|_| unreadable(scope, "holds an invalid variable name"))?;
        // EnvValue's rejections never echo the value; this one names nothing at all.
        let value = EnvValue::parse(&stored.value).map_err(|_| unreadable(scope, "holds an invalid value"))?;
        vars.push(EnvVar { key, value, secret: stored.secret });
    }
    Ok(EnvSet { version: version.version, vars })
}

#[cfg(test)]
mod tests {
    use codeb::model::{Environment, ProjectName};

    use super::*;

    fn scope() -> Scope {
        Scope::new(ProjectName::parse("shop").unwrap(), Environment::Staging)
    }

    fn var(key: &str, value: &str) -> EnvVar {
        EnvVar::secret(EnvKey::parse(key).unwrap(), EnvValue::parse(value).unwrap())
    }

    #[test]
    fn only_effective_changes_make_versions_and_only_the_last_k_are_kept() {
        let mut history = History::empty(&scope());
        assert!(!history.set(&[], 3), "an empty set changes nothing");
        for i in 1..=5 {
            assert!(history.set(&[var("N", &i.to_string())], 3));
        }
        assert!(!history.set(&[var("N", "5")], 3));
        assert!(!history.unset(&[EnvKey::parse("NOPE").unwrap()], 3));
        assert_eq!(history.version(), 5);
        for gone in [1, 2] {
            assert!(history.at(&scope(), gone).unwrap().is_none(), "version {gone} is beyond the last 3");
        }
        let third = history.at(&scope(), 3).unwrap().unwrap();
        assert_eq!(third.vars[0].value.expose(), "3");
        assert_eq!(history.at(&scope(), 0).unwrap().unwrap().vars.len(), 0);
        assert!(history.at(&scope(), 6).unwrap().is_none());
        assert!(history.unset(&[EnvKey::parse("N").unwrap()], 3));
        assert_eq!(history.current(&scope()).unwrap().version, 6);
        assert!(history.current(&scope()).unwrap().vars.is_empty());
    }

    #[test]
    fn plaintext_round_trips_and_is_checked_against_its_scope() {
        let mut history = History::empty(&scope());
        history.set(&[var("A", "1"), var("B", "two words")], 50);
        let plaintext = history.to_plaintext().unwrap();
        let back = History::from_plaintext(&scope(), &plaintext).unwrap();
        assert_eq!(back.current(&scope()).unwrap(), history.current(&scope()).unwrap());
        let other = Scope::new(ProjectName::parse("blog").unwrap(), Environment::Staging);
        let err = History::from_plaintext(&other, &plaintext).err().unwrap();
        assert_eq!(err.kind(), codeb::ErrorKind::Internal);
        let bad_value =
            br#"{"scope":"shop/staging","versions":[{"version":1,"vars":{"A":{"value":"x\u0000y","secret":true}}}]}"#;
        let err = History::from_plaintext(&scope(), bad_value).err().unwrap();
        assert_eq!(err.kind(), codeb::ErrorKind::Internal);
        assert!(!format!("{err} {err:?}").contains("x\u{0}y"), "an invalid value is never echoed");
    }
}
