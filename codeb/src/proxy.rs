//! The reverse proxy that routes a host name to the release serving it.

use std::fmt;
use std::time::Duration;

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

/// How often a proxy resolves a route's SRV record again: a DNS cutover
/// reaches new requests within about this long, so a drain waits at least
/// this long before it trusts that the old upstream gets no new requests.
pub const DISCOVERY_REFRESH: Duration = Duration::from_millis(250);

/// Where a route's requests go.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Upstreams {
    /// Fixed addresses, at least one: pointing the route elsewhere changes
    /// the proxy's configuration.
    Fixed(Vec<Upstream>),
    /// Discovered from the SRV record of this name, resolved by the proxy
    /// every [`DISCOVERY_REFRESH`]: re-pointing the route is a DNS change,
    /// and the proxy's configuration stays as it is.
    Srv(DomainName),
}

impl Upstreams {
    /// The fixed upstreams, or none when they are discovered.
    pub fn fixed(&self) -> &[Upstream] {
        match self {
            Upstreams::Fixed(upstreams) => upstreams,
            Upstreams::Srv(_) => &[],
        }
    }

    /// Refuses a route of `host` with no upstreams, before it reaches a backend.
    pub fn check(&self, host: &DomainName) -> Result<()> {
        if matches!(self, Upstreams::Fixed(fixed) if fixed.is_empty()) {
            return Err(crate::Error::invalid("a route needs at least one upstream").with_context("host", host));
        }
        Ok(())
    }
}

impl fmt::Display for Upstreams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upstreams::Fixed(upstreams) => write!(f, "{}", crate::text::upstreams(upstreams)),
            Upstreams::Srv(name) => write!(f, "the SRV record {name}"),
        }
    }
}

/// One site: a host name and the upstreams that serve it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Route {
    /// The host name the route answers for.
    pub host: DomainName,
    /// Where requests go.
    pub upstreams: Upstreams,
    /// How the route gets its certificate.
    pub tls: TlsPolicy,
}

/// Routes host names to upstreams.
///
/// Contract (checked by the conformance suite): one route per host;
/// `upsert_route` replaces a host's route as a whole; `switch_upstreams`
/// changes only the upstreams of an existing route in one atomic change and
/// is `NotFound` for an unknown host; a route with no fixed upstreams (and
/// no SRV name) is `Invalid`; removing an absent route is `NotFound`;
/// `in_flight` is 0 for an upstream the proxy has no request to.
#[async_trait]
pub trait Proxy: Send + Sync + std::fmt::Debug {
    /// Creates or replaces the route of `route.host`.
    async fn upsert_route(&self, route: &Route) -> Result<()>;
    /// Points an existing route at new upstreams, atomically.
    async fn switch_upstreams(&self, host: &DomainName, upstreams: &Upstreams) -> Result<()>;
    /// Removes the route of `host`.
    async fn remove_route(&self, host: &DomainName) -> Result<()>;
    /// The route of `host`, if any.
    async fn get_route(&self, host: &DomainName) -> Result<Option<Route>>;
    /// Every route codeb manages, ordered by host.
    async fn list_routes(&self) -> Result<Vec<Route>>;
    /// How many requests the proxy has in flight to `port` of `target`, a
    /// name an SRV record gave it: what a drain waits on.
    async fn in_flight(&self, target: &DomainName, port: Port) -> Result<u64>;
}
