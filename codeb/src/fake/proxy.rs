//! The in-memory reverse proxy.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::model::DomainName;
use crate::proxy::{Proxy, Route, Upstream, check_upstreams};
use crate::{Error, Result};

/// A proxy that keeps its routes in memory and counts configuration changes.
#[derive(Debug, Default)]
pub struct FakeProxy {
    routes: Mutex<BTreeMap<DomainName, Route>>,
    changes: Mutex<u64>,
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
        check_upstreams(&route.host, &route.upstreams)?;
        self.routes().insert(route.host.clone(), route.clone());
        self.changed();
        Ok(())
    }

    async fn switch_upstreams(&self, host: &DomainName, upstreams: &[Upstream]) -> Result<()> {
        check_upstreams(host, upstreams)?;
        let mut routes = self.routes();
        let route = routes.get_mut(host).ok_or_else(|| no_route(host))?;
        route.upstreams = upstreams.to_vec();
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Port;
    use crate::proxy::TlsPolicy;

    #[tokio::test]
    async fn counts_only_successful_changes() {
        let proxy =
            crate::faults::Faulty::new("proxy", crate::faults::PROXY_OPS, std::sync::Arc::new(FakeProxy::new()));
        let host = DomainName::parse("shop.codeb.test").unwrap();
        let up = Upstream { host: [127, 0, 0, 1].into(), port: Port::new(3000).unwrap() };
        proxy
            .upsert_route(&Route { host: host.clone(), upstreams: vec![up.clone()], tls: TlsPolicy::Off })
            .await
            .unwrap();
        proxy.faults().fail_next("switch_upstreams", 1, crate::ErrorKind::Unavailable);
        assert!(proxy.switch_upstreams(&host, std::slice::from_ref(&up)).await.is_err());
        proxy.switch_upstreams(&host, &[up]).await.unwrap();
        assert_eq!(proxy.changes(), 2);
    }
}
