//! The error paths of the HTTP backends (Caddy, PowerDNS) against a scripted
//! local server: what each failure of the service becomes, which requests are
//! sent, and that secrets never reach an error.

mod support;

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use codeb::ErrorKind;
use codeb::dns::{Dns, RecordData, RecordSet, RecordType};
use codeb::model::{DomainName, Port};
use codeb::proxy::{Proxy, Route, TlsPolicy, Upstream, Upstreams};
use codeb_backends::transport::LocalTransport;
use codeb_backends::{CaddyConfig, CaddyProxy, PowerDns, PowerDnsConfig};
use serde_json::{Value, json};
use support::scripted_server::{Reply, ScriptedServer};

const SHORT: Duration = Duration::from_millis(300);

fn host(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

fn upstream(port: u16) -> Upstream {
    Upstream { host: IpAddr::V4(Ipv4Addr::LOCALHOST), port: Port::new(port).unwrap() }
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

mod caddy {
    use super::*;

    fn proxy(url: &str) -> CaddyProxy {
        let config =
            CaddyConfig::new(url).with_listen(["127.0.0.1:8080"]).with_automatic_https(false).with_timeout(SHORT);
        CaddyProxy::new(Arc::new(LocalTransport::new()), config).unwrap()
    }

    fn route(h: &str) -> Route {
        Route { host: host(h), upstreams: Upstreams::Fixed(vec![upstream(3000)]), tls: TlsPolicy::Off }
    }

    /// `/config/apps` holding codeb's plain-HTTP server with `routes`.
    fn apps(routes: Value) -> Value {
        json!({"http": {"servers": {"codeb": {
            "listen": ["127.0.0.1:8080"], "routes": routes, "automatic_https": {"disable": true}
        }}}})
    }

    #[tokio::test]
    async fn a_slow_admin_api_is_a_timeout() {
        let server = ScriptedServer::start(vec![Reply::json(200, apps(json!([]))).after(Duration::from_secs(3))]).await;
        let err = proxy(&server.url()).list_routes().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert_eq!(err.context_value("backend"), Some("caddy"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable() {
        let err = proxy(&format!("http://127.0.0.1:{}", closed_port())).list_routes().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(err.is_temporary());
    }

    #[tokio::test]
    async fn a_401_is_unauthenticated() {
        let server = ScriptedServer::start(vec![Reply::text(401, "who are you")]).await;
        let err = proxy(&server.url()).get_route(&host("a.codeb.test")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
        assert_eq!(err.context_value("host"), Some("a.codeb.test"));
    }

    #[tokio::test]
    async fn a_500_that_is_not_a_rejected_config_is_unavailable() {
        let server = ScriptedServer::start(vec![Reply::json(500, json!({"error": "disk full"}))]).await;
        let err = proxy(&server.url()).list_routes().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(err.message().contains("disk full"));
    }

    #[tokio::test]
    async fn malformed_json_is_an_internal_error() {
        let server = ScriptedServer::start(vec![Reply::text(200, "{\"http\": [")]).await;
        let err = proxy(&server.url()).list_routes().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    }

    #[tokio::test]
    async fn an_add_that_meets_a_412_reads_again_and_succeeds() {
        let server = ScriptedServer::start(vec![
            Reply::json(200, apps(json!([]))).header("ETag", "\"/config/apps aaaa0001\""),
            Reply::json(412, json!({"error": "If-Match header did not match current config hash"})),
            Reply::json(200, apps(json!([]))).header("ETag", "\"/config/apps aaaa0002\""),
            Reply::text(200, ""),
        ])
        .await;
        proxy(&server.url()).upsert_route(&route("a.codeb.test")).await.unwrap();
        let requests = server.requests();
        let shape: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
        assert_eq!(
            shape,
            [
                ("GET", "/config/apps"),
                ("POST", "/config/apps/http/servers/codeb/routes"),
                ("GET", "/config/apps"),
                ("POST", "/config/apps/http/servers/codeb/routes"),
            ]
        );
        assert_eq!(requests[1].header("If-Match"), Some("\"/config/apps aaaa0001\""));
        assert_eq!(
            requests[3].header("If-Match"),
            Some("\"/config/apps aaaa0002\""),
            "the retry must use the new ETag"
        );
        assert_eq!(requests[3].json()["@id"], json!("codeb-route.codeb.a_codeb_test"));
    }

    #[tokio::test]
    async fn without_an_etag_header_the_caddy_2_6_etag_is_computed_from_the_body() {
        // Caddy 2.6 sends the ETag as a trailer: FNV-1a over the exact body bytes (a live
        // Caddy 2.6.2 answered `null\n` for a missing key with ETag hash 0e7c22ea).
        let body = b"null\n".to_vec();
        let server = ScriptedServer::start(vec![Reply::raw(200, body), Reply::text(200, "")]).await;
        let _ = proxy(&server.url()).upsert_route(&route("a.codeb.test")).await;
        let requests = server.requests();
        assert_eq!(requests[1].path, "/config/apps");
        assert_eq!(requests[1].header("If-Match"), Some("\"/config/apps 0e7c22ea\""));
    }

    #[tokio::test]
    async fn a_config_that_never_stops_changing_is_a_bounded_conflict() {
        let mut replies = Vec::new();
        for _ in 0..60 {
            replies.push(Reply::json(200, apps(json!([]))));
            replies.push(Reply::json(412, json!({"error": "If-Match header did not match current config hash"})));
        }
        let server = ScriptedServer::start(replies).await;
        let err = proxy(&server.url()).upsert_route(&route("a.codeb.test")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        let sent = server.requests().len();
        assert!((4..=40).contains(&sent), "retries must happen and be bounded, sent {sent}");
    }

    #[tokio::test]
    async fn a_config_caddy_refuses_is_invalid_and_carries_caddys_message() {
        let refusal =
            "loading new config: loading http app module: http: invalid configuration: listener address repeated";
        let server =
            ScriptedServer::start(vec![Reply::json(200, apps(json!([]))), Reply::json(500, json!({"error": refusal}))])
                .await;
        let err = proxy(&server.url()).upsert_route(&route("a.codeb.test")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        assert!(err.message().contains("listener address repeated"), "{err}");
        assert_eq!(err.context_value("host"), Some("a.codeb.test"));
    }

    #[tokio::test]
    async fn switching_is_one_read_and_one_guarded_patch_and_an_unknown_host_is_not_found() {
        let a = route("a.codeb.test");
        let held = apps(json!([codeb_backends::caddy::json::route("codeb", &a, None).unwrap()]));
        let server = ScriptedServer::start(vec![
            Reply::json(200, held.clone()).header("ETag", "\"/config/apps 0000beef\""),
            Reply::text(200, ""),
            Reply::json(200, held),
        ])
        .await;
        let proxy = proxy(&server.url());
        proxy.switch_upstreams(&a.host, &Upstreams::Fixed(vec![upstream(4000), upstream(4001)])).await.unwrap();
        let err =
            proxy.switch_upstreams(&host("b.codeb.test"), &Upstreams::Fixed(vec![upstream(4000)])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        let requests = server.requests();
        let shape: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
        assert_eq!(
            shape,
            [
                ("GET", "/config/apps"),
                ("PATCH", "/id/codeb-route.codeb.a_codeb_test/handle/0"),
                ("GET", "/config/apps"),
            ],
            "one change for a switch, none for an unknown host"
        );
        assert_eq!(requests[1].json()["upstreams"], json!([{"dial": "127.0.0.1:4000"}, {"dial": "127.0.0.1:4001"}]));
        assert_eq!(requests[1].header("If-Match"), Some("\"/config/apps 0000beef\""));
    }

    #[tokio::test]
    async fn a_dropped_connection_is_read_again_and_not_blindly_resent() {
        let a = route("a.codeb.test");
        let before = apps(json!([codeb_backends::caddy::json::route("codeb", &a, None).unwrap()]));
        let moved = Route { upstreams: Upstreams::Fixed(vec![upstream(4000)]), ..a.clone() };
        let after = apps(json!([codeb_backends::caddy::json::route("codeb", &moved, None).unwrap()]));
        // The PATCH lands but its connection is cut before the answer: the next read shows it applied.
        let server =
            ScriptedServer::start(vec![Reply::json(200, before), Reply::text(200, "").cut(), Reply::json(200, after)])
                .await;
        proxy(&server.url()).switch_upstreams(&a.host, &moved.upstreams).await.unwrap();
        let methods: Vec<String> = server.requests().iter().map(|r| r.method.clone()).collect();
        assert_eq!(methods, ["GET", "PATCH", "GET"]);
    }

    #[tokio::test]
    async fn a_route_without_upstreams_is_refused_before_any_request() {
        let server = ScriptedServer::start(Vec::new()).await;
        let proxy = proxy(&server.url());
        let empty = Route { upstreams: Upstreams::Fixed(Vec::new()), ..route("a.codeb.test") };
        assert_eq!(proxy.upsert_route(&empty).await.unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(
            proxy.switch_upstreams(&empty.host, &Upstreams::Fixed(Vec::new())).await.unwrap_err().kind(),
            ErrorKind::Invalid
        );
        assert!(server.requests().is_empty());
    }

    #[tokio::test]
    async fn removing_an_absent_route_is_not_found_after_one_read() {
        let server = ScriptedServer::start(vec![Reply::json(200, apps(json!([])))]).await;
        let err = proxy(&server.url()).remove_route(&host("a.codeb.test")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert_eq!(server.requests().len(), 1);
    }
}

mod powerdns {
    use super::*;

    const KEY: &str = "pdns-Secret-Key-7f3a9";

    fn dns(url: &str) -> PowerDns {
        PowerDns::new(Arc::new(LocalTransport::new()), PowerDnsConfig::new(url, KEY).with_timeout(SHORT)).unwrap()
    }

    fn zone() -> DomainName {
        host("shop.codeb.test")
    }

    fn a(name: &str) -> RecordSet {
        RecordSet { name: host(name), ttl: 60, data: RecordData::A(vec![Ipv4Addr::new(127, 0, 0, 1)]) }
    }

    #[track_caller]
    fn assert_no_key(err: &codeb::Error) {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(KEY), "the API key leaked: {shown}");
    }

    #[tokio::test]
    async fn a_401_is_unauthenticated_and_never_shows_the_key() {
        let server = ScriptedServer::start(vec![Reply::text(401, "Unauthorized")]).await;
        let err = dns(&server.url()).list_records(&zone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
        assert_no_key(&err);
        assert_eq!(server.requests()[0].header("X-API-Key"), Some(KEY), "the key goes in its header");
    }

    #[tokio::test]
    async fn a_422_is_invalid_carrying_powerdns_message_and_never_the_key() {
        let message = "RRset alias.shop.codeb.test. IN A: Conflicts with pre-existing RRset";
        let server = ScriptedServer::start(vec![Reply::json(422, json!({ "error": message }))]).await;
        let err = dns(&server.url()).upsert_records(&zone(), &[a("alias.shop.codeb.test")]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        assert!(err.message().contains(message), "{err}");
        assert_no_key(&err);
    }

    #[tokio::test]
    async fn a_server_that_echoes_the_key_in_any_answer_never_gets_it_into_an_error() {
        let echo = format!("the key {KEY} is wrong");
        for (replies, kind) in [
            (vec![Reply::json(422, json!({ "error": echo }))], ErrorKind::Invalid),
            (vec![Reply::text(500, &echo); 4], ErrorKind::Unavailable),
            (vec![Reply::text(302, &echo)], ErrorKind::Internal),
            (vec![Reply::text(418, &format!("{{\"error\": \"{echo}\"}}"))], ErrorKind::Internal),
        ] {
            let server = ScriptedServer::start(replies).await;
            let err = dns(&server.url()).upsert_records(&zone(), &[a("web.shop.codeb.test")]).await.unwrap_err();
            assert_eq!(err.kind(), kind, "{err}");
            assert!(err.to_string().contains("the key ******** is wrong"), "the answer is shown, masked: {err}");
            assert_no_key(&err);
        }
    }

    #[tokio::test]
    async fn the_backend_and_its_config_never_show_the_key() {
        let dns = dns("http://127.0.0.1:1");
        let shown = format!("{dns:?} {:?}", dns.config());
        assert!(!shown.contains(KEY), "{shown}");
    }

    #[tokio::test]
    async fn an_unknown_zone_is_not_found() {
        let server = ScriptedServer::start(vec![Reply::text(404, "Not Found")]).await;
        let err = dns(&server.url()).list_records(&zone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert_eq!(err.context_value("zone"), Some("shop.codeb.test"));
    }

    #[tokio::test]
    async fn a_slow_api_is_a_timeout() {
        let server =
            ScriptedServer::start(vec![Reply::json(200, json!({"rrsets": []})).after(Duration::from_secs(3))]).await;
        let err = dns(&server.url()).list_records(&zone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert_no_key(&err);
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable() {
        let err = dns(&format!("http://127.0.0.1:{}", closed_port())).list_records(&zone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert_no_key(&err);
    }

    #[tokio::test]
    async fn a_500_that_persists_is_unavailable_after_a_bounded_number_of_tries() {
        let server = ScriptedServer::start(vec![Reply::text(500, "Internal Server Error"); 10]).await;
        let err = dns(&server.url()).delete_records(&zone(), &[(zone(), RecordType::A)]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert_eq!(server.requests().len(), 4, "one request and three retries");
    }

    #[tokio::test]
    async fn a_500_from_colliding_writers_is_tried_again() {
        // PowerDNS on SQLite: "database is locked" is a 500 after a rollback.
        let server = ScriptedServer::start(vec![Reply::text(500, "Internal Server Error"), Reply::text(204, "")]).await;
        dns(&server.url()).upsert_records(&zone(), &[a("web.shop.codeb.test")]).await.unwrap();
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].body, requests[1].body, "the same change is sent again");
    }

    #[tokio::test]
    async fn malformed_json_is_an_internal_error() {
        let server = ScriptedServer::start(vec![Reply::text(200, "{\"rrsets\": [{")]).await;
        let err = dns(&server.url()).list_records(&zone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    }

    #[tokio::test]
    async fn ensuring_an_existing_zone_succeeds_whichever_way_powerdns_says_it_exists() {
        let server = ScriptedServer::start(vec![
            Reply::text(409, "Conflict"),
            Reply::json(422, json!({"error": "Domain 'shop.codeb.test.' already exists"})),
            Reply::json(201, json!({"name": "shop.codeb.test."})),
        ])
        .await;
        let dns = dns(&server.url());
        for _ in 0..3 {
            dns.ensure_zone(&zone()).await.unwrap();
        }
        let request = &server.requests()[0];
        assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/api/v1/servers/localhost/zones"));
        assert_eq!(request.json()["name"], json!("shop.codeb.test."));
        assert_eq!(request.json()["kind"], json!("Native"));
    }

    #[tokio::test]
    async fn a_batch_is_one_patch_with_canonical_names() {
        let server = ScriptedServer::start(vec![Reply::text(204, "")]).await;
        let sets = [a("web.shop.codeb.test"), a("shop.codeb.test")];
        dns(&server.url()).upsert_records(&zone(), &sets).await.unwrap();
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(
            (requests[0].method.as_str(), requests[0].path.as_str()),
            ("PATCH", "/api/v1/servers/localhost/zones/shop.codeb.test.")
        );
        let names: Vec<Value> =
            requests[0].json()["rrsets"].as_array().unwrap().iter().map(|s| s["name"].clone()).collect();
        assert_eq!(names, [json!("web.shop.codeb.test."), json!("shop.codeb.test.")]);
    }

    #[tokio::test]
    async fn a_batch_with_a_set_outside_the_zone_is_refused_before_any_request() {
        let server = ScriptedServer::start(Vec::new()).await;
        let dns = dns(&server.url());
        let err = dns.upsert_records(&zone(), &[a("web.shop.codeb.test"), a("elsewhere.example")]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        let err = dns.delete_records(&zone(), &[(host("elsewhere.example"), RecordType::A)]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(server.requests().is_empty());
    }
}
