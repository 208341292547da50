//! Everyday operations on the in-memory fakes: domains, env vars, projects,
//! health, logs, SSOT status and drift.

use std::time::Duration;

use codeb::ErrorKind;
use codeb::engine::{Change, DeployOptions, DeployRequest, Identity, Platform, Settings, release_container};
use codeb::fake::FakeBackends;
use codeb::model::{
    ContainerName, DomainName, EnvKey, EnvValue, EnvVar, Environment, HealthCheck, ImageRef, Port, ProjectName,
    ReleaseId, Service,
};
use codeb::ops::{DriftItem, EnvListing};
use codeb::ports::{PortDrift, PortKey};
use codeb::proxy::{Proxy, Upstream, Upstreams};
use codeb::runtime::{ContainerRuntime, ContainerSpec, Resources, managed_labels};
use codeb::ssot::StateStore;

fn setup() -> (FakeBackends, Platform) {
    let fakes = FakeBackends::new();
    fakes.runtime.add_registry_image(&image());
    let mut s = Settings::local("tester", "test");
    s.zone = Some(DomainName::parse("codeb.test").unwrap());
    s.drain_grace = Duration::ZERO;
    s.stop_grace = Duration::ZERO;
    s.watch_window = Duration::ZERO;
    s.identity = Identity { user: "tester".into(), front_end: "test".into(), host: "localhost".into(), pid: 7 };
    for accessory in [&s.postgres_image, &s.redis_image] {
        fakes.runtime.add_registry_image(accessory);
    }
    let p = Platform::new(fakes.backends(), s);
    (fakes, p)
}

fn image() -> ImageRef {
    ImageRef::parse("localhost/shop:v1").unwrap()
}

fn project() -> ProjectName {
    ProjectName::parse("shop").unwrap()
}

fn env() -> Environment {
    Environment::Staging
}

fn host(name: &str) -> DomainName {
    DomainName::parse(name).unwrap()
}

async fn deploy(p: &Platform, postgres: bool) -> Port {
    let mut r = DeployRequest::new(project(), env(), image(), Port::new(8080).unwrap());
    r.domains = vec![host("shop.codeb.test")];
    r.accessories.postgres = postgres;
    r.health = HealthCheck {
        interval: Duration::from_millis(5),
        deadline: Duration::from_millis(100),
        ..HealthCheck::default()
    };
    p.deploy(&r, &DeployOptions::default()).await.unwrap().port
}

/// Creates a container named `name` with `labels` behind codeb's back; returns its name.
async fn create_labelled(fakes: &FakeBackends, name: &str, labels: codeb::runtime::Labels) -> ContainerName {
    let name = ContainerName::parse(name).unwrap();
    let spec = ContainerSpec {
        name: name.clone(),
        image: image(),
        command: None,
        env: Vec::new(),
        labels,
        ports: Vec::new(),
        volumes: Vec::new(),
        network: None,
        resources: Resources::default(),
        init: true,
        secret_files: Vec::new(),
    };
    fakes.runtime.create_container(&spec).await.unwrap();
    name
}

fn none() -> DeployOptions {
    DeployOptions::default()
}

#[tokio::test]
async fn a_domain_set_up_routes_to_the_serving_release_and_stays_for_later_deploys() {
    let (fakes, p) = setup();
    let port = deploy(&p, false).await;
    let extra = host("www.codeb.test");
    let dry = p.domain_setup(&project(), &env(), &extra, true, false, &none()).await.unwrap();
    assert!(!dry.applied);
    let kinds: Vec<&str> = dry.changes.iter().map(|c| c.change.step().as_str()).collect();
    assert_eq!(kinds, ["record", "switch_route", "dns"], "{:?}", dry.changes);
    assert!(fakes.proxy.get_route(&extra).await.unwrap().is_none(), "a dry run changes nothing");

    p.domain_setup(&project(), &env(), &extra, false, false, &none()).await.unwrap();
    let route = fakes.proxy.get_route(&extra).await.unwrap().unwrap();
    assert_eq!(route.upstreams.fixed()[0].port, port);
    assert!(p.domain_list(&project(), &env()).await.unwrap().contains(&extra));

    let next = deploy(&p, false).await;
    assert_eq!(
        fakes.proxy.get_route(&extra).await.unwrap().unwrap().upstreams.fixed()[0].port,
        next,
        "the next deploy routes it too"
    );

    let refused = p.domain_remove(&project(), &env(), &extra, false, &none()).await.unwrap();
    assert!(
        !refused.applied && refused.changes.iter().any(|c| c.change == Change::RemoveRoute { host: extra.clone() })
    );
    assert!(fakes.proxy.get_route(&extra).await.unwrap().is_some(), "without force nothing is removed");
    assert!(p.domain_remove(&project(), &env(), &extra, true, &none()).await.unwrap().applied);
    assert!(fakes.proxy.get_route(&extra).await.unwrap().is_none());
    assert!(!p.domain_list(&project(), &env()).await.unwrap().contains(&extra));
    let err =
        p.domain_setup(&ProjectName::parse("ghost").unwrap(), &env(), &extra, false, false, &none()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn env_vars_are_set_listed_revealed_only_on_request_and_unset_only_with_force() {
    let (_fakes, p) = setup();
    let token = EnvVar::secret(EnvKey::parse("TOKEN").unwrap(), EnvValue::parse("s3cret").unwrap());
    let mode = EnvVar::plain(EnvKey::parse("MODE").unwrap(), EnvValue::parse("fast").unwrap());
    p.env_set(&project(), &env(), &[token.clone(), mode]).await.unwrap();
    let listed = p.env_list(&project(), &env()).await.unwrap();
    let shown: Vec<(&str, &str)> = listed.vars.iter().map(|v| (v.key.as_str(), v.listed_value())).collect();
    assert_eq!(shown, [("MODE", "fast"), ("TOKEN", "********")]);
    assert!(!format!("{listed:?}").contains("s3cret"), "a listing never shows a secret");
    assert_eq!(p.env_get(&project(), &env(), &token.key).await.unwrap().value.expose(), "s3cret");
    let refused = p.env_unset(&project(), &env(), std::slice::from_ref(&token.key), false).await.unwrap();
    assert!(!refused.applied);
    assert!(p.env_get(&project(), &env(), &token.key).await.is_ok());
    p.env_unset(&project(), &env(), std::slice::from_ref(&token.key), true).await.unwrap();
    assert_eq!(p.env_get(&project(), &env(), &token.key).await.unwrap_err().kind(), ErrorKind::NotFound);
    let err = p.env_unset(&project(), &env(), &[EnvKey::parse("NOPE").unwrap()], true).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn an_env_listing_masks_secret_values_whole_and_orders_by_name() {
    let (_fakes, p) = setup();
    let token = EnvVar::secret(EnvKey::parse("TOKEN").unwrap(), EnvValue::parse("s3cret").unwrap());
    let mode = EnvVar::plain(EnvKey::parse("MODE").unwrap(), EnvValue::parse("fast").unwrap());
    let version = p.env_set(&project(), &env(), &[token.clone(), mode.clone()]).await.unwrap();

    let listing = p.env_listing(&project(), &env()).await.unwrap();
    assert_eq!((listing.project.as_str(), listing.version), ("shop", version));
    let shown: Vec<(&str, &str, bool)> =
        listing.vars.iter().map(|v| (v.key.as_str(), v.value.as_str(), v.secret)).collect();
    assert_eq!(shown, [("MODE", "fast", false), ("TOKEN", "********", true)]);
    let json = serde_json::to_string(&listing).unwrap();
    assert!(!json.contains("s3cret") && !format!("{listing:?}").contains("s3cret"), "{json}");

    let stored = EnvListing::new(project(), env(), version, &[token, mode]);
    assert_eq!(stored, listing, "what env_set stored lists like env_listing");
}

#[tokio::test]
async fn a_project_listing_maps_each_environment_to_its_serving_release() {
    let (_fakes, p) = setup();
    deploy(&p, false).await;

    let listed = serde_json::to_value(p.project_list().await.unwrap()).unwrap();

    assert_eq!(listed, serde_json::json!([{"project": "shop", "environments": {"staging": "v1"}}]));
}

#[tokio::test]
async fn deleting_a_project_needs_force_and_never_removes_a_protected_volume() {
    let (fakes, p) = setup();
    deploy(&p, true).await;
    let plan = p.project_delete(&project(), false, &none()).await.unwrap();
    assert!(!plan.applied);
    assert!(plan.changes.iter().any(|c| matches!(c.change, Change::KeepVolume { .. })), "{:?}", plan.changes);
    assert!(plan.changes.iter().any(|c| matches!(c.change, Change::RemoveRoute { .. })));
    assert_eq!(p.project_list().await.unwrap().len(), 1, "without force nothing is deleted");

    let done = p.project_delete(&project(), true, &none()).await.unwrap();
    assert!(done.applied);
    assert!(fakes.runtime.list_containers(&Default::default()).await.unwrap().is_empty(), "every container is gone");
    assert!(fakes.proxy.get_route(&host("shop.codeb.test")).await.unwrap().is_none());
    let volumes = fakes.runtime.list_volumes(&Default::default()).await.unwrap();
    assert_eq!(volumes.len(), 1, "the protected volume survives");
    assert!(volumes[0].is_protected());
    assert!(p.project_list().await.unwrap().is_empty());
    assert!(fakes.state.load().unwrap().projects.is_empty(), "the SSOT forgets the project and its ports");
    let mut left: Vec<String> =
        p.env_list(&project(), &env()).await.unwrap().vars.iter().map(|v| v.key.to_string()).collect();
    left.sort();
    assert_eq!(left, ["DATABASE_URL", "POSTGRES_PASSWORD"], "only the credentials of the kept volume are left");
}

#[tokio::test]
async fn a_project_deployed_again_after_its_deletion_gets_the_credentials_of_its_kept_volume() {
    let (_fakes, p) = setup();
    deploy(&p, true).await;
    let url = EnvKey::parse("DATABASE_URL").unwrap();
    let before = p.env_get(&project(), &env(), &url).await.unwrap();

    p.project_delete(&project(), true, &none()).await.unwrap();
    deploy(&p, true).await;

    let after = p.env_get(&project(), &env(), &url).await.unwrap();
    assert_eq!(after.value.expose(), before.value.expose(), "the URL still holds the password the data was made with");
}

#[tokio::test]
async fn deleting_a_project_removes_what_the_ssot_records_never_a_container_found_by_its_labels_alone() {
    let (fakes, p) = setup();
    deploy(&p, false).await;
    let labels = managed_labels(&project(), &env(), Service::App, Some(&ReleaseId::parse("v9").unwrap()));
    let unrecorded = create_labelled(&fakes, "codeb-shop-staging-v9", labels).await;

    let done = p.project_delete(&project(), true, &none()).await.unwrap();

    let removed: Vec<&Change> = done.changes.iter().map(|c| &c.change).collect();
    assert!(
        removed.contains(&&Change::RemoveContainer {
            name: release_container(&project(), &env(), &ReleaseId::parse("v1").unwrap()).unwrap()
        }),
        "{removed:?}"
    );
    assert!(!removed.contains(&&Change::RemoveContainer { name: unrecorded.clone() }), "{removed:?}");
    assert!(fakes.runtime.inspect_container(&unrecorded).await.is_ok(), "a container the SSOT does not record stays");
}

#[tokio::test]
async fn deleting_a_project_removes_the_images_built_for_it_and_no_other_projects_image() {
    let (fakes, p) = setup();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Containerfile"), "FROM scratch\n").unwrap();
    std::fs::write(dir.path().join("codeb.toml"), "name = \"shop\"\nport = 8080\n[build]\ncontext = \".\"\n").unwrap();
    let mut request = codeb::project::ProjectFile::read(dir.path()).unwrap().deploy_request(&env(), None).unwrap();
    request.health.deadline = Duration::from_millis(100);
    let built = p.deploy(&request, &none()).await.unwrap().image;
    // Another project's build that claims to be shop's by its labels alone.
    let claimed = ImageRef::parse("localhost/evil:build-1").unwrap();
    let labels = managed_labels(&project(), &env(), Service::App, None);
    let spec = codeb::runtime::BuildSpec {
        context: dir.path().to_owned(),
        containerfile: None,
        generated: None,
        tag: claimed.clone(),
        labels,
    };
    fakes.runtime.build_image(&spec).await.unwrap();

    let plan = p.project_delete(&project(), false, &none()).await.unwrap();
    let removed: Vec<&Change> = plan.changes.iter().map(|c| &c.change).collect();
    assert!(removed.contains(&&Change::RemoveImage { image: built.clone() }), "{removed:?}");
    assert!(!removed.iter().any(|c| **c == Change::RemoveImage { image: claimed.clone() }), "{removed:?}");
    p.project_delete(&project(), true, &none()).await.unwrap();

    let left: Vec<ImageRef> =
        fakes.runtime.list_images(&Default::default()).await.unwrap().into_iter().map(|i| i.reference).collect();
    assert_eq!(left, [claimed], "the built image is gone; the other project's stays");
}

#[tokio::test]
async fn health_logs_and_ssot_status_describe_the_serving_release() {
    let (fakes, p) = setup();
    deploy(&p, false).await;
    let health = p.health_check(&project(), &env()).await.unwrap();
    assert!(health.verdict.healthy, "{:?}", health.verdict);
    assert_eq!(health.release, ReleaseId::parse("v1").unwrap());
    let container = release_container(&project(), &env(), &health.release).unwrap();
    for i in 0..3 {
        fakes.runtime.push_log(&container, &format!("line {i}")).unwrap();
    }
    assert_eq!(p.logs(&project(), &env(), 2).await.unwrap(), ["line 1", "line 2"]);
    fakes.runtime.crash(&container, 1).unwrap();
    assert!(!p.health_check(&project(), &env()).await.unwrap().verdict.healthy);

    let status = p.ssot_status().await.unwrap();
    assert_eq!((status.projects, status.environments, status.serving, status.locked), (1, 1, 1, 0));
    assert_eq!(p.ssot_export().await.unwrap().revision, status.revision);
}

#[tokio::test]
async fn drift_reports_a_dead_release_a_moved_route_and_an_unknown_container() {
    let (fakes, p) = setup();
    let port = deploy(&p, false).await;
    let report = p.drift().await.unwrap();
    assert!(report.items.is_empty(), "a fresh deploy has no drift: {:?}", report.items);

    let container = release_container(&project(), &env(), &ReleaseId::parse("v1").unwrap()).unwrap();
    fakes.runtime.crash(&container, 1).unwrap();
    let elsewhere = Upstream { host: [127, 0, 0, 1].into(), port: Port::new(9999).unwrap() };
    let elsewhere = Upstreams::Fixed(vec![elsewhere]);
    fakes.proxy.switch_upstreams(&host("shop.codeb.test"), &elsewhere).await.unwrap();
    let stranger = ProjectName::parse("stranger").unwrap();
    let labels = managed_labels(&stranger, &env(), Service::App, None);
    create_labelled(&fakes, "codeb-stranger", labels).await;

    let items = p.drift().await.unwrap().items;
    assert!(items.iter().any(|i| matches!(i, DriftItem::ReleaseNotRunning { container: c, .. } if *c == container)));
    assert!(items.iter().any(|i| matches!(i, DriftItem::RouteMismatch { expected, actual, .. } if expected.fixed()[0].port == port && actual.as_ref() == Some(&elsewhere))));
    assert!(
        items
            .iter()
            .any(|i| matches!(i, DriftItem::UnknownContainer { container } if container.as_str() == "codeb-stranger"))
    );
}

#[tokio::test]
async fn port_check_sees_what_the_runtime_publishes_and_notices_a_release_that_stopped() {
    let (fakes, p) = setup();
    let port = deploy(&p, true).await;
    let report = p.port_check().await.unwrap();
    assert!(report.is_clean(), "the serving release and its database publish their ports: {report:?}");

    let container = release_container(&project(), &env(), &ReleaseId::parse("v1").unwrap()).unwrap();
    fakes.runtime.crash(&container, 1).unwrap();
    let report = p.port_check().await.unwrap();
    assert!(report.conflicts.is_empty(), "{report:?}");
    assert!(
        matches!(report.drift.as_slice(), [PortDrift::NotListening { port: p, .. }] if *p == port),
        "only the dead release's port drifts: {report:?}"
    );
}

#[tokio::test]
async fn a_port_allocation_names_its_key_port_and_server_and_is_made_once() {
    let (_fakes, p) = setup();
    let key = PortKey::new(project(), Environment::Production, Service::Postgres);
    let first = p.port_allocation(&key).await.unwrap();
    assert_eq!((&first.key, first.server.as_str()), (&key, "local"));
    assert!((25432..=25499).contains(&first.port.get()), "{first:?}");
    assert_eq!(p.port_allocation(&key).await.unwrap(), first, "asking again returns the same allocation");
    assert_eq!(p.port_allocate(&key).await.unwrap(), first.port);
}

#[tokio::test]
async fn the_releases_of_an_unknown_project_or_environment_are_not_found_like_its_logs() {
    let (_b, p) = setup();
    let unknown = p.releases(&project(), &env()).await.unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::NotFound, "{unknown}");
    assert_eq!(unknown.context_value("project"), Some(project().as_str()));
    deploy(&p, false).await;
    assert_eq!(p.releases(&project(), &env()).await.unwrap().len(), 1);
    let production = Environment::parse("production").unwrap();
    assert_eq!(p.releases(&project(), &production).await.unwrap_err().kind(), ErrorKind::NotFound);
}

/// Deploys `name` to staging with `domains`, serving `localhost/shop:v1`.
async fn deploy_other(p: &Platform, name: &str, domains: &[&str]) -> codeb::Result<codeb::engine::DeployReport> {
    let mut r = DeployRequest::new(ProjectName::parse(name).unwrap(), env(), image(), Port::new(8080).unwrap());
    r.domains = domains.iter().map(|d| host(d)).collect();
    r.health =
        HealthCheck { interval: Duration::from_millis(5), deadline: Duration::from_millis(100), ..Default::default() };
    p.deploy(&r, &none()).await
}

#[tokio::test]
async fn a_deploy_cannot_take_another_projects_domain_in_any_spelling() {
    let (fakes, p) = setup();
    let owner_port = deploy(&p, false).await;

    let err = deploy_other(&p, "taker", &["SHOP.codeb.test."]).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(err.context_value("owner"), Some("shop/staging"), "the error names the owner: {err}");
    let route = fakes.proxy.get_route(&host("shop.codeb.test")).await.unwrap().unwrap();
    assert_eq!(route.upstreams.fixed()[0].port, owner_port, "the owner's route is untouched");
    let taker = p.releases(&ProjectName::parse("taker").unwrap(), &env()).await;
    assert!(taker.map_or_else(|e| e.kind() == ErrorKind::NotFound, |r| r.is_empty()), "nothing ran");
}

#[tokio::test]
async fn removing_or_deleting_a_non_owner_leaves_the_owners_route_and_record() {
    let (fakes, p) = setup();
    let owner_port = deploy(&p, false).await;
    deploy_other(&p, "taker", &["taker.codeb.test"]).await.unwrap();
    let (taker, owned) = (ProjectName::parse("taker").unwrap(), host("shop.codeb.test"));

    let err = p.domain_remove(&taker, &env(), &owned, true, &none()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(err.context_value("owner"), Some("shop/staging"), "{err}");
    p.project_delete(&taker, true, &none()).await.unwrap();

    let route = fakes.proxy.get_route(&owned).await.unwrap().unwrap();
    assert_eq!(route.upstreams.fixed()[0].port, owner_port, "the owner's route stays");
    let records = codeb::dns::Dns::list_records(fakes.dns.as_ref(), &host("codeb.test")).await.unwrap();
    assert!(records.iter().any(|r| r.name == owned), "the owner's record stays: {records:?}");
    assert!(fakes.proxy.get_route(&host("taker.codeb.test")).await.unwrap().is_none(), "the taker's own route went");
}

#[tokio::test]
async fn a_domain_setup_refuses_another_owners_domain_and_moves_it_only_with_force() {
    let (fakes, p) = setup();
    let owner_port = deploy(&p, false).await;
    let taker_port = deploy_other(&p, "taker", &["taker.codeb.test"]).await.unwrap().port;
    let (taker, owned) = (ProjectName::parse("taker").unwrap(), host("shop.codeb.test"));

    let err = p.domain_setup(&taker, &env(), &host("Shop.CODEB.test."), false, false, &none()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(err.context_value("owner"), Some("shop/staging"), "{err}");
    assert_eq!(fakes.proxy.get_route(&owned).await.unwrap().unwrap().upstreams.fixed()[0].port, owner_port);

    let moved = p.domain_setup(&taker, &env(), &owned, false, true, &none()).await.unwrap();

    assert_eq!(moved.taken_from.as_ref().map(|o| o.to_string()).as_deref(), Some("shop/staging"));
    assert!(moved.to_string().contains("taken from shop/staging"), "{moved}");
    assert_eq!(fakes.proxy.get_route(&owned).await.unwrap().unwrap().upstreams.fixed()[0].port, taker_port);
    assert!(!p.domain_list(&project(), &env()).await.unwrap().contains(&owned), "the owner no longer lists it");
    assert!(p.domain_list(&taker, &env()).await.unwrap().contains(&owned));
    let state = fakes.state.load().unwrap();
    assert!(state.projects.values().flat_map(|p| p.environments.values()).all(|e| e.lock.is_none()), "both unlocked");
    let err = deploy_other(&p, "shop", &["shop.codeb.test"]).await.unwrap_err();
    assert_eq!(err.context_value("owner"), Some("taker/staging"), "the old owner cannot take it back unasked: {err}");
    assert_eq!(fakes.proxy.get_route(&owned).await.unwrap().unwrap().upstreams.fixed()[0].port, taker_port);
}

#[tokio::test]
async fn a_domain_moved_to_an_environment_where_nothing_serves_no_longer_leads_to_its_old_owner() {
    let (fakes, p) = setup();
    deploy(&p, false).await;
    let owned = host("shop.codeb.test");
    // Production is recorded, and nothing serves there.
    fakes
        .state
        .update(&mut |doc| {
            doc.environment_mut(&project(), &Environment::Production);
            Ok(())
        })
        .unwrap();

    let moved = p.domain_setup(&project(), &Environment::Production, &owned, false, true, &none()).await.unwrap();

    assert!(moved.changes.iter().any(|c| c.change == Change::RemoveRoute { host: owned.clone() }), "{moved}");
    assert!(fakes.proxy.get_route(&owned).await.unwrap().is_none(), "the old owner's release is not served under it");
    assert!(p.domain_list(&project(), &Environment::Production).await.unwrap().contains(&owned));
}

#[tokio::test]
async fn a_domain_removal_that_fails_at_dns_puts_the_route_back() {
    let (fakes, p) = setup();
    let port = deploy(&p, false).await;
    let owned = host("shop.codeb.test");
    fakes.dns.faults().fail_next("delete_records", 1, ErrorKind::Unavailable);

    let err = p.domain_remove(&project(), &env(), &owned, true, &none()).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(
        fakes.proxy.get_route(&owned).await.unwrap().unwrap().upstreams.fixed()[0].port,
        port,
        "the route is back"
    );
    assert!(p.domain_list(&project(), &env()).await.unwrap().contains(&owned), "the SSOT still records it");
}

#[tokio::test]
async fn removing_a_domain_or_project_leaves_a_domain_an_older_ssot_also_records_for_another_project() {
    let (fakes, p) = setup();
    let owner_port = deploy(&p, false).await;
    deploy_other(&p, "taker", &["taker.codeb.test"]).await.unwrap();
    let (taker, owned) = (ProjectName::parse("taker").unwrap(), host("shop.codeb.test"));
    // Written before a domain had one owner: both record it.
    let record_it_for_the_taker_too = || {
        fakes.state.update(&mut |doc| {
            doc.environment_mut(&taker, &env()).domains.push(owned.clone());
            Ok(())
        })
    };
    record_it_for_the_taker_too().unwrap();

    let removed = p.domain_remove(&taker, &env(), &owned, true, &none()).await.unwrap();
    assert!(matches!(removed.changes.as_slice(), [c] if matches!(c.change, Change::ForgetDomain { .. })), "{removed}");
    record_it_for_the_taker_too().unwrap();
    p.project_delete(&taker, true, &none()).await.unwrap();

    assert_eq!(fakes.proxy.get_route(&owned).await.unwrap().unwrap().upstreams.fixed()[0].port, owner_port);
    let records = codeb::dns::Dns::list_records(fakes.dns.as_ref(), &host("codeb.test")).await.unwrap();
    assert!(records.iter().any(|r| r.name == owned), "the owner's record stays: {records:?}");
}

#[tokio::test]
async fn the_server_list_names_each_server_its_roles_and_the_environments_on_it() {
    let (_fakes, p) = setup();
    deploy(&p, false).await;
    let servers = p.server_list().await.unwrap();
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0].server, codeb::model::ServerName::local());
    assert_eq!(servers[0].roles.len(), codeb::model::Role::ALL.len(), "the one server holds every role");
    assert_eq!(servers[0].reach, "memory");
    assert_eq!(servers[0].environments, ["shop/staging"]);
}

#[tokio::test]
async fn a_server_check_passes_on_a_healthy_server_and_names_each_failure() {
    let (fakes, p) = setup();
    let report = p.server_check(None).await.unwrap();
    let checks: Vec<(&str, bool)> = report[0].checks.iter().map(|c| (c.check.as_str(), c.ok)).collect();
    assert_eq!(
        checks,
        [
            ("login", true),
            ("engine", true),
            ("disk", true),
            ("clock", true),
            ("ports", true),
            ("proxy", true),
            ("dns", true)
        ]
    );
    assert!(report[0].ok);

    fakes.doctor.set_clock_skew(-90);
    let squatter = Port::new(3001).unwrap();
    let owner = codeb::ports::ListenerOwner::Foreign { description: "nginx".into() };
    fakes.ports.probe().listen(&codeb::model::ServerName::local(), squatter, owner);
    let report = p.server_check(Some(&codeb::model::ServerName::local())).await.unwrap();
    assert!(!report[0].ok);
    let failed: Vec<String> = report[0].checks.iter().filter(|c| !c.ok).map(ToString::to_string).collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed[0].starts_with("FAIL clock: -90 s"), "{failed:?}");
    assert!(failed[1].contains("3001 (nginx)"), "{failed:?}");

    fakes.doctor.refuse_logins();
    let report = p.server_check(None).await.unwrap();
    assert_eq!(report[0].checks.len(), 1, "nothing else is asked of a server codeb cannot log in to");
    assert!(report[0].checks[0].detail.contains("refused the key"), "{:?}", report[0].checks);
    let unknown = p.server_check(Some(&codeb::model::ServerName::parse("nowhere").unwrap())).await.unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn an_import_moves_the_ssot_and_every_kept_variable_version_so_each_release_keeps_its_variables() {
    let (_old_fakes, old) = setup();
    let token = |v: &str| EnvVar::secret(EnvKey::parse("TOKEN").unwrap(), EnvValue::parse(v).unwrap());
    let mode = EnvVar::plain(EnvKey::parse("MODE").unwrap(), EnvValue::parse("fast").unwrap());
    old.env_set(&project(), &env(), &[token("first"), mode.clone()]).await.unwrap();
    deploy(&old, false).await;
    old.env_set(&project(), &env(), &[token("second")]).await.unwrap();
    old.env_unset(&project(), &env(), std::slice::from_ref(&mode.key), true).await.unwrap();
    deploy(&old, false).await;
    let exported = old.ssot_export().await.unwrap();

    let (_new_fakes, new) = setup();
    let imported = new.ssot_import(exported.clone(), Some(&old), false).await.unwrap();
    assert_eq!((imported.projects, imported.environments_with_secrets), (1, 1), "{imported}");
    let here = new.ssot_export().await.unwrap();
    let (was, is) = (&exported.projects[&project()], &here.projects[&project()]);
    assert_eq!(was.environments[&env()].current_release, is.environments[&env()].current_release);
    for (before, after) in was.environments[&env()].releases.iter().zip(&is.environments[&env()].releases) {
        let scope = codeb::secrets::Scope::new(project(), env());
        let (ran, runs) = (
            old.backends().secrets.list_at(&scope, before.config.env_version).await.unwrap(),
            new.backends().secrets.list_at(&scope, after.config.env_version).await.unwrap(),
        );
        assert_eq!(ran.vars, runs.vars, "release {} keeps the variables it ran with", before.id);
    }

    let again = new.ssot_import(exported.clone(), Some(&old), false).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict, "an SSOT that records projects is not replaced without force");
    let mut locked = exported;
    let held = serde_json::json!({"owner": "someone", "host": "elsewhere", "pid": 1, "started_at": chrono::Utc::now()});
    locked.environment_mut(&project(), &env()).lock = Some(serde_json::from_value(held).unwrap());
    let (_, empty) = setup();
    let err = empty.ssot_import(locked, None, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(empty.ssot_export().await.unwrap().revision, 0, "a refused import changes nothing");
}
