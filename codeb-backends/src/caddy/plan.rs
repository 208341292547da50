//! From what Caddy holds to the next change codeb must make: pure planning
//! over a snapshot of Caddy's `apps` configuration.
//!
//! A change is applied as a short series of single admin requests, each
//! planned from a fresh read, until nothing is left to do. Every request
//! carries the read's ETag in `If-Match`, so a concurrent writer makes it fail
//! with 412 (and it is planned again) instead of landing in the wrong place.
//! That holds for requests addressed by `@id` too: Caddy 2.6 turns an `@id`
//! into an array index before it takes its config lock, so an unguarded write
//! by `@id` racing a removal that shifts the array lands on another site's
//! route (seen live: concurrent `DELETE /id/...` removed the wrong routes).
//! Each step leaves a configuration that serves correctly, so a crash between
//! steps leaves at most a harmless TLS entry for a host with no route.

use codeb::model::DomainName;
use codeb::proxy::{Route, TlsPolicy};
use codeb::{Error, Result};
use serde_json::{Map, Value, json};

use super::CaddyConfig;
use super::json::{self, TlsState};

/// The admin path of the part of the configuration codeb reads.
pub(crate) const APPS_PATH: &str = "/config/apps";

/// The HTTP method of a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    /// Set a key, or append to an array.
    Post,
    /// Insert into an array before an index.
    Put,
    /// Replace an existing value.
    Patch,
    /// Remove a value.
    Delete,
}

/// One admin request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Step {
    pub(crate) verb: Verb,
    /// `/config/...` or `/id/...`.
    pub(crate) path: String,
    pub(crate) body: Option<Value>,
    /// Nothing will be left to do once this step succeeds.
    pub(crate) last: bool,
    /// What the step does, for errors.
    pub(crate) what: &'static str,
}

/// Caddy's `apps` configuration as read at one moment, with its ETag.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    apps: Value,
    etag: String,
}

fn config_path(keys: &[&str]) -> String {
    let mut path = APPS_PATH.to_owned();
    for key in keys {
        path.push('/');
        path.push_str(key);
    }
    path
}

fn id_path(id: &str) -> String {
    format!("/id/{id}")
}

impl Snapshot {
    pub(crate) fn new(apps: Value, etag: String) -> Self {
        Snapshot { apps, etag }
    }

    pub(crate) fn etag(&self) -> &str {
        &self.etag
    }

    /// The value at `keys` below `apps`; `null` counts as absent.
    fn get(&self, keys: &[&str]) -> Option<&Value> {
        let mut value = &self.apps;
        for key in keys {
            value = match value {
                Value::Object(map) => map.get(*key)?,
                Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        (!value.is_null()).then_some(value)
    }

    fn array(&self, keys: &[&str]) -> &[Value] {
        self.get(keys).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
    }

    fn server_disabled(&self, server: &str) -> bool {
        self.get(&["http", "servers", server, "automatic_https", "disable"]).and_then(Value::as_bool) == Some(true)
    }

    fn route(&self, server: &str, id: &str) -> Option<&Value> {
        self.array(&["http", "servers", server, "routes"])
            .iter()
            .find(|r| r.get("@id").and_then(Value::as_str) == Some(id))
    }

    fn skip_indices(&self, server: &str, host: &DomainName) -> Vec<usize> {
        let skip = self.array(&["http", "servers", server, "automatic_https", "skip"]);
        skip.iter().enumerate().filter(|(_, h)| h.as_str() == Some(host.as_str())).map(|(i, _)| i).collect()
    }

    fn policy(&self, id: &str) -> Option<&Value> {
        self.array(&["tls", "automation", "policies"]).iter().find(|p| p.get("@id").and_then(Value::as_str) == Some(id))
    }

    fn tls_state(&self, server: &str, host: &DomainName) -> TlsState<'_> {
        TlsState {
            server_disabled: self.server_disabled(server),
            skipped: !self.skip_indices(server, host).is_empty(),
            policy: self.policy(&json::policy_id(server, host)),
        }
    }

    fn read_route(&self, config: &CaddyConfig, value: &Value) -> Result<Route> {
        let (host, upstreams) = json::parse_route(value)?;
        let tls = json::parse_tls(self.tls_state(&config.server, &host), config.acme_email.as_deref())?;
        Ok(Route { host, upstreams, tls })
    }

    /// The route of `host` in codeb's server, if any.
    pub(crate) fn route_of(&self, config: &CaddyConfig, host: &DomainName) -> Result<Option<Route>> {
        let id = json::route_id(&config.server, host);
        self.route(&config.server, &id).map(|value| self.read_route(config, value)).transpose()
    }

    /// Every codeb route in codeb's server, ordered by host.
    pub(crate) fn routes(&self, config: &CaddyConfig) -> Result<Vec<Route>> {
        let prefix = format!("{}{}.", json::ROUTE_ID_PREFIX, config.server);
        let mut routes = self
            .array(&["http", "servers", &config.server, "routes"])
            .iter()
            .filter(|r| r.get("@id").and_then(Value::as_str).is_some_and(|id| id.starts_with(&prefix)))
            .map(|value| self.read_route(config, value))
            .collect::<Result<Vec<_>>>()?;
        routes.sort_by(|a, b| a.host.cmp(&b.host));
        Ok(routes)
    }

    /// Whether codeb's server has a route for `host`.
    pub(crate) fn has_route(&self, config: &CaddyConfig, host: &DomainName) -> bool {
        self.route(&config.server, &json::route_id(&config.server, host)).is_some()
    }

    /// Sets `leaf` at `keys`, creating the missing objects on the way in one
    /// request at the shallowest missing key.
    fn create(&self, keys: &[&str], leaf: Value, what: &'static str) -> Step {
        let (path, body) = if self.apps.is_null() {
            (APPS_PATH.to_owned(), nest(keys, leaf))
        } else {
            let missing = (0..keys.len()).find(|&i| self.get(&keys[..=i]).is_none()).unwrap_or(keys.len() - 1);
            (config_path(&keys[..=missing]), nest(&keys[missing + 1..], leaf))
        };
        Step { verb: Verb::Post, path, body: Some(body), last: false, what }
    }

    /// Adds `element` to the array at `keys` (at its front or its back),
    /// creating the array and its parents when missing.
    fn insert(&self, keys: &[&str], element: Value, front: bool, what: &'static str) -> Step {
        match self.get(keys).and_then(Value::as_array) {
            // Caddy 2.6 cannot insert before index 0 of an empty array, so an empty one is appended to.
            Some(items) if front && !items.is_empty() => {
                let mut path = config_path(keys);
                path.push_str("/0");
                Step { verb: Verb::Put, path, body: Some(element), last: false, what }
            }
            Some(_) => Step { verb: Verb::Post, path: config_path(keys), body: Some(element), last: false, what },
            None => self.create(keys, json!([element]), what),
        }
    }
}

/// `leaf` wrapped in one object per key: `nest(["a", "b"], x)` is `{"a": {"b": x}}`.
fn nest(keys: &[&str], leaf: Value) -> Value {
    keys.iter().rev().fold(leaf, |inner, key| {
        let mut map = Map::new();
        map.insert((*key).to_owned(), inner);
        Value::Object(map)
    })
}

/// The next change that brings `route` into Caddy, or `None` when Caddy
/// already holds it.
///
/// Order: codeb's server; the host's new TLS state (local CA settings, TLS
/// policy, skip entry); removal of its old TLS state; the route itself last,
/// so a route never serves before its TLS is right.
pub(crate) fn upsert(snap: &Snapshot, config: &CaddyConfig, route: &Route) -> Result<Option<Step>> {
    let server = config.server.as_str();
    let host = &route.host;
    let server_keys = ["http", "servers", server];
    if snap.get(&server_keys).is_none() {
        return Ok(Some(snap.create(&server_keys, json::server(config), "create codeb's server")));
    }
    let disabled = snap.server_disabled(server);
    if disabled && route.tls != TlsPolicy::Off {
        return Err(Error::invalid(format!(
            "server {server} has automatic HTTPS disabled, so it cannot serve a route with TLS"
        ))
        .with_context("backend", "caddy")
        .with_context("host", host));
    }
    let policy_id = json::policy_id(server, host);
    let want_policy =
        if disabled { None } else { json::tls_policy(server, host, &route.tls, config.acme_email.as_deref()) };
    let want_skip = !disabled && route.tls == TlsPolicy::Off;
    let have_policy = snap.policy(&policy_id);
    let skip = snap.skip_indices(server, host);
    let skip_keys = ["http", "servers", server, "automatic_https", "skip"];
    let by_id = |verb, id: &str, body, what| Step { verb, path: id_path(id), body, last: false, what };

    // Every step this snapshot calls for, in order; each is re-planned from a fresh read.
    let mut pending = Vec::new();
    if let Some(policy) = want_policy.as_ref() {
        let ca_keys = ["pki", "certificate_authorities", "local"];
        if route.tls == TlsPolicy::Internal && snap.get(&ca_keys).is_none() {
            pending.push(snap.create(&ca_keys, json::local_ca(config.trust_internal_ca), "configure the local CA"));
        }
        match have_policy {
            // At the front: the first policy whose subjects match wins, and a catch-all may follow.
            None => pending.push(snap.insert(
                &["tls", "automation", "policies"],
                policy.clone(),
                true,
                "add the host's TLS policy",
            )),
            Some(have) if have != policy => {
                pending.push(by_id(Verb::Patch, &policy_id, Some(policy.clone()), "replace the host's TLS policy"));
            }
            Some(_) => {}
        }
    }
    if want_skip && skip.is_empty() {
        let host_value = Value::String(host.as_str().to_owned());
        pending.push(snap.insert(&skip_keys, host_value, false, "skip automatic HTTPS for the host"));
    }
    if !want_skip {
        // From the back, so the indices of the entries still to go do not move.
        for index in skip.iter().rev() {
            let path = format!("{}/{index}", config_path(&skip_keys));
            let what = "stop skipping automatic HTTPS for the host";
            pending.push(Step { verb: Verb::Delete, path, body: None, last: false, what });
        }
    }
    if want_policy.is_none() && have_policy.is_some() {
        pending.push(by_id(Verb::Delete, &policy_id, None, "remove the host's TLS policy"));
    }
    let id = json::route_id(server, host);
    let want = json::route(server, route, config.resolver.as_deref())?;
    match snap.route(server, &id) {
        // Exact hosts go first and wildcards last, so `a.example.com` is matched before `*.example.com`.
        None => pending.push(snap.insert(
            &[server_keys.as_slice(), &["routes"]].concat(),
            want,
            !host.is_wildcard(),
            "add the route",
        )),
        Some(have) if *have != want => pending.push(by_id(Verb::Patch, &id, Some(want), "replace the route")),
        Some(_) => {}
    }
    let last = pending.len() == 1;
    Ok(pending.into_iter().next().map(|step| Step { last, ..step }))
}

/// The next change that takes the route of `host` and its TLS state out of
/// Caddy, or `None` when nothing of it is left.
pub(crate) fn remove(snap: &Snapshot, config: &CaddyConfig, host: &DomainName) -> Option<Step> {
    let server = config.server.as_str();
    let id = json::route_id(server, host);
    let policy_id = json::policy_id(server, host);
    let skip = snap.skip_indices(server, host);
    let has_policy = snap.policy(&policy_id).is_some();
    if snap.route(server, &id).is_some() {
        let last = skip.is_empty() && !has_policy;
        return Some(Step { verb: Verb::Delete, path: id_path(&id), body: None, last, what: "remove the route" });
    }
    if let Some(index) = skip.last() {
        let path = format!("{}/{index}", config_path(&["http", "servers", server, "automatic_https", "skip"]));
        let last = skip.len() == 1 && !has_policy;
        let what = "drop the host's skip entry";
        return Some(Step { verb: Verb::Delete, path, body: None, last, what });
    }
    has_policy.then(|| Step {
        verb: Verb::Delete,
        path: id_path(&policy_id),
        body: None,
        last: true,
        what: "remove the host's TLS policy",
    })
}

/// The error for a host without a route.
pub(crate) fn no_route(host: &DomainName) -> Error {
    Error::not_found(format!("no route for {host}")).with_context("backend", "caddy").with_context("host", host)
}

/// The one change that points the route of `host` at new upstreams, or
/// `None` when it already points there; [`NotFound`](codeb::ErrorKind::NotFound)
/// when the host has no route.
pub(crate) fn switch(
    snap: &Snapshot,
    config: &CaddyConfig,
    host: &DomainName,
    upstreams: &codeb::proxy::Upstreams,
) -> Result<Option<Step>> {
    let id = json::route_id(&config.server, host);
    let Some(route) = snap.route(&config.server, &id) else { return Err(no_route(host)) };
    let want = json::reverse_proxy(upstreams, config.resolver.as_deref())?;
    if route.pointer("/handle/0") == Some(&want) {
        return Ok(None);
    }
    let path = format!("{}/handle/0", id_path(&id));
    Ok(Some(Step { verb: Verb::Patch, path, body: Some(want), last: true, what: "switch upstreams" }))
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use codeb::model::Port;
    use codeb::proxy::{Upstream, Upstreams};

    use super::*;

    fn host(s: &str) -> DomainName {
        DomainName::parse(s).unwrap()
    }

    fn route(h: &str, port: u16, tls: TlsPolicy) -> Route {
        let upstream = Upstream { host: IpAddr::V4(Ipv4Addr::LOCALHOST), port: Port::new(port).unwrap() };
        Route { host: host(h), upstreams: Upstreams::Fixed(vec![upstream]), tls }
    }

    fn snap(apps: Value) -> Snapshot {
        Snapshot::new(apps, "\"/config/apps 00000000\"".to_owned())
    }

    fn tls_config() -> CaddyConfig {
        CaddyConfig::new("http://127.0.0.1:2019").with_listen([":443"])
    }

    fn plain_config() -> CaddyConfig {
        CaddyConfig::new("http://127.0.0.1:2019").with_listen(["127.0.0.1:8080"]).with_automatic_https(false)
    }

    /// Applies a step to `apps` the way Caddy 2.6's admin API does, for the paths codeb uses.
    fn apply(apps: &mut Value, step: &Step) {
        let body = step.body.clone();
        if let Some(rest) = step.path.strip_prefix("/id/") {
            let (id, sub) = rest.split_once('/').map_or((rest, ""), |(id, sub)| (id, sub));
            let target = find_id(apps, id).unwrap_or_else(|| panic!("no @id {id}"));
            let target = if sub.is_empty() { target } else { target.pointer_mut(&format!("/{sub}")).unwrap() };
            match step.verb {
                Verb::Patch => *target = body.unwrap(),
                Verb::Delete => *target = Value::Null,
                verb => panic!("{verb:?} by id is not used"),
            }
            prune(apps);
            return;
        }
        let keys: Vec<&str> = step.path.strip_prefix(APPS_PATH).unwrap().split('/').filter(|k| !k.is_empty()).collect();
        if keys.is_empty() {
            assert_eq!(step.verb, Verb::Post);
            *apps = body.unwrap();
            return;
        }
        let (last, parents) = keys.split_last().unwrap();
        let mut parent = &mut *apps;
        for key in parents {
            parent = match parent {
                Value::Object(map) => map.get_mut(*key).unwrap(),
                Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
                _ => panic!("cannot traverse {key}"),
            };
        }
        match (step.verb, parent) {
            (Verb::Post, Value::Object(map)) => match map.get_mut(*last) {
                Some(Value::Array(items)) => items.push(body.unwrap()),
                _ => {
                    map.insert((*last).to_owned(), body.unwrap());
                }
            },
            (Verb::Put, Value::Array(items)) => items.insert(last.parse().unwrap(), body.unwrap()),
            (Verb::Delete, Value::Array(items)) => {
                items.remove(last.parse().unwrap());
            }
            (verb, _) => panic!("{verb:?} at {} is not used", step.path),
        }
    }

    fn find_id<'a>(value: &'a mut Value, id: &str) -> Option<&'a mut Value> {
        if value.get("@id").and_then(Value::as_str) == Some(id) {
            return Some(value);
        }
        match value {
            Value::Object(map) => map.values_mut().find_map(|v| find_id(v, id)),
            Value::Array(items) => items.iter_mut().find_map(|v| find_id(v, id)),
            _ => None,
        }
    }

    /// Drops the nulls a DELETE by id leaves in arrays.
    fn prune(value: &mut Value) {
        match value {
            Value::Array(items) => {
                items.retain(|v| !v.is_null());
                items.iter_mut().for_each(prune);
            }
            Value::Object(map) => map.values_mut().for_each(prune),
            _ => {}
        }
    }

    /// Plans and applies steps until none is left; returns the final config and the steps taken.
    fn converge(mut apps: Value, plan: impl Fn(&Snapshot) -> Option<Step>) -> (Value, Vec<Step>) {
        let mut steps = Vec::new();
        while let Some(step) = plan(&snap(apps.clone())) {
            apply(&mut apps, &step);
            steps.push(step);
            assert!(steps.len() < 10, "planning does not settle: {steps:?}");
        }
        if let Some(last) = steps.last() {
            assert!(last.last, "the final step must say so: {last:?}");
            assert!(steps[..steps.len() - 1].iter().all(|s| !s.last), "only the final step is last: {steps:?}");
        }
        (apps, steps)
    }

    fn upsert_all(apps: Value, config: &CaddyConfig, r: &Route) -> (Value, Vec<Step>) {
        converge(apps, |s| upsert(s, config, r).unwrap())
    }

    fn whats(steps: &[Step]) -> Vec<&'static str> {
        steps.iter().map(|s| s.what).collect()
    }

    #[test]
    fn a_first_route_creates_codebs_server_in_an_empty_caddy() {
        let config = plain_config();
        let r = route("shop.codeb.test", 3000, TlsPolicy::Off);
        let first = upsert(&snap(Value::Null), &config, &r).unwrap().unwrap();
        assert_eq!(first.verb, Verb::Post);
        assert_eq!(first.path, "/config/apps");
        assert_eq!(first.body, Some(json!({"http": {"servers": {"codeb": json::server(&config)}}})));

        let (apps, steps) = upsert_all(Value::Null, &config, &r);
        assert_eq!(whats(&steps), ["create codeb's server", "add the route"]);
        assert_eq!(apps["http"]["servers"]["codeb"]["routes"], json!([json::route("codeb", &r, None).unwrap()]));
    }

    #[test]
    fn codebs_server_is_added_beside_other_servers_without_touching_them() {
        let other = json!({"listen": [":9000"], "routes": [{"handle": [{"handler": "static_response"}]}]});
        let apps = json!({"http": {"servers": {"other": other.clone()}}});
        let step = upsert(&snap(apps), &plain_config(), &route("a.codeb.test", 1, TlsPolicy::Off)).unwrap().unwrap();
        assert_eq!(step.path, "/config/apps/http/servers/codeb");
        assert_eq!(step.body, Some(json::server(&plain_config())));
    }

    #[test]
    fn on_a_plain_http_server_adding_a_route_is_one_request() {
        let config = plain_config();
        let (apps, _) = upsert_all(Value::Null, &config, &route("a.codeb.test", 3000, TlsPolicy::Off));
        let b = route("b.codeb.test", 3001, TlsPolicy::Off);
        let (apps, steps) = upsert_all(apps, &config, &b);
        assert_eq!(steps.len(), 1);
        let step = &steps[0];
        // Exact hosts go to the front of a non-empty list, so they win over wildcards.
        assert_eq!((step.verb, step.path.as_str()), (Verb::Put, "/config/apps/http/servers/codeb/routes/0"));
        assert!(step.last);
        assert_eq!(apps["http"]["servers"]["codeb"]["routes"][0], json::route("codeb", &b, None).unwrap());
    }

    #[test]
    fn wildcard_routes_go_after_exact_ones() {
        let config = plain_config();
        let (apps, _) = upsert_all(Value::Null, &config, &route("*.codeb.test", 3000, TlsPolicy::Off));
        let (apps, _) = upsert_all(apps, &config, &route("a.codeb.test", 3001, TlsPolicy::Off));
        let (apps, steps) = upsert_all(apps, &config, &route("*.x.codeb.test", 3002, TlsPolicy::Off));
        assert_eq!((steps[0].verb, steps[0].path.as_str()), (Verb::Post, "/config/apps/http/servers/codeb/routes"));
        let hosts: Vec<&str> = apps["http"]["servers"]["codeb"]["routes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["match"][0]["host"][0].as_str().unwrap())
            .collect();
        assert_eq!(hosts, ["a.codeb.test", "*.codeb.test", "*.x.codeb.test"]);
    }

    #[test]
    fn replacing_a_route_is_one_patch_by_id_and_an_unchanged_route_is_no_request() {
        let config = plain_config();
        let (apps, _) = upsert_all(Value::Null, &config, &route("a.codeb.test", 3000, TlsPolicy::Off));
        let moved = route("a.codeb.test", 3001, TlsPolicy::Off);
        let (apps, steps) = upsert_all(apps, &config, &moved);
        assert_eq!(steps.len(), 1);
        assert_eq!((steps[0].verb, steps[0].path.as_str()), (Verb::Patch, "/id/codeb-route.codeb.a_codeb_test"));
        assert_eq!(upsert(&snap(apps), &config, &moved).unwrap(), None);
    }

    #[test]
    fn a_plain_http_server_refuses_routes_with_tls() {
        let config = plain_config();
        let (apps, _) = upsert_all(Value::Null, &config, &route("a.codeb.test", 3000, TlsPolicy::Off));
        let err = upsert(&snap(apps), &config, &route("b.codeb.test", 3000, TlsPolicy::Internal)).unwrap_err();
        assert_eq!(err.kind(), codeb::ErrorKind::Invalid);
    }

    #[test]
    fn an_off_route_on_a_tls_server_is_skipped_before_it_is_routed() {
        let config = tls_config();
        let r = route("a.codeb.test", 3000, TlsPolicy::Off);
        let (apps, steps) = upsert_all(Value::Null, &config, &r);
        assert_eq!(whats(&steps), ["create codeb's server", "skip automatic HTTPS for the host", "add the route"]);
        assert_eq!(apps["http"]["servers"]["codeb"]["automatic_https"]["skip"], json!(["a.codeb.test"]));
        assert_eq!(snap(apps).route_of(&config, &r.host).unwrap(), Some(r));
    }

    #[test]
    fn an_internal_route_gets_the_local_ca_settings_and_its_policy_before_its_route() {
        let config = tls_config();
        let r = route("a.codeb.test", 3000, TlsPolicy::Internal);
        let (apps, steps) = upsert_all(Value::Null, &config, &r);
        assert_eq!(
            whats(&steps),
            ["create codeb's server", "configure the local CA", "add the host's TLS policy", "add the route"]
        );
        assert_eq!(apps["pki"], json!({"certificate_authorities": {"local": {"install_trust": false}}}));
        assert_eq!(
            apps["tls"],
            json!({"automation": {"policies": [json::tls_policy("codeb", &r.host, &TlsPolicy::Internal, None).unwrap()]}})
        );
        assert_eq!(snap(apps).route_of(&config, &r.host).unwrap(), Some(r));
    }

    #[test]
    fn a_new_policy_goes_before_existing_ones_so_a_catch_all_cannot_shadow_it() {
        let catch_all = json!({"issuers": [{"module": "acme"}]});
        let apps = json!({
            "pki": {"certificate_authorities": {"local": {}}},
            "tls": {"automation": {"policies": [catch_all]}},
            "http": {"servers": {"codeb": json::server(&tls_config())}}
        });
        let step = upsert(&snap(apps), &tls_config(), &route("a.codeb.test", 1, TlsPolicy::Internal)).unwrap().unwrap();
        assert_eq!((step.verb, step.path.as_str()), (Verb::Put, "/config/apps/tls/automation/policies/0"));
    }

    #[test]
    fn changing_tls_adds_the_new_state_before_dropping_the_old_and_leaves_the_route_alone() {
        let config = tls_config();
        let off = route("a.codeb.test", 3000, TlsPolicy::Off);
        let (apps, _) = upsert_all(Value::Null, &config, &off);
        let internal = Route { tls: TlsPolicy::Internal, ..off.clone() };
        let (apps, steps) = upsert_all(apps, &config, &internal);
        assert_eq!(
            whats(&steps),
            ["configure the local CA", "add the host's TLS policy", "stop skipping automatic HTTPS for the host"]
        );
        assert_eq!(snap(apps.clone()).route_of(&config, &off.host).unwrap(), Some(internal));
        let (apps, steps) = upsert_all(apps, &config, &off);
        assert_eq!(whats(&steps), ["skip automatic HTTPS for the host", "remove the host's TLS policy"]);
        assert_eq!(snap(apps).route_of(&config, &off.host).unwrap(), Some(off));
    }

    #[test]
    fn acme_with_an_email_has_a_policy_and_acme_without_one_needs_none() {
        let config = tls_config();
        let with = route("a.codeb.test", 3000, TlsPolicy::Acme { email: Some("me@example.com".into()) });
        let (apps, steps) = upsert_all(Value::Null, &config, &with);
        assert_eq!(whats(&steps), ["create codeb's server", "add the host's TLS policy", "add the route"]);
        assert_eq!(snap(apps.clone()).route_of(&config, &with.host).unwrap(), Some(with.clone()));
        let without = Route { tls: TlsPolicy::Acme { email: None }, ..with };
        let (apps, steps) = upsert_all(apps, &config, &without);
        assert_eq!(whats(&steps), ["remove the host's TLS policy"]);
        assert_eq!(snap(apps).route_of(&config, &without.host).unwrap(), Some(without));
    }

    #[test]
    fn removing_takes_the_route_first_then_its_tls_state() {
        let config = tls_config();
        let a = route("a.codeb.test", 3000, TlsPolicy::Off);
        let b = route("b.codeb.test", 3001, TlsPolicy::Internal);
        let (apps, _) = upsert_all(Value::Null, &config, &a);
        let (apps, _) = upsert_all(apps, &config, &b);
        let (apps, steps) = converge(apps, |s| remove(s, &config, &a.host));
        assert_eq!(whats(&steps), ["remove the route", "drop the host's skip entry"]);
        let (apps, steps) = converge(apps, |s| remove(s, &config, &b.host));
        assert_eq!(whats(&steps), ["remove the route", "remove the host's TLS policy"]);
        assert_eq!(apps["http"]["servers"]["codeb"]["routes"], json!([]));
        assert_eq!(apps["http"]["servers"]["codeb"]["automatic_https"]["skip"], json!([]));
        assert_eq!(apps["tls"]["automation"]["policies"], json!([]));
    }

    #[test]
    fn removing_a_route_without_tls_state_is_one_request() {
        let config = plain_config();
        let a = route("a.codeb.test", 3000, TlsPolicy::Off);
        let (apps, _) = upsert_all(Value::Null, &config, &a);
        let (_, steps) = converge(apps, |s| remove(s, &config, &a.host));
        assert_eq!(steps.len(), 1);
        assert_eq!((steps[0].verb, steps[0].path.as_str()), (Verb::Delete, "/id/codeb-route.codeb.a_codeb_test"));
    }

    #[test]
    fn listing_reads_only_codebs_routes_of_its_own_server_ordered_by_host() {
        let config = plain_config();
        let other_config = plain_config().with_server("other").with_listen(["127.0.0.1:9"]);
        let b = route("b.codeb.test", 3001, TlsPolicy::Off);
        let a = route("a.codeb.test", 3000, TlsPolicy::Off);
        let (apps, _) = upsert_all(Value::Null, &config, &b);
        let (apps, _) = upsert_all(apps, &config, &a);
        let (mut apps, _) = upsert_all(apps, &other_config, &route("c.codeb.test", 3002, TlsPolicy::Off));
        let foreign = json!({"match": [{"host": ["x.codeb.test"]}], "handle": [{"handler": "static_response"}]});
        apps["http"]["servers"]["codeb"]["routes"].as_array_mut().unwrap().push(foreign);
        assert_eq!(snap(apps).routes(&config).unwrap(), [a, b]);
    }

    #[test]
    fn switching_is_one_patch_of_the_handler_by_id() {
        let config = plain_config();
        let (apps, _) = upsert_all(Value::Null, &config, &route("a.codeb.test", 3000, TlsPolicy::Off));
        let up =
            Upstreams::Fixed(vec![Upstream { host: IpAddr::V4(Ipv4Addr::LOCALHOST), port: Port::new(4000).unwrap() }]);
        let step = switch(&snap(apps.clone()), &config, &host("a.codeb.test"), &up).unwrap().unwrap();
        assert_eq!(step.verb, Verb::Patch);
        assert_eq!(step.path, "/id/codeb-route.codeb.a_codeb_test/handle/0");
        assert_eq!(step.body, Some(json!({"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:4000"}]})));
        assert!(step.last);
        let mut switched = apps;
        apply(&mut switched, &step);
        let moved = route("a.codeb.test", 4000, TlsPolicy::Off);
        assert_eq!(snap(switched.clone()).route_of(&config, &moved.host).unwrap(), Some(moved.clone()));
        assert_eq!(switch(&snap(switched), &config, &moved.host, &up).unwrap(), None, "already there: no change");
    }

    #[test]
    fn switching_an_unknown_host_is_not_found() {
        let config = plain_config();
        let (apps, _) = upsert_all(Value::Null, &config, &route("a.codeb.test", 3000, TlsPolicy::Off));
        let up =
            Upstreams::Fixed(vec![Upstream { host: IpAddr::V4(Ipv4Addr::LOCALHOST), port: Port::new(4000).unwrap() }]);
        let err = switch(&snap(apps), &config, &host("b.codeb.test"), &up).unwrap_err();
        assert_eq!(err.kind(), codeb::ErrorKind::NotFound);
    }
}
