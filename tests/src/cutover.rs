//! Deploys under load: what issue 15 measures. Consecutive deploys of one
//! environment through the SDK while a [`Load`] sends to its domain through
//! the proxy, spaced so the load sends at least a given number of requests.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use codeb::config::PlatformConfig;
use codeb::engine::{DeployOptions, DeployRequest, Platform};
use codeb::model::{DomainName, Environment, HealthCheck, ImageRef, Port, ProjectName};
use codeb::testkit::{live_env, live_platform_file};
use codeb_devstack::images::{BusyboxImage, PodmanCli};

use crate::load::{Load, LoadReport, SLOW_CGI, SLOW_PATH};

/// Two busybox httpd images, tagged under `prefix` (`PREFIX:v1`, `PREFIX:v2`):
/// each answers its name at `/` and, after about 2 s, at [`SLOW_PATH`].
pub fn build_slow_images(podman_socket: &Path, prefix: &str, scratch: &Path) -> codeb::Result<[ImageRef; 2]> {
    let podman = PodmanCli::new(podman_socket)?;
    let build = |version: &str| -> codeb::Result<ImageRef> {
        let tag = ImageRef::parse(&format!("{prefix}:{version}"))?;
        BusyboxImage::httpd(tag.clone(), version)
            .with_file(&format!("/www{SLOW_PATH}"), SLOW_CGI, 0o755)?
            .build(&podman, scratch)?;
        Ok(tag)
    };
    Ok([build("v1")?, build("v2")?])
}

/// Two staging deploys of `project` routed at `domain`, one per image, probed every `interval`: what a cutover alternates.
pub fn alternating(
    project: ProjectName,
    domain: &DomainName,
    [v1, v2]: [ImageRef; 2],
    interval: Duration,
) -> [DeployRequest; 2] {
    let mut first = DeployRequest::new(project, Environment::Staging, v1, Port::new(8080).expect("a port"));
    first.domains = vec![domain.clone()];
    first.health = HealthCheck { interval, ..HealthCheck::default() };
    let second = DeployRequest { image: v2, ..first.clone() };
    [first, second]
}

/// What [`deploys_under_load`] measured.
#[derive(Debug)]
pub struct CutoverRun {
    /// What the load counted.
    pub load: LoadReport,
    /// How long each deploy took.
    pub deploys: Vec<Duration>,
}

/// Deploys `requests` alternately, `deploys` times, while a load sends to
/// `host` through `proxy`. The environment must already serve. Each deploy
/// starts once the load has sent its share of `min_requests`; the load stops
/// after the last deploy and its share.
pub async fn deploys_under_load(
    platform: &Platform,
    requests: [&DeployRequest; 2],
    proxy: SocketAddr,
    host: &str,
    deploys: usize,
    min_requests: usize,
) -> codeb::Result<CutoverRun> {
    let load = Load::start(proxy, host);
    let share = min_requests / (deploys + 1);
    let mut took = Vec::with_capacity(deploys);
    for n in 0..deploys {
        wait_until_sent(&load, share * (n + 1)).await;
        let started = Instant::now();
        let deployed = platform.deploy(requests[(n + 1) % 2], &DeployOptions::default()).await;
        took.push(started.elapsed());
        if let Err(e) = deployed {
            load.stop().await;
            return Err(e);
        }
    }
    wait_until_sent(&load, min_requests).await;
    Ok(CutoverRun { load: load.stop().await, deploys: took })
}

async fn wait_until_sent(load: &Load, requests: usize) {
    while load.sent() < requests {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One environment of the live stack serving the slow images, ready to be
/// deployed under load: what the live test and the benchmark of issue 15 share.
pub struct Scenario {
    /// The platform of the live stack, with the deploy timings asked for.
    pub platform: Platform,
    /// The two requests deployed in turn (v1 serves first).
    pub requests: [DeployRequest; 2],
    /// Caddy's plain-HTTP listener.
    pub proxy: SocketAddr,
    /// The domain the load sends to.
    pub domain: DomainName,
    _dir: tempfile::TempDir,
}

impl Scenario {
    /// Builds the slow images under `name`, connects to the live stack with
    /// `timings` as the body of `[deploy]`, and deploys v1 of project `name`
    /// at `app.<name>.codeb.test`. `None` without a live stack (a failure under `CI=true`).
    pub async fn start(name: &str, timings: &str) -> Option<Scenario> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = live_platform_file(dir.path(), &format!("{name}.codeb.test"), timings)?;
        let socket = live_env("CODEB_TEST_PODMAN_SOCKET")?;
        let proxy = live_env("CODEB_TEST_CADDY_HTTP")?.parse().expect("CODEB_TEST_CADDY_HTTP is an address");
        let config = PlatformConfig::read(&config).expect("the live platform file");
        let platform = codeb_backends::connect(&config, "cutover-test").expect("the live platform");
        let prefix = format!("localhost/codeb-test/{name}");
        let images = build_slow_images(socket.as_ref(), &prefix, dir.path()).expect("the slow images");
        let project = ProjectName::parse(name).expect("a project name");
        let domain = DomainName::parse(&format!("app.{name}.codeb.test")).expect("a domain");
        let requests = alternating(project, &domain, images, Duration::from_millis(20));
        platform.deploy(&requests[0], &DeployOptions::default()).await.expect("the first deploy");
        Some(Scenario { platform, requests, proxy, domain, _dir: dir })
    }

    /// [`deploys_under_load`] of this environment, then its project deleted.
    pub async fn run(&self, deploys: usize, min_requests: usize) -> codeb::Result<CutoverRun> {
        let requests = [&self.requests[0], &self.requests[1]];
        let run =
            deploys_under_load(&self.platform, requests, self.proxy, self.domain.as_str(), deploys, min_requests).await;
        let project = &self.requests[0].project;
        self.platform.project_delete(project, true, &DeployOptions::default()).await?;
        run
    }
}
