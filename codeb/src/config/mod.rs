//! The platform file: where the state and secrets live, how to reach Podman,
//! Caddy and PowerDNS, and the deploy policies. Every front end finds it the
//! same way ([`PlatformConfig::discover`]) and builds the same platform from it.
//!
//! The SDK parses what is its own (state, secrets, network, deploy, ports, and
//! the policies `[caddy] tls`/`acme_email` and `[powerdns] zone`/`upstream_zone`); each
//! backend's section is kept as a [`Section`] and parsed next to that backend
//! (in `codeb-backends`), which alone knows its keys.
//!
//! ```toml
//! [state]
//! path = "/var/lib/codeb/ssot.json"
//!
//! [secrets]
//! dir = "/var/lib/codeb/secrets"
//! key_file = "/var/lib/codeb/secret.key"      # or key_env = "CODEB_SECRET_KEY"
//!
//! [podman]
//! socket = "/run/podman/podman.sock"
//! registries = [{ registry = "ghcr.io", username = "ci", password_env = "GHCR_TOKEN" }]
//!
//! [caddy]
//! admin = "http://127.0.0.1:2019"
//! listen = ["127.0.0.1:8080"]
//! tls = "off"                                  # off | internal | acme
//! acme_email = "ops@example.com"
//! resolver = "127.0.0.1:5300"                  # PowerDNS's DNS port, as Caddy reaches it
//!
//! [powerdns]
//! api = "http://127.0.0.1:8081"
//! api_key_file = "/var/lib/codeb/pdns.key"     # or api_key_env = "CODEB_PDNS_API_KEY"
//! zone = "codeb.test"
//! upstream_zone = "codeb.internal"             # routes discover releases here; with [caddy] resolver
//!
//! [registry]                                 # optional: images built here are pushed, servers pull by digest
//! address = "127.0.0.1:5000"
//! tls = false                                 # plain HTTP, on loopback only
//! username = "codeb"
//! password_file = "/var/lib/codeb/registry.password"
//!
//! [network]
//! bind_address = "127.0.0.1"
//! upstream_host = "127.0.0.1"
//! public_ipv4 = "127.0.0.1"
//!
//! [deploy]
//! keep_releases = 5
//! drain_grace = "10s"
//! watch_window = "30s"
//! lock_lease = "60s"                          # a deploy lock not renewed for this long is stale
//!
//! [ports]                                     # optional; the seed's table otherwise
//! staging = { app = "3000-3499", postgres = "15432-15499", redis = "16379-16399" }
//! ```

mod registry;

pub use registry::{Registry, RegistrySection};

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::DEFAULT_LOCK_LEASE;
use crate::model::{DomainName, ImageRef, PortRange, Role, ServerName, ValidationError};
use crate::ports::{PortRanges, ServiceRanges};
use crate::project::parse_duration;
use crate::proxy::TlsPolicy;
use crate::{Error, ErrorKind, Result};

/// The environment variable naming the platform file.
pub const CONFIG_ENV: &str = "CODEB_CONFIG";

/// The parsed and validated platform file.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformConfig {
    /// The SSOT file.
    pub state_path: PathBuf,
    /// The directory of the encrypted secret store.
    pub secrets_dir: PathBuf,
    /// Where the secret store's key comes from.
    pub secret_key: KeySource,
    /// The `[podman]` section, for the Podman backend to parse.
    pub podman: Section,
    /// The `[caddy]` section without the SDK's TLS policy keys, for the Caddy backend to parse.
    pub caddy: Section,
    /// The `[powerdns]` section without the SDK's `zone`, for the PowerDNS backend to parse.
    pub powerdns: Section,
    /// The `[registry]` section: where images built here are pushed, and its credentials for the backend.
    pub registry: Option<RegistrySection>,
    /// TLS policy of routes (`[caddy] tls`, `acme_email`).
    pub tls: TlsPolicy,
    /// The zone codeb manages records in (`[powerdns] zone`).
    pub zone: Option<DomainName>,
    /// The zone of the environments' upstream records (`[powerdns] upstream_zone`):
    /// routes discover their release from it, and a cutover is one record change.
    pub upstream_zone: Option<DomainName>,
    /// Host address ports are published on.
    pub bind_address: IpAddr,
    /// Address the proxy reaches releases at.
    pub upstream_host: IpAddr,
    /// Address A records point at.
    pub public_ipv4: Ipv4Addr,
    /// Releases kept per environment.
    pub keep_releases: usize,
    /// Drain grace after a switch.
    pub drain_grace: Duration,
    /// Stop grace of containers.
    pub stop_grace: Duration,
    /// Watch window after a cutover.
    pub watch_window: Duration,
    /// The lease of a deploy lock (at least 1 s).
    pub lock_lease: Duration,
    /// PostgreSQL accessory image.
    pub postgres_image: Option<ImageRef>,
    /// Redis accessory image.
    pub redis_image: Option<ImageRef>,
    /// Port ranges.
    pub ports: PortRanges,
    /// The servers of the fleet (`[servers.NAME]`); none: the local machine is the one server.
    pub servers: Vec<ServerConfig>,
    /// codeb's file of pinned SSH host keys (`[ssh] known_hosts`); none: [`default_known_hosts`].
    pub known_hosts: Option<PathBuf>,
    /// Where the truth lives when a server has the role `control`: the SSOT
    /// and secrets are then kept on that server, at `state_path`,
    /// `secrets_dir` and the key file as that server names them. None: here.
    pub control: Option<ControlConfig>,
}

/// The control server that keeps a fleet's SSOT, secrets and locks.
///
/// ```toml
/// [servers.app1]
/// roles = ["app", "proxy", "dns", "control"]
/// [control]                                    # optional
/// command = ["/usr/local/bin/we", "control", "serve"]
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlConfig {
    /// The server with the role `control`.
    pub server: ServerName,
    /// The program that serves the truth there, and its first arguments (default `we control serve`).
    pub command: Vec<String>,
}

/// One server of the fleet, as its `[servers.NAME]` section describes it.
///
/// ```toml
/// [servers.app1]
/// roles = ["app", "proxy", "dns"]
/// public_ipv4 = "203.0.113.10"                 # bind_address, upstream_host: as in [network]
/// ssh = "deploy@203.0.113.10:22"               # for the SSH transport, with:
/// identity = "~/.ssh/codeb_ed25519"
/// podman_socket = "/run/user/1000/podman/podman.sock"   # default: [podman] socket
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// Its name.
    pub name: ServerName,
    /// What it is for.
    pub roles: BTreeSet<Role>,
    /// Its addresses; what it does not give comes from `[network]`.
    pub addresses: crate::fleet::HostAddresses,
    /// The rest of its section (how to reach it), for the transport to parse.
    pub reach: Section,
}

impl ServerConfig {
    fn from_section(name: &str, mut section: Section, network: crate::fleet::HostAddresses) -> Result<Self> {
        let section_name = section.name.clone();
        let named = |e: Error| e.with_context("section", &section_name);
        let name = ServerName::parse(name).map_err(|e| named(e.into()))?;
        let roles: Vec<String> = section.take_as("roles")?.unwrap_or_default();
        let roles = roles.iter().map(|r| r.parse::<Role>()).collect::<Result<BTreeSet<_>>>().map_err(named)?;
        if roles.is_empty() {
            return Err(Error::invalid(format!(
                "platform file, [{}] (line {}): roles lists none of {}",
                section.name,
                section.line,
                Role::ALL.map(Role::as_str).join(", ")
            ))
            .with_context("field", "roles"));
        }
        let addresses = crate::fleet::HostAddresses {
            bind: section.take_as("bind_address")?.unwrap_or(network.bind),
            upstream: section.take_as("upstream_host")?.unwrap_or(network.upstream),
            public_ipv4: section.take_as("public_ipv4")?.unwrap_or(network.public_ipv4),
        };
        Ok(ServerConfig { name, roles, addresses, reach: section })
    }
}

/// `$XDG_CONFIG_HOME/codeb/known_hosts`, falling back to `$HOME/.config/codeb/known_hosts`.
pub fn default_known_hosts() -> Option<PathBuf> {
    default_path().map(|p| p.with_file_name("known_hosts"))
}

/// One section of the platform file that a backend parses: its keys as
/// written (less those the SDK took) and the line it starts on, so an error
/// names both.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    name: String,
    line: usize,
    table: toml::Table,
}

impl Section {
    /// The section's name (`podman`, `caddy`, `powerdns`, `servers.app1`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The section as the backend's own type; unknown keys and bad values
    /// are `Invalid`, naming the section, its line and the key.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        T::deserialize(toml::Value::Table(self.table.clone())).map_err(|e| {
            Error::invalid(format!("platform file, [{}] (line {}): {}", self.name, self.line, e.to_string().trim_end()))
                .with_context("section", &self.name)
        })
    }

    /// Takes `key` out of the section, for the SDK's own use.
    fn take(&mut self, key: &str) -> Option<toml::Value> {
        self.table.remove(key)
    }

    /// Takes `key` out as a string, or refuses another type.
    fn take_str(&mut self, key: &'static str) -> Result<Option<String>> {
        self.take_as(key)
    }

    /// Takes `key` out as a `T`, or refuses another type, naming the section and its line.
    fn take_as<T: serde::de::DeserializeOwned>(&mut self, key: &'static str) -> Result<Option<T>> {
        let Some(value) = self.take(key) else { return Ok(None) };
        T::deserialize(value).map(Some).map_err(|e| {
            Error::invalid(format!("platform file, [{}] (line {}): {key}: {}", self.name, self.line, e.message()))
                .with_context("section", &self.name)
                .with_context("field", key)
        })
    }
}

/// Where a key comes from: a file (read at start) or an environment variable. Never inline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// A file holding the key.
    File(PathBuf),
    /// An environment variable holding the key.
    Env(String),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    state: RawState,
    secrets: RawSecrets,
    podman: toml::Spanned<toml::Table>,
    caddy: toml::Spanned<toml::Table>,
    powerdns: toml::Spanned<toml::Table>,
    registry: Option<toml::Spanned<toml::Table>>,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    deploy: RawDeploy,
    ports: Option<RawPorts>,
    #[serde(default)]
    ssh: RawSsh,
    #[serde(default)]
    servers: BTreeMap<String, toml::Spanned<toml::Table>>,
    control: Option<RawControl>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControl {
    command: Vec<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSsh {
    known_hosts: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    path: PathBuf,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    dir: PathBuf,
    key_file: Option<PathBuf>,
    key_env: Option<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    bind_address: Option<IpAddr>,
    upstream_host: Option<IpAddr>,
    public_ipv4: Option<Ipv4Addr>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDeploy {
    keep_releases: Option<usize>,
    drain_grace: Option<String>,
    stop_grace: Option<String>,
    watch_window: Option<String>,
    lock_lease: Option<String>,
    postgres_image: Option<String>,
    redis_image: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPorts {
    staging: RawRanges,
    production: RawRanges,
    preview: RawRanges,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRanges {
    app: String,
    postgres: Option<String>,
    redis: Option<String>,
}

impl PlatformConfig {
    /// Parses platform file text; unknown keys are errors naming the key and line.
    pub fn parse(text: &str) -> Result<Self> {
        let raw: Raw = crate::tomlfile::parse("platform file", text)?;
        let line = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
        let section = |name: &str, spanned: toml::Spanned<toml::Table>| Section {
            name: name.to_owned(),
            line: line(spanned.span().start),
            table: spanned.into_inner(),
        };
        let sections = [
            section("podman", raw.podman.clone()),
            section("caddy", raw.caddy.clone()),
            section("powerdns", raw.powerdns.clone()),
        ];
        let servers =
            raw.servers.iter().map(|(name, table)| (name.clone(), section(&format!("servers.{name}"), table.clone())));
        let servers = servers.collect();
        let registry = raw.registry.clone().map(|table| section("registry", table));
        raw.validate(sections, registry, servers)
    }

    /// Reads and parses the platform file at `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = crate::tomlfile::read_capped(path, "the platform file").map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::Unavailable => e.with_context(
                "hint",
                "name the platform file or set CODEB_CONFIG; `we local up` writes one for a local stack",
            ),
            _ => e,
        })?;
        PlatformConfig::parse(&text).map_err(|e| e.with_context("path", path.display()))
    }

    /// Where the platform file is: `explicit` (a `--config` flag), else
    /// `$CODEB_CONFIG`, else `$XDG_CONFIG_HOME/codeb/platform.toml` (or `~/.config/...`).
    pub fn discover(explicit: Option<&Path>) -> Result<PathBuf> {
        if let Some(path) = explicit {
            return Ok(path.to_owned());
        }
        if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        default_path().ok_or_else(|| {
            Error::not_found("no platform file: name one, set CODEB_CONFIG, or set HOME/XDG_CONFIG_HOME")
        })
    }
}

/// `$XDG_CONFIG_HOME/codeb/platform.toml`, falling back to `$HOME/.config/codeb/platform.toml`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|p| !p.is_empty()).map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("codeb").join("platform.toml"))
}

impl KeySource {
    /// The source a pair of `*_file`/`*_env` keys names: exactly one must be given.
    pub fn from_keys(field: &'static str, file: Option<PathBuf>, env: Option<String>) -> Result<Self, ValidationError> {
        match (file, env) {
            (Some(file), None) => Ok(KeySource::File(file)),
            (None, Some(env)) => Ok(KeySource::Env(env)),
            _ => Err(ValidationError::new(field, "", "give exactly one of a key file or a key environment variable")),
        }
    }
}

/// The control server among `servers`, if one has the role, and how to serve its truth.
fn control_config(servers: &[ServerConfig], raw: Option<RawControl>, key: &KeySource) -> Result<Option<ControlConfig>> {
    let mut control = servers.iter().filter(|s| s.roles.contains(&Role::Control)).map(|s| s.name.clone());
    let Some(server) = control.next() else {
        return match raw {
            Some(_) => Err(Error::invalid("platform file, [control]: no server has the role control")
                .with_context("field", "control")),
            None => Ok(None),
        };
    };
    if let Some(other) = control.next() {
        return Err(Error::invalid(format!(
            "platform file: {server} and {other} both have the role control; one server keeps the truth"
        ))
        .with_context("field", "roles"));
    }
    if let KeySource::Env(_) = key {
        return Err(Error::invalid(format!(
            "platform file, [secrets]: the secret key stays on the control server {server}: \
             name its file there with key_file, not key_env"
        ))
        .with_context("field", "secrets.key_env"));
    }
    let command = raw.map_or_else(|| ["we", "control", "serve"].map(str::to_owned).to_vec(), |c| c.command);
    if command.first().is_none_or(|program| program.is_empty()) {
        return Err(Error::invalid("platform file, [control] command: name a program").with_context("field", "command"));
    }
    Ok(Some(ControlConfig { server, command }))
}

fn range(field: &'static str, s: &str) -> Result<PortRange, ValidationError> {
    let err = || ValidationError::new(field, s, "is a range like 3000-3499");
    let (a, b) = s.split_once('-').ok_or_else(err)?;
    PortRange::new(a.trim().parse().map_err(|_| err())?, b.trim().parse().map_err(|_| err())?)
}

fn ranges(raw: &RawRanges) -> Result<ServiceRanges, ValidationError> {
    Ok(ServiceRanges {
        app: range("ports.app", &raw.app)?,
        postgres: raw.postgres.as_deref().map(|r| range("ports.postgres", r)).transpose()?,
        redis: raw.redis.as_deref().map(|r| range("ports.redis", r)).transpose()?,
    })
}

impl Raw {
    fn validate(
        self,
        [podman, mut caddy, mut powerdns]: [Section; 3],
        registry: Option<Section>,
        servers: Vec<(String, Section)>,
    ) -> Result<PlatformConfig> {
        let tls_word = caddy.take_str("tls")?;
        let acme_email = caddy.take_str("acme_email")?;
        let zone = powerdns.take_str("zone")?;
        let upstream_zone = powerdns.take_str("upstream_zone")?;
        let tls = match (tls_word.as_deref().unwrap_or("off"), acme_email) {
            ("off", _) => TlsPolicy::Off,
            ("internal", _) => TlsPolicy::Internal,
            ("acme", email) => TlsPolicy::Acme { email },
            (other, _) => return Err(ValidationError::new("caddy.tls", other, "is off, internal or acme").into()),
        };
        let duration = |field, value: &Option<String>, default| -> Result<Duration, ValidationError> {
            value.as_deref().map_or(Ok(default), |v| parse_duration(field, v))
        };
        let ports = match &self.ports {
            None => PortRanges::default(),
            Some(p) => PortRanges {
                staging: ranges(&p.staging)?,
                production: ranges(&p.production)?,
                preview: ranges(&p.preview)?,
            },
        };
        ports.validate()?;
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let network = crate::fleet::HostAddresses {
            bind: self.network.bind_address.unwrap_or(localhost),
            upstream: self.network.upstream_host.unwrap_or(localhost),
            public_ipv4: self.network.public_ipv4.unwrap_or(Ipv4Addr::LOCALHOST),
        };
        let servers = servers
            .into_iter()
            .map(|(name, section)| ServerConfig::from_section(&name, section, network))
            .collect::<Result<Vec<_>>>()?;
        let secret_key = KeySource::from_keys("secrets.key", self.secrets.key_file, self.secrets.key_env)?;
        let control = control_config(&servers, self.control, &secret_key)?;
        Ok(PlatformConfig {
            control,
            servers,
            known_hosts: self.ssh.known_hosts,
            state_path: self.state.path,
            secrets_dir: self.secrets.dir,
            secret_key,
            podman,
            caddy,
            powerdns,
            registry: registry.map(RegistrySection::take).transpose()?,
            tls,
            zone: zone.as_deref().map(DomainName::parse).transpose()?,
            upstream_zone: upstream_zone.as_deref().map(DomainName::parse).transpose()?,
            bind_address: network.bind,
            upstream_host: network.upstream,
            public_ipv4: network.public_ipv4,
            keep_releases: self.deploy.keep_releases.unwrap_or(5).max(1),
            drain_grace: duration("deploy.drain_grace", &self.deploy.drain_grace, Duration::from_secs(10))?,
            stop_grace: duration("deploy.stop_grace", &self.deploy.stop_grace, Duration::from_secs(10))?,
            watch_window: duration("deploy.watch_window", &self.deploy.watch_window, Duration::from_secs(30))?,
            lock_lease: lock_lease(self.deploy.lock_lease.as_deref())?,
            postgres_image: self.deploy.postgres_image.as_deref().map(ImageRef::parse).transpose()?,
            redis_image: self.deploy.redis_image.as_deref().map(ImageRef::parse).transpose()?,
            ports,
        })
    }
}

/// A lock lease of at least a second: a shorter one would go stale between two renewals.
fn lock_lease(value: Option<&str>) -> Result<Duration, ValidationError> {
    let Some(value) = value else { return Ok(DEFAULT_LOCK_LEASE) };
    let lease = parse_duration("deploy.lock_lease", value)?;
    if lease < Duration::from_secs(1) {
        return Err(ValidationError::new("deploy.lock_lease", value, "is at least 1s"));
    }
    Ok(lease)
}

impl PlatformConfig {
    /// The addresses of the local server this file describes.
    pub fn local_addresses(&self) -> crate::fleet::HostAddresses {
        crate::fleet::HostAddresses {
            bind: self.bind_address,
            upstream: self.upstream_host,
            public_ipv4: self.public_ipv4,
        }
    }

    /// The engine settings this file describes, for `user` running `front_end` on `host`.
    pub fn settings(&self, user: &str, front_end: &str, host: &str) -> crate::engine::Settings {
        let mut s = crate::engine::Settings::local(user, front_end);
        s.zone = self.zone.clone();
        s.upstream_zone = self.upstream_zone.clone();
        s.registry = self.registry.as_ref().map(|r| r.registry.clone());
        s.tls = self.tls.clone();
        s.keep_releases = self.keep_releases;
        s.drain_grace = self.drain_grace;
        s.stop_grace = self.stop_grace;
        s.watch_window = self.watch_window;
        s.lock_lease = self.lock_lease;
        if let Some(image) = &self.postgres_image {
            s.postgres_image = image.clone();
        }
        if let Some(image) = &self.redis_image {
            s.redis_image = image.clone();
        }
        s.identity.host = host.to_owned();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[state]
path = "/tmp/ssot.json"
[secrets]
dir = "/tmp/secrets"
key_file = "/tmp/secret.key"
[podman]
socket = "/tmp/podman.sock"
[caddy]
admin = "http://127.0.0.1:2019"
listen = ["127.0.0.1:8080"]
[powerdns]
api = "http://127.0.0.1:8081"
api_key_env = "PDNS_KEY"
zone = "codeb.test"
"#;

    #[test]
    fn a_minimal_file_takes_the_defaults() {
        let c = PlatformConfig::parse(MINIMAL).unwrap();
        assert_eq!(c.ports, PortRanges::default());
        assert_eq!(c.secret_key, KeySource::File("/tmp/secret.key".into()));
        assert_eq!(c.powerdns.name(), "powerdns");
        assert_eq!(c.tls, TlsPolicy::Off);
        assert_eq!(c.watch_window, Duration::from_secs(30));
        assert_eq!(c.lock_lease, Duration::from_secs(60));
        let s = c.settings("alice", "we", "laptop");
        assert_eq!(s.zone, Some(DomainName::parse("codeb.test").unwrap()));
        assert_eq!((s.identity.owner().as_str(), s.identity.host.as_str()), ("alice (we)", "laptop"));
        assert_eq!(s.lock_lease, Duration::from_secs(60));
    }

    #[test]
    fn the_lock_lease_is_read_from_the_deploy_section_and_is_at_least_a_second() {
        let with = |lease: &str| PlatformConfig::parse(&format!("{MINIMAL}\n[deploy]\nlock_lease = \"{lease}\"\n"));
        assert_eq!(with("2m").unwrap().settings("a", "we", "h").lock_lease, Duration::from_secs(120));
        for short in ["500ms", "0s"] {
            let err = with(short).unwrap_err();
            assert_eq!(err.context_value("field"), Some("deploy.lock_lease"), "{short}: {err}");
            assert!(err.to_string().contains("at least 1s"), "{err}");
        }
    }

    #[test]
    fn bad_files_are_refused_with_the_key() {
        let unknown = format!("{MINIMAL}\n[deploy]\nkeep = 3\n");
        let err = PlatformConfig::parse(&unknown).unwrap_err().to_string();
        assert!(err.contains("keep") && err.contains("line"), "{err}");
        let both = MINIMAL.replace("key_file = \"/tmp/secret.key\"", "key_file = \"/a\"\nkey_env = \"B\"");
        assert_eq!(PlatformConfig::parse(&both).unwrap_err().context_value("field"), Some("secrets.key"));
        let overlapping = format!(
            "{MINIMAL}\n[ports]\nstaging = {{ app = \"3000-3499\" }}\nproduction = {{ app = \"3400-3600\" }}\npreview = {{ app = \"5000-5999\" }}\n"
        );
        assert!(PlatformConfig::parse(&overlapping).unwrap_err().to_string().contains("overlaps"));
        let tls = MINIMAL.replace("listen = [", "tls = \"maybe\"\nlisten = [");
        assert_eq!(PlatformConfig::parse(&tls).unwrap_err().context_value("field"), Some("caddy.tls"));
    }

    #[test]
    fn a_backend_section_keeps_its_keys_less_the_sdks_and_names_its_line_in_errors() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Caddy {
            admin: String,
            listen: Vec<String>,
        }
        let c = PlatformConfig::parse(&MINIMAL.replace("listen = [", "tls = \"internal\"\nlisten = [")).unwrap();
        assert_eq!(c.tls, TlsPolicy::Internal, "the SDK took its policy key");
        assert!(c.caddy.parse::<Caddy>().is_ok(), "the backend sees only its own keys");
        let typo = MINIMAL.replace("listen = [", "lisen = [");
        let err = PlatformConfig::parse(&typo).unwrap().caddy.parse::<Caddy>().unwrap_err().to_string();
        assert!(err.contains("[caddy] (line 9)") && err.contains("lisen"), "{err}");
    }

    #[test]
    fn servers_list_their_roles_and_addresses_and_keep_how_to_reach_them_for_the_transport() {
        let text = format!(
            "{MINIMAL}\n[network]\npublic_ipv4 = \"198.51.100.1\"\n[ssh]\nknown_hosts = \"/etc/codeb/known_hosts\"\n\
             [servers.app1]\nroles = [\"app\", \"proxy\", \"dns\"]\npublic_ipv4 = \"203.0.113.10\"\n\
             ssh = \"deploy@203.0.113.10\"\nidentity = \"/keys/id\"\n\
             [servers.store]\nroles = [\"storage\"]\nssh = \"deploy@203.0.113.11\"\nidentity = \"/keys/id\"\n"
        );
        let c = PlatformConfig::parse(&text).unwrap();
        assert_eq!(c.known_hosts, Some(PathBuf::from("/etc/codeb/known_hosts")));
        let names: Vec<&str> = c.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["app1", "store"]);
        let app1 = &c.servers[0];
        assert_eq!(app1.roles, [Role::App, Role::Proxy, Role::Dns].into_iter().collect());
        assert_eq!(app1.addresses.public_ipv4, Ipv4Addr::new(203, 0, 113, 10));
        assert_eq!(c.servers[1].addresses.public_ipv4, Ipv4Addr::new(198, 51, 100, 1), "[network] fills the rest");
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Reach {
            ssh: String,
            identity: PathBuf,
        }
        assert!(app1.reach.parse::<Reach>().is_ok(), "the transport sees only its keys");
        assert_eq!(app1.reach.name(), "servers.app1");
        assert!(PlatformConfig::parse(MINIMAL).unwrap().servers.is_empty(), "no servers: the local machine");
    }

    #[test]
    fn a_server_with_a_bad_name_role_or_address_is_refused_naming_its_section() {
        let server = |body: &str| format!("{MINIMAL}\n[servers.app1]\n{body}\n");
        let role = PlatformConfig::parse(&server("roles = [\"ap\"]")).unwrap_err();
        assert!(role.to_string().contains("unknown server role"), "{role}");
        assert_eq!(role.context_value("section"), Some("servers.app1"));
        let none = PlatformConfig::parse(&server("roles = []")).unwrap_err();
        assert_eq!(none.context_value("field"), Some("roles"), "{none}");
        let address = PlatformConfig::parse(&server("roles = [\"app\"]\npublic_ipv4 = \"somewhere\"")).unwrap_err();
        assert_eq!(address.context_value("field"), Some("public_ipv4"), "{address}");
        assert!(address.to_string().contains("line"), "{address}");
        let name = format!("{MINIMAL}\n[servers.\"-oProxyCommand=x\"]\nroles = [\"app\"]\n");
        assert_eq!(
            PlatformConfig::parse(&name).unwrap_err().context_value("section"),
            Some("servers.-oProxyCommand=x")
        );
    }

    #[test]
    fn discovery_prefers_the_flag_then_the_environment() {
        assert_eq!(PlatformConfig::discover(Some(Path::new("/x.toml"))).unwrap(), PathBuf::from("/x.toml"));
    }
}
