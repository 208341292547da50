//! A real fleet on one machine: three hosts in network namespaces
//! (`codeb_devstack::fleet`), app, storage and backup, each with its own
//! sshd; the app host runs its own Podman (own storage), Caddy and PowerDNS
//! on its loopback. The platform file lists the three as `[servers.NAME]`
//! and names no socket or port this namespace could use: every call of the
//! SDK reaches a host over SSH. What a test checks from outside, it checks
//! as a visitor would (the page through the app host's Caddy at the host's
//! address) or on the host itself (DNS asked inside its namespace). One
//! test adds a fourth host, a build server with a stack of its own, whose
//! registry (TLS at its address, the fleet's own authority) the app host
//! pulls from.
//!
//! They need root, `ip` and OpenSSH, and the live stack's test images
//! (`scripts/test`), copied into the app host's storage with `podman save`
//! and `podman load` (the app host cannot reach the stack's registry, which
//! listens on the root namespace's loopback).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use codeb::engine::{Change, DeployEvent, DeployOptions, DeployRequest, EventSink, Platform};
use codeb::model::Step;
use codeb::model::{
    DomainName, EnvKey, EnvValue, EnvVar, Environment, HealthCheck, ImageRef, Port, ProjectName, ServerName, Service,
};

use codeb::ErrorKind;
use codeb::runtime::{BuildSpec, ContainerState, ExecSpec, managed_labels};
use codeb::ssot::ReleaseStatus;
use codeb::testkit::live_env;
use codeb_devstack::fleet::FleetHost;
use codeb_devstack::images::PodmanCli;
use codeb_devstack::{LocalStack, LocalStackOptions};
use codeb_tests::fleet_site::{BUILD, Site, connect, registry_section};

/// A staging deploy of `image` for `project` at `domains`.
fn request(project: &ProjectName, image: &str, domains: &[DomainName]) -> DeployRequest {
    let image = ImageRef::parse(image).unwrap();
    let mut request = DeployRequest::new(project.clone(), Environment::Staging, image, Port::new(8080).unwrap());
    request.domains = domains.to_vec();
    request.health =
        HealthCheck { interval: Duration::from_millis(100), deadline: Duration::from_secs(10), ..Default::default() };
    request
}

/// The page the app host's Caddy serves for `host`.
fn page(site: &Site, host: &DomainName) -> String {
    let (code, body) = site.page(host);
    assert_eq!(code, 200, "{host}: {body}");
    body
}

/// The project's running app container on the app host, as the SDK's own runtime (over SSH) lists it.
async fn running_container(p: &Platform, project: &ProjectName) -> codeb::runtime::ContainerInfo {
    let app = p.backends().fleet.host(&ServerName::parse("app").unwrap()).unwrap();
    let labels = managed_labels(project, &Environment::Staging, Service::App, None);
    let mut running: Vec<_> = app
        .runtime
        .list_containers(&labels)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.state == ContainerState::Running)
        .collect();
    assert_eq!(running.len(), 1, "one release serves: {running:?}");
    running.remove(0)
}

/// The containers the root namespace's own Podman (the live stack's) holds for `project`.
fn local_containers(project: &ProjectName) -> String {
    support::podman(&["ps", "--all", "--quiet", "--filter", &format!("label=codeb.project={project}")])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_over_ssh_deploys_switches_rolls_back_and_serves_a_domain_and_a_secret() {
    let Some(site) = Site::start(true) else { return };
    let (v1, v2) = (live_env("CODEB_TEST_IMAGE_V1").unwrap(), live_env("CODEB_TEST_IMAGE_V2").unwrap());
    let p = site.platform();
    let project = site.project("fleet");
    let web = site.domain("web");

    let first = p.deploy(&request(&project, &v1, std::slice::from_ref(&web)), &DeployOptions::default()).await.unwrap();
    assert_eq!(first.server, ServerName::parse("app").unwrap(), "placed on the app server");
    assert_eq!(page(&site, &web), "v1", "the app host's Caddy routes to the release on the app host");
    assert_eq!(site.dns_a(&web), site.host("app").address().to_string(), "the app host's PowerDNS names it");
    assert_eq!(local_containers(&project), "", "nothing ran on this machine's own Podman");

    let second =
        p.deploy(&request(&project, &v2, std::slice::from_ref(&web)), &DeployOptions::default()).await.unwrap();
    assert_ne!(first.release, second.release);
    assert_eq!(page(&site, &web), "v2");
    let back = p.rollback(&project, &Environment::Staging, None, &DeployOptions::default()).await.unwrap();
    assert_eq!(back.release, first.release);
    assert_eq!(page(&site, &web), "v1", "rolled back to v1");

    let api = site.domain("api");
    let added = p.domain_setup(&project, &Environment::Staging, &api, false, false, &DeployOptions::default()).await;
    assert!(added.unwrap().applied);
    assert_eq!(page(&site, &api), "v1", "the new domain routes to the serving release");
    assert_eq!(site.dns_a(&api), site.host("app").address().to_string());

    const SECRET: &str = "fleet-s3cret-value";
    let token = EnvVar::secret(EnvKey::parse("SECRET_TOKEN").unwrap(), EnvValue::parse(SECRET).unwrap());
    p.env_set(&project, &Environment::Staging, &[token]).await.unwrap();
    let third =
        p.deploy(&request(&project, &v2, &[web.clone(), api.clone()]), &DeployOptions::default()).await.unwrap();
    assert!(!format!("{third:?}{third}").contains(SECRET), "the report never holds the secret");
    assert_eq!(page(&site, &api), "v2");
    let serving = running_container(&p, &project).await;
    let app = p.backends().fleet.host(&ServerName::parse("app").unwrap()).unwrap();
    // A secret reaches the app's process, never `podman exec` (which sees the container's config):
    // look for it in the environment of the processes that run.
    let script = format!(
        "for f in /proc/[0-9]*/environ; do /bin/busybox tr '\\0' '\\n' < $f; done | /bin/busybox grep -qx SECRET_TOKEN={SECRET}"
    );
    let check = ["/bin/busybox", "sh", "-c", &script];
    let spec = ExecSpec { argv: check.map(str::to_owned).to_vec(), env: Vec::new() };
    assert_eq!(app.runtime.exec(&serving.name, &spec).await.unwrap(), 0, "the release runs with the secret");

    let removed = p.project_delete(&project, true, &DeployOptions::default()).await.unwrap();
    assert!(removed.applied);
    let labels = managed_labels(&project, &Environment::Staging, Service::App, None);
    assert!(
        app.runtime.list_containers(&labels).await.unwrap().is_empty(),
        "its containers are gone from the app host"
    );
    assert_eq!(local_containers(&project), "");
}

/// The plan of a first deploy of `project`, and the error it ends with.
async fn plan_error(p: &Platform, project: &ProjectName) -> codeb::Error {
    p.plan(&request(project, "localhost/codeb-test/httpd:v1", &[])).await.map(drop).unwrap_err()
}

/// `SHA256:...` of the OpenSSH public key in `path`, as ssh-keygen prints it.
fn fingerprint(path: &Path) -> String {
    let out = Command::new("ssh-keygen").arg("-lf").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1).unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_host_key_is_refused_naming_both_fingerprints() {
    let Some(site) = Site::start(false) else { return };
    let impostor = site.path("impostor");
    let keygen = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&impostor).status();
    assert!(keygen.unwrap().success());
    let pinned = std::fs::read_to_string(impostor.with_extension("pub")).unwrap();
    let text = site.platform_file(&FleetHost::ssh_target, site.fleet.client_key(), &site.known_hosts(Some(&pinned)));
    let refused = plan_error(&connect(&text), &site.project("key")).await;
    assert_eq!(refused.kind(), ErrorKind::Forbidden, "{refused}");
    let offered = site.host("app").dir().join("sshd/host_ed25519.pub");
    for named in [fingerprint(&impostor.with_extension("pub")), fingerprint(&offered)] {
        assert!(refused.to_string().contains(&named), "names {named}: {refused}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_user_or_key_is_unauthenticated() {
    let Some(site) = Site::start(false) else { return };
    let stranger = site.path("stranger");
    let keygen = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&stranger).status();
    assert!(keygen.unwrap().success());
    let known_hosts = site.known_hosts(None);
    let wrong_key = site.platform_file(&FleetHost::ssh_target, &stranger, &known_hosts);
    let nobody = |h: &FleetHost| format!("codeb-no-such-user@{}", h.ssh_address());
    let wrong_user = site.platform_file(&nobody, site.fleet.client_key(), &known_hosts);
    for text in [wrong_key, wrong_user] {
        let refused = plan_error(&connect(&text), &site.project("auth")).await;
        assert_eq!(refused.kind(), ErrorKind::Unauthenticated, "{refused}");
        assert_eq!(refused.context_value("server"), Some("app"), "{refused}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_unreachable_at_plan_time_makes_the_plan_say_so() {
    let Some(site) = Site::start(false) else { return };
    site.host("app").kill_sshd().unwrap();
    let unreachable = plan_error(&site.platform(), &site.project("down")).await;
    assert_eq!(unreachable.kind(), ErrorKind::Unavailable, "{unreachable}");
    assert_eq!(unreachable.context_value("server"), Some("app"), "{unreachable}");
    assert!(unreachable.to_string().contains("app"), "the message names the server: {unreachable}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sshd_killed_mid_deploy_leaves_the_old_release_serving_the_state_consistent_and_a_retry_succeeds() {
    let Some(site) = Site::start(true) else { return };
    let (v1, v2) = (live_env("CODEB_TEST_IMAGE_V1").unwrap(), live_env("CODEB_TEST_IMAGE_V2").unwrap());
    let p = site.platform();
    let project = site.project("crash");
    let web = site.domain("web");
    let first = p.deploy(&request(&project, &v1, std::slice::from_ref(&web)), &DeployOptions::default()).await.unwrap();

    // The app host's sshd and every session it serves die once the new release has started.
    let fleet = Arc::clone(&site.fleet);
    let kill: EventSink = Arc::new(move |event: &DeployEvent| {
        if let DeployEvent::ChangeApplied { change } = event
            && matches!(change.change, Change::StartRelease { .. })
        {
            fleet.host("app").unwrap().kill_sshd().unwrap();
        }
    });
    let options = DeployOptions { events: Some(kill), ..DeployOptions::default() };
    let mut attempt = request(&project, &v2, std::slice::from_ref(&web));
    // The probes cannot reach the host until the deadline: keep it short.
    attempt.health.deadline = Duration::from_secs(2);
    let failed = p.deploy(&attempt, &options).await.unwrap_err();
    assert_eq!(failed.context_value("server"), Some("app"), "{failed}");
    assert_eq!(page(&site, &web), "v1", "the old release keeps serving");
    let record = p.project_show(&project).await.unwrap().environments[&Environment::Staging].clone();
    assert_eq!(record.current_release, Some(first.release.clone()), "the SSOT still names the old release");
    assert!(record.lock.is_none(), "and holds no lock");
    let attempt = record.releases.iter().find(|r| r.id != first.release).expect("the attempt is recorded");
    assert!(matches!(attempt.status, ReleaseStatus::Failed { .. }), "{:?}", attempt.status);

    site.host("app").start_sshd().unwrap();
    let retry = p.deploy(&request(&project, &v2, std::slice::from_ref(&web)), &DeployOptions::default()).await.unwrap();
    assert_ne!(retry.release, first.release);
    assert_eq!(page(&site, &web), "v2", "the retry switched");
    let serving = running_container(&p, &project).await;
    assert!(serving.name.as_str().contains(retry.release.as_str()), "only the retry's release runs: {serving:?}");
    p.project_delete(&project, true, &DeployOptions::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_dropped_during_a_long_build_fails_the_deploy_cleanly_and_the_next_deploy_reconnects() {
    let Some(site) = Site::start(true) else { return };
    let v1 = live_env("CODEB_TEST_IMAGE_V1").unwrap();
    let p = site.platform();
    let project = site.project("cut");
    let web = site.domain("cut");
    let first = p.deploy(&request(&project, &v1, std::slice::from_ref(&web)), &DeployOptions::default()).await.unwrap();

    // A build that takes a while on the app host: its step sleeps.
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Containerfile"), format!("FROM {v1}\nRUN sleep 4\n")).unwrap();
    let built = ImageRef::parse(&format!("localhost/codeb-test-{}/slow:v1", site.ns.as_str())).unwrap();
    let mut slow = request(&project, built.as_str(), std::slice::from_ref(&web));
    slow.build = Some(BuildSpec {
        context: context.path().to_owned(),
        containerfile: None,
        generated: None,
        tag: built,
        labels: Default::default(),
    });

    // The session is cut while the build runs; the app host's sshd stays up.
    let fleet = Arc::clone(&site.fleet);
    let cut: EventSink = Arc::new(move |event: &DeployEvent| {
        if let DeployEvent::StepStarted { step: Step::Image } = event {
            let fleet = Arc::clone(&fleet);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(1500));
                fleet.host("app").unwrap().drop_sessions().unwrap();
            });
        }
    });
    let options = DeployOptions { events: Some(cut), ..DeployOptions::default() };
    let failed = p.deploy(&slow, &options).await.unwrap_err();
    assert_eq!(failed.context_value("server"), Some("app"), "the error names the server: {failed}");
    assert!(matches!(failed.kind(), ErrorKind::Unavailable), "a lost connection, not a build error: {failed:?}");
    assert_eq!(page(&site, &web), "v1", "the old release keeps serving");
    let record = p.project_show(&project).await.unwrap().environments[&Environment::Staging].clone();
    assert_eq!(record.current_release, Some(first.release.clone()), "the SSOT still names the old release");
    assert!(record.lock.is_none(), "and holds no lock");
    let attempt = record.releases.iter().find(|r| r.id != first.release).expect("the attempt is recorded");
    assert!(
        matches!(attempt.status, ReleaseStatus::Failed { step: Step::Image, .. }),
        "it failed while building: {:?} ({failed})",
        attempt.status
    );

    // The same platform, without any restart: the next deploy opens a new session.
    let retry = p.deploy(&slow, &DeployOptions::default()).await.unwrap();
    assert_ne!(retry.release, first.release);
    assert_eq!(page(&site, &web), "v1", "the built image serves the same page");
    let serving = running_container(&p, &project).await;
    assert!(serving.name.as_str().contains(retry.release.as_str()), "the retry's release runs: {serving:?}");
    p.project_delete(&project, true, &DeployOptions::default()).await.unwrap();
}

/// The podman CLI of `host`'s stack.
fn podman_of(site: &Site, host: &str) -> PodmanCli {
    PodmanCli::new(&site.fleet.stack(host).unwrap().endpoints().podman_socket).unwrap()
}

/// A staging deploy of `project` at `web` that builds `localhost/<project>:build-1` from `context`:
/// the test image v1 serving `page`.
fn build_request(project: &ProjectName, web: &DomainName, context: &Path, page: &str) -> DeployRequest {
    let v1 = live_env("CODEB_TEST_IMAGE_V1").unwrap();
    std::fs::write(context.join("index.html"), page).unwrap();
    std::fs::write(context.join("Containerfile"), format!("FROM {v1}\nCOPY index.html /www/index.html\n")).unwrap();
    let built = ImageRef::parse(&format!("localhost/{project}:build-1")).unwrap();
    let mut deploy = request(project, built.as_str(), std::slice::from_ref(web));
    deploy.build = Some(BuildSpec {
        context: context.to_owned(),
        containerfile: None,
        generated: None,
        tag: built,
        labels: managed_labels(project, &Environment::Staging, Service::App, None),
    });
    deploy
}

/// Where each image step and the release start of `plan` run, as `(change, server)`.
fn placement(plan: &codeb::engine::Plan) -> Vec<(String, String)> {
    plan.changes
        .iter()
        .filter(|c| c.change.step() == Step::Image || c.change.kind() == "start_release")
        .map(|c| (c.change.kind(), c.server.to_string()))
        .collect()
}

/// Applies `plan`, which builds where `build` is the Podman and runs on the
/// app host, and checks where each part of it happened; then deletes the project.
async fn deploy_built_elsewhere(
    site: &Site,
    p: &Platform,
    plan: &codeb::engine::Plan,
    build: &PodmanCli,
    served: &str,
) {
    let pushed_to = plan.changes.iter().find_map(|c| match &c.change {
        Change::PushImage { to, .. } => to.registry().map(str::to_owned),
        _ => None,
    });
    let report = p.apply(plan, &DeployOptions::default()).await.unwrap();
    assert_eq!(report.image.registry().map(str::to_owned), pushed_to, "run from the registry: {}", report.image);
    let digest = report.image.digest().expect("run by digest").to_owned();
    assert_eq!(page(site, &plan.domains[0]), served, "the app host serves what was built elsewhere");
    let built = plan.request.build.as_ref().unwrap().tag.clone();
    let app = podman_of(site, "app");
    assert!(build.has_image(&built).unwrap(), "built on the build server");
    assert!(!app.has_image(&built).unwrap(), "never built on the app host");
    let pulled = app.run(&["image", "inspect", "--format", "{{.Digest}}", report.image.as_str()]).unwrap();
    assert_eq!(pulled.trim(), digest, "the app host holds the pushed digest");
    let serving = running_container(p, &plan.project).await;
    assert!(serving.name.as_str().contains(report.release.as_str()), "{serving:?}");
    p.project_delete(&plan.project, true, &DeployOptions::default()).await.unwrap();
    assert!(!build.has_image(&built).unwrap(), "the project's built image is removed where it was built");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_server_builds_and_pushes_over_tls_and_the_app_server_runs_the_digest_it_pulls() {
    let Some(site) = Site::with_build_server() else { return };
    let project = site.project("built");
    let web = site.domain("built");
    let context = tempfile::tempdir().unwrap();
    let deploy = build_request(&project, &web, context.path(), "built on the build server");

    // Credentials the build server's registry refuses: the deploy stops at the image step, naming the server.
    let wrong = site.path("wrong.password");
    std::fs::write(&wrong, "not-the-password").unwrap();
    let right = site.fleet.stack(BUILD).unwrap().registry_password_file();
    let text = site.usual_platform_file();
    let refused = connect(&text.replace(&right.display().to_string(), &wrong.display().to_string()));
    let err = refused.deploy(&deploy, &DeployOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!((err.context_value("step"), err.context_value("server")), (Some("image"), Some(BUILD)), "{err}");
    assert!(!err.to_string().contains("not-the-password"), "the password is never shown: {err}");

    let p = site.platform();
    let plan = p.plan(&deploy).await.unwrap();
    let expected = [("build_image", BUILD), ("push_image", BUILD), ("pull_image", "app"), ("start_release", "app")];
    assert_eq!(placement(&plan), expected.map(|(k, s)| (k.to_owned(), s.to_owned())), "{plan:#?}");
    let build = podman_of(&site, BUILD);
    deploy_built_elsewhere(&site, &p, &plan, &build, "built on the build server").await;
    assert_eq!(build.run(&["ps", "--all", "--quiet"]).unwrap().trim(), "", "the build host runs nothing");
}

/// A stack in this test's own namespace (the machine `we` runs on, a CI
/// runner), trusting the fleet's authority; stopped, and its runroot
/// removed, when dropped.
struct Here {
    stack: LocalStack,
    runroot: PathBuf,
}

impl Here {
    fn up(site: &Site) -> Here {
        let runroot = PathBuf::from(format!("/run/cbh{}", std::process::id()));
        let options = LocalStackOptions::new(site.path("here"))
            .with_own_container_storage(&runroot)
            .trusting(site.fleet.trust_dir());
        let stack = LocalStack::up(&options).unwrap();
        let v1 = ImageRef::parse(&live_env("CODEB_TEST_IMAGE_V1").unwrap()).unwrap();
        let from = PathBuf::from(live_env("CODEB_TEST_PODMAN_SOCKET").unwrap());
        codeb_devstack::images::copy_images(&from, &stack.endpoints().podman_socket, &[v1], &site.path("v1.tar"))
            .unwrap();
        Here { stack, runroot }
    }
}

impl Drop for Here {
    fn drop(&mut self) {
        let _ = LocalStack::down(self.stack.dir());
        let _ = std::fs::remove_dir_all(&self.runroot);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_build_server_builds_here_and_pushes_and_the_app_server_runs_the_digest_it_pulls() {
    let Some(site) = Site::start(true) else { return };
    let here = Here::up(&site);
    let project = site.project("here");
    let web = site.domain("here");
    let context = tempfile::tempdir().unwrap();
    let deploy = build_request(&project, &web, context.path(), "built where we runs");
    // This machine builds (`local = true`) and pushes to the app host's registry, which the app host pulls from.
    let mut text = site.usual_platform_file();
    let socket = here.stack.endpoints().podman_socket.display();
    text += &format!("[servers.ci]\nroles = [\"build\"]\nlocal = true\npodman_socket = \"{socket}\"\n");
    text += &registry_section(site.fleet.stack("app").unwrap());
    let p = connect(&text);
    let plan = p.plan(&deploy).await.unwrap();
    let expected = [("build_image", "ci"), ("push_image", "ci"), ("pull_image", "app"), ("start_release", "app")];
    assert_eq!(placement(&plan), expected.map(|(k, s)| (k.to_owned(), s.to_owned())), "{plan:#?}");
    let build = PodmanCli::new(&here.stack.endpoints().podman_socket).unwrap();
    deploy_built_elsewhere(&site, &p, &plan, &build, "built where we runs").await;
}
