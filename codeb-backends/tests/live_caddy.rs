//! `CaddyProxy` against a live Caddy: the Proxy conformance suite, real
//! traffic through a route and its switch, a refused change that leaves the
//! old config serving, and concurrent writers.
//!
//! Needs CODEB_TEST_CADDY_ADMIN (the admin API base URL of a Caddy started
//! with only an admin listener) and CODEB_TEST_CADDY_HTTP (a free
//! 127.0.0.1:PORT for codeb's plain-HTTP server). Without them the tests say
//! SKIPPED (and fail under CI=true).

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use codeb::ErrorKind;
use codeb::model::{DomainName, Port};
use codeb::proxy::{Proxy, Route, TlsPolicy, Upstream, Upstreams};
use codeb::testkit::{self, Namespace, live_env};
use codeb_backends::transport::LocalTransport;
use codeb_backends::{CaddyConfig, CaddyProxy};
use support::scripted_server::ScriptedServer;

/// codeb's plain-HTTP server on CODEB_TEST_CADDY_HTTP, shared by the tests here (each uses its own hosts).
fn plain_proxy(admin: &str, http: &str) -> CaddyProxy {
    CaddyProxy::new(
        Arc::new(LocalTransport::new()),
        CaddyConfig::new(admin).with_listen([http]).with_automatic_https(false),
    )
    .unwrap()
}

fn upstream(addr: SocketAddr) -> Upstream {
    Upstream { host: addr.ip(), port: Port::new(addr.port()).unwrap() }
}

/// A loopback port free right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The body Caddy's plain-HTTP server at `http` answers for `host`.
///
/// The tests of this file run in parallel and each change reloads Caddy's
/// whole config; a connection that lands on a server instance being replaced
/// can be reset, as browsers see and retry. A transport error is retried (at
/// most three times); a wrong status or body is never.
async fn fetch(http: &str, host: &DomainName) -> String {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
    let mut attempt = 0;
    let response = loop {
        attempt += 1;
        match client.get(format!("http://{http}/")).header("Host", host.as_str()).send().await {
            Ok(response) => break response,
            Err(e) if attempt < 3 => eprintln!("GET http://{http}/ with Host {host}: {e}; retrying"),
            Err(e) => panic!("GET http://{http}/ with Host {host}: {e}"),
        }
    };
    assert_eq!(response.status(), 200, "GET http://{http}/ with Host {host}");
    response.text().await.unwrap()
}

/// Removes a whole server from Caddy's config (test cleanup; codeb never removes its server).
///
/// Tried a few times: Caddy 2.6 resets admin connections that arrive while
/// another test's change reloads the config.
async fn delete_server(admin: &str, server: &str) {
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().unwrap();
    let url = format!("{}/config/apps/http/servers/{server}", admin.trim_end_matches('/'));
    for _ in 0..5 {
        match client.delete(&url).send().await {
            Ok(response) if response.status().is_success() => return,
            Ok(response) => panic!("cleanup of server {server}: {}", response.status()),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("cleanup of server {server}: the admin API kept dropping the connection");
}

#[tokio::test]
async fn caddy_keeps_the_proxy_contract() {
    let Some(admin) = live_env("CODEB_TEST_CADDY_ADMIN") else { return };
    let ns = Namespace::random();
    // A server of its own on a port of its own: the suite's routes with TLS turn
    // their listener into a TLS listener, which must not disturb the plain-HTTP
    // server the other tests send traffic through. No redirects, so Caddy does
    // not claim port 80.
    let server = format!("codeb-{}", ns.as_str());
    let config = CaddyConfig::new(&admin)
        .with_server(&server)
        .with_listen([format!("127.0.0.1:{}", free_port())])
        .with_http_redirects(false)
        // The suite's discovered route is written and read, never resolved.
        .with_resolver("127.0.0.1:53");
    let caddy = CaddyProxy::new(Arc::new(LocalTransport::new()), config).unwrap();
    testkit::proxy::run(&caddy, &ns).await;
    assert!(caddy.list_routes().await.unwrap().is_empty(), "the suite removes what it creates");
    delete_server(&admin, &server).await;
}

#[tokio::test]
async fn a_route_serves_its_upstream_and_one_switch_moves_the_traffic() {
    let (Some(admin), Some(http)) = (live_env("CODEB_TEST_CADDY_ADMIN"), live_env("CODEB_TEST_CADDY_HTTP")) else {
        return;
    };
    let ns = Namespace::random();
    let (v1, v2) = (ScriptedServer::serving("v1").await, ScriptedServer::serving("v2").await);
    let caddy = plain_proxy(&admin, &http);
    let host = ns.host("web");

    let route =
        Route { host: host.clone(), upstreams: Upstreams::Fixed(vec![upstream(v1.addr())]), tls: TlsPolicy::Off };
    caddy.upsert_route(&route).await.unwrap();
    assert_eq!(fetch(&http, &host).await, "v1");

    caddy.switch_upstreams(&host, &Upstreams::Fixed(vec![upstream(v2.addr())])).await.unwrap();
    assert_eq!(fetch(&http, &host).await, "v2", "the switch must take effect when it returns");
    assert!(!v2.requests().is_empty() && v1.requests().len() == 1, "after the switch only v2 is asked");

    caddy.remove_route(&host).await.unwrap();
    assert_eq!(caddy.get_route(&host).await.unwrap(), None);
}

#[tokio::test]
async fn a_change_caddy_refuses_is_invalid_and_the_old_config_keeps_serving() {
    let (Some(admin), Some(http)) = (live_env("CODEB_TEST_CADDY_ADMIN"), live_env("CODEB_TEST_CADDY_HTTP")) else {
        return;
    };
    let ns = Namespace::random();
    let v1 = ScriptedServer::serving("v1").await;
    let caddy = plain_proxy(&admin, &http);
    let host = ns.host("stays");
    caddy
        .upsert_route(&Route {
            host: host.clone(),
            upstreams: Upstreams::Fixed(vec![upstream(v1.addr())]),
            tls: TlsPolicy::Off,
        })
        .await
        .unwrap();

    // A second codeb server claiming the same listener: Caddy cannot load that config.
    let rival = CaddyProxy::new(
        Arc::new(LocalTransport::new()),
        CaddyConfig::new(&admin)
            .with_server(format!("codeb-rival-{}", ns.as_str()))
            .with_listen([http.as_str()])
            .with_automatic_https(false),
    )
    .unwrap();
    let other =
        Route { host: ns.host("rival"), upstreams: Upstreams::Fixed(vec![upstream(v1.addr())]), tls: TlsPolicy::Off };
    let err = rival.upsert_route(&other).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.message().contains("listener address repeated"), "the error carries Caddy's message: {err}");

    assert_eq!(fetch(&http, &host).await, "v1", "the previous config keeps serving");
    assert!(caddy.get_route(&host).await.unwrap().is_some());
    assert!(rival.list_routes().await.unwrap().is_empty(), "nothing of the refused change was applied");
    caddy.remove_route(&host).await.unwrap();
}

#[tokio::test]
async fn concurrent_writers_all_land_through_etag_retries() {
    let (Some(admin), Some(http)) = (live_env("CODEB_TEST_CADDY_ADMIN"), live_env("CODEB_TEST_CADDY_HTTP")) else {
        return;
    };
    let ns = Namespace::random();
    let caddy = plain_proxy(&admin, &http);
    let port = Port::new(3999).unwrap();
    let routes: Vec<Route> = (0..8)
        .map(|i| Route {
            host: ns.host(&format!("c{i}")),
            upstreams: Upstreams::Fixed(vec![Upstream { host: IpAddr::V4(Ipv4Addr::LOCALHOST), port }]),
            tls: TlsPolicy::Off,
        })
        .collect();
    let adds = routes.iter().map(|r| {
        let (caddy, r) = (caddy.clone(), r.clone());
        tokio::spawn(async move { caddy.upsert_route(&r).await })
    });
    for add in adds.collect::<Vec<_>>() {
        add.await.unwrap().unwrap();
    }
    let listed = caddy.list_routes().await.unwrap();
    for route in &routes {
        assert_eq!(listed.iter().filter(|r| r.host == route.host).count(), 1, "{} must be there once", route.host);
    }
    let removes = routes.iter().map(|r| {
        let (caddy, host) = (caddy.clone(), r.host.clone());
        tokio::spawn(async move { caddy.remove_route(&host).await })
    });
    for remove in removes.collect::<Vec<_>>() {
        remove.await.unwrap().unwrap();
    }
    let listed = caddy.list_routes().await.unwrap();
    let left: Vec<_> = listed.iter().filter(|l| routes.iter().any(|r| r.host == l.host)).collect();
    assert!(left.is_empty(), "every route must be gone, left: {left:?}");
}
