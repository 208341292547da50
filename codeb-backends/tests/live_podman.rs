//! `PodmanRuntime` against a live Podman API service.
//!
//! The harness (scripts/test) starts `podman system service` with runc and
//! rlimits and sets CODEB_TEST_PODMAN_SOCKET, CODEB_TEST_IMAGE_V1 and
//! CODEB_TEST_REGISTRY; without them each test says SKIPPED (and fails
//! under CI=true). Every test names its objects in a fresh namespace and
//! removes them, so the tests run in parallel against one service.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions, RemoveImageOptions};
use codeb::ErrorKind;
use codeb::model::ServerName;
use codeb::model::{ContainerName, EnvKey, EnvValue, EnvVar, Environment, ImageRef, Port, Service};
use codeb::ports::{PortProbe, RuntimeAttributedProbe, SsotPortRegistry};
use codeb::runtime::{
    BuildSpec, ContainerRuntime, ContainerSpec, ContainerState, LABEL_MANAGED, LabelFilter, LogOptions, PortBinding,
    RemoveContainerOptions as RemoveOptions, Resources, StopOptions, managed_labels,
};
use codeb::testkit::runtime::RuntimeSuite;
use codeb::testkit::{Namespace, live_env};
use codeb_backends::transport::LocalTransport;
use codeb_backends::{PodmanConfig, PodmanRuntime, ProcPortProbe, RegistryLogin};

/// The live service, the v1 image and a raw client for what the backend deliberately cannot do.
struct Live {
    runtime: PodmanRuntime,
    raw: Docker,
    image: ImageRef,
}

async fn live() -> Option<Live> {
    let socket = live_env("CODEB_TEST_PODMAN_SOCKET")?;
    let image = live_env("CODEB_TEST_IMAGE_V1")?;
    let config = match registry_login(None) {
        Some(login) => PodmanConfig::new(&socket).with_login(login),
        None => PodmanConfig::new(&socket),
    };
    let runtime = PodmanRuntime::connect_when_ready(Arc::new(LocalTransport::new()), config, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("the Podman API at {socket} does not answer: {e}"));
    let raw = Docker::connect_with_unix(&socket, 120, bollard::API_DEFAULT_VERSION).unwrap();
    Some(Live { runtime, raw, image: ImageRef::parse(&image).unwrap() })
}

/// The login of the stack's registry (its password unless `password` is
/// given), when the stack runs one.
fn registry_login(password: Option<&str>) -> Option<RegistryLogin> {
    let registry = live_env("CODEB_TEST_REGISTRY")?;
    let username = live_env("CODEB_TEST_REGISTRY_USER")?;
    let password = match password {
        Some(password) => password.to_owned(),
        None => live_env("CODEB_TEST_REGISTRY_PASSWORD")?,
    };
    Some(RegistryLogin { registry, username, password: EnvValue::parse(&password).unwrap() })
}

/// A host port that is free right now.
fn free_port() -> Port {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    Port::new(listener.local_addr().unwrap().port()).unwrap()
}

fn spec(live: &Live, ns: &Namespace, suffix: &str, host_port: Port) -> ContainerSpec {
    ContainerSpec {
        name: ns.container(suffix),
        image: live.image.clone(),
        command: None,
        env: Vec::new(),
        labels: managed_labels(&ns.project("live"), &Environment::Staging, Service::App, None),
        ports: vec![PortBinding {
            host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            host_port,
            container_port: Port::new(8080).unwrap(),
        }],
        volumes: Vec::new(),
        network: None,
        resources: Resources::default(),
        init: true,
        secret_files: Vec::new(),
    }
}

/// Polls `http://127.0.0.1:port{path}` until it answers 200, for at most 10 s; returns the body.
async fn first_ok(port: Port, path: &str) -> String {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap();
    let url = format!("http://127.0.0.1:{port}{path}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client.get(&url).send().await {
            Ok(answer) if answer.status() == reqwest::StatusCode::OK => return answer.text().await.unwrap(),
            other if Instant::now() > deadline => panic!("{url} never answered 200: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Removes a container if it exists (test cleanup).
async fn remove_quietly(live: &Live, name: &ContainerName) {
    let _ = live
        .raw
        .remove_container(name.as_str(), Some(RemoveContainerOptions { force: true, ..Default::default() }))
        .await;
}

#[tokio::test]
async fn the_runtime_conformance_suite_passes_against_podman() {
    let Some(live) = live().await else { return };
    let suite = RuntimeSuite {
        image: live.image.clone(),
        command: None,
        container_port: Port::new(8080).unwrap(),
        succeeding_command: vec!["/bin/busybox".to_owned(), "true".to_owned()],
        free_port: Box::new(free_port),
        print_env: Some(
            ["/bin/busybox", "sh", "-c", "/bin/busybox env; exec /bin/busybox sleep 600"].map(String::from).to_vec(),
        ),
    };
    codeb::testkit::runtime::run(&live.runtime, &suite, &Namespace::random()).await;
}

#[tokio::test]
async fn a_started_container_answers_http_on_its_published_port() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let port = free_port();
    let spec = spec(&live, &ns, "web", port);
    live.runtime.create_container(&spec).await.unwrap();
    live.runtime.start_container(&spec.name).await.unwrap();
    let body = first_ok(port, "/").await;
    let info = live.runtime.inspect_container(&spec.name).await.unwrap();
    live.runtime.remove_container(&spec.name, RemoveOptions::FORCE).await.unwrap();
    assert_eq!(body.trim(), "v1");
    assert_eq!(info.ports, spec.ports, "published on 127.0.0.1 as asked");
}

#[tokio::test]
async fn a_container_with_init_stops_well_within_its_grace() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let port = free_port();
    let spec = spec(&live, &ns, "init", port);
    live.runtime.create_container(&spec).await.unwrap();
    live.runtime.start_container(&spec.name).await.unwrap();
    first_ok(port, "/").await;
    let started = Instant::now();
    live.runtime.stop_container(&spec.name, StopOptions { grace: Duration::from_secs(10) }).await.unwrap();
    let took = started.elapsed();
    let state = live.runtime.inspect_container(&spec.name).await.unwrap().state;
    live.runtime.remove_container(&spec.name, RemoveOptions::FORCE).await.unwrap();
    // busybox httpd as PID 1 ignores SIGTERM and would wait out all 10 s; under an init it exits at once.
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    assert!(matches!(state, ContainerState::Exited { .. }), "{state:?}");
}

#[tokio::test]
async fn env_resources_ulimits_and_init_reach_the_container() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let mut spec = spec(&live, &ns, "cfg", free_port());
    spec.env = vec![EnvVar::plain(EnvKey::parse("MODE").unwrap(), EnvValue::parse("fast mode").unwrap())];
    spec.resources = Resources { memory_bytes: Some(64 * 1024 * 1024), cpu_millis: Some(500) };
    live.runtime.create_container(&spec).await.unwrap();
    let inspect = live.raw.inspect_container(spec.name.as_str(), None).await.unwrap();
    remove_quietly(&live, &spec.name).await;
    let env = inspect.config.unwrap().env.unwrap_or_default();
    assert!(env.contains(&"MODE=fast mode".to_owned()), "{env:?}");
    let host = inspect.host_config.unwrap();
    assert_eq!(host.memory, Some(64 * 1024 * 1024));
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.init, Some(true));
    let ulimits: Vec<_> = host.ulimits.unwrap_or_default().into_iter().filter_map(|u| u.name).collect();
    assert!(ulimits.iter().any(|n| n.eq_ignore_ascii_case("rlimit_nofile") || n == "nofile"), "{ulimits:?}");
}

#[tokio::test]
async fn a_secret_variable_reaches_the_app_but_no_inspection_and_its_podman_secret_goes_with_the_container() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let port = free_port();
    let mut spec = spec(&live, &ns, "secret", port);
    let token = format!("tok-{}", ns.as_str());
    spec.env = vec![EnvVar::secret(EnvKey::parse("API_TOKEN").unwrap(), EnvValue::parse(&token).unwrap())];
    let serve = "echo \"$API_TOKEN\" > /www/token && exec /bin/busybox httpd -f -p 8080 -h /www";
    spec.command = Some(["/bin/busybox", "sh", "-c", serve].map(String::from).to_vec());
    live.runtime.create_container(&spec).await.unwrap();
    live.runtime.start_container(&spec.name).await.unwrap();
    let seen = first_ok(port, "/token").await;
    let inspect = serde_json::to_string(&live.raw.inspect_container(spec.name.as_str(), None).await.unwrap()).unwrap();
    let id = podman_cli(&["inspect", "--format", "{{.Id}}", spec.name.as_str()]);
    let root = podman_cli(&["info", "--format", "{{.Store.GraphRoot}}"]);
    let oci = std::fs::read_to_string(format!("{root}/overlay-containers/{id}/userdata/config.json")).unwrap();
    let secrets_while_there = podman_cli(&["secret", "ls", "--format", "{{.Name}}"]);
    live.runtime.remove_container(&spec.name, RemoveOptions::FORCE).await.unwrap();
    let secrets_after = podman_cli(&["secret", "ls", "--format", "{{.Name}}"]);
    assert_eq!(seen.trim(), token, "the app has the variable");
    assert!(inspect.contains("API_TOKEN") && oci.contains("ociVersion"), "both were read and name the variable");
    assert!(!inspect.contains(&token), "the inspect shows no value");
    assert!(!oci.contains(&token), "the OCI config shows no value");
    let own = format!("{}.env.API_TOKEN", spec.name);
    assert!(secrets_while_there.lines().any(|name| name == own), "its Podman secret: {secrets_while_there}");
    assert!(!secrets_after.lines().any(|name| name.starts_with(spec.name.as_str())), "gone: {secrets_after}");
}

#[tokio::test]
async fn ensure_image_pulls_from_the_registry() {
    let Some(live) = live().await else { return };
    let Some(registry) = live_env("CODEB_TEST_REGISTRY") else { return };
    let image = ImageRef::parse(&format!("{registry}/codeb-test/httpd:v1")).unwrap();
    // Drop the local copy (only this tag; layers shared with other tags stay) so the pull is real.
    match live.raw.remove_image(image.as_str(), None::<RemoveImageOptions>, None).await {
        Ok(_) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
        Err(e) => panic!("cannot remove the local copy of {image}: {e}"),
    }
    assert!(live.raw.inspect_image(image.as_str()).await.is_err(), "the local copy must be gone before the pull");
    // The test registry wants its user: the credentials go in X-Registry-Auth.
    let pulled = live.runtime.ensure_image(&image).await.unwrap();
    let inspected = live.raw.inspect_image(image.as_str()).await.unwrap();
    assert_eq!(Some(pulled.id), inspected.id);
    assert_eq!(pulled.reference, image);
}

/// Pushes the local image `source` to `destination`, whose registry speaks
/// plain HTTP, with the registry's credentials in an auth file (never on argv).
fn push(source: &str, destination: &ImageRef) {
    use base64::Engine as _;
    let login = registry_login(None).expect("the stack's registry has a user");
    let pair = format!("{}:{}", login.username, login.password.expose());
    let auth = serde_json::json!({ "auths": { login.registry: { "auth": base64::engine::general_purpose::STANDARD.encode(pair) } } });
    let dir = tempfile::tempdir().unwrap();
    let authfile = dir.path().join("auth.json");
    std::fs::write(&authfile, auth.to_string()).unwrap();
    podman_cli(&["push", "--tls-verify=false", "--authfile", authfile.to_str().unwrap(), source, destination.as_str()]);
}

#[tokio::test]
async fn a_pushed_image_is_named_by_the_digest_the_registry_gives_and_pulled_by_it_elsewhere() {
    let Some(live) = live().await else { return };
    let Some(registry) = live_env("CODEB_TEST_REGISTRY") else { return };
    let to = ImageRef::parse(&format!("{registry}/codeb-test/pushed:{}", Namespace::random().as_str())).unwrap();
    let digest = live.runtime.push_image(&live.image, &to).await.unwrap();
    let pinned = to.pinned(&digest).unwrap();
    // The registry itself, asked over its API: it serves a manifest under exactly that digest.
    let login = registry_login(None).unwrap();
    let url = format!("http://{registry}/v2/{}/manifests/{digest}", to.repository());
    let accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
    let answer = reqwest::Client::new()
        .get(&url)
        .basic_auth(&login.username, Some(login.password.expose()))
        .header("Accept", accept)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{url}");
    assert_eq!(answer.headers()["docker-content-digest"], digest.as_str());
    // Elsewhere: the local copies gone, a pull by the digest gets the very image.
    for name in [to.as_str(), pinned.as_str()] {
        let _ = live.raw.remove_image(name, None::<RemoveImageOptions>, None).await;
    }
    let pulled = live.runtime.ensure_image(&pinned).await.unwrap();
    assert_eq!(Some(pulled.id), live.raw.inspect_image(live.image.as_str()).await.unwrap().id, "the same image");
    let _ = live.raw.remove_image(pinned.as_str(), None::<RemoveImageOptions>, None).await;
}

#[tokio::test]
async fn a_registry_that_refuses_the_credentials_is_unauthenticated_naming_it_never_the_password() {
    let Some(live) = live().await else { return };
    let Some(wrong) = registry_login(Some("wr0ng-pa55word")) else { return };
    let socket = live_env("CODEB_TEST_PODMAN_SOCKET").expect("live() found it");
    let config = PodmanConfig::new(&socket).with_login(wrong.clone());
    let refused = PodmanRuntime::connect(Arc::new(LocalTransport::new()), config).unwrap();
    let to =
        ImageRef::parse(&format!("{}/codeb-test/refused:{}", wrong.registry, Namespace::random().as_str())).unwrap();
    let err = refused.push_image(&live.image, &to).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.context_value("registry"), Some(wrong.registry.as_str()), "{err}");
    assert!(err.to_string().contains("its registry refused the credentials"), "{err}");
    assert!(!format!("{err} {err:?}").contains("wr0ng-pa55word"), "never the password: {err:?}");
    let held = ImageRef::parse(&format!("{}/codeb-test/httpd:v1", wrong.registry)).unwrap();
    let pull = refused.ensure_image(&held).await.unwrap_err();
    assert_eq!(pull.kind(), ErrorKind::Unauthenticated, "a pull is refused alike: {pull}");
    let missing = ImageRef::parse("localhost/codeb-test/never-built:x").unwrap();
    let err = live.runtime.push_image(&missing, &to).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "an image that is not here: {err}");
}

#[tokio::test]
async fn a_tag_re_pushed_to_the_registry_is_pulled_again_though_a_copy_is_present() {
    let Some(live) = live().await else { return };
    let Some(registry) = live_env("CODEB_TEST_REGISTRY") else { return };
    let v2 = live_env("CODEB_TEST_IMAGE_V2").expect("the harness builds v2 beside v1");
    let ns = Namespace::random();
    let moving = ImageRef::parse(&format!("{registry}/codeb-test/moving:{}", ns.as_str())).unwrap();

    push(live.image.as_str(), &moving);
    let first = live.runtime.ensure_image(&moving).await.unwrap();
    push(&v2, &moving);
    let second = live.runtime.ensure_image(&moving).await.unwrap();
    let v2_id = live.raw.inspect_image(&v2).await.unwrap().id.unwrap();
    assert_ne!(first.id, second.id, "a re-pushed tag is pulled again, not taken from the local copy");
    assert_eq!(second.id, v2_id, "the tag now names v2");

    let local = live.runtime.ensure_image(&live.image).await.unwrap();
    assert_eq!(
        Some(local.id),
        live.raw.inspect_image(live.image.as_str()).await.unwrap().id,
        "a localhost/ image is used as present"
    );
    live.raw.remove_image(moving.as_str(), None::<RemoveImageOptions>, None).await.unwrap();
}

/// Two consecutive host ports that are free right now, the first one returned.
fn free_pair() -> Port {
    loop {
        let first = free_port();
        if first.get() < u16::MAX && TcpListener::bind((Ipv4Addr::LOCALHOST, first.get() + 1)).is_ok() {
            return first;
        }
    }
}

/// The podman CLI against the live service: what it printed, trimmed.
fn podman_cli(args: &[&str]) -> String {
    let socket = live_env("CODEB_TEST_PODMAN_SOCKET").expect("the live service is up");
    let out =
        std::process::Command::new("podman").arg("--url").arg(format!("unix://{socket}")).args(args).output().unwrap();
    assert!(out.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Starts a managed container publishing `port`, waits for its first 200,
/// then kills its conmon and init with SIGKILL: an orphan Podman still calls running.
async fn orphan(live: &Live, ns: &Namespace, port: Port) -> ContainerSpec {
    let spec = spec(live, ns, "orphan", port);
    live.runtime.create_container(&spec).await.unwrap();
    live.runtime.start_container(&spec.name).await.unwrap();
    first_ok(port, "/").await;
    let pids = podman_cli(&["inspect", "--format", "{{.State.ConmonPid}} {{.State.Pid}}", spec.name.as_str()]);
    let killed = std::process::Command::new("kill").arg("-9").args(pids.split_whitespace()).status().unwrap();
    assert!(killed.success(), "kill -9 {pids}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while ProcPortProbe::new(Arc::new(LocalTransport::new()))
        .listeners(&ServerName::local())
        .await
        .unwrap()
        .iter()
        .any(|l| l.port == port)
    {
        assert!(Instant::now() < deadline, "port {port} still has a socket after conmon was killed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let state = live.runtime.inspect_container(&spec.name).await.unwrap().state;
    assert_eq!(state, ContainerState::Running, "Podman still reports the orphan running (the hazard under test)");
    spec
}

/// Removes what a test left of `name` with the podman CLI (after the backend failed to).
fn force_remove(name: &ContainerName) {
    podman_cli(&["rm", "-f", "-t", "0", name.as_str()]);
}

#[tokio::test]
async fn stopping_an_orphan_succeeds_and_leaves_it_exited() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let spec = orphan(&live, &ns, free_port()).await;
    let stopped = live.runtime.stop_container(&spec.name, StopOptions { grace: Duration::from_secs(1) }).await;
    let state = live.runtime.inspect_container(&spec.name).await.map(|c| c.state);
    let removed = live.runtime.remove_container(&spec.name, RemoveOptions::FORCE).await;
    if removed.is_err() {
        force_remove(&spec.name);
    }
    stopped.expect("stopping an orphan is done once Podman marks it exited");
    assert!(matches!(state, Ok(ContainerState::Exited { .. })), "{state:?}");
    removed.expect("an exited orphan is removed at once");
}

/// The CI failure of 2026-11-26: a container whose conmon died (a killed
/// session) is still "running" to Podman and its NAT rule still takes its
/// port, but no socket listens there. Allocation must not hand that port out.
#[tokio::test]
async fn a_port_still_published_by_a_container_whose_conmon_died_is_not_handed_out() {
    use codeb::model::PortRange;
    use codeb::ports::{PortDrift, PortKey, PortRanges, PortRegistry};
    use codeb::ssot::StateStore;

    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let taken = free_pair();
    let spec = orphan(&live, &ns, taken).await;

    let runtime: std::sync::Arc<dyn ContainerRuntime> =
        Arc::new(PodmanRuntime::connect(Arc::new(LocalTransport::new()), live.runtime.config().clone()).unwrap());
    let probe = RuntimeAttributedProbe::new(Arc::new(ProcPortProbe::new(Arc::new(LocalTransport::new()))), runtime);
    let mut ranges = PortRanges::default();
    ranges.staging.app = PortRange::new(taken.get(), taken.get() + 1).unwrap();
    let store = std::sync::Arc::new(codeb::ssot::MemoryStateStore::default());
    // The orphan's own workload is recorded on its port, as a serving release would be.
    let (project, env) = (ns.project("live"), Environment::Staging);
    store
        .update(&mut |doc| {
            doc.environment_mut(&project, &env).ports.insert(Service::App, taken);
            Ok(())
        })
        .unwrap();
    let registry = SsotPortRegistry::new(store, std::sync::Arc::new(probe), ranges).unwrap();
    let key = PortKey::new(ns.project("next"), Environment::Staging, Service::App);
    let given = registry.allocate(&key).await;
    let report = registry.check().await;
    let removed = live.runtime.remove_container(&spec.name, RemoveOptions::FORCE).await;
    if removed.is_err() {
        force_remove(&spec.name);
    }
    assert_eq!(given.unwrap().get(), taken.get() + 1, "the orphan's port {taken} is skipped");
    let report = report.unwrap();
    let behind = PortKey::new(project, env, Service::App);
    assert!(
        report.drift.contains(&PortDrift::NotListening { server: ServerName::local(), port: taken, key: behind }),
        "check says nothing answers behind the orphan's port: {report:?}"
    );
    removed.expect("a forced removal clears the orphan");
    let gone = live.runtime.inspect_container(&spec.name).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound, "{gone}");
}

#[tokio::test]
async fn pulling_a_tag_the_registry_lacks_is_not_found() {
    let Some(live) = live().await else { return };
    let Some(registry) = live_env("CODEB_TEST_REGISTRY") else { return };
    let ns = Namespace::random();
    let image = ImageRef::parse(&format!("{registry}/codeb-test/httpd:{}", ns.as_str())).unwrap();
    let err = live.runtime.ensure_image(&image).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.context_value("backend"), Some("podman"));
    assert_eq!(err.context_value("image"), Some(image.as_str()));
}

#[tokio::test]
async fn pulling_from_a_registry_whose_name_does_not_resolve_says_the_registry_cannot_be_reached() {
    let Some(live) = live().await else { return };
    let image = ImageRef::parse(&format!("{}.invalid/codeb/httpd:v1", Namespace::random().as_str())).unwrap();
    let err = live.runtime.ensure_image(&image).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.message().contains("registry"), "the registry is what failed: {err}");
    assert!(!err.message().contains("does not exist") && !err.message().contains("Podman API"), "{err}");
}

#[tokio::test]
async fn pulling_from_a_registry_that_refuses_connections_says_the_registry_cannot_be_reached() {
    let Some(live) = live().await else { return };
    let closed = free_port();
    let image = ImageRef::parse(&format!("127.0.0.1:{closed}/codeb/httpd:v1")).unwrap();
    let err = live.runtime.ensure_image(&image).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.message().contains("registry"), "the registry is what failed: {err}");
    assert!(!err.message().contains("Podman API"), "Podman answered; the registry did not: {err}");
}

#[tokio::test]
async fn build_image_from_a_context_directory_yields_a_runnable_image() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Containerfile"),
        format!("FROM {}\nCOPY hello.txt /www/hello.txt\n", live.image),
    )
    .unwrap();
    std::fs::write(context.path().join("hello.txt"), format!("built in {}\n", ns.as_str())).unwrap();
    let tag = ImageRef::parse(&format!("localhost/codeb-test-{}/built:v1", ns.as_str())).unwrap();
    let build = BuildSpec {
        context: context.path().to_owned(),
        containerfile: None,
        generated: None,
        tag: tag.clone(),
        labels: [("io.codeb.project".to_owned(), ns.as_str().to_owned())].into(),
    };
    let built = live.runtime.build_image(&build).await.unwrap();
    assert_eq!(built.reference, tag);
    assert_eq!(live.runtime.ensure_image(&tag).await.unwrap().id, built.id, "the built image is present");

    let port = free_port();
    let mut spec = spec(&live, &ns, "built", port);
    spec.image = tag.clone();
    live.runtime.create_container(&spec).await.unwrap();
    live.runtime.start_container(&spec.name).await.unwrap();
    let copied = first_ok(port, "/hello.txt").await;
    let served = first_ok(port, "/").await;
    live.runtime.remove_container(&spec.name, RemoveOptions::FORCE).await.unwrap();
    let _ = live.raw.remove_image(tag.as_str(), None::<RemoveImageOptions>, None).await;
    assert_eq!(copied, format!("built in {}\n", ns.as_str()));
    assert_eq!(served.trim(), "v1", "the base image's files are there too");
}

#[tokio::test]
async fn a_build_with_a_generated_containerfile_sees_nothing_its_ignore_file_excludes() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join(".dockerignore"), ".env\n*.bin\n").unwrap();
    std::fs::write(context.path().join(".env"), "API_TOKEN=hunter2\n").unwrap();
    std::fs::write(context.path().join("big.bin"), vec![0u8; 32 << 20]).unwrap();
    std::fs::write(context.path().join("app.txt"), format!("app of {}\n", ns.as_str())).unwrap();
    let tag = ImageRef::parse(&format!("localhost/codeb-test-{}/ignored:v1", ns.as_str())).unwrap();
    let build = BuildSpec {
        context: context.path().to_owned(),
        containerfile: None,
        generated: Some(format!("FROM {}\nCOPY . /www/ctx/\n", live.image)),
        tag: tag.clone(),
        labels: [("io.codeb.project".to_owned(), ns.as_str().to_owned())].into(),
    };
    live.runtime.build_image(&build).await.unwrap();

    let port = free_port();
    let mut spec = spec(&live, &ns, "ignored", port);
    spec.image = tag.clone();
    live.runtime.create_container(&spec).await.unwrap();
    live.runtime.start_container(&spec.name).await.unwrap();
    let app = first_ok(port, "/ctx/app.txt").await;
    let status = |path: &str| {
        let url = format!("http://127.0.0.1:{port}{path}");
        async move { reqwest::get(url).await.unwrap().status() }
    };
    let (env, big, ignore_file) =
        (status("/ctx/.env").await, status("/ctx/big.bin").await, status("/ctx/.dockerignore").await);
    live.runtime.remove_container(&spec.name, RemoveOptions::FORCE).await.unwrap();
    let _ = live.raw.remove_image(tag.as_str(), None::<RemoveImageOptions>, None).await;
    assert_eq!(app, format!("app of {}\n", ns.as_str()), "the context was built from");
    assert_eq!(env, reqwest::StatusCode::NOT_FOUND, "the ignored secret file is not in the image");
    assert_eq!(big, reqwest::StatusCode::NOT_FOUND, "the ignored large file is not in the image");
    assert_eq!(ignore_file, reqwest::StatusCode::OK, "the ignore file itself is sent");
}

#[tokio::test]
async fn a_build_whose_containerfile_fails_is_invalid() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Containerfile"), format!("FROM {}\nCOPY missing.txt /x\n", live.image))
        .unwrap();
    let build = BuildSpec {
        context: context.path().to_owned(),
        containerfile: None,
        generated: None,
        tag: ImageRef::parse(&format!("localhost/codeb-test-{}/broken:v1", ns.as_str())).unwrap(),
        labels: Default::default(),
    };
    let err = live.runtime.build_image(&build).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert_eq!(err.context_value("image"), Some(build.tag.as_str()));
}

#[tokio::test]
async fn listing_never_returns_unlabelled_containers() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let managed = spec(&live, &ns, "managed", free_port());
    live.runtime.create_container(&managed).await.unwrap();
    let stranger = ns.container("stranger");
    let body = ContainerCreateBody {
        image: Some(live.image.to_string()),
        labels: Some(HashMap::from([(codeb::runtime::LABEL_PROJECT.to_owned(), ns.project("live").to_string())])),
        ..Default::default()
    };
    let options = CreateContainerOptions { name: Some(stranger.to_string()), ..Default::default() };
    live.raw.create_container(Some(options), body).await.unwrap();

    let managed_only = LabelFilter::from([(LABEL_MANAGED.to_owned(), "true".to_owned())]);
    let by_managed = live.runtime.list_containers(&managed_only).await.unwrap();
    let by_project = live
        .runtime
        .list_containers(&LabelFilter::from([(
            codeb::runtime::LABEL_PROJECT.to_owned(),
            ns.project("live").to_string(),
        )]))
        .await
        .unwrap();
    let everything = live.runtime.list_containers(&LabelFilter::new()).await.unwrap();
    remove_quietly(&live, &managed.name).await;
    remove_quietly(&live, &stranger).await;

    for (what, listed) in
        [("managed filter", &by_managed), ("project filter", &by_project), ("empty filter", &everything)]
    {
        assert!(listed.iter().any(|c| c.name == managed.name), "{what}: the managed container must be listed");
        assert!(listed.iter().all(|c| c.name != stranger), "{what}: an unlabelled container must never be listed");
        assert!(listed.iter().all(|c| c.labels.get(LABEL_MANAGED).is_some_and(|v| v == "true")), "{what}");
    }
}

#[tokio::test]
async fn logs_return_the_last_lines_of_stdout_and_stderr() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let mut spec = spec(&live, &ns, "logs", free_port());
    spec.ports.clear();
    let script =
        "for i in 1 2 3 4 5; do echo line$i; done; busybox sleep 0.3; echo to-stderr >&2; exec busybox sleep 3600";
    spec.command = Some(vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()]);
    live.runtime.create_container(&spec).await.unwrap();
    live.runtime.start_container(&spec.name).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let all = loop {
        let lines = live.runtime.logs(&spec.name, LogOptions { tail: 100 }).await.unwrap();
        if lines.len() >= 6 || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let tail = live.runtime.logs(&spec.name, LogOptions { tail: 3 }).await.unwrap();
    let none = live.runtime.logs(&spec.name, LogOptions { tail: 0 }).await.unwrap();
    live.runtime.remove_container(&spec.name, RemoveOptions::FORCE).await.unwrap();
    assert_eq!(all, ["line1", "line2", "line3", "line4", "line5", "to-stderr"]);
    assert_eq!(tail, ["line4", "line5", "to-stderr"]);
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_container_that_just_exited_is_inspected_and_listed_as_exited() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let mut spec = spec(&live, &ns, "exit", free_port());
    spec.ports.clear();
    spec.command = Some(vec!["sh".to_owned(), "-c".to_owned(), "exit 3".to_owned()]);
    live.runtime.create_container(&spec).await.unwrap();
    live.runtime.start_container(&spec.name).await.unwrap();
    // Right after exit Podman briefly reports `stopped`, which bollard cannot decode; poll through it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let state = loop {
        let state = live.runtime.inspect_container(&spec.name).await.unwrap().state;
        let listed = live.runtime.list_containers(&spec.labels).await.unwrap();
        seen.push((state, listed.iter().find(|c| c.name == spec.name).map(|c| c.state)));
        if matches!(state, ContainerState::Exited { .. }) || Instant::now() > deadline {
            break state;
        }
    };
    live.runtime.remove_container(&spec.name, RemoveOptions::default()).await.unwrap();
    assert_eq!(state, ContainerState::Exited { code: Some(3) }, "{seen:?}");
}

#[tokio::test]
async fn a_stopped_or_never_started_container_stops_as_a_no_op() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let spec = spec(&live, &ns, "noop", free_port());
    live.runtime.create_container(&spec).await.unwrap();
    let stopped_created = live.runtime.stop_container(&spec.name, StopOptions { grace: Duration::from_secs(1) }).await;
    let state = live.runtime.inspect_container(&spec.name).await.unwrap().state;
    live.runtime.remove_container(&spec.name, RemoveOptions::default()).await.unwrap();
    stopped_created.unwrap();
    assert!(matches!(state, ContainerState::Created | ContainerState::Exited { .. }), "{state:?}");
    let err = live.runtime.stop_container(&spec.name, StopOptions { grace: Duration::from_secs(1) }).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn removing_a_volume_in_use_is_a_conflict_even_with_force() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let labels = managed_labels(&ns.project("vol"), &Environment::Production, Service::Postgres, None);
    let volume = codeb::runtime::VolumeSpec { name: ns.volume("data"), labels };
    live.runtime.create_volume(&volume).await.unwrap();
    let mut spec = spec(&live, &ns, "user", free_port());
    spec.volumes = vec![codeb::runtime::VolumeMount { volume: volume.name.clone(), target: "/data".to_owned() }];
    live.runtime.create_container(&spec).await.unwrap();
    let force = codeb::runtime::RemoveVolumeOptions { force: true };
    let in_use = live.runtime.remove_volume(&volume.name, force).await;
    let listed = live.runtime.list_volumes(&volume.labels).await.unwrap();
    live.runtime.remove_container(&spec.name, RemoveOptions::FORCE).await.unwrap();
    live.runtime.remove_volume(&volume.name, force).await.unwrap();
    assert_eq!(in_use.unwrap_err().kind(), ErrorKind::Conflict);
    assert!(listed.iter().any(|v| v.name == volume.name), "a refused removal leaves the volume");
}

#[tokio::test]
async fn containers_on_one_network_reach_each_other_by_name() {
    let Some(live) = live().await else { return };
    let ns = Namespace::random();
    let network = codeb::runtime::NetworkSpec {
        name: ns.network("net"),
        labels: managed_labels(&ns.project("net"), &Environment::Staging, Service::App, None),
    };
    live.runtime.ensure_network(&network).await.unwrap();
    let mut server = spec(&live, &ns, "srv", free_port());
    server.ports.clear();
    server.network = Some(network.name.clone());
    live.runtime.create_container(&server).await.unwrap();
    live.runtime.start_container(&server.name).await.unwrap();

    let mut client = spec(&live, &ns, "cli", free_port());
    client.ports.clear();
    client.network = Some(network.name.clone());
    // The page may lack a final newline, and Podman's logs hold back an unfinished last line: print one whole line.
    let fetch =
        format!("echo \"fetched:$(busybox wget -q -O - http://{}:8080/)\"; exec busybox sleep 3600", server.name);
    client.command = Some(vec!["sh".to_owned(), "-c".to_owned(), fetch]);
    live.runtime.create_container(&client).await.unwrap();
    live.runtime.start_container(&client.name).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines = live.runtime.logs(&client.name, LogOptions::default()).await.unwrap();
        if !lines.is_empty() || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let busy = live.runtime.remove_network(&network.name).await;
    for name in [&client.name, &server.name] {
        live.runtime.remove_container(name, RemoveOptions::FORCE).await.unwrap();
    }
    live.runtime.remove_network(&network.name).await.unwrap();
    assert_eq!(lines, ["fetched:v1"], "the client must fetch the server's page by its container name");
    assert_eq!(busy.unwrap_err().kind(), ErrorKind::Conflict, "a network in use cannot be removed");
}
