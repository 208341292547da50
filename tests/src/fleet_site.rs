//! A fleet of hosts in network namespaces (`codeb_devstack::fleet`) and the
//! platform file that reaches it only over SSH, shared by the fleet's live
//! tests (`tests/live_fleet.rs`) and its benchmarks (`benches/build_server.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use codeb::config::PlatformConfig;
use codeb::engine::Platform;
use codeb::model::{DomainName, ImageRef, ProjectName};
use codeb::testkit::{Namespace, live_env, live_requirement};
use codeb_devstack::fleet::{Fleet, FleetHost};
use codeb_devstack::{LocalStack, REGISTRY_USER};

/// The name of the build server, when a site has one.
pub const BUILD: &str = "build";

/// A fleet of app, storage and backup, and what a platform file for it needs.
pub struct Site {
    /// The fleet.
    pub fleet: Arc<Fleet>,
    /// The names of this site's projects and domains.
    pub ns: Namespace,
    /// The zone its domains are in.
    pub zone: DomainName,
    dir: tempfile::TempDir,
}

impl Site {
    /// The fleet, with a stack holding the test images on the app host when
    /// `stack`; `None` when the machine cannot make one (a failure under `CI=true`).
    pub fn start(stack: bool) -> Option<Site> {
        Site::with_stacks(if stack { &["app"] } else { &[] })
    }

    /// The fleet of app, storage, backup and a build server, with stacks on
    /// the app and the build host; the platform builds on the build host and
    /// pushes to its registry (over TLS at its address), which the app host pulls from.
    pub fn with_build_server() -> Option<Site> {
        Site::with_stacks(&["app", BUILD])
    }

    /// The fleet with a stack holding the test images on each of `stacks`.
    pub fn with_stacks(stacks: &[&str]) -> Option<Site> {
        if !live_requirement("a fleet in network namespaces", Fleet::check_requirements()) {
            return None;
        }
        let images = if stacks.is_empty() {
            None
        } else {
            let images = (live_env("CODEB_TEST_IMAGE_V1")?, live_env("CODEB_TEST_IMAGE_V2")?);
            Some((live_env("CODEB_TEST_PODMAN_SOCKET")?, images))
        };
        let dir = tempfile::tempdir().unwrap();
        let mut hosts = vec!["app", "storage", "backup"];
        let more: Vec<&str> = stacks.iter().copied().filter(|name| !hosts.contains(name)).collect();
        hosts.extend(more);
        let fleet = Fleet::up(dir.path(), &hosts, stacks).unwrap();
        if let Some((socket, (v1, v2))) = images {
            let images = [ImageRef::parse(&v1).unwrap(), ImageRef::parse(&v2).unwrap()];
            for host in stacks {
                fleet.copy_images(host, Path::new(&socket), &images).unwrap();
            }
        }
        let ns = Namespace::random();
        let zone = ns.zone();
        Some(Site { fleet: Arc::new(fleet), ns, zone, dir })
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> &FleetHost {
        self.fleet.host(name).unwrap()
    }

    /// `name` in the site's own directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Where visitors reach the app host's Caddy: its HTTP port at the host's address.
    pub fn caddy_http(&self) -> String {
        let port = self.fleet.stack("app").map_or(1, |s| s.endpoints().http.port());
        format!("{}:{port}", self.host("app").address())
    }

    /// A known_hosts file pinning each host's own key (`impostor` pinned for app instead, when given).
    pub fn known_hosts(&self, impostor: Option<&str>) -> PathBuf {
        let lines: String = self
            .fleet
            .hosts()
            .iter()
            .map(|h| {
                let key = match impostor.filter(|_| h.name() == "app") {
                    Some(key) => key.to_owned(),
                    None => h.host_key().unwrap(),
                };
                format!("{} {}", h.address(), key.trim())
            })
            .map(|line| line + "\n")
            .collect();
        let path = self.path(if impostor.is_some() { "known_hosts_impostor" } else { "known_hosts" });
        std::fs::write(&path, lines).unwrap();
        path
    }

    /// The platform file: SSOT and secrets here; every service on the app
    /// host, named as the app host sees it; each host by `ssh`, `identity` and `known_hosts`.
    pub fn platform_file(&self, ssh: &dyn Fn(&FleetHost) -> String, identity: &Path, known_hosts: &Path) -> String {
        let stack = self.fleet.stack("app").map(|s| s.endpoints().clone());
        let (admin, api, dns, socket) = match &stack {
            Some(e) => (
                e.caddy_admin.to_string(),
                e.pdns_api.to_string(),
                e.pdns_dns.to_string(),
                e.podman_socket.display().to_string(),
            ),
            None => (
                "127.0.0.1:1".to_owned(),
                "127.0.0.1:2".to_owned(),
                "127.0.0.1:3".to_owned(),
                "/run/podman/podman.sock".to_owned(),
            ),
        };
        let key = stack.as_ref().map_or("no-key".to_owned(), |e| e.pdns_api_key.expose().to_owned());
        std::fs::write(self.path("pdns.key"), key).unwrap();
        let app = self.host("app");
        let quoted = |p: PathBuf| format!("{:?}", p.display().to_string());
        let mut text = format!(
            "[state]\npath = {state}\n[secrets]\ndir = {secrets}\nkey_file = {secret_key}\n\
             [podman]\n# Nothing listens here: Podman is reached on the app host only.\nsocket = {no_socket}\n\
             [caddy]\nadmin = \"http://{admin}\"\nlisten = [{listen:?}]\ntls = \"off\"\nresolver = {dns:?}\n\
             [powerdns]\napi = \"http://{api}\"\napi_key_file = {key_file}\nzone = {zone:?}\n\
             upstream_zone = \"codeb.internal\"\n\
             [deploy]\ndrain_grace = \"100ms\"\nstop_grace = \"2s\"\nwatch_window = \"0s\"\n\
             [ssh]\nknown_hosts = {known_hosts:?}\n\
             [servers.app]\nroles = [\"app\", \"proxy\", \"dns\"]\npodman_socket = {socket:?}\npublic_ipv4 = \"{ip}\"\n",
            state = quoted(self.path("ssot.json")),
            secrets = quoted(self.path("secrets")),
            secret_key = quoted(self.path("secret.key")),
            no_socket = quoted(self.path("no-local-podman.sock")),
            listen = self.caddy_http(),
            key_file = quoted(self.path("pdns.key")),
            zone = self.zone.as_str(),
            known_hosts = known_hosts.display().to_string(),
            ip = app.address(),
        );
        text += &reach(ssh(app), identity);
        for (name, role) in [("storage", "storage"), ("backup", "backup")] {
            text += &format!("[servers.{name}]\nroles = [{role:?}]\n");
            text += &reach(ssh(self.host(name)), identity);
        }
        text
    }

    /// The sections of the build server, when the site has one: the server
    /// (root with the fleet's key) and its registry as `[registry]`.
    pub fn build_server_sections(&self) -> String {
        let Some(build) = self.fleet.stack(BUILD) else { return String::new() };
        let socket = build.endpoints().podman_socket.display();
        let mut text = format!("[servers.{BUILD}]\nroles = [\"build\"]\npodman_socket = \"{socket}\"\n");
        text += &reach(self.host(BUILD).ssh_target(), self.fleet.client_key());
        text + &registry_section(build)
    }

    /// The usual platform file: root with the fleet's key, every host key
    /// pinned, and the build server's sections when the site has one.
    pub fn usual_platform_file(&self) -> String {
        let text = self.platform_file(&FleetHost::ssh_target, self.fleet.client_key(), &self.known_hosts(None));
        text + &self.build_server_sections()
    }

    /// What the app host's Caddy answers visitors of `host`: the code and the body.
    pub fn page(&self, host: &DomainName) -> (u16, String) {
        get_through(&self.caddy_http(), host)
    }

    /// The platform of the usual platform file.
    pub fn platform(&self) -> Platform {
        connect(&self.usual_platform_file())
    }

    /// A project of this site's own.
    pub fn project(&self, suffix: &str) -> ProjectName {
        self.ns.project(suffix)
    }

    /// A domain of this site's own.
    pub fn domain(&self, label: &str) -> DomainName {
        self.ns.host(label)
    }

    /// The A records PowerDNS on the app host answers for `name`, asked inside the app host.
    pub fn dns_a(&self, name: &DomainName) -> String {
        let dns = self.fleet.stack("app").unwrap().endpoints().pdns_dns;
        let (server, port, name) = (format!("@{}", dns.ip()), dns.port().to_string(), name.to_string());
        self.host("app")
            .within(|| {
                let out = Command::new("dig").args(["+short", &server, "-p", &port, &name, "A"]).output().unwrap();
                Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
            })
            .unwrap()
    }
}

/// The `[registry]` section of `stack`'s registry: over TLS at its host's address, with its user's password file.
pub fn registry_section(stack: &LocalStack) -> String {
    format!(
        "[registry]\naddress = \"{}\"\ntls = true\nusername = {REGISTRY_USER:?}\npassword_file = {:?}\n",
        stack.endpoints().registry,
        stack.registry_password_file().display().to_string()
    )
}

/// `ssh` and `identity` lines of a server section.
fn reach(ssh: String, identity: &Path) -> String {
    format!("ssh = {ssh:?}\nidentity = {:?}\n", identity.display().to_string())
}

/// The platform of the platform file `text`.
pub fn connect(text: &str) -> Platform {
    codeb_backends::connect(&PlatformConfig::parse(text).unwrap(), "live-fleet").unwrap()
}

/// What the Caddy listening at `caddy` (`address:port`) answers to `GET /` for `host`: the code and the body.
pub fn get_through(caddy: &str, host: &DomainName) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(caddy).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let code = answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (code, body)
}
