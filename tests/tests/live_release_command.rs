//! The release command on the live stack: a one-off container of the
//! busybox image on the real Podman, with the environment's secrets (through
//! `codeb-envexec`) and its PostgreSQL on the network; a failure or a hang
//! stops the deploy before the real Caddy's route moves, and the one-off
//! container never stays behind.

mod support;

use std::time::Duration;

use codeb::ErrorKind;
use codeb::engine::{ReleaseCommand, release_command_container, release_container};
use codeb::model::{EnvKey, EnvValue, EnvVar, Environment, ImageRef, ProjectName, ReleaseId};
use codeb::testkit::live_env;
use support::{Live, podman};

const SECRET: &str = "live-s3cret-9d41";

/// Held by each test while it deploys: every test has its own SSOT, so two
/// at once would be handed the same ports.
static DEPLOYING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn sh(script: &str, timeout: Duration) -> Option<ReleaseCommand> {
    Some(ReleaseCommand { argv: vec!["sh".into(), "-c".into(), script.into()], timeout })
}

async fn set_secret(live: &Live, project: &ProjectName) {
    let token =
        EnvVar { key: EnvKey::parse("API_TOKEN").unwrap(), value: EnvValue::parse(SECRET).unwrap(), secret: true };
    live.platform.env_set(project, &Environment::Staging, &[token]).await.unwrap();
}

/// The names of the containers of `project` Podman holds, running or not.
fn containers_of(project: &ProjectName) -> String {
    podman(&["ps", "-a", "--filter", &format!("label=io.codeb.project={project}"), "--format", "{{.Names}}"])
}

fn one_off(project: &ProjectName, release: &str) -> String {
    release_command_container(project, &Environment::Staging, &ReleaseId::parse(release).unwrap()).unwrap().to_string()
}

#[tokio::test]
async fn a_release_command_reaches_the_database_with_the_secrets_and_gates_a_deploy_that_then_serves() {
    let Some(live) = Live::start() else { return };
    let _turn = DEPLOYING.lock().await;
    let project = live.project("rc-ok");
    set_secret(&live, &project).await;
    let mut request = live.request(&project, &[live.host("rc-ok")]);
    request.accessories.postgres = true;
    // Exits 0 only with the secret in its env and the database reachable by its name on the network.
    request.release_command = sh(
        &format!(
            "test \"$API_TOKEN\" = {SECRET} || exit 7; h=${{DATABASE_URL#*@}}; h=${{h%%:*}}; nc -w 5 \"$h\" 5432 </dev/null || exit 8; echo migrated"
        ),
        Duration::from_secs(60),
    );
    let result = live.deploy(&request).await;
    let left = containers_of(&project);
    live.clean_up(&[&project]).await;
    let report = result.expect("the release command passes and the release serves");
    assert_eq!(report.release.as_str(), "v1");
    assert!(!left.contains(&one_off(&project, "v1")), "the one-off container is removed: {left}");
}

#[tokio::test]
async fn a_failing_release_command_keeps_the_route_on_the_serving_release_and_shows_its_output_masked() {
    let Some(live) = Live::start() else { return };
    let _turn = DEPLOYING.lock().await;
    let project = live.project("rc-fail");
    let host = live.host("rc-fail");
    set_secret(&live, &project).await;
    let first = live.deploy(&live.request(&project, std::slice::from_ref(&host))).await.expect("v1 deploys");
    let mut second = live.request(&project, std::slice::from_ref(&host));
    second.image = ImageRef::parse(&live_env("CODEB_TEST_IMAGE_V2").unwrap()).unwrap();
    second.release_command =
        sh("echo \"connecting with $API_TOKEN\"; echo 'relation exists' >&2; exit 3", Duration::from_secs(60));
    let err = live.deploy(&second).await.expect_err("the release command fails");
    let (routed, left) = (live.routed_port(&host).await, containers_of(&project));
    live.clean_up(&[&project]).await;

    assert_eq!((err.kind(), err.context_value("step")), (ErrorKind::Unhealthy, Some("release_command")), "{err}");
    let text = err.to_string();
    assert!(text.contains("exited with code 3") && text.contains("relation exists"), "its output is shown: {text}");
    assert!(text.contains("connecting with ********") && !text.contains(SECRET), "the secret is masked: {text}");
    assert_eq!(routed, Some(first.port), "the route stays on v1");
    let v2 = release_container(&project, &Environment::Staging, &ReleaseId::parse("v2").unwrap()).unwrap();
    assert!(!left.contains(&one_off(&project, "v2")) && !left.contains(v2.as_str()), "nothing of v2 is left: {left}");
}

#[tokio::test]
async fn a_hanging_release_command_is_killed_at_its_timeout_and_its_container_removed() {
    let Some(live) = Live::start() else { return };
    let _turn = DEPLOYING.lock().await;
    let project = live.project("rc-hang");
    let mut request = live.request(&project, &[]);
    request.release_command = sh("echo waiting; sleep 600", Duration::from_secs(2));
    let started = std::time::Instant::now();
    let err = live.deploy(&request).await.expect_err("the release command hangs");
    let (elapsed, left) = (started.elapsed(), containers_of(&project));
    live.clean_up(&[&project]).await;

    assert_eq!((err.kind(), err.context_value("step")), (ErrorKind::Timeout, Some("release_command")), "{err}");
    assert!(err.to_string().contains("timed out after 2s") && err.to_string().contains("waiting"), "{err}");
    assert!(elapsed < Duration::from_secs(30), "killed at its timeout, not at its end: {elapsed:?}");
    assert!(!left.contains(&one_off(&project, "v1")), "the one-off container is removed: {left}");
}
