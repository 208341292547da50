//! The SDK against the live stack at the edges a new user and an attacker
//! found: a damaged SSOT, secrets an app echoes, credentials a backend
//! echoes, wrong causes in errors, ports taken under a deploy.
//!
//! Each test builds its platform the way every front end does
//! (`codeb_backends::connect` from a platform file of the live stack) with
//! its own SSOT, secrets and zone, and its own project names.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codeb::ErrorKind;
use codeb::config::PlatformConfig;
use codeb::engine::{DeployEvent, DeployOptions, DeployRequest, EventSink, Platform};
use codeb::model::{EnvKey, EnvValue, EnvVar, Environment, HealthCheck, HealthPath, ImageRef, Port, ProjectName};
use codeb::project::ProjectFile;
use codeb::testkit::{Namespace, copy_example, live_env, live_platform_file};

/// Taken by each test that deploys, for the whole test. Every test has its own
/// SSOT, so two running at once would pick the same free port; the loser's
/// failed start then disturbs the winner's port forwarding in Podman.
static DEPLOYING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One test's own names, files and platform (over the live stack, its SSOT
/// and secrets in `tmp`, records in the namespace's zone), and its turn to deploy.
struct World {
    ns: Namespace,
    tmp: tempfile::TempDir,
    p: Platform,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// A fresh [`World`], once no other test of this file deploys.
async fn world() -> Option<World> {
    let (ns, tmp) = (Namespace::random(), tempfile::tempdir().unwrap());
    let deploy = "drain_grace = \"0s\"\nstop_grace = \"2s\"\nwatch_window = \"0s\"";
    let file = live_platform_file(tmp.path(), ns.zone().as_str(), deploy)?;
    let config = PlatformConfig::read(&file).expect("the test's platform file reads");
    let p = codeb_backends::connect(&config, "live-edges").expect("the live platform connects");
    Some(World { ns, tmp, p, _turn: DEPLOYING.lock().await })
}

/// The podman CLI against the stack's service: what it printed, trimmed.
fn podman(args: &[&str]) -> String {
    let socket = live_env("CODEB_TEST_PODMAN_SOCKET").expect("the stack runs");
    let out = Command::new("podman").arg("--url").arg(format!("unix://{socket}")).args(args).output().unwrap();
    assert!(out.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A deploy of the stack's v1 image (busybox httpd on 8080), probed quickly.
fn request(project: &ProjectName, image: &str) -> DeployRequest {
    let image = ImageRef::parse(image).unwrap();
    let mut r = DeployRequest::new(project.clone(), Environment::Staging, image, Port::new(8080).unwrap());
    r.health = HealthCheck {
        interval: Duration::from_millis(50),
        deadline: Duration::from_secs(10),
        ..HealthCheck::default()
    };
    r
}

/// Removes what a test left of `project`, whatever state it is in.
async fn clean_up(p: &Platform, project: &ProjectName) {
    let _ = p.project_delete(project, true, &DeployOptions::default()).await;
    let label = format!("label=io.codeb.project={project}");
    for name in podman(&["ps", "-a", "--filter", &label, "--format", "{{.Names}}"]).lines() {
        podman(&["rm", "-f", "-t", "0", name]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_missing_its_projects_is_refused_and_deletes_nothing_that_runs() {
    let Some(image) = live_env("CODEB_TEST_IMAGE_V1") else { return };
    let Some(World { ns, tmp, p, _turn }) = world().await else { return };
    let project = ns.project("torn");
    p.deploy(&request(&project, &image), &DeployOptions::default()).await.unwrap();
    let container = format!("codeb-{project}-staging-v1");

    std::fs::write(tmp.path().join("ssot.json"), r#"{"schema_version":1,"revision":5}"#).unwrap();
    let read = p.project_list().await;
    let deleted = p.project_delete(&project, true, &DeployOptions::default()).await;
    let running = podman(&["inspect", "--format", "{{.State.Running}}", &container]);
    podman(&["rm", "-f", "-t", "0", &container]);

    assert_eq!(read.unwrap_err().kind(), ErrorKind::Invalid, "a document without projects is not an empty platform");
    assert_eq!(deleted.unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(running, "true", "the live release still runs");
}

#[tokio::test(flavor = "multi_thread")]
async fn env_set_and_unset_refuse_to_write_while_the_ssot_is_empty_garbage_or_newer() {
    let Some(World { ns, tmp, p, _turn }) = world().await else { return };
    let project = ns.project("env");
    let var = |value: &str| EnvVar::plain(EnvKey::parse("MODE").unwrap(), EnvValue::parse(value).unwrap());
    p.env_set(&project, &Environment::Staging, &[var("before")]).await.unwrap();
    let ssot = tmp.path().join("ssot.json");
    for (document, kind) in [
        ("", ErrorKind::Invalid),
        ("{\"schema_version\": 1, \"rev", ErrorKind::Invalid),
        ("{\"schema_version\": 99, \"revision\": 3}", ErrorKind::Conflict),
    ] {
        std::fs::write(&ssot, document).unwrap();
        let set = p.env_set(&project, &Environment::Staging, &[var("after")]).await;
        let unset = p.env_unset(&project, &Environment::Staging, &[EnvKey::parse("MODE").unwrap()], true).await;
        let listed = p.env_list(&project, &Environment::Staging).await.unwrap();

        assert_eq!(set.unwrap_err().kind(), kind, "env set over {document:?}");
        assert_eq!(unset.unwrap_err().kind(), kind, "env unset over {document:?}");
        assert_eq!(listed.vars, [var("before")], "nothing was written over {document:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_the_app_echoes_in_its_health_check_is_masked_in_the_error_the_events_and_the_ssot() {
    const SECRET: &str = "echoed-secret-5150-never-shown";
    let Some(World { ns, tmp, p, _turn }) = world().await else { return };
    let project = ns.project("echo");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello");
    let app = copy_example(&example, &tmp.path().join("app"), project.as_str(), ns.host("echo").as_str());
    let mut request = ProjectFile::read(&app).unwrap().deploy_request(&Environment::Staging, None).unwrap();
    request.domains.clear();
    // The example's CGI script prints SECRET_TOKEN; a body it never has keeps the release unhealthy.
    request.health = HealthCheck {
        path: HealthPath::parse("/cgi-bin/env").unwrap(),
        body_contains: Some("a word the app never says".into()),
        interval: Duration::from_millis(100),
        deadline: Duration::from_secs(3),
        ..HealthCheck::default()
    };
    let token = EnvVar::secret(EnvKey::parse("SECRET_TOKEN").unwrap(), EnvValue::parse(SECRET).unwrap());
    p.env_set(&project, &Environment::Staging, &[token]).await.unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let sink: EventSink = Arc::new(move |event: &DeployEvent| seen.lock().unwrap().push(format!("{event:?} {event}")));
    let options = DeployOptions { events: Some(sink), ..DeployOptions::default() };

    let error = p.deploy(&request, &options).await.unwrap_err();
    let releases = format!("{:?}", p.releases(&project, &Environment::Staging).await.unwrap());
    let ssot = std::fs::read_to_string(tmp.path().join("ssot.json")).unwrap();
    clean_up(&p, &project).await;

    assert_eq!(error.kind(), ErrorKind::Unhealthy, "{error}");
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("SECRET_TOKEN=********"), "the evidence is there, masked: {shown}");
    assert!(!shown.contains(SECRET), "the error holds the secret: {shown}");
    assert!(releases.contains("SECRET_TOKEN=********"), "{releases}");
    assert!(!releases.contains(SECRET), "the failed release's reason holds the secret: {releases}");
    assert!(!ssot.contains(SECRET), "the SSOT holds the secret: {ssot}");
    let leaks: Vec<String> = events.lock().unwrap().iter().filter(|e| e.contains(SECRET)).cloned().collect();
    assert!(leaks.is_empty(), "events hold the secret: {leaks:?}");
}

/// The example app as `project`, built from a `Dockerfile` (renamed from its
/// Containerfile) or, with `dockerfile` false, from no build file at all.
fn example_with(tmp: &Path, project: &ProjectName, dockerfile: bool) -> std::path::PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello");
    let app = copy_example(&example, &tmp.join(project.as_str()), project.as_str(), "unused.codeb.test");
    let text = std::fs::read_to_string(app.join("codeb.toml")).unwrap();
    let text = text
        .replace("containerfile = \"Containerfile\"\n", "")
        .replace("[env]", "[accessories]\npostgres = true\n\n[env]");
    std::fs::write(app.join("codeb.toml"), text).unwrap();
    if dockerfile {
        std::fs::rename(app.join("Containerfile"), app.join("Dockerfile")).unwrap();
    } else {
        std::fs::remove_file(app.join("Containerfile")).unwrap();
    }
    app
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_with_only_a_dockerfile_is_built_from_it() {
    let Some(World { ns, tmp, p, _turn }) = world().await else { return };
    let project = ns.project("docker");
    let app = example_with(tmp.path(), &project, true);
    let mut request = ProjectFile::read(&app).unwrap().deploy_request(&Environment::Staging, None).unwrap();
    request.domains.clear();
    request.accessories.postgres = false;

    let deployed = p.deploy(&request, &DeployOptions::default()).await;
    clean_up(&p, &project).await;

    assert_eq!(deployed.unwrap().release.as_str(), "v1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_with_no_build_file_is_refused_before_anything_is_created() {
    let Some(World { ns, tmp, p, _turn }) = world().await else { return };
    let project = ns.project("nofile");
    let app = example_with(tmp.path(), &project, false);
    let read = ProjectFile::read(&app);
    // A request made without reading the directory (as an SDK user may) is refused by the engine too.
    let mut file = ProjectFile::parse(&std::fs::read_to_string(app.join("codeb.toml")).unwrap()).unwrap();
    file.build.as_mut().unwrap().context = app.clone();
    let request = file.deploy_request(&Environment::Staging, None).unwrap();

    let planned = p.plan(&request).await;
    let deployed = p.deploy(&request, &DeployOptions::default()).await;
    let label = format!("label=io.codeb.project={project}");
    let containers = podman(&["ps", "-a", "--filter", &label, "--format", "{{.Names}}"]);
    let networks = podman(&["network", "ls", "--filter", &label, "--format", "{{.Name}}"]);
    let ssot = p.ssot_export().await.unwrap();
    clean_up(&p, &project).await;

    let unread = read.unwrap_err();
    assert_eq!(unread.kind(), ErrorKind::Invalid, "reading it refuses it, with nothing to generate one from: {unread}");
    assert!(unread.message().contains("no Containerfile, Dockerfile or package.json"), "{unread}");
    let refused = planned.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Invalid, "the dry run refuses it: {refused}");
    assert!(refused.message().contains("Containerfile or Dockerfile"), "{refused}");
    assert_eq!(deployed.unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!((containers.as_str(), networks.as_str()), ("", ""), "no accessory, no network");
    assert!(ssot.projects.is_empty(), "nothing recorded: {ssot:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_port_another_process_binds_after_the_probe_is_replaced_by_the_next_free_one() {
    let Some(image) = live_env("CODEB_TEST_IMAGE_V1") else { return };
    let Some(World { ns, tmp, p, _turn }) = world().await else { return };
    let project = ns.project("squat");
    let ssot = tmp.path().join("ssot.json");
    let squatter: Arc<Mutex<Option<(u16, std::net::TcpListener)>>> = Arc::default();
    let held = squatter.clone();
    // Right before the release starts, another process binds the port the lock reserved for it.
    let sink: EventSink = Arc::new(move |event: &DeployEvent| {
        if let DeployEvent::StepStarted { step: codeb::model::Step::StartRelease } = event {
            let doc = codeb::ssot::Ssot::from_json(&std::fs::read_to_string(&ssot).unwrap()).unwrap();
            let record = doc.projects.values().next().unwrap().environments.values().next().unwrap();
            let port = record.release_ports.values().next().unwrap().get();
            *held.lock().unwrap() = Some((port, std::net::TcpListener::bind(("127.0.0.1", port)).unwrap()));
        }
    });
    let options = DeployOptions { events: Some(sink), ..DeployOptions::default() };

    let deployed = p.deploy(&request(&project, &image), &options).await;
    clean_up(&p, &project).await;

    let report = deployed.expect("the deploy moves to a free port");
    let (taken, _listener) = squatter.lock().unwrap().take().expect("the port was taken during the deploy");
    assert_ne!(report.port.get(), taken, "{report:?}");
}
