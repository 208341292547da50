//! The one constructor of a platform from its platform file: the CLI, the MCP
//! server and the Python bindings all build their [`Platform`] here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use codeb::Result;
use codeb::config::PlatformConfig;
use codeb::engine::{Backends, Platform};
use codeb::fleet::{Fleet, Host};
use codeb::model::ServerName;
use codeb::ports::{PortProbe, RuntimeAttributedProbe, SsotPortRegistry};
use codeb::releases::ContainerReleases;

use crate::transport::{LocalTransport, Traced, Transport};
use crate::{
    CaddyConfig, CaddyProxy, FileSecretStore, FileStateStore, PodmanConfig, PodmanRuntime, PowerDns, PowerDnsConfig,
    ProcLiveness, ProcPortProbe, SecretFileConfig, TransportHttpProbe,
};

/// Builds the platform a platform file describes, acting as `owner` (recorded in deploy locks).
///
/// Every backend reaches its service through one [`LocalTransport`]: the
/// platform is the machine codeb runs on. Its exchanges are recorded as
/// `tracing` events (see [`crate::transport::trace`]). Nothing is sent to any service yet
/// and none needs to run: the key files are read, and each backend connects
/// on first use, so commands that read only the SSOT work while the stack is
/// down (a call that needs a stopped service is `Unavailable`, naming its
/// socket or address).
pub fn connect(config: &PlatformConfig, owner: &str) -> Result<Platform> {
    let local: Arc<dyn Transport> = Arc::new(Traced::new(Arc::new(LocalTransport::new())));
    let runtime = Arc::new(PodmanRuntime::connect(Arc::clone(&local), PodmanConfig::from_section(&config.podman)?)?);
    let caddy = CaddyConfig::from_section(&config.caddy, &config.tls)?;
    let dns = PowerDns::new(Arc::clone(&local), PowerDnsConfig::from_section(&config.powerdns)?)?;
    let secrets = FileSecretStore::open(SecretFileConfig::new(&config.secrets_dir, config.secret_key.clone()))?;
    let state = Arc::new(FileStateStore::new(&config.state_path));
    let probe: Arc<dyn PortProbe> =
        Arc::new(RuntimeAttributedProbe::new(Arc::new(ProcPortProbe::new(Arc::clone(&local))), runtime.clone()));
    let ports = SsotPortRegistry::new(state.clone(), probe.clone(), config.ports)?;
    let addresses = config.local_addresses();
    let host = Host {
        name: ServerName::local(),
        roles: Default::default(),
        addresses,
        releases: Arc::new(ContainerReleases::new(runtime.clone(), addresses.bind, addresses.upstream)),
        runtime,
        ports: probe,
        http: Arc::new(TransportHttpProbe::new(Arc::clone(&local))),
    };
    let backends = Backends {
        fleet: Fleet::single(host),
        proxy: Arc::new(CaddyProxy::new(Arc::clone(&local), caddy)?),
        dns: Arc::new(dns),
        secrets: Arc::new(secrets),
        ports: Arc::new(ports),
        state,
        // Locks record this machine's host name: their holders are asked about here.
        liveness: Arc::new(ProcLiveness::new(local)),
    };
    Ok(Platform::new(backends, config.settings(owner, &hostname())))
}

/// Finds the platform file the way every front end does (`explicit`, else
/// `$CODEB_CONFIG`, else the XDG config dir), reads it, and connects, acting
/// for the user who runs `front_end` (`we`, `mcp`, `python`). Returns the
/// platform and the file's path.
pub fn connect_discovered(explicit: Option<&Path>, front_end: &str) -> Result<(Platform, PathBuf)> {
    let path = PlatformConfig::discover(explicit)?;
    let config = PlatformConfig::read(&path)?;
    Ok((connect(&config, &owner(front_end))?, path))
}

/// Who a process acts for, as recorded in deploy locks: `$USER (front_end)`.
pub fn owner(front_end: &str) -> String {
    let user = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "unknown".to_owned());
    format!("{user} ({front_end})")
}

/// This host's name, as recorded in deploy locks.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
