//! What the SDK-level live tests share: a platform built by
//! `codeb_backends::connect` from a platform file for the live stack (real
//! Podman, Caddy and PowerDNS), in a fresh namespace and zone.
// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use codeb::config::PlatformConfig;
use codeb::dns::RecordData;
use codeb::engine::{DeployOptions, DeployReport, DeployRequest, Platform};
use codeb::model::{DomainName, Environment, HealthCheck, ImageRef, Port, ProjectName};
use codeb::proxy::Upstreams;
use codeb::testkit::{Namespace, live_env, live_platform_file};

/// A platform on the live stack, with its own SSOT and secrets in a temporary directory.
pub struct Live {
    /// The platform, as every front end builds it.
    pub platform: Platform,
    /// The test's names.
    pub ns: Namespace,
    /// The zone its records go in.
    pub zone: DomainName,
    /// The platform file.
    pub config: PathBuf,
    /// The busybox httpd image serving "v1".
    pub image: ImageRef,
    _dir: tempfile::TempDir,
}

impl Live {
    /// The platform, or `None` when the stack is not there (a failure under `CI=true`).
    pub fn start() -> Option<Live> {
        let image = ImageRef::parse(&live_env("CODEB_TEST_IMAGE_V1")?).unwrap();
        let ns = Namespace::random();
        let dir = tempfile::tempdir().unwrap();
        let zone = ns.zone();
        // Tests run in parallel, each with its own SSOT: each gets app ports of its own.
        let first = 10_000 + 50 * fastrand::u16(0..100);
        let deploy = format!(
            "drain_grace = \"100ms\"\nstop_grace = \"2s\"\nwatch_window = \"0s\"\n\
             [ports]\nstaging = {{ app = \"{first}-{}\", postgres = \"15432-15499\", redis = \"16379-16399\" }}\n\
             production = {{ app = \"4000-4499\" }}\npreview = {{ app = \"5000-5999\" }}",
            first + 49
        );
        let config = live_platform_file(dir.path(), zone.as_str(), &deploy)?;
        let platform = connect(&config);
        Some(Live { platform, ns, zone, config, image, _dir: dir })
    }

    /// A project name of this test.
    pub fn project(&self, suffix: &str) -> ProjectName {
        self.ns.project(suffix)
    }

    /// `label.<zone>`.
    pub fn host(&self, label: &str) -> DomainName {
        self.ns.host(label)
    }

    /// A staging deploy of the v1 image for `project`, routed at `domains`.
    pub fn request(&self, project: &ProjectName, domains: &[DomainName]) -> DeployRequest {
        let mut request =
            DeployRequest::new(project.clone(), Environment::Staging, self.image.clone(), Port::new(8080).unwrap());
        request.domains = domains.to_vec();
        request.health = HealthCheck {
            interval: Duration::from_millis(100),
            deadline: Duration::from_secs(10),
            ..Default::default()
        };
        request
    }

    /// Deploys `request`.
    pub async fn deploy(&self, request: &DeployRequest) -> codeb::Result<DeployReport> {
        self.platform.deploy(request, &DeployOptions::default()).await
    }

    /// The port the real Caddy routes `host` to, if it has a route: its
    /// upstream's, or the one its SRV record in the real PowerDNS names.
    pub async fn routed_port(&self, host: &DomainName) -> Option<Port> {
        let route = self.platform.backends().proxy.get_route(host).await.unwrap()?;
        match route.upstreams {
            Upstreams::Fixed(fixed) => Some(fixed[0].port),
            Upstreams::Srv(name) => {
                let zone = self.platform.settings().upstream_zone.clone().expect("an SRV route has an upstream zone");
                let sets = self.platform.backends().dns.list_records(&zone).await.unwrap();
                sets.into_iter().find(|set| set.name == name).and_then(|set| match set.data {
                    RecordData::Srv(records) => records.first().map(|r| r.port),
                    _ => None,
                })
            }
        }
    }

    /// Whether the real PowerDNS has an A record for `name`.
    pub async fn has_record(&self, name: &DomainName) -> bool {
        match self.platform.backends().dns.list_records(&self.zone).await {
            Ok(sets) => sets.iter().any(|set| set.name == *name),
            Err(e) if e.kind() == codeb::ErrorKind::NotFound => false,
            Err(e) => panic!("listing the records of {}: {e}", self.zone),
        }
    }

    /// Deletes every project of the test, with force.
    pub async fn clean_up(&self, projects: &[&ProjectName]) {
        for project in projects {
            if let Err(e) = self.platform.project_delete(project, true, &DeployOptions::default()).await {
                eprintln!("cleaning up {project}: {e}");
            }
        }
    }
}

/// The platform a platform file describes.
pub fn connect(config: &std::path::Path) -> Platform {
    let config = PlatformConfig::read(config).unwrap();
    codeb_backends::connect(&config, "live-test").unwrap()
}

/// The podman CLI against the live stack's service: what codeb left, seen independently of codeb.
pub fn podman(args: &[&str]) -> String {
    let socket = live_env("CODEB_TEST_PODMAN_SOCKET").unwrap();
    let out =
        std::process::Command::new("podman").arg("--url").arg(format!("unix://{socket}")).args(args).output().unwrap();
    assert!(out.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// What the live Caddy answers to `GET /` for `host`: the status line's code and the body.
pub fn get_through_caddy(host: &DomainName) -> (u16, String) {
    get_through(&live_env("CODEB_TEST_CADDY_HTTP").unwrap(), host)
}

pub use codeb_tests::fleet_site::get_through;

/// What the live PowerDNS answers for `name`'s records of `kind`, one a line (`dig +short`).
pub fn dig(name: &DomainName, kind: &str) -> String {
    let server = live_env("CODEB_TEST_PDNS_DNS").unwrap();
    let (ip, port) = server.rsplit_once(':').unwrap();
    let out = std::process::Command::new("dig")
        .args([&format!("@{ip}"), "-p", port, name.as_str(), kind, "+short"])
        .output()
        .expect("dnsutils provides dig");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
