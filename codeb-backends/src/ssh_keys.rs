//! `we ssh key list | add | remove`: the login's authorized_keys on a server,
//! read and replaced through its SSH transport (fixed argv, an atomic write).
//!
//! A key to add must be exactly one OpenSSH public key line (`algorithm
//! base64 [comment]`): no options prefix (`command=`, `from=`), no second
//! line, no private key. The key codeb itself logs in with is removed only
//! after another key of the file has been proven to log in.

use std::path::{Path, PathBuf};

use codeb::config::PlatformConfig;
use codeb::model::ServerName;
use codeb::{Error, ErrorKind, Result};
use russh::keys::PublicKey;

use crate::connect::{ServerAccess, server_access};
use crate::transport::ssh::{SshConfig, SshTransport, fingerprint};
use crate::transport::{Command, Transport};

/// One key of an authorized_keys file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuthorizedKey {
    /// Its SHA-256 fingerprint.
    pub fingerprint: String,
    /// Its algorithm (`ssh-ed25519`, `rsa-sha2-512`, ...).
    pub algorithm: String,
    /// Its comment.
    pub comment: String,
    /// Whether codeb logs in to the server with it.
    pub codeb_logs_in_with_it: bool,
}

/// The authorized_keys of a server's login.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuthorizedKeys {
    /// The server.
    pub server: ServerName,
    /// The file, as the server names it.
    pub file: String,
    /// Each key, in the file's order.
    pub keys: Vec<AuthorizedKey>,
    /// Lines codeb did not write and does not read as plain keys (with options, say): kept as they are.
    pub other_lines: usize,
}

/// Validates `text` as exactly one OpenSSH public key line.
pub fn parse_public_key(text: &str) -> Result<PublicKey> {
    let line = text.strip_suffix('\n').unwrap_or(text);
    let refuse =
        |why: &str| Error::invalid(format!("not a public key to authorize: {why}")).with_context("field", "key");
    if line.contains("PRIVATE KEY") {
        return Err(refuse("this is a private key; give its .pub file"));
    }
    if line.chars().any(|c| c.is_control()) {
        return Err(refuse("it holds a newline or another control character; give one key, one line"));
    }
    PublicKey::from_openssh(line.trim()).map_err(|_| {
        refuse("it is not `algorithm base64 [comment]` (options such as command= or from= are not accepted)")
    })
}

/// The keys authorized on `server`.
pub async fn list_keys(config: &PlatformConfig, server: &ServerName) -> Result<AuthorizedKeys> {
    let file = KeysFile::open(config, server).await?;
    Ok(file.listing())
}

/// Authorizes `key` (one OpenSSH public key line) on `server`; a key that is
/// there already is `AlreadyExists`.
pub async fn add_key(config: &PlatformConfig, server: &ServerName, key: &str) -> Result<AuthorizedKey> {
    let key = parse_public_key(key)?;
    let mut file = KeysFile::open(config, server).await?;
    if file.keys().any(|k| k.key_data() == key.key_data()) {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("{} is authorized on {server} already", fingerprint(&key)),
        )
        .with_context("server", server));
    }
    let line = key.to_openssh().map_err(|e| Error::internal("cannot encode a public key").with_source(e))?;
    file.lines.push(line);
    file.save().await?;
    Ok(file.describe(&key))
}

/// Removes the key with `fingerprint_to_remove` from `server`. Removing the
/// key codeb logs in with needs `proven_by`: the private key of another key
/// the file authorizes, which must log in first.
pub async fn remove_key(
    config: &PlatformConfig,
    server: &ServerName,
    fingerprint_to_remove: &str,
    proven_by: Option<&Path>,
) -> Result<AuthorizedKey> {
    let mut file = KeysFile::open(config, server).await?;
    let wanted = fingerprint_to_remove.trim();
    let key = file.keys().find(|k| fingerprint(k) == wanted).ok_or_else(|| {
        Error::not_found(format!("no key {wanted} is authorized on {server}")).with_context("server", server)
    })?;
    let removed = file.describe(&key);
    if removed.codeb_logs_in_with_it {
        let Some(other) = proven_by else {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("{wanted} is the key codeb logs in to {server} with; removing it would lock codeb out"),
            )
            .with_context("server", server)
            .with_context("hint", "authorize another key, then pass --proven-by with its private key (and name it as the server's identity)"));
        };
        file.prove_login(other, &key).await?;
    }
    file.lines.retain(|line| parse_public_key(line).map_or(true, |k| k.key_data() != key.key_data()));
    file.save().await?;
    Ok(removed)
}

/// An authorized_keys file of a server, read whole.
struct KeysFile {
    server: ServerName,
    access: ServerAccess,
    path: PathBuf,
    lines: Vec<String>,
    /// The keys codeb logs in with (its key file's, or its agent's).
    codeb_keys: Vec<PublicKey>,
}

impl KeysFile {
    async fn open(config: &PlatformConfig, server: &ServerName) -> Result<Self> {
        let listed = config.servers.iter().find(|s| &s.name == server).ok_or_else(|| {
            Error::not_found(format!("the platform file lists no server {server}")).with_context("server", server)
        })?;
        let access = server_access(config, listed)?;
        let codeb_keys = access.ssh.login_keys().await?;
        let path = match &access.authorized_keys {
            Some(path) => path.clone(),
            None => home_of(&access.ssh).await?.join(".ssh/authorized_keys"),
        };
        let text = match access.ssh.read_file(&path).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let lines = text.lines().map(str::to_owned).collect();
        Ok(KeysFile { server: server.clone(), access, path, lines, codeb_keys })
    }

    /// The lines that are plain keys, as keys.
    fn keys(&self) -> impl Iterator<Item = PublicKey> + '_ {
        self.lines.iter().filter_map(|line| parse_public_key(line).ok())
    }

    fn describe(&self, key: &PublicKey) -> AuthorizedKey {
        AuthorizedKey {
            fingerprint: fingerprint(key),
            algorithm: key.algorithm().to_string(),
            comment: key.comment().to_string(),
            codeb_logs_in_with_it: self.codeb_keys.iter().any(|k| k.key_data() == key.key_data()),
        }
    }

    fn listing(&self) -> AuthorizedKeys {
        let keys: Vec<AuthorizedKey> = self.keys().map(|k| self.describe(&k)).collect();
        let blank_or_comment = |l: &&String| l.trim().is_empty() || l.trim_start().starts_with('#');
        let other_lines = self.lines.iter().filter(|l| !blank_or_comment(l)).count() - keys.len();
        AuthorizedKeys { server: self.server.clone(), file: self.path.display().to_string(), keys, other_lines }
    }

    /// Logs in with the private key at `identity`, which must be another
    /// authorized key than `leaving`.
    async fn prove_login(&self, identity: &Path, leaving: &PublicKey) -> Result<()> {
        let other = russh::keys::load_secret_key(identity, None)
            .map_err(|e| Error::invalid(format!("cannot read the key {}", identity.display())).with_source(e))?;
        let authorized = self.keys().any(|k| k.key_data() == other.public_key().key_data());
        if other.public_key().key_data() == leaving.key_data() || !authorized {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("{} is not another key authorized on {}", identity.display(), self.server),
            )
            .with_context("field", "proven_by"));
        }
        let config = SshConfig::new(self.access.ssh.target().clone(), identity, self.access.ssh.known_hosts().clone());
        let login = SshTransport::new(self.server.clone(), config)?.run(&Command::new("true")).await?;
        if !login.success() {
            return Err(Error::new(ErrorKind::Forbidden, format!("{} did not log in", identity.display())));
        }
        Ok(())
    }

    async fn save(&self) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            let mkdir = Command::new("mkdir").args(["-p", "-m", "700", "--"]).arg(dir.display().to_string());
            self.access.ssh.run(&mkdir).await?;
        }
        let mut text = self.lines.join("\n");
        text.push('\n');
        self.access.ssh.write_file(&self.path, text.as_bytes(), 0o600).await
    }
}

/// The login's home directory on the server.
async fn home_of(ssh: &SshTransport) -> Result<PathBuf> {
    let output = ssh.run(&Command::new("printenv").arg("HOME")).await?;
    let home = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.success() || !home.starts_with('/') {
        return Err(Error::new(ErrorKind::Unavailable, "the server's login has no home directory (HOME)"));
    }
    Ok(PathBuf::from(home))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHf0tQeyZ3eB4uKH0mO3Uy1a4F8OaVAqmm/3e2PtZ3Xm ops@laptop";

    #[test]
    fn one_public_key_line_is_accepted_and_anything_else_refused() {
        assert_eq!(parse_public_key(&format!("{KEY}\n")).unwrap().comment().to_string(), "ops@laptop");
        for hostile in [
            format!("command=\"rm -rf /\" {KEY}"),
            format!("no-pty,from=\"*\" {KEY}"),
            format!("{KEY}\n{KEY}"),
            format!("{KEY}\r"),
            "-----BEGIN OPENSSH PRIVATE KEY-----".to_owned(),
            "ssh-ed25519 not-base64".to_owned(),
            String::new(),
        ] {
            let err = parse_public_key(&hostile).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{hostile:?}");
            assert_eq!(err.context_value("field"), Some("key"));
        }
    }
}
