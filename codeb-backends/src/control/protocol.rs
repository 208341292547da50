//! What a client and the control endpoint say to each other: one JSON
//! object a line, each request answered by one answer, after the
//! endpoint's greeting.
//!
//! Secret values cross this wire (inside SSH only) as [`WireVar`]s: the one
//! place they are exposed for it.

use codeb::model::{EnvVar, Environment, ProjectName};
use codeb::secrets::{EnvSet, EnvVersion, Scope};
use codeb::ssot::Ssot;
use codeb::{Error, ErrorKind, Result};

/// The version of this protocol; a greeting with another is refused.
pub(crate) const PROTOCOL: u32 = 1;

/// What a client asks.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Request {
    /// The committed document.
    Load,
    /// Takes the writers' lock and answers the document; `Commit` or `Abort` must follow.
    Begin,
    /// Replaces the document begun (its revision is the store's to set) and releases the lock.
    Commit { document: Box<Ssot> },
    /// Releases the lock, changing nothing.
    Abort,
    /// Sets variables in one new version.
    SecretSet { scope: WireScope, vars: Vec<WireVar> },
    /// Removes variables in one new version.
    SecretUnset { scope: WireScope, keys: Vec<String> },
    /// One variable.
    SecretGet { scope: WireScope, key: String },
    /// The current variables.
    SecretList { scope: WireScope },
    /// The variables at a version.
    SecretListAt { scope: WireScope, version: EnvVersion },
}

impl Request {
    /// Its name on the wire, for people (never its contents).
    pub(crate) fn op(&self) -> &'static str {
        match self {
            Request::Load => "load",
            Request::Begin => "begin",
            Request::Commit { .. } => "commit",
            Request::Abort => "abort",
            Request::SecretSet { .. } => "secret_set",
            Request::SecretUnset { .. } => "secret_unset",
            Request::SecretGet { .. } => "secret_get",
            Request::SecretList { .. } => "secret_list",
            Request::SecretListAt { .. } => "secret_list_at",
        }
    }
}

/// What the endpoint answers.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub(crate) enum Answer {
    /// The first line the endpoint writes.
    Hello { protocol: u32, codeb: String },
    /// The document, to `Load` or `Begin`.
    Document { document: Box<Ssot> },
    /// A `Commit` done.
    Committed { revision: u64, changed: bool },
    /// An `Abort` done.
    Aborted,
    /// A new variable set version.
    Version { version: EnvVersion },
    /// One variable, if set.
    Var { var: Option<WireVar> },
    /// A variable set.
    Set { version: EnvVersion, vars: Vec<WireVar> },
    /// The request failed.
    Failed { kind: ErrorKind, message: String },
}

impl Answer {
    /// Its name on the wire, for people (never its contents).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Answer::Hello { .. } => "hello",
            Answer::Document { .. } => "document",
            Answer::Committed { .. } => "committed",
            Answer::Aborted => "aborted",
            Answer::Version { .. } => "version",
            Answer::Var { .. } => "var",
            Answer::Set { .. } => "set",
            Answer::Failed { .. } => "failed",
        }
    }

    /// The answer for a failed request.
    pub(crate) fn failed(e: &Error) -> Self {
        Answer::Failed { kind: e.kind(), message: e.to_string() }
    }
}

/// A project environment on the wire.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct WireScope {
    project: ProjectName,
    env: Environment,
}

impl From<&Scope> for WireScope {
    fn from(scope: &Scope) -> Self {
        WireScope { project: scope.project.clone(), env: scope.env.clone() }
    }
}

impl From<WireScope> for Scope {
    fn from(scope: WireScope) -> Self {
        Scope::new(scope.project, scope.env)
    }
}

/// A variable on the wire, its value in the clear (but never in `Debug`).
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct WireVar {
    key: String,
    value: String,
    secret: bool,
}

impl From<&EnvVar> for WireVar {
    fn from(var: &EnvVar) -> Self {
        WireVar { key: var.key.as_str().to_owned(), value: var.value.expose().to_owned(), secret: var.secret }
    }
}

impl WireVar {
    /// The variable, validated as any variable is.
    pub(crate) fn into_var(self) -> Result<EnvVar> {
        Ok(EnvVar::parse(&self.key, &self.value, self.secret)?)
    }
}

impl std::fmt::Debug for WireVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireVar").field("key", &self.key).field("secret", &self.secret).finish_non_exhaustive()
    }
}

/// The variables of a set, for the wire.
pub(crate) fn wire_vars(vars: &[EnvVar]) -> Vec<WireVar> {
    vars.iter().map(WireVar::from).collect()
}

/// The variables of the wire, validated.
pub(crate) fn vars(wire: Vec<WireVar>) -> Result<Vec<EnvVar>> {
    wire.into_iter().map(WireVar::into_var).collect()
}

/// A variable set from the wire.
pub(crate) fn env_set(version: EnvVersion, wire: Vec<WireVar>) -> Result<EnvSet> {
    Ok(EnvSet { version, vars: vars(wire)? })
}
