//! The conformance suite of [`PortRegistry`].

use std::collections::BTreeSet;

use async_trait::async_trait;

use crate::ErrorKind;
use crate::model::{Environment, Port, PortRange, ReleaseId, Service};
use crate::ports::{PortDrift, PortFilter, PortKey, PortRanges, PortRegistry, ServiceRanges};

use super::{Namespace, expect_kind, ok};

/// Makes a port listen on the registry's server while the returned guard lives.
#[async_trait]
pub trait PortOccupier: Send + Sync {
    /// Starts listening on `port` (if something already listens there, that is fine too).
    async fn occupy(&self, port: Port) -> Box<dyn Send>;
}

/// The small, disjoint ranges the registry under test must be built with, so
/// a full range is reached in a few allocations.
pub fn suite_ranges() -> PortRanges {
    let range = |a, b| PortRange::new(a, b).unwrap_or_else(|e| panic!("{e}"));
    PortRanges {
        staging: ServiceRanges { app: range(41000, 41004), postgres: Some(range(41010, 41012)), redis: None },
        production: ServiceRanges { app: range(41100, 41109), postgres: None, redis: Some(range(41120, 41121)) },
        preview: ServiceRanges { app: range(41200, 41209), postgres: None, redis: None },
    }
}

/// Runs every check against a registry built with [`suite_ranges`] over an empty SSOT.
pub async fn run(registry: &dyn PortRegistry, occupier: &dyn PortOccupier, ns: &Namespace) {
    allocation_is_idempotent_and_distinct(registry, ns).await;
    a_listening_port_is_skipped(registry, occupier, ns).await;
    a_full_range_is_a_conflict_naming_the_range(registry, ns).await;
    a_service_without_a_range_is_invalid(registry, ns).await;
    release_frees_the_port(registry, ns).await;
    check_reports_recorded_ports_that_do_not_listen(registry, occupier, ns).await;
    a_release_holds_its_own_app_port_beside_the_serving_one(registry, ns).await;
}

fn preview(id: &str) -> Environment {
    super::valid(Environment::preview(id))
}

fn key(ns: &Namespace, project: &str, env: Environment, service: Service) -> PortKey {
    PortKey::new(ns.project(project), env, service)
}

/// The same key gets the same port again; different keys get different ports, each in its range.
pub async fn allocation_is_idempotent_and_distinct(registry: &dyn PortRegistry, ns: &Namespace) {
    let ranges = suite_ranges();
    let a = key(ns, "idem-a", Environment::Production, Service::App);
    let b = key(ns, "idem-b", Environment::Production, Service::App);
    let pa = ok("allocate a", registry.allocate(&a).await);
    assert_eq!(ok("allocate a again", registry.allocate(&a).await), pa, "asking again must return the same port");
    let pb = ok("allocate b", registry.allocate(&b).await);
    assert_ne!(pa, pb, "two keys must never share a port");
    let app = ranges.production.app;
    assert!(app.contains(pa) && app.contains(pb), "ports must come from the environment's range {app}");
    let redis =
        ok("allocate redis", registry.allocate(&key(ns, "idem-a", Environment::Production, Service::Redis)).await);
    assert!(ranges.production.redis.is_some_and(|r| r.contains(redis)), "redis must come from its own range");
    let listed = ok("list", registry.list(&PortFilter { project: Some(ns.project("idem-a")), env: None }).await);
    let listed: Vec<_> = listed.iter().map(|alloc| (alloc.key.service, alloc.port)).collect();
    assert_eq!(
        listed,
        vec![(Service::App, pa), (Service::Redis, redis)],
        "list must show exactly that project's ports"
    );
}

/// A port that something listens on is never handed out.
pub async fn a_listening_port_is_skipped(registry: &dyn PortRegistry, occupier: &dyn PortOccupier, ns: &Namespace) {
    let first = ok("allocate", registry.allocate(&key(ns, "skip-a", preview("p1"), Service::App)).await);
    let next = Port::new(first.get() + 1).unwrap_or_else(|e| panic!("{e}"));
    let _guard = occupier.occupy(next).await;
    let second = ok("allocate", registry.allocate(&key(ns, "skip-b", preview("p1"), Service::App)).await);
    assert_ne!(second, next, "a listening port must be skipped");
    assert!(second > first, "allocation must take the lowest free port after the recorded one");
}

/// Allocating past the end of a range fails with `Conflict` naming the range.
pub async fn a_full_range_is_a_conflict_naming_the_range(registry: &dyn PortRegistry, ns: &Namespace) {
    let range = suite_ranges().staging.app;
    let mut seen = BTreeSet::new();
    for i in 0..=range.len() {
        match registry.allocate(&key(ns, &format!("full{i}"), Environment::Staging, Service::App)).await {
            Ok(port) => assert!(seen.insert(port), "port {port} was handed out twice"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Conflict, "a full range must be a conflict: {e}");
                assert!(e.to_string().contains(&range.to_string()), "the error must name the range {range}: {e}");
                return;
            }
        }
    }
    panic!("allocated {} ports from a range of {}", seen.len(), range.len());
}

/// A service an environment kind does not offer is refused as invalid.
pub async fn a_service_without_a_range_is_invalid(registry: &dyn PortRegistry, ns: &Namespace) {
    let preview_db = key(ns, "nodb", preview("p2"), Service::Postgres);
    expect_kind("allocate postgres in a preview", registry.allocate(&preview_db).await, ErrorKind::Invalid);
}

/// Release returns the port, forgets it, and lets the next allocation reuse it.
pub async fn release_frees_the_port(registry: &dyn PortRegistry, ns: &Namespace) {
    let a = key(ns, "rel-a", Environment::Staging, Service::Postgres);
    let port = ok("allocate", registry.allocate(&a).await);
    assert_eq!(ok("release", registry.release(&a).await), Some(port), "release must return the freed port");
    assert_eq!(ok("release again", registry.release(&a).await), None, "a second release frees nothing");
    let filter = PortFilter { project: Some(ns.project("rel-a")), env: None };
    assert!(ok("list", registry.list(&filter).await).is_empty(), "a released port must not be listed");
    let b = key(ns, "rel-b", Environment::Staging, Service::Postgres);
    assert_eq!(ok("allocate b", registry.allocate(&b).await), port, "a freed port must be reusable");
}

/// A recorded port with nothing listening is reported as drift; once it listens, it is not.
pub async fn check_reports_recorded_ports_that_do_not_listen(
    registry: &dyn PortRegistry,
    occupier: &dyn PortOccupier,
    ns: &Namespace,
) {
    let k = key(ns, "drift", preview("p3"), Service::App);
    let port = ok("allocate", registry.allocate(&k).await);
    let is_drift = |report: &crate::ports::PortReport| {
        report
            .drift
            .iter()
            .any(|d| matches!(d, PortDrift::NotListening { key, port: p, .. } if *key == k && *p == port))
    };
    let report = ok("check", registry.check().await);
    assert!(is_drift(&report), "a recorded port that does not listen must be drift: {report:?}");
    let _guard = occupier.occupy(port).await;
    let report = ok("check", registry.check().await);
    assert!(!is_drift(&report), "a recorded port that listens must not be drift: {report:?}");
}

/// A release's own app port comes from the app range, differs from the serving port, and is freed on its own.
pub async fn a_release_holds_its_own_app_port_beside_the_serving_one(registry: &dyn PortRegistry, ns: &Namespace) {
    let serving = key(ns, "blue", Environment::Production, Service::App);
    let release = super::valid(ReleaseId::parse("v2"));
    let candidate = PortKey::for_release(ns.project("blue"), Environment::Production, release);
    let serving_port = ok("allocate serving", registry.allocate(&serving).await);
    let candidate_port = ok("allocate release port", registry.allocate(&candidate).await);
    assert_ne!(serving_port, candidate_port, "a release port must differ from the serving port");
    assert!(suite_ranges().production.app.contains(candidate_port), "a release port must come from the app range");
    assert_eq!(
        ok("allocate again", registry.allocate(&candidate).await),
        candidate_port,
        "release ports are idempotent too"
    );
    let filter = PortFilter { project: Some(ns.project("blue")), env: None };
    let listed: Vec<_> = ok("list", registry.list(&filter).await).into_iter().map(|a| a.key).collect();
    assert_eq!(listed, vec![serving.clone(), candidate.clone()], "list must show both ports");
    assert_eq!(ok("release", registry.release(&candidate).await), Some(candidate_port));
    assert_eq!(ok("serving survives", registry.allocate(&serving).await), serving_port);
    let redis = PortKey { service: Service::Redis, ..candidate };
    expect_kind("a release port for redis", registry.allocate(&redis).await, ErrorKind::Invalid);
}
