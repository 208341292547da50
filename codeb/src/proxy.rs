//! The reverse proxy that routes a host name to the release serving it.

use std::fmt;

use async_trait::async_trait;

use crate::Result;
use crate::model::{DomainName, Port};

/// Where a route sends traffic: `host:port` as the proxy reaches it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Upstream {
    /// An IP address or host name the proxy can reach (validated by the caller's config).
    pub host: std::net::IpAddr,
    /// The port on that host.
    pub port: Port,
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host {
            std::net::IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
            std::net::IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
        }
    }
}

/// How a route gets its certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum TlsPolicy {
    /// A public certificate from an ACME issuer, with an optional account email.
    Acme {
        /// The ACME account email.
        email: Option<String>,
    },
    /// A certificate from the proxy's own internal CA (local and test setups).
    Internal,
    /// Plain HTTP only.
    #[default]
    Off,
}

/// One site: a host name and the upstreams that serve it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Route {
    /// The host name the route answers for.
    pub host: DomainName,
    /// Where requests go; at least one.
    pub upstreams: Vec<Upstream>,
    /// How the route gets its certificate.
    pub tls: TlsPolicy,
}

/// Routes host names to upstreams.
///
/// Contract (checked by the conformance suite): one route per host;
/// `upsert_route` replaces a host's route as a whole; `switch_upstreams`
/// changes only the upstreams of an existing route in one atomic change and
/// is `NotFound` for an unknown host; a route with no upstreams is
/// `Invalid`; removing an absent route is `NotFound`.
#[async_trait]
pub trait Proxy: Send + Sync + std::fmt::Debug {
    /// Creates or replaces the route of `route.host`.
    async fn upsert_route(&self, route: &Route) -> Result<()>;
    /// Points an existing route at new upstreams, atomically.
    async fn switch_upstreams(&self, host: &DomainName, upstreams: &[Upstream]) -> Result<()>;
    /// Removes the route of `host`.
    async fn remove_route(&self, host: &DomainName) -> Result<()>;
    /// The route of `host`, if any.
    async fn get_route(&self, host: &DomainName) -> Result<Option<Route>>;
    /// Every route codeb manages, ordered by host.
    async fn list_routes(&self) -> Result<Vec<Route>>;
}

/// Refuses a route with no upstreams, before it reaches a backend.
pub(crate) fn check_upstreams(host: &DomainName, upstreams: &[Upstream]) -> Result<()> {
    if upstreams.is_empty() {
        return Err(crate::Error::invalid("a route needs at least one upstream").with_context("host", host));
    }
    Ok(())
}
