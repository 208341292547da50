//! The conformance suite of [`Proxy`].

use std::net::{IpAddr, Ipv4Addr};

use crate::ErrorKind;
use crate::model::Port;
use crate::proxy::{Proxy, Route, TlsPolicy, Upstream, Upstreams};

use super::{Namespace, expect_kind, ok};

/// Runs every check; routes are named inside `ns` and removed afterwards.
pub async fn run(proxy: &dyn Proxy, ns: &Namespace) {
    a_route_is_created_read_replaced_and_removed(proxy, ns).await;
    switching_upstreams_changes_only_that_route(proxy, ns).await;
    routes_without_upstreams_are_refused(proxy, ns).await;
    a_route_discovers_its_upstreams_from_an_srv_name_and_switches_back(proxy, ns).await;
}

fn upstream(port: u16) -> Upstream {
    let port = Port::new(port).unwrap_or_else(|e| panic!("suite port: {e}"));
    Upstream { host: IpAddr::V4(Ipv4Addr::LOCALHOST), port }
}

fn fixed(ports: &[u16]) -> Upstreams {
    Upstreams::Fixed(ports.iter().map(|p| upstream(*p)).collect())
}

/// Upsert creates, get and list show it, upsert again replaces it, remove removes it.
pub async fn a_route_is_created_read_replaced_and_removed(proxy: &dyn Proxy, ns: &Namespace) {
    let host = ns.host("crud");
    let route = Route { host: host.clone(), upstreams: fixed(&[3001]), tls: TlsPolicy::Off };
    ok("upsert_route", proxy.upsert_route(&route).await);
    assert_eq!(ok("get_route", proxy.get_route(&host).await), Some(route.clone()), "get must return the route");
    let listed = ok("list_routes", proxy.list_routes().await);
    assert!(listed.contains(&route), "list must contain the route");

    let replaced = Route { host: host.clone(), upstreams: fixed(&[3002, 3003]), tls: TlsPolicy::Internal };
    ok("upsert_route again", proxy.upsert_route(&replaced).await);
    assert_eq!(ok("get_route", proxy.get_route(&host).await), Some(replaced), "upsert must replace the whole route");
    let listed = ok("list_routes", proxy.list_routes().await);
    assert_eq!(listed.iter().filter(|r| r.host == host).count(), 1, "one host must have one route");

    ok("remove_route", proxy.remove_route(&host).await);
    assert_eq!(ok("get_route", proxy.get_route(&host).await), None, "a removed route must be gone");
    expect_kind("remove an absent route", proxy.remove_route(&host).await, ErrorKind::NotFound);
}

/// Switching a route's upstreams keeps its TLS policy and leaves other routes untouched.
pub async fn switching_upstreams_changes_only_that_route(proxy: &dyn Proxy, ns: &Namespace) {
    let a = Route { host: ns.host("switch-a"), upstreams: fixed(&[3010]), tls: TlsPolicy::Internal };
    let b = Route { host: ns.host("switch-b"), upstreams: fixed(&[3020]), tls: TlsPolicy::Off };
    ok("upsert a", proxy.upsert_route(&a).await);
    ok("upsert b", proxy.upsert_route(&b).await);
    ok("switch a", proxy.switch_upstreams(&a.host, &fixed(&[3011])).await);
    let switched = ok("get a", proxy.get_route(&a.host).await);
    let expected = Route { upstreams: fixed(&[3011]), ..a.clone() };
    assert_eq!(switched, Some(expected), "switch must change only the upstreams");
    assert_eq!(ok("get b", proxy.get_route(&b.host).await), Some(b.clone()), "switch must not touch other routes");
    expect_kind(
        "switch unknown host",
        proxy.switch_upstreams(&ns.host("nowhere"), &fixed(&[1])).await,
        ErrorKind::NotFound,
    );
    ok("remove a", proxy.remove_route(&a.host).await);
    assert_eq!(ok("get b", proxy.get_route(&b.host).await), Some(b.clone()), "remove must not touch other routes");
    ok("remove b", proxy.remove_route(&b.host).await);
}

/// A route must have at least one upstream, whether created or switched.
pub async fn routes_without_upstreams_are_refused(proxy: &dyn Proxy, ns: &Namespace) {
    let host = ns.host("empty");
    let empty = Route { host: host.clone(), upstreams: fixed(&[]), tls: TlsPolicy::Off };
    expect_kind("upsert without upstreams", proxy.upsert_route(&empty).await, ErrorKind::Invalid);
    assert_eq!(ok("get", proxy.get_route(&host).await), None, "a refused route must not exist");
    let route = Route { upstreams: fixed(&[3030]), ..empty };
    ok("upsert", proxy.upsert_route(&route).await);
    expect_kind("switch to no upstreams", proxy.switch_upstreams(&host, &fixed(&[])).await, ErrorKind::Invalid);
    assert_eq!(ok("get", proxy.get_route(&host).await), Some(route), "a refused switch must change nothing");
    ok("remove", proxy.remove_route(&host).await);
}

/// A route discovered from an SRV name reads back as written, switches to
/// fixed upstreams and back, and an upstream with no request in flight counts 0.
pub async fn a_route_discovers_its_upstreams_from_an_srv_name_and_switches_back(proxy: &dyn Proxy, ns: &Namespace) {
    let host = ns.host("discovered");
    let srv = Upstreams::Srv(ns.host("production.env"));
    let route = Route { host: host.clone(), upstreams: srv.clone(), tls: TlsPolicy::Off };
    ok("upsert a discovered route", proxy.upsert_route(&route).await);
    assert_eq!(ok("get", proxy.get_route(&host).await), Some(route.clone()), "get must return the SRV name");
    ok("switch to fixed", proxy.switch_upstreams(&host, &fixed(&[3040])).await);
    assert_eq!(ok("get", proxy.get_route(&host).await).map(|r| r.upstreams), Some(fixed(&[3040])));
    ok("switch back to the SRV name", proxy.switch_upstreams(&host, &srv).await);
    assert_eq!(ok("get", proxy.get_route(&host).await), Some(route), "the switch back must restore the route");
    let idle = ok("in_flight", proxy.in_flight(&ns.host("app.server"), upstream(3041).port).await);
    assert_eq!(idle, 0, "nothing is in flight to an upstream no request went to");
    ok("remove", proxy.remove_route(&host).await);
}
