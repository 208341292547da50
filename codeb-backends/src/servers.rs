//! `we server add` and `we server remove`: a server into or out of the
//! platform file, its host key pinned only as the user says.
//!
//! Adding reads the key the server offers, pins it only when it matches the
//! fingerprint given, the user confirms it, or the caller chose
//! [`Pinning::AcceptNew`], then logs in with exactly that key trusted, and
//! only then pins it and writes the `[servers.NAME]` section. The platform
//! file keeps its comments and layout (toml_edit) and is replaced atomically.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use codeb::config::PlatformConfig;
use codeb::model::{Role, ServerName};
use codeb::{Error, ErrorKind, Result};

use crate::atomic_file::{self, Access};
use crate::transport::ssh::{
    HostKeyCheck, Identity, KnownHosts, SshConfig, SshTarget, SshTransport, fingerprint, scan_host_key,
};
use crate::transport::{Command, Transport};

/// How long reading a new server's host key may take.
const SCAN_TIMEOUT: Duration = Duration::from_secs(10);

/// A server to add to the platform file.
#[derive(Clone, Debug)]
pub struct NewServer {
    /// Its name in the fleet.
    pub name: ServerName,
    /// Where it is reached.
    pub target: SshTarget,
    /// What it is for (at least one role).
    pub roles: BTreeSet<Role>,
    /// What codeb logs in with: a key file or an ssh-agent.
    pub identity: Identity,
    /// The address its domains' records point at, when not `[network] public_ipv4`.
    pub public_ipv4: Option<Ipv4Addr>,
    /// Podman's socket on it, when not `[podman] socket`.
    pub podman_socket: Option<PathBuf>,
}

/// How the host key of a server that is not pinned yet may be pinned.
pub enum Pinning<'a> {
    /// Only a key with this fingerprint (`SHA256:...`, as `ssh-keygen -l` prints it).
    Fingerprint(String),
    /// Whatever key the server offers now: a script's explicit choice.
    AcceptNew,
    /// Asks someone: sees the offered key's fingerprint, says whether to pin it.
    Ask(&'a (dyn Fn(&str) -> bool + Sync)),
}

/// What adding a server did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ServerAdded {
    /// The server.
    pub server: ServerName,
    /// Where it is reached.
    pub ssh: String,
    /// The fingerprint of its host key.
    pub fingerprint: String,
    /// Whether the key was pinned now (`false`: it was pinned already).
    pub newly_pinned: bool,
}

/// What removing a server did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ServerRemoved {
    /// The server.
    pub server: ServerName,
}

/// Adds `new` to the platform file at `platform_file`. Nothing is written
/// unless the key is pinned as `pinning` allows and codeb logged in with it.
pub async fn add_server(platform_file: &Path, new: &NewServer, pinning: Pinning<'_>) -> Result<ServerAdded> {
    let config = PlatformConfig::read(platform_file)?;
    if config.servers.iter().any(|s| s.name == new.name) {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("server {} is in the platform file already", new.name),
        )
        .with_context("server", &new.name));
    }
    if new.roles.is_empty() {
        return Err(Error::invalid("a server needs at least one role (--role app, ...)").with_context("field", "role"));
    }
    // The file as it will be (its keys read too), checked before any connection.
    let edited = edited(platform_file, |doc| {
        let servers = doc.entry("servers").or_insert_with(implicit_table).as_table_mut();
        let servers = servers.ok_or_else(|| Error::invalid("the platform file's `servers` is not a table"))?;
        servers.insert(new.name.as_str(), toml_edit::Item::Table(section(new)));
        Ok(())
    })?;
    let known_hosts = KnownHosts::new(crate::connect::known_hosts_path(&config)?);
    // A known_hosts of the offered key alone, to log in with before anything is pinned.
    let trial_dir =
        tempfile::tempdir().map_err(|e| Error::internal("cannot make a temporary directory").with_source(e))?;
    let trial = KnownHosts::new(trial_dir.path().join("known_hosts"));
    let login =
        SshTransport::new(new.name.clone(), SshConfig::new(new.target.clone(), new.identity.clone(), trial.clone()))?;

    let key = scan_host_key(&new.target, SCAN_TIMEOUT).await?;
    let offered = fingerprint(&key);
    let refuse = |message: String| {
        Error::new(ErrorKind::Forbidden, message).with_context("server", &new.name).with_context("ssh", &new.target)
    };
    let newly_pinned = match known_hosts.check(&new.target, &key)? {
        HostKeyCheck::Pinned => false,
        HostKeyCheck::Changed { pinned } => {
            return Err(refuse(format!(
                "the host key of {} changed: {pinned} is pinned in {}, the server offers {offered}",
                new.target,
                known_hosts.path().display()
            )));
        }
        HostKeyCheck::Unknown => match pinning {
            Pinning::Fingerprint(wanted) if wanted.trim() == offered => true,
            Pinning::Fingerprint(wanted) => {
                return Err(refuse(format!("{} offers the host key {offered}, not {}", new.target, wanted.trim())));
            }
            Pinning::AcceptNew => true,
            Pinning::Ask(confirm) if confirm(&offered) => true,
            Pinning::Ask(_) => return Err(refuse(format!("the host key {offered} of {} was not pinned", new.target))),
        },
    };

    trial.pin(&new.target, &key)?;
    let output = login.run(&Command::new("true")).await?;
    if !output.success() {
        return Err(Error::new(ErrorKind::Unavailable, format!("{} logged in but cannot run programs", new.target))
            .with_context("server", &new.name));
    }
    if newly_pinned {
        known_hosts.pin(&new.target, &key)?;
    }
    replace(platform_file, &edited)?;
    Ok(ServerAdded { server: new.name.clone(), ssh: new.target.to_string(), fingerprint: offered, newly_pinned })
}

/// Removes server `name` from the platform file at `platform_file`.
/// Refused (`Conflict`) while the SSOT records environments on it, and
/// `NotFound` when the file lists no such server. Its pinned key stays.
pub async fn remove_server(platform_file: &Path, name: &ServerName) -> Result<ServerRemoved> {
    let config = PlatformConfig::read(platform_file)?;
    if !config.servers.iter().any(|s| &s.name == name) {
        return Err(Error::not_found(format!("the platform file lists no server {name}")).with_context("server", name));
    }
    let platform = crate::connect(&config, "we")?;
    let on_it: Vec<String> =
        platform.server_list().await?.into_iter().filter(|s| &s.server == name).flat_map(|s| s.environments).collect();
    if !on_it.is_empty() {
        return Err(Error::conflict(format!("server {name} runs {}: delete or move them first", on_it.join(", ")))
            .with_context("server", name));
    }
    let edited = edited(platform_file, |doc| {
        let servers = doc.get_mut("servers").and_then(toml_edit::Item::as_table_mut);
        if let Some(servers) = servers {
            servers.remove(name.as_str());
            if servers.is_empty() {
                doc.remove("servers");
            }
        }
        Ok(())
    })?;
    replace(platform_file, &edited)?;
    Ok(ServerRemoved { server: name.clone() })
}

fn implicit_table() -> toml_edit::Item {
    let mut table = toml_edit::Table::new();
    table.set_implicit(true);
    toml_edit::Item::Table(table)
}

/// The `[servers.NAME]` section of `new`.
fn section(new: &NewServer) -> toml_edit::Table {
    let mut table = toml_edit::Table::new();
    let roles: toml_edit::Array = new.roles.iter().map(|r| r.as_str()).collect();
    table.insert("roles", toml_edit::value(roles));
    table.insert("ssh", toml_edit::value(new.target.to_string()));
    match &new.identity {
        Identity::File(path) => {
            table.insert("identity", toml_edit::value(path.display().to_string()));
        }
        Identity::Agent(Some(socket)) => {
            table.insert("agent", toml_edit::value(socket.display().to_string()));
        }
        Identity::Agent(None) => {}
    }
    if let Some(ip) = new.public_ipv4 {
        table.insert("public_ipv4", toml_edit::value(ip.to_string()));
    }
    if let Some(socket) = &new.podman_socket {
        table.insert("podman_socket", toml_edit::value(socket.display().to_string()));
    }
    table
}

/// The platform file at `path` changed by `change`, keeping its comments
/// and layout; refused unless it still describes a platform codeb can build.
fn edited(path: &Path, change: impl FnOnce(&mut toml_edit::DocumentMut) -> Result<()>) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error("read", path, e))?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        Error::invalid(format!("the platform file {} is not TOML: {}", path.display(), e.message()))
    })?;
    change(&mut doc)?;
    let edited = doc.to_string();
    // Every role served, every key readable.
    let config = PlatformConfig::parse(&edited).map_err(|e| e.with_context("path", path.display()))?;
    crate::connect(&config, "we").map_err(|e| {
        e.with_context("hint", "a fleet needs servers with the app, proxy and dns roles (--role proxy --role dns)")
    })?;
    Ok(edited)
}

/// Replaces the file at `path` with `text` atomically, keeping its permissions.
fn replace(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_err(|e| io_error("read", path, e))?.permissions().mode() & 0o7777;
    atomic_file::replace(path, text.as_bytes(), Access::Mode(mode)).map_err(|e| io_error("write", path, e))
}

fn io_error(what: &str, path: &Path, source: std::io::Error) -> Error {
    Error::new(ErrorKind::Unavailable, format!("cannot {what} {}", path.display()))
        .with_context("path", path.display())
        .with_source(source)
}
