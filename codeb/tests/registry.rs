//! Images and a registry on the in-memory fakes: with `[registry]`, an image
//! built here is pushed and the release records and runs the digest the
//! registry gives; a digest the registry lacks is refused before anything
//! changes. With a server of the build role, the image is built and pushed
//! there and pulled by digest where the release runs.

use codeb::ErrorKind;
use codeb::config::Registry;
use codeb::engine::{Change, DeployOptions, DeployRequest, Platform, Settings, release_container};
use codeb::fake::FakeBackends;
use codeb::fleet::Fleet;
use codeb::model::{Environment, ImageRef, Port, ProjectName, ReleaseId, Role, ServerName, Service};
use codeb::runtime::{BuildSpec, ContainerRuntime, Labels, managed_labels};
use codeb::ssot::StateStore;

fn project() -> ProjectName {
    ProjectName::parse("shop").unwrap()
}

fn platform(fakes: &FakeBackends, registry: Option<Registry>) -> Platform {
    let mut settings = Settings::local("tester", "test");
    settings.watch_window = std::time::Duration::ZERO;
    settings.registry = registry;
    Platform::new(fakes.backends(), settings)
}

fn registry() -> Registry {
    Registry::new("127.0.0.1:5000", false).unwrap()
}

/// A deploy that builds `localhost/shop:build-1` from a context holding a Containerfile.
fn build_request(context: &std::path::Path) -> DeployRequest {
    std::fs::write(context.join("Containerfile"), "FROM scratch\n").unwrap();
    let image = ImageRef::parse("localhost/shop:build-1").unwrap();
    let mut request = DeployRequest::new(project(), Environment::Staging, image.clone(), Port::new(8080).unwrap());
    request.build = Some(BuildSpec {
        context: context.to_owned(),
        containerfile: None,
        generated: None,
        tag: image,
        labels: Labels::new(),
    });
    request
}

#[tokio::test]
async fn an_image_built_here_is_pushed_and_the_release_records_and_runs_its_digest() {
    let (fakes, context) = (FakeBackends::new(), tempfile::tempdir().unwrap());
    let p = platform(&fakes, Some(registry()));
    let plan = p.plan(&build_request(context.path())).await.unwrap();
    let kinds: Vec<String> = plan.changes.iter().map(|c| c.change.kind()).collect();
    let push = kinds.iter().position(|k| k == "push_image").unwrap_or_else(|| panic!("a push in {kinds:?}"));
    assert_eq!(kinds[push - 1], "build_image", "built, then pushed: {kinds:?}");
    let to = ImageRef::parse("127.0.0.1:5000/shop:build-1").unwrap();
    assert!(plan.changes.iter().any(|c| c.change == Change::PushImage { image: plan.image.clone(), to: to.clone() }));

    let report = p.apply(&plan, &DeployOptions::default()).await.unwrap();
    let pinned = &report.image;
    assert_eq!((pinned.registry(), pinned.repository()), (Some("127.0.0.1:5000"), "shop"), "{pinned}");
    assert!(pinned.digest().is_some_and(|d| d.starts_with("sha256:")), "run by digest: {pinned}");
    let record = fakes.state.load().unwrap().environment(&project(), &Environment::Staging).cloned().unwrap();
    assert_eq!(&record.current().unwrap().image, pinned, "the release records the digest it runs");
    let container = release_container(&project(), &Environment::Staging, &ReleaseId::parse("v1").unwrap()).unwrap();
    assert_eq!(&fakes.runtime.container_spec(&container).unwrap().image, pinned, "and runs it");
}

#[tokio::test]
async fn without_a_registry_an_image_built_here_is_run_as_built() {
    let (fakes, context) = (FakeBackends::new(), tempfile::tempdir().unwrap());
    let p = platform(&fakes, None);
    let plan = p.plan(&build_request(context.path())).await.unwrap();
    assert!(!plan.changes.iter().any(|c| matches!(c.change, Change::PushImage { .. })));
    let report = p.apply(&plan, &DeployOptions::default()).await.unwrap();
    assert_eq!(report.image.as_str(), "localhost/shop:build-1");
}

#[tokio::test]
async fn a_digest_the_registry_lacks_is_not_found_before_anything_changes() {
    let fakes = FakeBackends::new();
    let p = platform(&fakes, Some(registry()));
    let missing = ImageRef::parse(&format!("127.0.0.1:5000/shop@sha256:{}", "0".repeat(64))).unwrap();
    let request = DeployRequest::new(project(), Environment::Staging, missing.clone(), Port::new(8080).unwrap());
    let err = p.deploy(&request, &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.context_value("step"), Some("plan"), "{err}");
    assert!(err.to_string().contains("is not in the registry 127.0.0.1:5000"), "{err}");
    assert!(fakes.state.load().unwrap().projects.is_empty(), "nothing was recorded");
    assert!(fakes.runtime.created().is_empty(), "nothing was created");
}

#[tokio::test]
async fn a_push_the_registry_refuses_fails_the_deploy_at_the_image_step_and_leaves_nothing() {
    let (fakes, context) = (FakeBackends::new(), tempfile::tempdir().unwrap());
    let p = platform(&fakes, Some(registry()));
    fakes.runtime.faults().fail_next("push_image", 1, ErrorKind::Unauthenticated);
    let err = p.deploy(&build_request(context.path()), &DeployOptions::default()).await.unwrap_err();
    assert_eq!((err.kind(), err.context_value("step")), (ErrorKind::Unauthenticated, Some("image")), "{err}");
    assert!(fakes.runtime.created().is_empty(), "no release started");
}

#[tokio::test]
async fn a_promotion_runs_the_digest_staging_serves_in_production_with_productions_env_and_no_build() {
    let (fakes, context) = (FakeBackends::new(), tempfile::tempdir().unwrap());
    let p = platform(&fakes, Some(registry()));
    let staging = p.deploy(&build_request(context.path()), &DeployOptions::default()).await.unwrap();
    let token = |value: &str| codeb::model::EnvVar {
        key: codeb::model::EnvKey::parse("API_TOKEN").unwrap(),
        value: codeb::model::EnvValue::parse(value).unwrap(),
        secret: true,
    };
    p.env_set(&project(), &Environment::Production, &[token("production-token")]).await.unwrap();
    let (from, to) = (Environment::Staging, Environment::Production);

    let plan = p.plan_promote(&project(), &from, &to).await.unwrap();
    assert!(!plan.changes.iter().any(|c| matches!(c.change, Change::BuildImage { .. } | Change::PushImage { .. })));
    assert_eq!(plan.image, staging.image, "the plan runs staging's digest");
    let promoted = p.promote(&project(), &from, &to, &DeployOptions::default()).await.unwrap();
    assert_eq!((promoted.env, &promoted.image), (Environment::Production, &staging.image), "the very image");
    let container = release_container(&project(), &Environment::Production, &ReleaseId::parse("v1").unwrap()).unwrap();
    let env = fakes.runtime.container_spec(&container).unwrap().env;
    assert!(env.iter().any(|v| v.key.as_str() == "API_TOKEN" && v.value.expose() == "production-token"), "its own env");
}

#[tokio::test]
async fn a_promotion_needs_a_serving_release_whose_image_was_pushed() {
    let (fakes, context) = (FakeBackends::new(), tempfile::tempdir().unwrap());
    let (from, to) = (Environment::Staging, Environment::Production);
    let p = platform(&fakes, None);
    let nothing = p.promote(&project(), &from, &to, &DeployOptions::default()).await.unwrap_err();
    assert_eq!(nothing.kind(), ErrorKind::Conflict, "{nothing}");
    assert!(nothing.to_string().contains("has no serving release to promote"), "{nothing}");

    p.deploy(&build_request(context.path()), &DeployOptions::default()).await.unwrap();
    let local = p.promote(&project(), &from, &to, &DeployOptions::default()).await.unwrap_err();
    assert_eq!(local.kind(), ErrorKind::Conflict, "{local}");
    assert!(local.to_string().contains("never pushed to a registry") && local.to_string().contains("[registry]"));
    assert!(fakes.state.load().unwrap().environment(&project(), &to).is_none(), "production is untouched");
}

/// `app1` (app, proxy, dns, control) on `fakes` and the build server `ci` on
/// `builder`: two runtimes, each with images of its own (one registry, when
/// `builder` shares `fakes`'s).
fn with_build_server(fakes: &FakeBackends, builder: &FakeBackends, registry: Option<Registry>) -> Platform {
    let mut app = fakes.host();
    app.name = ServerName::parse("app1").unwrap();
    app.roles = [Role::App, Role::Proxy, Role::Dns, Role::Control].into();
    let mut ci = builder.host();
    ci.name = ServerName::parse("ci").unwrap();
    ci.roles = [Role::Build].into();
    let mut settings = Settings::local("tester", "test");
    settings.watch_window = std::time::Duration::ZERO;
    settings.registry = registry;
    Platform::new(fakes.backends_on(Fleet::new([app, ci]).unwrap()), settings)
}

/// A build request whose image carries the labels codeb gives the images it builds.
fn labelled_build_request(context: &std::path::Path) -> DeployRequest {
    let mut request = build_request(context);
    if let Some(build) = request.build.as_mut() {
        build.labels = managed_labels(&project(), &Environment::Staging, Service::App, None);
    }
    request
}

#[tokio::test]
async fn a_build_server_builds_and_pushes_and_the_app_server_pulls_the_digest_without_building() {
    let (fakes, context) = (FakeBackends::new(), tempfile::tempdir().unwrap());
    let builder = fakes.sharing_registry();
    let p = with_build_server(&fakes, &builder, Some(registry()));
    let plan = p.plan(&labelled_build_request(context.path())).await.unwrap();
    let placed: Vec<(String, String)> = plan
        .changes
        .iter()
        .filter(|c| c.change.step() == codeb::model::Step::Image || c.change.kind() == "start_release")
        .map(|c| (c.change.kind(), c.server.to_string()))
        .collect();
    let expected = [("build_image", "ci"), ("push_image", "ci"), ("pull_image", "app1"), ("start_release", "app1")];
    assert_eq!(placed, expected.map(|(k, s)| (k.to_owned(), s.to_owned())), "{plan:#?}");
    let to = ImageRef::parse("127.0.0.1:5000/shop:build-1").unwrap();
    let pull = plan.changes.iter().find(|c| c.change.kind() == "pull_image").unwrap();
    assert_eq!(pull.to_string(), format!("pull image {to} by the digest its push gave on app1"));

    let report = p.apply(&plan, &DeployOptions::default()).await.unwrap();
    assert!(report.image.digest().is_some() && report.image.registry() == Some("127.0.0.1:5000"), "{}", report.image);
    let calls = |f: &FakeBackends, op: &str| f.runtime.faults().calls(op);
    assert_eq!((calls(&builder, "build_image"), calls(&builder, "push_image")), (1, 1), "built and pushed on ci");
    assert_eq!((calls(&fakes, "build_image"), calls(&fakes, "push_image")), (0, 0), "app1 builds nothing");
    assert!(builder.runtime.created().is_empty(), "the build server runs no release");
    let container = release_container(&project(), &Environment::Staging, &ReleaseId::parse("v1").unwrap()).unwrap();
    assert_eq!(fakes.runtime.container_spec(&container).unwrap().image, report.image, "app1 runs the pulled digest");

    let removal = p.project_delete(&project(), true, &DeployOptions::default()).await.unwrap();
    let built = ImageRef::parse("localhost/shop:build-1").unwrap();
    let removes_built = |c: &codeb::engine::PlannedChange| c.change == Change::RemoveImage { image: built.clone() };
    let on: Vec<String> = removal.changes.iter().filter(|c| removes_built(c)).map(|c| c.server.to_string()).collect();
    assert_eq!(on, ["ci"], "the project's built image is removed where it was built");
    let labels = managed_labels(&project(), &Environment::Staging, Service::App, None);
    assert!(builder.runtime.list_images(&labels).await.unwrap().is_empty(), "and is gone");
}

#[tokio::test]
async fn a_build_server_without_a_registry_is_refused_before_anything_changes() {
    let (fakes, context) = (FakeBackends::new(), tempfile::tempdir().unwrap());
    let builder = fakes.sharing_registry();
    let p = with_build_server(&fakes, &builder, None);
    let err = p.deploy(&build_request(context.path()), &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert_eq!((err.context_value("server"), err.context_value("field")), (Some("ci"), Some("registry")), "{err}");
    assert!(err.message().contains("no [registry] that server app1 could pull them from"), "{err}");
    assert!(fakes.state.load().unwrap().projects.is_empty(), "nothing was recorded");
    assert_eq!(builder.runtime.faults().calls("build_image"), 0, "nothing was built");
}

#[tokio::test]
async fn a_build_server_that_does_not_answer_or_fails_the_build_is_named() {
    let (fakes, context) = (FakeBackends::new(), tempfile::tempdir().unwrap());
    let builder = fakes.sharing_registry();
    let p = with_build_server(&fakes, &builder, Some(registry()));
    builder.runtime.faults().fail_next("ping", 1, ErrorKind::Unavailable);
    let down = p.plan(&build_request(context.path())).await.unwrap_err();
    assert_eq!((down.kind(), down.context_value("server")), (ErrorKind::Unavailable, Some("ci")), "{down}");
    assert!(down.message().contains("server ci"), "{down}");

    builder.runtime.faults().fail_next("build_image", 1, ErrorKind::Invalid);
    let failed = p.deploy(&build_request(context.path()), &DeployOptions::default()).await.unwrap_err();
    assert_eq!((failed.context_value("step"), failed.context_value("server")), (Some("image"), Some("ci")), "{failed}");
    assert!(fakes.runtime.created().is_empty(), "no release started on app1");
}

#[tokio::test]
async fn a_build_server_is_checked_for_its_engine_and_disk_and_not_for_release_ports() {
    let fakes = FakeBackends::new();
    let p = with_build_server(&fakes, &fakes.sharing_registry(), Some(registry()));
    let report = p.server_check(Some(&ServerName::parse("ci").unwrap())).await.unwrap();
    let checks: Vec<&str> = report[0].checks.iter().map(|c| c.check.as_str()).collect();
    assert_eq!(checks, ["login", "engine", "disk", "clock"], "{report:?}");
}
