//! Environment variables and secrets per project environment, versioned so a
//! release can be rolled back to the variables it ran with.

use std::fmt;

use async_trait::async_trait;

use crate::Result;
use crate::model::{EnvKey, EnvVar, Environment, ProjectName};

/// The project environment a set of variables belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    /// The project.
    pub project: ProjectName,
    /// The environment.
    pub env: Environment,
}

impl Scope {
    /// The scope of `project` in `env`.
    pub fn new(project: ProjectName, env: Environment) -> Self {
        Scope { project, env }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.project, self.env)
    }
}

/// A version of a scope's variable set; every change makes a new one, starting at 1.
/// Version 0 is the empty set before any change.
pub type EnvVersion = u64;

/// The variables of a scope at one version, ordered by key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvSet {
    /// The version these variables are.
    pub version: EnvVersion,
    /// The variables, ordered by key.
    pub vars: Vec<EnvVar>,
}

/// Stores environment variables per project environment, encrypted at rest in real backends.
///
/// Contract (checked by the conformance suite): each `set` or `unset` that
/// changes something makes exactly one new version; a change that changes
/// nothing makes none; `list_at` returns any version the store still keeps
/// and `NotFound` for others; scopes never see each other's variables.
#[async_trait]
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// Sets (inserts or replaces) the given variables in one new version.
    async fn set(&self, scope: &Scope, vars: &[EnvVar]) -> Result<EnvVersion>;
    /// Removes the given keys in one new version; absent keys are ignored.
    async fn unset(&self, scope: &Scope, keys: &[EnvKey]) -> Result<EnvVersion>;
    /// The current value of one variable.
    async fn get(&self, scope: &Scope, key: &EnvKey) -> Result<Option<EnvVar>>;
    /// The current variables of a scope.
    async fn list(&self, scope: &Scope) -> Result<EnvSet>;
    /// The variables of a scope as they were at `version`.
    async fn list_at(&self, scope: &Scope, version: EnvVersion) -> Result<EnvSet>;
}
