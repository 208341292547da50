//! The one constructor of a platform from its platform file: the CLI, the MCP
//! server and the Python bindings all build their [`Platform`] here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use codeb::config::{ControlConfig, KeySource, PlatformConfig, ServerConfig};
use codeb::engine::{Backends, Platform};
use codeb::fleet::{Fleet, Host, HostAddresses};
use codeb::model::{Role, ServerName};
use codeb::ports::{PortProbe, RuntimeAttributedProbe, SsotPortRegistry};
use codeb::releases::ContainerReleases;
use codeb::secrets::SecretStore;
use codeb::ssot::StateStore;
use codeb::{Error, Result};

use crate::control::ControlClient;
use crate::transport::ssh::{Identity, KnownHosts, SshConfig, SshTarget, SshTransport};
use crate::transport::{Command, LocalTransport, Traced, Transport};
use crate::{
    CaddyConfig, CaddyProxy, FileSecretStore, FileStateStore, PodmanConfig, PodmanRuntime, PowerDns, PowerDnsConfig,
    ProcLiveness, ProcPortProbe, SecretFileConfig, TransportDoctor, TransportHttpProbe,
};

/// Builds the platform a platform file describes, acting for `$USER` in
/// `front_end` (`we`, `mcp`, `python`, or a program's own name), as deploy
/// locks and release records name them.
///
/// With no `[servers.NAME]` listed, every backend reaches its service through
/// one [`LocalTransport`]: the platform is the machine codeb runs on. With
/// servers, each is reached through its own [`SshTransport`]: its Podman,
/// port table and health probe; Caddy through the first server with the
/// proxy role, PowerDNS through the first with the dns role; and with a
/// server of the control role, the SSOT and the secrets through its control
/// endpoint ([`crate::control`]), else the files the platform file names. Every
/// transport's exchanges are recorded as `tracing` events (see
/// [`crate::transport::trace`]).
///
/// Nothing is sent to any service yet and none needs to run: the key files
/// are read, and each backend connects on first use, so commands that read
/// only the SSOT work while the services are down (a call that needs one is
/// `Unavailable`, naming its socket, address or server).
pub fn connect(config: &PlatformConfig, front_end: &str) -> Result<Platform> {
    let local: Arc<dyn Transport> = Arc::new(Traced::new(Arc::new(LocalTransport::new())));
    let mut podman = PodmanConfig::from_section(&config.podman)?;
    if let Some(registry) = &config.registry {
        podman = podman.with_registry(registry)?;
    }
    let Servers { fleet, proxy, dns } = if config.servers.is_empty() {
        let host = host(ServerName::local(), config.local_addresses(), Arc::clone(&local), "local".to_owned(), podman)?;
        Servers { fleet: Fleet::single(host), proxy: Arc::clone(&local), dns: Arc::clone(&local) }
    } else {
        listed_fleet(config, podman, &local)?
    };
    let caddy = CaddyConfig::from_section(&config.caddy, &config.tls)?;
    check_cutover(config, &caddy)?;
    let Truth { state, secrets } = truth(config)?;
    let mut ports = SsotPortRegistry::new(state.clone(), Arc::new(fleet.clone()), config.ports)?;
    // A fleet with no app server yet keeps no environment: its allocations then say so.
    if let Ok(default) = fleet.place(None, None) {
        ports = ports.placing_new_environments_on(default.name.clone());
    }
    let backends = Backends {
        fleet,
        proxy: Arc::new(CaddyProxy::new(proxy, caddy)?),
        dns: Arc::new(PowerDns::new(dns, PowerDnsConfig::from_section(&config.powerdns)?)?),
        secrets,
        ports: Arc::new(ports),
        state,
        // Locks record this machine's host name: their holders are asked about here.
        liveness: Arc::new(ProcLiveness::new(local)),
    };
    Ok(Platform::new(backends, config.settings(&user(), front_end, &hostname())))
}

/// The cutover through DNS needs both halves: the zone codeb writes the
/// upstream records in (`[powerdns] upstream_zone`) and the resolver Caddy
/// reads them from (`[caddy] resolver`); one without the other is refused.
fn check_cutover(config: &PlatformConfig, caddy: &CaddyConfig) -> Result<()> {
    match (&config.upstream_zone, &caddy.resolver) {
        (Some(_), None) => Err(Error::invalid(
            "[powerdns] upstream_zone needs [caddy] resolver, the address of PowerDNS's DNS port as Caddy reaches it",
        )
        .with_context("field", "caddy.resolver")),
        (None, Some(_)) => Err(Error::invalid(
            "[caddy] resolver needs [powerdns] upstream_zone, the zone of the records Caddy resolves",
        )
        .with_context("field", "powerdns.upstream_zone")),
        _ => Ok(()),
    }
}

/// Where the SSOT and the secrets are kept.
struct Truth {
    state: Arc<dyn StateStore>,
    secrets: Arc<dyn SecretStore>,
}

/// The files here, or, with a control server, its endpoint over SSH.
fn truth(config: &PlatformConfig) -> Result<Truth> {
    let Some(control) = &config.control else {
        let secrets = FileSecretStore::open(SecretFileConfig::new(&config.secrets_dir, config.secret_key.clone()))?;
        return Ok(Truth { state: Arc::new(FileStateStore::new(&config.state_path)), secrets: Arc::new(secrets) });
    };
    let server =
        config.servers.iter().find(|s| s.name == control.server).ok_or_else(|| {
            Error::internal(format!("the control server {} is not among the servers", control.server))
        })?;
    // A transport of its own: the client's conversation runs on a runtime of its own.
    let transport: Arc<dyn Transport> = Arc::new(Traced::new(server_access(config, server)?.ssh));
    let client = ControlClient::new(transport, control_command(config, control)?)?;
    Ok(Truth { state: Arc::new(client.state_store()), secrets: Arc::new(client.secret_store()) })
}

/// The endpoint's argv: the configured program, then where the truth is on the control server.
fn control_command(config: &PlatformConfig, control: &ControlConfig) -> Result<Command> {
    let KeySource::File(key_file) = &config.secret_key else {
        return Err(Error::invalid("the secret key of a control server is a key_file on it"));
    };
    let path = |p: &Path| p.display().to_string();
    let (program, arguments) =
        control.command.split_first().ok_or_else(|| Error::invalid("[control] command is empty"))?;
    Ok(Command::new(program).args(arguments.iter().cloned()).args([
        "--state".to_owned(),
        path(&config.state_path),
        "--secrets".to_owned(),
        path(&config.secrets_dir),
        "--key-file".to_owned(),
        path(key_file),
    ]))
}

/// One server and the backends that reach it through `transport` (`reach` says how, for people).
fn host(
    name: ServerName,
    addresses: HostAddresses,
    transport: Arc<dyn Transport>,
    reach: String,
    podman: PodmanConfig,
) -> Result<Host> {
    let runtime = Arc::new(PodmanRuntime::connect(Arc::clone(&transport), podman)?);
    let doctor = Arc::new(TransportDoctor::new(Arc::clone(&transport), runtime.clone(), reach));
    let probe: Arc<dyn PortProbe> =
        Arc::new(RuntimeAttributedProbe::new(Arc::new(ProcPortProbe::new(Arc::clone(&transport))), runtime.clone()));
    Ok(Host {
        name,
        roles: Default::default(),
        addresses,
        releases: Arc::new(ContainerReleases::new(runtime.clone(), addresses.bind, addresses.upstream)),
        runtime,
        ports: probe,
        http: Arc::new(TransportHttpProbe::new(transport)),
        doctor,
    })
}

/// How a `[servers.NAME]` section says the server is reached.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Reach {
    /// `user@host[:port]`; none for the machine codeb runs on (`local`).
    ssh: Option<String>,
    /// The server is the machine codeb runs on, reached without SSH: only a
    /// build server may be (each laptop and CI runner is a machine of its own).
    #[serde(default)]
    local: bool,
    /// The private key to log in with; a leading `~/` is the home directory.
    /// Without it, the keys of the ssh-agent (`agent`, else `$SSH_AUTH_SOCK`).
    identity: Option<PathBuf>,
    /// The ssh-agent's socket, when not `$SSH_AUTH_SOCK`.
    agent: Option<PathBuf>,
    /// Podman's socket on the server, when not `[podman] socket`.
    podman_socket: Option<PathBuf>,
    /// The login's authorized_keys file on the server, when not `~/.ssh/authorized_keys`.
    authorized_keys: Option<PathBuf>,
    /// A host to connect through, `user@host[:port]` (its key pinned too).
    jump: Option<String>,
}

/// One listed server as codeb reaches it.
pub(crate) struct ServerAccess {
    /// Its SSH transport.
    pub(crate) ssh: Arc<SshTransport>,
    /// Its Podman socket, when its section names one.
    pub(crate) podman_socket: Option<PathBuf>,
    /// Its authorized_keys file, when its section names one.
    pub(crate) authorized_keys: Option<PathBuf>,
}

impl Reach {
    /// The section's reach: `ssh`, or `local = true` for a build server and nothing of SSH with it.
    fn of(server: &ServerConfig) -> Result<Reach> {
        let reach: Reach = server.reach.parse()?;
        let section = server.reach.name();
        let refuse = |field: &str, why: String| {
            Err(Error::invalid(format!("platform file, [{section}]: {why}"))
                .with_context("section", section)
                .with_context("field", field))
        };
        if !reach.local {
            return match reach.ssh {
                Some(_) => Ok(reach),
                None => refuse(
                    "ssh",
                    "`ssh = \"user@host\"` says how to reach the server (or `local = true` for a build server that is the machine codeb runs on)".to_owned(),
                ),
            };
        }
        let ssh_keys = [
            ("ssh", reach.ssh.is_some()),
            ("identity", reach.identity.is_some()),
            ("agent", reach.agent.is_some()),
            ("authorized_keys", reach.authorized_keys.is_some()),
            ("jump", reach.jump.is_some()),
        ];
        if let Some((field, _)) = ssh_keys.into_iter().find(|(_, given)| *given) {
            return refuse(
                field,
                format!("`{field}` is for SSH, and a server with `local = true` is reached without it"),
            );
        }
        if server.roles.iter().any(|role| *role != Role::Build) {
            return refuse(
                "roles",
                "a server with `local = true` may have only the build role: the machine codeb runs on is another one for each laptop and CI runner, so releases, routes, records and the truth live on servers reached over SSH".to_owned(),
            );
        }
        Ok(reach)
    }
}

/// How codeb reaches `server` of `config` over SSH; a server with `local = true` has no SSH access (`Invalid`).
pub(crate) fn server_access(config: &PlatformConfig, server: &ServerConfig) -> Result<ServerAccess> {
    let reach = Reach::of(server)?;
    let Some(ssh) = reach.ssh.as_deref() else {
        return Err(Error::invalid(format!(
            "server {} is the machine codeb runs on (`local = true`): it has no SSH login",
            server.name
        ))
        .with_context("server", &server.name));
    };
    let target = SshTarget::parse(ssh).map_err(|e| e.with_context("section", server.reach.name()))?;
    let identity = match reach.identity {
        Some(file) => Identity::File(home_relative(&file)),
        None => Identity::Agent(reach.agent.as_deref().map(home_relative)),
    };
    let mut ssh = SshConfig::new(target, identity, KnownHosts::new(known_hosts_path(config)?));
    ssh.jump = reach.jump.as_deref().map(SshTarget::parse).transpose().map_err(|e| e.with_context("field", "jump"))?;
    Ok(ServerAccess {
        ssh: Arc::new(SshTransport::new(server.name.clone(), ssh)?),
        podman_socket: reach.podman_socket,
        authorized_keys: reach.authorized_keys,
    })
}

/// The known_hosts file the platform file names, or the default one.
pub(crate) fn known_hosts_path(config: &PlatformConfig) -> Result<PathBuf> {
    config
        .known_hosts
        .clone()
        .or_else(codeb::config::default_known_hosts)
        .ok_or_else(|| Error::not_found("no known_hosts file for the servers: set [ssh] known_hosts, or HOME"))
}

/// The fleet, and the transports that reach the proxy's and DNS's servers.
struct Servers {
    fleet: Fleet,
    proxy: Arc<dyn Transport>,
    dns: Arc<dyn Transport>,
}

/// The listed servers, each over SSH, or through `local` when it is this machine (a build server).
fn listed_fleet(config: &PlatformConfig, podman: PodmanConfig, local: &Arc<dyn Transport>) -> Result<Servers> {
    let mut hosts = Vec::new();
    let mut transports = Vec::new();
    for server in &config.servers {
        let reach = Reach::of(server)?;
        let (transport, described, socket): (Arc<dyn Transport>, String, Option<PathBuf>) = if reach.local {
            (Arc::clone(local), "local".to_owned(), reach.podman_socket)
        } else {
            let access = server_access(config, server)?;
            let described = format!("ssh {}", access.ssh.target());
            (Arc::new(Traced::new(access.ssh)), described, access.podman_socket)
        };
        let mut podman = podman.clone();
        if let Some(socket) = socket {
            podman.socket = socket;
        }
        let mut host = host(server.name.clone(), server.addresses, Arc::clone(&transport), described, podman)?;
        host.roles = server.roles.clone();
        transports.push((server.roles.clone(), transport));
        hosts.push(host);
    }
    let with_role = |role: Role| {
        transports.iter().find(|(roles, _)| roles.contains(&role)).map(|(_, t)| Arc::clone(t)).ok_or_else(|| {
            Error::invalid(format!("platform file: no server has the {role} role")).with_context("field", "roles")
        })
    };
    let (proxy, dns) = (with_role(Role::Proxy)?, with_role(Role::Dns)?);
    Ok(Servers { fleet: Fleet::new(hosts)?, proxy, dns })
}

/// `path` with a leading `~/` read as the home directory.
fn home_relative(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_owned(),
    }
}

/// Finds the platform file the way every front end does (`explicit`, else
/// `$CODEB_CONFIG`, else the XDG config dir), reads it, and connects, acting
/// for the user who runs `front_end` (`we`, `mcp`, `python`). Returns the
/// platform and the file's path.
pub fn connect_discovered(explicit: Option<&Path>, front_end: &str) -> Result<(Platform, PathBuf)> {
    let path = PlatformConfig::discover(explicit)?;
    let config = PlatformConfig::read(&path)?;
    Ok((connect(&config, front_end)?, path))
}

/// Who a process acts for, as deploy locks and release records name them: `$USER`.
fn user() -> String {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "unknown".to_owned())
}

/// This host's name, as recorded in deploy locks.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
