//! The in-memory reverse proxy.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::model::{DomainName, Port};
use crate::proxy::{Proxy, Route, Upstreams};
use crate::{Error, Result};

/// A proxy that keeps its routes in memory and counts configuration changes.
#[derive(Debug, Default)]
pub struct FakeProxy {
    routes: Mutex<BTreeMap<DomainName, Route>>,
    changes: Mutex<u64>,
    in_flight: Mutex<BTreeMap<(DomainName, Port), u64>>,
}

impl FakeProxy {
    /// A proxy with no routes.
    pub fn new() -> Self {
        FakeProxy::default()
    }

    /// How many configuration changes succeeded, as a real proxy would re-provision.
    pub fn changes(&self) -> u64 {
        *self.changes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Says `requests` are in flight to `port` of `target` (0: none), as a drain sees them.
    pub fn set_in_flight(&self, target: &DomainName, port: Port, requests: u64) {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert((target.clone(), port), requests);
    }

    fn routes(&self) -> MutexGuard<'_, BTreeMap<DomainName, Route>> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        *self.changes.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    }
}

fn no_route(host: &DomainName) -> Error {
    Error::not_found(format!("no route for {host}")).with_context("backend", "fake-proxy")
}

#[async_trait]
impl Proxy for FakeProxy {
    async fn upsert_route(&self, route: &Route) -> Result<()> {
        route.upstreams.check(&route.host)?;
        self.routes().insert(route.host.clone(), route.clone());
        self.changed();
        Ok(())
    }

    async fn switch_upstreams(&self, host: &DomainName, upstreams: &Upstreams) -> Result<()> {
        upstreams.check(host)?;
        let mut routes = self.routes();
        let route = routes.get_mut(host).ok_or_else(|| no_route(host))?;
        route.upstreams = upstreams.clone();
        drop(routes);
        self.changed();
        Ok(())
    }

    async fn remove_route(&self, host: &DomainName) -> Result<()> {
        self.routes().remove(host).ok_or_else(|| no_route(host))?;
        self.changed();
        Ok(())
    }

    async fn get_route(&self, host: &DomainName) -> Result<Option<Route>> {
        Ok(self.routes().get(host).cloned())
    }

    async fn list_routes(&self) -> Result<Vec<Route>> {
        Ok(self.routes().values().cloned().collect())
    }

    async fn in_flight(&self, target: &DomainName, port: Port) -> Result<u64> {
        let in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        Ok(in_flight.get(&(target.clone(), port)).copied().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::{TlsPolicy, Upstream};

    #[tokio::test]
    async fn counts_only_successful_changes() {
        let proxy =
            crate::faults::Faulty::new("proxy", crate::faults::PROXY_OPS, std::sync::Arc::new(FakeProxy::new()));
        let host = DomainName::parse("shop.codeb.test").unwrap();
        let up = Upstream { host: [127, 0, 0, 1].into(), port: Port::new(3000).unwrap() };
        proxy
            .upsert_route(&Route {
                host: host.clone(),
                upstreams: Upstreams::Fixed(vec![up.clone()]),
                tls: TlsPolicy::Off,
            })
            .await
            .unwrap();
        proxy.faults().fail_next("switch_upstreams", 1, crate::ErrorKind::Unavailable);
        let to = Upstreams::Fixed(vec![up]);
        assert!(proxy.switch_upstreams(&host, &to).await.is_err());
        proxy.switch_upstreams(&host, &to).await.unwrap();
        assert_eq!(proxy.changes(), 2);
    }
}
