//! Python inputs into the SDK's validated types.
//!
//! Every string a caller passes goes through the SDK's own constructor here,
//! before any backend is touched; a rejection is the SDK's `Invalid` error
//! (raised as `codeb.errors.InvalidError`, naming the field and the rule).

use codeb::Result;
use codeb::model::{DomainName, EnvKey, EnvVar, Environment, ImageRef, ProjectName, ReleaseId, ServerName, Service};

/// A project name.
pub(crate) fn project(s: &str) -> Result<ProjectName> {
    Ok(ProjectName::parse(s)?)
}

/// An environment: `staging`, `production` or `preview-<id>`.
pub(crate) fn environment(s: &str) -> Result<Environment> {
    Ok(Environment::parse(s)?)
}

/// An optional image reference.
pub(crate) fn image(s: Option<&str>) -> Result<Option<ImageRef>> {
    Ok(s.map(ImageRef::parse).transpose()?)
}

/// An optional release id.
pub(crate) fn release(s: Option<&str>) -> Result<Option<ReleaseId>> {
    Ok(s.map(ReleaseId::parse).transpose()?)
}

/// A domain name.
pub(crate) fn domain(s: &str) -> Result<DomainName> {
    Ok(DomainName::parse(s)?)
}

/// A server name of the fleet.
pub(crate) fn server(s: &str) -> Result<ServerName> {
    Ok(ServerName::parse(s)?)
}

/// A service: `app`, `postgres` or `redis`.
pub(crate) fn service(s: &str) -> Result<Service> {
    Ok(s.parse::<Service>()?)
}

/// Env var names.
pub(crate) fn keys(keys: &[String]) -> Result<Vec<EnvKey>> {
    keys.iter().map(|k| Ok(EnvKey::parse(k)?)).collect()
}

/// Env vars from `(key, value)` pairs, all plain or all secret. A rejected value is never echoed.
pub(crate) fn vars(pairs: &[(String, String)], secret: bool) -> Result<Vec<EnvVar>> {
    pairs.iter().map(|(k, v)| Ok(EnvVar::parse(k, v, secret)?)).collect()
}

/// A project and an environment, the pair most operations name.
pub(crate) fn target(project: &str, env: &str) -> Result<(ProjectName, Environment)> {
    Ok((self::project(project)?, environment(env)?))
}
