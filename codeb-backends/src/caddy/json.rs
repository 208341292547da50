//! The Caddy JSON codeb writes and reads: pure functions of validated input,
//! so what reaches Caddy is decided (and tested) without a server.
//!
//! A codeb route is one object in the `routes` of codeb's server, addressed by
//! its `@id` ([`route_id`]):
//!
//! ```json
//! {"@id": "codeb-route.codeb.shop_example_com",
//!  "match": [{"host": ["shop.example.com"]}],
//!  "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:3000"}]}],
//!  "terminal": true}
//! ```
//!
//! A route whose upstreams are discovered ([`Upstreams::Srv`]) has, instead
//! of `upstreams`, `dynamic_upstreams` of source `srv` resolved at
//! [`CaddyConfig::resolver`] every [`DISCOVERY_REFRESH`], and its HTTP
//! transport resolves the SRV targets there too:
//!
//! ```json
//! {"handler": "reverse_proxy",
//!  "dynamic_upstreams": {"source": "srv", "name": "production.shop.env.codeb.internal",
//!                        "refresh": "250ms", "resolver": {"addresses": ["127.0.0.1:5300"]}},
//!  "transport": {"protocol": "http", "resolver": {"addresses": ["127.0.0.1:5300"]}}}
//! ```
//!
//! A host's TLS lives where Caddy keeps TLS, beside the route: a host served
//! without TLS is in the server's `automatic_https.skip` list; a host with the
//! internal issuer or an ACME account email has its own automation policy in
//! the `tls` app, addressed by [`policy_id`]; a host with plain
//! [`TlsPolicy::Acme`] and no email needs neither (Caddy's default automatic HTTPS).

use std::net::SocketAddr;

use codeb::model::{DomainName, Port};
use codeb::proxy::{DISCOVERY_REFRESH, Route, TlsPolicy, Upstream, Upstreams};
use codeb::{Error, Result};
use serde_json::{Value, json};

use super::CaddyConfig;

/// The prefix of every route `@id` codeb writes.
pub const ROUTE_ID_PREFIX: &str = "codeb-route.";
/// The prefix of every TLS automation policy `@id` codeb writes.
pub const POLICY_ID_PREFIX: &str = "codeb-tls.";

/// The host as one `@id`-safe word: `.` becomes `_` and `*` becomes `~`.
///
/// Neither replacement can occur in a [`DomainName`], so distinct hosts get
/// distinct words, and the word needs no escaping in a URL path.
pub fn host_slug(host: &DomainName) -> String {
    host.as_str()
        .chars()
        .map(|c| match c {
            '.' => '_',
            '*' => '~',
            c => c,
        })
        .collect()
}

/// The `@id` of the route of `host` in `server`: `codeb-route.<server>.<host slug>`.
///
/// Server names hold no `.`, so ids of different servers never collide.
pub fn route_id(server: &str, host: &DomainName) -> String {
    format!("{ROUTE_ID_PREFIX}{server}.{}", host_slug(host))
}

/// The `@id` of the TLS automation policy of `host` in `server`: `codeb-tls.<server>.<host slug>`.
pub fn policy_id(server: &str, host: &DomainName) -> String {
    format!("{POLICY_ID_PREFIX}{server}.{}", host_slug(host))
}

/// The `upstreams` array of a `reverse_proxy` handler.
pub fn upstreams(upstreams: &[Upstream]) -> Value {
    Value::Array(upstreams.iter().map(|u| json!({ "dial": u.to_string() })).collect())
}

/// The `reverse_proxy` handler that sends to `to`, discovering upstreams
/// from DNS at `resolver` (`host:port`); `Invalid` for an SRV name without one.
pub fn reverse_proxy(to: &Upstreams, resolver: Option<&str>) -> Result<Value> {
    match to {
        Upstreams::Fixed(fixed) => Ok(json!({ "handler": "reverse_proxy", "upstreams": upstreams(fixed) })),
        Upstreams::Srv(name) => {
            let resolver = resolver.ok_or_else(|| {
                Error::invalid("a route discovered from DNS needs [caddy] resolver, the DNS server Caddy asks")
                    .with_context("backend", "caddy")
                    .with_context("name", name)
            })?;
            let resolver = json!({ "addresses": [resolver] });
            let refresh = format!("{}ms", DISCOVERY_REFRESH.as_millis());
            Ok(json!({
                "handler": "reverse_proxy",
                "dynamic_upstreams": { "source": "srv", "name": name.as_str(), "refresh": refresh, "resolver": resolver },
                "transport": { "protocol": "http", "resolver": resolver },
            }))
        }
    }
}

/// The route object of `route` in `server`, as codeb writes it.
pub fn route(server: &str, route: &Route, resolver: Option<&str>) -> Result<Value> {
    Ok(json!({
        "@id": route_id(server, &route.host),
        "match": [{ "host": [route.host.as_str()] }],
        "handle": [reverse_proxy(&route.upstreams, resolver)?],
        "terminal": true,
    }))
}

/// The HTTP server object codeb creates when its server is missing.
pub fn server(config: &CaddyConfig) -> Value {
    let automatic_https = if !config.automatic_https {
        json!({ "disable": true })
    } else if config.http_redirects {
        json!({ "skip": [] })
    } else {
        json!({ "skip": [], "disable_redirects": true })
    };
    json!({ "listen": config.listen, "routes": [], "automatic_https": automatic_https })
}

/// The TLS automation policy a host needs, or `None` when it needs none:
/// [`TlsPolicy::Off`] (no certificate at all) and [`TlsPolicy::Acme`] without
/// any email (Caddy's default issuers).
///
/// A route's own ACME email wins over `default_email`.
pub fn tls_policy(server: &str, host: &DomainName, tls: &TlsPolicy, default_email: Option<&str>) -> Option<Value> {
    let issuer = match tls {
        TlsPolicy::Off => return None,
        TlsPolicy::Internal => json!({ "module": "internal" }),
        TlsPolicy::Acme { email } => match email.as_deref().or(default_email) {
            Some(email) => json!({ "module": "acme", "email": email }),
            None => return None,
        },
    };
    Some(json!({
        "@id": policy_id(server, host),
        "subjects": [host.as_str()],
        "issuers": [issuer],
    }))
}

/// The configuration of Caddy's local CA codeb writes when the `pki` app has none,
/// before the first internal-issuer policy.
pub fn local_ca(trust: bool) -> Value {
    json!({ "install_trust": trust })
}

/// Reads back the host and upstreams of a route object codeb wrote.
///
/// Anything else under a codeb `@id` is an [`ErrorKind::Internal`](codeb::ErrorKind::Internal)
/// error: someone changed codeb's route by hand.
pub fn parse_route(value: &Value) -> Result<(DomainName, Upstreams)> {
    let id = value.get("@id").and_then(Value::as_str).unwrap_or("(no @id)");
    let odd = |what: &str| {
        Error::internal(format!("the route in Caddy is not in the shape codeb writes: {what}"))
            .with_context("backend", "caddy")
            .with_context("id", id)
    };
    let hosts = value.pointer("/match/0/host").and_then(Value::as_array).ok_or_else(|| odd("no host matcher"))?;
    let [host] = hosts.as_slice() else { return Err(odd("not exactly one host")) };
    let host = host.as_str().ok_or_else(|| odd("the host is not a string"))?;
    let host = DomainName::parse(host).map_err(|e| odd("the host is not a valid domain").with_source(e))?;
    let handler = value.pointer("/handle/0").ok_or_else(|| odd("no handler"))?;
    if handler.get("handler").and_then(Value::as_str) != Some("reverse_proxy") {
        return Err(odd("the first handler is not reverse_proxy"));
    }
    if let Some(dynamic) = handler.get("dynamic_upstreams") {
        let name =
            dynamic.get("name").and_then(Value::as_str).ok_or_else(|| odd("dynamic upstreams without a name"))?;
        let name = DomainName::parse(name).map_err(|e| odd("the SRV name is not a valid domain").with_source(e))?;
        return Ok((host, Upstreams::Srv(name)));
    }
    let dials = handler.get("upstreams").and_then(Value::as_array).ok_or_else(|| odd("no upstreams"))?;
    let upstreams = dials
        .iter()
        .map(|u| {
            let dial = u.get("dial").and_then(Value::as_str).ok_or_else(|| odd("an upstream has no dial"))?;
            let addr: SocketAddr = dial.parse().map_err(|_| odd("an upstream dial is not IP:port"))?;
            let port = Port::new(addr.port()).map_err(|e| odd("an upstream port is 0").with_source(e))?;
            Ok(Upstream { host: addr.ip(), port })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((host, Upstreams::Fixed(upstreams)))
}

/// What Caddy holds about one host's TLS, as read from its configuration.
#[derive(Clone, Copy, Debug)]
pub struct TlsState<'a> {
    /// The server has automatic HTTPS disabled.
    pub server_disabled: bool,
    /// The host is in the server's `automatic_https.skip` list.
    pub skipped: bool,
    /// The host's codeb automation policy, if any.
    pub policy: Option<&'a Value>,
}

/// Reads back the [`TlsPolicy`] of a host; the inverse of what codeb writes.
///
/// An ACME email equal to `default_email` reads as `email: None` ("the
/// configured default"), since that is what a route without an email gets.
pub fn parse_tls(state: TlsState<'_>, default_email: Option<&str>) -> Result<TlsPolicy> {
    if state.server_disabled || state.skipped {
        return Ok(TlsPolicy::Off);
    }
    let Some(policy) = state.policy else { return Ok(TlsPolicy::Acme { email: None }) };
    let id = policy.get("@id").and_then(Value::as_str).unwrap_or("(no @id)");
    let odd = |what: &str| {
        Error::internal(format!("the TLS policy in Caddy is not in the shape codeb writes: {what}"))
            .with_context("backend", "caddy")
            .with_context("id", id)
    };
    let issuers = policy.get("issuers").and_then(Value::as_array).ok_or_else(|| odd("no issuers"))?;
    let [issuer] = issuers.as_slice() else { return Err(odd("not exactly one issuer")) };
    match issuer.get("module").and_then(Value::as_str) {
        Some("internal") => Ok(TlsPolicy::Internal),
        Some("acme") => {
            let email = issuer.get("email").and_then(Value::as_str);
            let email = if email == default_email { None } else { email.map(str::to_owned) };
            Ok(TlsPolicy::Acme { email })
        }
        _ => Err(odd("an issuer codeb does not write")),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;

    fn host(s: &str) -> DomainName {
        DomainName::parse(s).unwrap()
    }

    fn up(ip: IpAddr, port: u16) -> Upstream {
        Upstream { host: ip, port: Port::new(port).unwrap() }
    }

    fn shop() -> Route {
        Route {
            host: host("shop.example.com"),
            upstreams: Upstreams::Fixed(vec![
                up(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000),
                up(IpAddr::V6(Ipv6Addr::LOCALHOST), 3001),
            ]),
            tls: TlsPolicy::Off,
        }
    }

    #[test]
    fn ids_are_one_url_safe_word_per_server_and_host() {
        assert_eq!(route_id("codeb", &host("shop.example.com")), "codeb-route.codeb.shop_example_com");
        assert_eq!(route_id("codeb", &host("*.example.com")), "codeb-route.codeb.~_example_com");
        assert_eq!(policy_id("edge", &host("a-b.example.com")), "codeb-tls.edge.a-b_example_com");
        // `*.x` and a host whose first label happens to spell a replacement stay apart.
        assert_ne!(route_id("s", &host("*.example.com")), route_id("s", &host("x.example.com")));
    }

    #[test]
    fn a_route_is_one_host_matcher_and_one_reverse_proxy() {
        let expected = json!({
            "@id": "codeb-route.codeb.shop_example_com",
            "match": [{"host": ["shop.example.com"]}],
            "handle": [{
                "handler": "reverse_proxy",
                "upstreams": [{"dial": "127.0.0.1:3000"}, {"dial": "[::1]:3001"}]
            }],
            "terminal": true
        });
        assert_eq!(route("codeb", &shop(), None).unwrap(), expected);
    }

    #[test]
    fn a_route_reads_back_as_written() {
        let r = shop();
        assert_eq!(parse_route(&route("codeb", &r, None).unwrap()).unwrap(), (r.host.clone(), r.upstreams.clone()));
        let discovered = Route { upstreams: Upstreams::Srv(host("production.shop.env.codeb.internal")), ..r };
        let value = route("codeb", &discovered, Some("127.0.0.1:5300")).unwrap();
        assert_eq!(parse_route(&value).unwrap(), (discovered.host.clone(), discovered.upstreams.clone()));
    }

    #[test]
    fn a_discovered_route_asks_the_resolver_for_its_srv_record_and_its_targets() {
        let to = Upstreams::Srv(host("production.shop.env.codeb.internal"));
        let resolver = json!({"addresses": ["127.0.0.1:5300"]});
        let expected = json!({
            "handler": "reverse_proxy",
            "dynamic_upstreams": {
                "source": "srv", "name": "production.shop.env.codeb.internal", "refresh": "250ms", "resolver": resolver
            },
            "transport": {"protocol": "http", "resolver": resolver}
        });
        assert_eq!(reverse_proxy(&to, Some("127.0.0.1:5300")).unwrap(), expected);
        let err = reverse_proxy(&to, None).unwrap_err();
        assert_eq!(err.kind(), codeb::ErrorKind::Invalid);
        assert!(err.to_string().contains("[caddy] resolver"), "{err}");
    }

    #[test]
    fn a_route_changed_by_hand_is_an_internal_error_naming_its_id() {
        let mut value = route("codeb", &shop(), None).unwrap();
        value["handle"][0]["handler"] = json!("static_response");
        let err = parse_route(&value).unwrap_err();
        assert_eq!(err.kind(), codeb::ErrorKind::Internal);
        assert_eq!(err.context_value("id"), Some("codeb-route.codeb.shop_example_com"));
        let mut value = route("codeb", &shop(), None).unwrap();
        value["handle"][0]["upstreams"][0]["dial"] = json!("backend.internal:80");
        assert_eq!(parse_route(&value).unwrap_err().kind(), codeb::ErrorKind::Internal);
    }

    #[test]
    fn the_server_codeb_creates_follows_the_config() {
        let config = CaddyConfig::new("http://h").with_listen([":443"]);
        assert_eq!(server(&config), json!({"listen": [":443"], "routes": [], "automatic_https": {"skip": []}}));
        let plain = CaddyConfig::new("http://h").with_listen(["127.0.0.1:8080"]).with_automatic_https(false);
        assert_eq!(
            server(&plain),
            json!({"listen": ["127.0.0.1:8080"], "routes": [], "automatic_https": {"disable": true}})
        );
        let no_redirects = CaddyConfig::new("http://h").with_http_redirects(false);
        assert_eq!(server(&no_redirects)["automatic_https"], json!({"skip": [], "disable_redirects": true}));
    }

    #[test]
    fn tls_policies_name_the_issuer_and_the_one_host() {
        let h = host("shop.example.com");
        assert_eq!(
            tls_policy("codeb", &h, &TlsPolicy::Internal, None),
            Some(json!({
                "@id": "codeb-tls.codeb.shop_example_com",
                "subjects": ["shop.example.com"],
                "issuers": [{"module": "internal"}]
            }))
        );
        let acme = TlsPolicy::Acme { email: Some("me@example.com".to_owned()) };
        assert_eq!(
            tls_policy("codeb", &h, &acme, Some("ops@example.com")).unwrap()["issuers"],
            json!([{"module": "acme", "email": "me@example.com"}])
        );
        let acme_default = TlsPolicy::Acme { email: None };
        assert_eq!(
            tls_policy("codeb", &h, &acme_default, Some("ops@example.com")).unwrap()["issuers"],
            json!([{"module": "acme", "email": "ops@example.com"}])
        );
        assert_eq!(tls_policy("codeb", &h, &acme_default, None), None);
        assert_eq!(tls_policy("codeb", &h, &TlsPolicy::Off, Some("ops@example.com")), None);
    }

    #[test]
    fn tls_reads_back_as_written() {
        let h = host("shop.example.com");
        let cases = [
            TlsPolicy::Internal,
            TlsPolicy::Acme { email: Some("me@example.com".to_owned()) },
            TlsPolicy::Acme { email: None },
        ];
        for tls in cases {
            let policy = tls_policy("codeb", &h, &tls, Some("ops@example.com"));
            let state = TlsState { server_disabled: false, skipped: false, policy: policy.as_ref() };
            assert_eq!(parse_tls(state, Some("ops@example.com")).unwrap(), tls);
        }
        let skipped = TlsState { server_disabled: false, skipped: true, policy: None };
        assert_eq!(parse_tls(skipped, None).unwrap(), TlsPolicy::Off);
        let plain_server = TlsState { server_disabled: true, skipped: false, policy: None };
        assert_eq!(parse_tls(plain_server, None).unwrap(), TlsPolicy::Off);
    }

    #[test]
    fn an_unknown_issuer_is_an_internal_error() {
        let policy = json!({"@id": "codeb-tls.codeb.x_y", "subjects": ["x.y"], "issuers": [{"module": "zerossl"}]});
        let state = TlsState { server_disabled: false, skipped: false, policy: Some(&policy) };
        assert_eq!(parse_tls(state, None).unwrap_err().kind(), codeb::ErrorKind::Internal);
    }

    #[test]
    fn hostile_looking_emails_stay_inside_their_json_string() {
        let h = host("shop.example.com");
        let acme = TlsPolicy::Acme { email: Some("a\"},{\"module\":\"internal".to_owned()) };
        let policy = tls_policy("codeb", &h, &acme, None).unwrap();
        assert_eq!(policy["issuers"].as_array().unwrap().len(), 1);
        assert_eq!(policy["issuers"][0]["email"], json!("a\"},{\"module\":\"internal"));
    }
}
