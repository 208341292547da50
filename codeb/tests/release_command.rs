//! The release command on the in-memory fakes: it runs once, in a one-off
//! container of the new image with the new env, after the accessories and
//! before the new release; a failure or a timeout stops the deploy before
//! any traffic moves, quoting its output with the secrets masked.

use std::time::Duration;

use codeb::ErrorKind;
use codeb::engine::{
    Change, DeployOptions, DeployRequest, Platform, ReleaseCommand, Settings, accessory_container, environment_network,
    release_command_container, release_container,
};
use codeb::fake::{CommandScript, FakeBackends};
use codeb::model::{
    EnvKey, EnvValue, EnvVar, Environment, HealthCheck, ImageRef, Port, ProjectName, ReleaseId, Service, Step,
};
use codeb::proxy::Proxy;
use codeb::runtime::ContainerRuntime;
use codeb::secrets::{Scope, SecretStore};
use codeb::ssot::{ReleaseStatus, StateStore};

const MIGRATE: [&str; 4] = ["npx", "prisma", "migrate", "deploy"];
const SECRET: &str = "s3cret-token-4711";

fn project() -> ProjectName {
    ProjectName::parse("shop").unwrap()
}

fn image(tag: &str) -> ImageRef {
    ImageRef::parse(&format!("localhost/shop:{tag}")).unwrap()
}

fn release(id: &str) -> ReleaseId {
    ReleaseId::parse(id).unwrap()
}

/// A platform on fakes with v1 and v2 pullable and `API_TOKEN` set as a secret of staging.
async fn setup() -> (FakeBackends, Platform) {
    let fakes = FakeBackends::new();
    let mut settings = Settings::local("tester", "test");
    (settings.drain_grace, settings.stop_grace, settings.watch_window) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let p = Platform::new(fakes.backends(), settings);
    for image in [image("v1"), image("v2"), p.settings().postgres_image.clone()] {
        fakes.runtime.add_registry_image(&image);
    }
    let token =
        EnvVar { key: EnvKey::parse("API_TOKEN").unwrap(), value: EnvValue::parse(SECRET).unwrap(), secret: true };
    fakes.secrets.set(&Scope::new(project(), Environment::Staging), &[token]).await.unwrap();
    (fakes, p)
}

fn request(tag: &str, release_command: Option<ReleaseCommand>) -> DeployRequest {
    let mut r = DeployRequest::new(project(), Environment::Staging, image(tag), Port::new(8080).unwrap());
    r.domains = vec![codeb::model::DomainName::parse("shop.codeb.test").unwrap()];
    r.health = HealthCheck {
        interval: Duration::from_millis(5),
        deadline: Duration::from_millis(100),
        ..HealthCheck::default()
    };
    r.release_command = release_command;
    r
}

fn migrate(timeout: Duration) -> Option<ReleaseCommand> {
    Some(ReleaseCommand { argv: MIGRATE.iter().map(|w| w.to_string()).collect(), timeout })
}

async fn routed_port(fakes: &FakeBackends) -> Port {
    fakes.proxy.get_route(&request("v1", None).domains[0]).await.unwrap().unwrap().upstreams.fixed()[0].port
}

#[tokio::test]
async fn the_release_command_runs_once_in_the_new_image_with_the_new_env_between_the_accessories_and_the_release() {
    let (fakes, p) = setup().await;
    fakes.runtime.script_command(&MIGRATE, CommandScript::Exit { code: 0, output: vec!["applied 1 migration".into()] });
    let mut r = request("v1", migrate(Duration::from_secs(60)));
    r.accessories.postgres = true;

    let plan = p.plan(&r).await.unwrap();
    let kinds: Vec<String> = plan.changes.iter().map(|c| c.change.kind()).collect();
    let at = |kind: &str| kinds.iter().position(|k| k == kind).unwrap_or_else(|| panic!("{kind} in {kinds:?}"));
    assert!(at("start_accessory") < at("run_release_command"), "{kinds:?}");
    assert!(at("ensure_image") < at("run_release_command") && at("run_release_command") < at("start_release"));
    let shown = plan.changes[at("run_release_command")].to_string();
    assert!(
        shown.contains("`npx prisma migrate deploy`") && shown.contains("60000 ms"),
        "the dry run shows it: {shown}"
    );

    p.apply(&plan, &DeployOptions::default()).await.unwrap();
    let task = release_command_container(&project(), &Environment::Staging, &release("v1")).unwrap();
    let created: Vec<_> = fakes.runtime.created().into_iter().map(|spec| spec.name).collect();
    let position = |name| created.iter().position(|c| *c == name).unwrap();
    let accessory = accessory_container(&project(), &Environment::Staging, Service::Postgres).unwrap();
    let app = release_container(&project(), &Environment::Staging, &release("v1")).unwrap();
    assert_eq!(created.iter().filter(|c| **c == task).count(), 1, "once: {created:?}");
    assert!(position(accessory) < position(task.clone()) && position(task.clone()) < position(app), "{created:?}");

    let spec = fakes.runtime.created().into_iter().find(|spec| spec.name == task).unwrap();
    assert_eq!(spec.image, image("v1"));
    assert_eq!(spec.command.as_deref(), Some(&MIGRATE.map(String::from)[..]));
    assert_eq!(spec.network, Some(environment_network(&project(), &Environment::Staging).unwrap()));
    assert!(spec.ports.is_empty(), "a one-off publishes no port");
    let has = |key: &str| spec.env.iter().any(|v| v.key.as_str() == key && v.secret);
    assert!(has("DATABASE_URL") && has("API_TOKEN"), "the new env, the accessory's URL and the secrets among it");
    assert!(fakes.runtime.inspect_container(&task).await.is_err(), "the one-off container is removed");
}

#[tokio::test]
async fn a_failing_release_command_stops_the_deploy_before_traffic_moves_and_shows_its_output_masked() {
    let (fakes, p) = setup().await;
    p.deploy(&request("v1", None), &DeployOptions::default()).await.unwrap();
    let v1_port = routed_port(&fakes).await;
    let output = vec![format!("connecting with {SECRET}"), "error: relation \"users\" already exists".to_owned()];
    fakes.runtime.script_command(&MIGRATE, CommandScript::Exit { code: 3, output });

    let err = p.deploy(&request("v2", migrate(Duration::from_secs(60))), &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unhealthy, "{err}");
    assert_eq!(err.context_value("step"), Some("release_command"), "{err}");
    let text = err.to_string();
    assert!(text.contains("exited with code 3") && text.contains("relation \"users\" already exists"), "{text}");
    assert!(!text.contains(SECRET) && text.contains("connecting with ********"), "the secret is masked: {text}");

    assert_eq!(routed_port(&fakes).await, v1_port, "the route still points at v1");
    let env = fakes.state.load().unwrap().environment(&project(), &Environment::Staging).cloned().unwrap();
    assert_eq!(env.current_release, Some(release("v1")));
    match &env.release(&release("v2")).unwrap().status {
        ReleaseStatus::Failed { step, reason } => {
            assert_eq!(*step, Step::ReleaseCommand);
            assert!(reason.contains("exited with code 3") && !reason.contains(SECRET), "{reason}");
        }
        other => panic!("v2 must be recorded failed, is {other:?}"),
    }
    let created: Vec<_> = fakes.runtime.created().into_iter().map(|spec| spec.name).collect();
    let v2 = release_container(&project(), &Environment::Staging, &release("v2")).unwrap();
    assert!(!created.contains(&v2), "v2 never started: {created:?}");
    let task = release_command_container(&project(), &Environment::Staging, &release("v2")).unwrap();
    assert!(fakes.runtime.inspect_container(&task).await.is_err(), "the one-off container is removed");
}

#[tokio::test]
async fn a_hanging_release_command_is_killed_at_its_timeout_and_its_container_removed() {
    let (fakes, p) = setup().await;
    fakes.runtime.script_command(&MIGRATE, CommandScript::Hang);
    let err =
        p.deploy(&request("v1", migrate(Duration::from_millis(300))), &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.context_value("step"), Some("release_command"), "{err}");
    assert!(err.to_string().contains("timed out after 300ms; it was killed and its container removed"), "{err}");
    let task = release_command_container(&project(), &Environment::Staging, &release("v1")).unwrap();
    assert!(fakes.runtime.inspect_container(&task).await.is_err(), "the one-off container is removed");
    assert!(fakes.proxy.get_route(&request("v1", None).domains[0]).await.unwrap().is_none(), "no route was made");
}

#[tokio::test]
async fn a_release_command_that_names_no_program_is_refused_before_anything_changes() {
    let (fakes, p) = setup().await;
    let mut r = request("v1", migrate(Duration::from_secs(1)));
    r.release_command.as_mut().unwrap().argv = vec![String::new()];
    let err = p.deploy(&r, &DeployOptions::default()).await.unwrap_err();
    assert_eq!((err.kind(), err.context_value("field")), (ErrorKind::Invalid, Some("release_command")), "{err}");
    assert!(fakes.runtime.created().is_empty() && fakes.state.load().unwrap().projects.is_empty());
    let plan_of = |c: &Change| matches!(c, Change::RunReleaseCommand { .. });
    assert!(
        !p.plan(&request("v1", None)).await.unwrap().changes.iter().any(|c| plan_of(&c.change)),
        "none when not given"
    );
}
