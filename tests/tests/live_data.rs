//! The data of an environment's PostgreSQL and Redis, against the real
//! images the harness builds from Debian's packages (`CODEB_TEST_POSTGRES_IMAGE`,
//! `CODEB_TEST_REDIS_IMAGE`) on the live Podman, through the SDK with the real
//! backends: what the app logs in with stays valid as long as the data does,
//! the app starts only once its database answers, a dead database is seen,
//! and no inspect of a database's or an app's container shows a secret.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use codeb::engine::Platform;
use codeb::engine::{DeployOptions, DeployRequest, accessory_container, accessory_volume, release_container};
use codeb::model::{
    ContainerName, EnvKey, EnvValue, EnvVar, Environment, HealthCheck, ImageRef, Port, ProjectName, Service,
};
use codeb::runtime::BuildSpec;
use codeb::testkit::{Namespace, live_env, live_platform_file};

/// Held by each test while it runs: every test has its own SSOT, so two
/// deploying at once would be handed the same accessory port.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One live test's platform (its own SSOT, secrets and zone) and what it reaches directly.
struct Live {
    _turn: std::sync::MutexGuard<'static, ()>,
    platform: Platform,
    socket: String,
    image: ImageRef,
    ns: Namespace,
    _dir: tempfile::TempDir,
}

fn live() -> Option<Live> {
    let socket = live_env("CODEB_TEST_PODMAN_SOCKET")?;
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let image = ImageRef::parse(&live_env("CODEB_TEST_IMAGE_V1")?).unwrap();
    let ns = Namespace::random();
    let dir = tempfile::tempdir().unwrap();
    let zone = format!("{}.codeb.test", ns.as_str());
    let deploy = "drain_grace = \"200ms\"\nstop_grace = \"5s\"\nwatch_window = \"0s\"";
    let file = live_platform_file(dir.path(), &zone, deploy)?;
    let config = codeb::config::PlatformConfig::read(&file).unwrap();
    let platform = codeb_backends::connect(&config, "live-data-test").unwrap();
    Some(Live { _turn: turn, platform, socket, image, ns, _dir: dir })
}

impl Live {
    /// A project of this test's namespace and its `service` accessory's container in staging.
    fn project(&self, suffix: &str, service: Service) -> (ProjectName, ContainerName) {
        let project = self.ns.project(suffix);
        let container = accessory_container(&project, &Environment::Staging, service).unwrap();
        (project, container)
    }

    /// Deploys the busybox v1 image to `project`/staging with the accessories wanted.
    async fn deploy(&self, project: &ProjectName, postgres: bool, redis: bool) -> codeb::Result<()> {
        self.deploy_image(project, &self.image, postgres, redis).await
    }

    /// Deploys `image` to `project`/staging with the accessories wanted.
    async fn deploy_image(
        &self,
        project: &ProjectName,
        image: &ImageRef,
        postgres: bool,
        redis: bool,
    ) -> codeb::Result<()> {
        let mut request = DeployRequest::new(project.clone(), Environment::Staging, image.clone(), port(8080));
        request.accessories.postgres = postgres;
        request.accessories.redis = redis;
        request.health = HealthCheck { interval: Duration::from_millis(200), ..HealthCheck::default() };
        self.platform.deploy(&request, &DeployOptions::default()).await.map(drop)
    }

    /// The value of the environment's variable `key`.
    async fn var(&self, project: &ProjectName, key: &str) -> String {
        let key = EnvKey::parse(key).unwrap();
        self.platform.env_get(project, &Environment::Staging, &key).await.unwrap().value.expose().to_owned()
    }

    /// `podman --url <socket> <args>` against the live service.
    fn podman(&self, args: &[&str]) -> Output {
        Command::new("podman").arg("--url").arg(format!("unix://{}", self.socket)).args(args).output().unwrap()
    }

    /// Waits until the PostgreSQL of `container` accepts TCP connections
    /// (the real server, not the one of its initialisation), for at most 30 s.
    fn wait_for_postgres(&self, container: &ContainerName) {
        let started = Instant::now();
        while !self.podman(&["exec", container.as_str(), "pg_isready", "-h", "127.0.0.1", "-q"]).status.success() {
            let logs = self.podman(&["logs", "--tail", "5", container.as_str()]);
            let logs = String::from_utf8_lossy(&logs.stderr).into_owned();
            assert!(started.elapsed() < Duration::from_secs(30), "{container} never became ready: {logs}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Whether `password` logs in to the PostgreSQL of `container` over TCP, as the app does.
    fn postgres_accepts(&self, container: &ContainerName, database: &str, password: &str) -> bool {
        self.wait_for_postgres(container);
        let env = format!("PGPASSWORD={password}");
        let args = ["exec", "-e", &env, container.as_str(), "psql", "-h", "127.0.0.1", "-U", "postgres"];
        let out = self.podman(&[&args[..], &["-d", database, "-tAc", "select 1"]].concat());
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// What `podman inspect` and the OCI config of `container` show.
    fn inspection(&self, container: &ContainerName) -> Inspection {
        let root = self.podman(&["info", "--format", "{{.Store.GraphRoot}}"]);
        let root = String::from_utf8_lossy(&root.stdout).trim().to_owned();
        let inspect = String::from_utf8_lossy(&self.podman(&["inspect", container.as_str()]).stdout).into_owned();
        let id = self.podman(&["inspect", "--format", "{{.Id}}", container.as_str()]);
        let id = String::from_utf8_lossy(&id.stdout).trim().to_owned();
        let config = format!("{root}/overlay-containers/{id}/userdata/config.json");
        let oci = std::fs::read_to_string(&config).unwrap_or_else(|e| format!("unreadable {config}: {e}"));
        Inspection { container: container.clone(), inspect, oci }
    }

    /// A staging deploy of `project` with PostgreSQL and Redis, of an image
    /// built from the v1 image (the build context is the directory returned)
    /// whose own entrypoint runs httpd, and whose `/cgi-bin/env` answers
    /// `DATABASE_URL`, `REDIS_URL`, `API_TOKEN` and `GREETING` as the app sees them.
    fn env_echo_request(&self, project: &ProjectName) -> (tempfile::TempDir, DeployRequest) {
        let context = tempfile::tempdir().unwrap();
        let script = "#!/bin/sh\necho Content-Type: text/plain\necho\n\
                      echo \"DATABASE_URL=$DATABASE_URL\"\necho \"REDIS_URL=$REDIS_URL\"\n\
                      echo \"API_TOKEN=$API_TOKEN\"\necho \"GREETING=$GREETING\"\n";
        let cgi = context.path().join("env");
        std::fs::write(&cgi, script).unwrap();
        std::fs::set_permissions(&cgi, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let containerfile = format!(
            "FROM {}\nCOPY env /www/cgi-bin/env\n\
             ENTRYPOINT [\"/bin/busybox\", \"httpd\"]\nCMD [\"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
            self.image
        );
        std::fs::write(context.path().join("Containerfile"), containerfile).unwrap();
        let image = ImageRef::parse(&format!("localhost/codeb-test-{}/env-echo:v1", self.ns.as_str())).unwrap();
        let mut request = DeployRequest::new(project.clone(), Environment::Staging, image.clone(), port(8080));
        request.build = Some(BuildSpec {
            context: context.path().to_owned(),
            containerfile: None,
            generated: None,
            tag: image,
            labels: Default::default(),
        });
        request.accessories.postgres = true;
        request.accessories.redis = true;
        request.health = HealthCheck { interval: Duration::from_millis(200), ..HealthCheck::default() };
        (context, request)
    }

    /// Deletes the project and its protected volumes, whatever is left of them.
    async fn remove(&self, project: &ProjectName) {
        let _ = self.platform.project_delete(project, true, &DeployOptions::default()).await;
        for service in [Service::Postgres, Service::Redis] {
            let volume = accessory_volume(project, &Environment::Staging, service).unwrap();
            let _ = self.podman(&["volume", "rm", "-f", volume.as_str()]);
        }
    }
}

/// What inspecting one container shows: `podman inspect` and its OCI config.
struct Inspection {
    container: ContainerName,
    inspect: String,
    oci: String,
}

impl Inspection {
    /// Asserts that both were read and that neither holds any of `secrets`.
    fn assert_shows_none_of(&self, secrets: &[String]) {
        let container = &self.container;
        assert!(self.inspect.contains(container.as_str()), "the inspect of {container} was read: {}", self.inspect);
        assert!(self.oci.contains("\"ociVersion\""), "the OCI config of {container} was read: {}", self.oci);
        for (n, secret) in secrets.iter().enumerate() {
            assert!(!secret.is_empty(), "secret {n} is known");
            assert!(!self.inspect.contains(secret.as_str()), "{container}'s inspect shows secret {n}");
            assert!(!self.oci.contains(secret.as_str()), "{container}'s OCI config shows secret {n}");
        }
    }
}

/// The body `curl` gets from `http://127.0.0.1:<port><path>`, empty on a failure.
fn curl(port: Port, path: &str) -> String {
    let url = format!("http://127.0.0.1:{port}{path}");
    let out = Command::new("curl").args(["-sS", "--max-time", "10", &url]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn port(n: u16) -> Port {
    Port::new(n).unwrap()
}

/// The password inside a `scheme://user:password@host:port/db` URL.
fn url_password(url: &str) -> &str {
    let credentials = url.split_once("://").unwrap().1.split_once('@').unwrap().0;
    credentials.split_once(':').unwrap().1
}

#[tokio::test(flavor = "multi_thread")]
async fn a_protected_volume_keeps_its_credentials_when_its_project_is_deleted() {
    let Some(live) = live() else { return };
    let (project, container) = live.project("keep", Service::Postgres);
    live.deploy(&project, true, false).await.unwrap();
    let before = live.var(&project, "DATABASE_URL").await;
    assert!(
        live.postgres_accepts(&container, project.as_str(), url_password(&before)),
        "the first deploy's URL logs in"
    );

    live.platform.project_delete(&project, true, &DeployOptions::default()).await.unwrap();
    live.deploy(&project, true, false).await.unwrap();
    let after = live.var(&project, "DATABASE_URL").await;
    let accepted = live.postgres_accepts(&container, project.as_str(), url_password(&after));
    live.remove(&project).await;
    assert!(accepted, "the DATABASE_URL after the project came back logs in to the data its volume kept");
    assert_eq!(url_password(&after), url_password(&before));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_first_deploy_leaves_its_database_whole_and_the_next_one_opens_it() {
    let Some(live) = live() else { return };
    let (project, container) = live.project("first", Service::Postgres);
    let missing = ImageRef::parse(&format!("localhost/codeb-test/{}-missing:none", live.ns.as_str())).unwrap();
    let failed = live.deploy_image(&project, &missing, true, false).await;
    assert!(failed.is_err(), "the image does not exist");

    let deployed = live.deploy(&project, true, false).await;
    let url = live.var(&project, "DATABASE_URL").await;
    let accepted = deployed.is_ok() && live.postgres_accepts(&container, project.as_str(), url_password(&url));
    live.remove(&project).await;
    assert!(deployed.is_ok(), "{deployed:?}");
    assert!(accepted, "the database the failed deploy began is whole: the next deploy's app logs in");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_database_makes_the_environment_unhealthy_and_is_drift() {
    let Some(live) = live() else { return };
    let (project, container) = live.project("dead", Service::Postgres);
    live.deploy(&project, true, false).await.unwrap();
    let healthy = live.platform.health_check(&project, &Environment::Staging).await.unwrap();

    let stopped = live.podman(&["stop", "-t", "5", container.as_str()]);
    let health = live.platform.health_check(&project, &Environment::Staging).await;
    let drift = live.platform.drift().await;
    live.remove(&project).await;
    assert!(stopped.status.success(), "{}", String::from_utf8_lossy(&stopped.stderr));
    assert!(healthy.verdict.healthy, "{healthy:?}");
    let health = health.unwrap();
    assert!(!health.verdict.healthy, "{health:?}");
    assert!(health.verdict.evidence.contains(container.as_str()), "{health:?}");
    let drift = drift.unwrap();
    assert!(drift.to_string().contains(&format!("postgres is not running ({container})")), "{drift}");
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_answers_only_with_its_password_and_keeps_its_data_on_a_protected_volume() {
    let Some(live) = live() else { return };
    let (project, container) = live.project("cache", Service::Redis);
    live.deploy(&project, false, true).await.unwrap();
    let url = live.var(&project, "REDIS_URL").await;
    let auth = format!("REDISCLI_AUTH={}", url_password(&url));
    let ping = |env: &[&str]| {
        let args = [&["exec"], env, &[container.as_str(), "redis-cli", "-e", "-h", "127.0.0.1", "ping"]].concat();
        live.podman(&args).status.success()
    };
    let (with, without) = (ping(&["-e", &auth]), ping(&[]));
    let volumes = live.podman(&["volume", "ls", "--filter", "label=io.codeb.protected=true", "--format", "{{.Name}}"]);
    let data = live.podman(&["exec", container.as_str(), "ls", "/data"]);
    live.remove(&project).await;
    assert!(with, "the URL's password opens Redis");
    assert!(!without, "Redis refuses a client without the password");
    let volume = accessory_volume(&project, &Environment::Staging, Service::Redis).unwrap();
    assert!(String::from_utf8_lossy(&volumes.stdout).lines().any(|v| v == volume.as_str()), "its volume is protected");
    assert!(String::from_utf8_lossy(&data.stdout).contains("appendonlydir"), "it persists to its volume");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_inspect_of_a_database_container_shows_its_password() {
    let Some(live) = live() else { return };
    let (project, postgres) = live.project("quiet", Service::Postgres);
    let redis = accessory_container(&project, &Environment::Staging, Service::Redis).unwrap();
    live.deploy(&project, true, true).await.unwrap();
    let passwords = [live.var(&project, "POSTGRES_PASSWORD").await, live.var(&project, "REDIS_PASSWORD").await];
    let seen = [live.inspection(&postgres), live.inspection(&redis)];
    let url = live.var(&project, "DATABASE_URL").await;
    let accepted = live.postgres_accepts(&postgres, project.as_str(), url_password(&url));
    live.remove(&project).await;
    for inspection in seen {
        inspection.assert_shows_none_of(&passwords);
    }
    assert!(accepted, "PostgreSQL was initialised with the password its secret file holds");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_inspect_of_an_app_container_shows_a_secret_yet_the_app_has_every_one_in_its_environment() {
    let Some(live) = live() else { return };
    let project = live.ns.project("envs");
    let token = format!("tok-{}", live.ns.as_str());
    let set = [
        EnvVar::secret(EnvKey::parse("API_TOKEN").unwrap(), EnvValue::parse(&token).unwrap()),
        EnvVar::plain(EnvKey::parse("GREETING").unwrap(), EnvValue::parse("hello-plain").unwrap()),
    ];
    live.platform.env_set(&project, &Environment::Staging, &set).await.unwrap();
    let (context, request) = live.env_echo_request(&project);
    let deployed = live.platform.deploy(&request, &DeployOptions::default()).await;
    let mut secrets = vec![token];
    for key in ["DATABASE_URL", "REDIS_URL", "POSTGRES_PASSWORD", "REDIS_PASSWORD"] {
        secrets.push(live.var(&project, key).await);
    }
    let (inspection, answer) = match &deployed {
        Ok(report) => {
            let app = release_container(&project, &Environment::Staging, &report.release).unwrap();
            (Some(live.inspection(&app)), curl(report.port, "/cgi-bin/env"))
        }
        Err(_) => (None, String::new()),
    };
    live.remove(&project).await;
    let _ = live.podman(&["rmi", request.image.as_str()]);
    drop(context);
    deployed.unwrap();
    inspection.unwrap().assert_shows_none_of(&secrets);
    let expected = format!(
        "DATABASE_URL={}\nREDIS_URL={}\nAPI_TOKEN={}\nGREETING=hello-plain\n",
        secrets[1], secrets[2], secrets[0]
    );
    assert!(answer == expected, "the app sees every variable, secret or not (answer of {} bytes)", answer.len());
}
