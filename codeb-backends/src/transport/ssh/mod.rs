//! The transport to a server reached over SSH, with russh.
//!
//! One authenticated session per server, opened on first use and again when
//! it has dropped; every call is a channel of it:
//!
//! - [`Transport::connect`] forwards a stream to the server's unix socket
//!   (`direct-streamlocal`, Podman's API) or to a TCP address as the server
//!   dials it (`direct-tcpip`, the admin APIs on its loopback, a release);
//! - [`Transport::run`] execs an argv, each argument quoted as one literal
//!   word for the server's shell ([`argv`]); input goes over the channel;
//! - files are read through the server's SFTP subsystem, one channel kept
//!   open per session (with `cat` where the server has none: a shell per
//!   read, and a login shell's rc files cost time), and replaced by a fixed
//!   script that writes a temporary file beside the target, syncs it and
//!   renames it over the target, the path and mode passed as its arguments.
//!
//! The server's host key must be the one pinned in codeb's known_hosts
//! ([`KnownHosts`]); an unknown or changed key ends the connection before
//! authentication, naming the fingerprints. At most
//! [`SshConfig::max_channels`] channels are open at once, fewer than sshd's
//! `MaxSessions` (10), and one connection attempt runs at a time.

mod argv;
mod known_hosts;
mod socket;
mod target;

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use codeb::model::ServerName;
use codeb::{Error, ErrorKind, Result};
use russh::client::{self, Handle, Msg};
use russh::keys::agent::client::AgentClient;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{Channel, ChannelMsg, ChannelStream, Sig};
use russh_sftp::client::SftpSession;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use self::known_hosts::{HostKeyCheck, KnownHosts, fingerprint};
pub use self::target::SshTarget;
use super::{Command, Endpoint, Output, Stream, Transport};

/// How to reach and log in to one server over SSH.
#[derive(Clone, Debug)]
pub struct SshConfig {
    /// Where: user, host and port.
    pub target: SshTarget,
    /// What to log in with.
    pub identity: Identity,
    /// The pinned host keys.
    pub known_hosts: KnownHosts,
    /// How long connecting and logging in may take.
    pub connect_timeout: Duration,
    /// How often an idle session is checked; three unanswered checks end it.
    pub keepalive: Duration,
    /// The most channels open at once.
    pub max_channels: usize,
    /// A host to connect through (`ProxyJump`), logged in to with the same key and pinned host keys.
    pub jump: Option<SshTarget>,
}

impl SshConfig {
    /// `target` with `identity` and `known_hosts`, and the defaults: a 10 s
    /// connect timeout, a keepalive every 15 s, at most 8 channels.
    pub fn new(target: SshTarget, identity: impl Into<Identity>, known_hosts: KnownHosts) -> Self {
        SshConfig {
            target,
            identity: identity.into(),
            known_hosts,
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
            max_channels: 8,
            jump: None,
        }
    }
}

/// What codeb logs in to a server with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// A private key file (OpenSSH or PEM format, unencrypted).
    File(PathBuf),
    /// Each key of an ssh-agent, tried in turn: the agent at this socket, or at `$SSH_AUTH_SOCK`.
    Agent(Option<PathBuf>),
}

impl<P: AsRef<Path>> From<P> for Identity {
    fn from(path: P) -> Self {
        Identity::File(path.as_ref().to_owned())
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::File(path) => write!(f, "the key {}", path.display()),
            Identity::Agent(Some(socket)) => write!(f, "the keys of the ssh-agent at {}", socket.display()),
            Identity::Agent(None) => f.write_str("the keys of the ssh-agent at $SSH_AUTH_SOCK"),
        }
    }
}

/// The key material of an [`Identity`], read when the transport is made.
enum Key {
    File(Arc<PrivateKey>),
    Agent(Option<PathBuf>),
}

/// A server reached over SSH. See the module documentation.
pub struct SshTransport {
    server: ServerName,
    config: SshConfig,
    key: Key,
    session: tokio::sync::Mutex<Option<Arc<Handle<Verifier>>>>,
    channels: Arc<Semaphore>,
    files: tokio::sync::Mutex<Files>,
    via: Mutex<Option<Handle<Verifier>>>,
}

/// How a session reaches its server.
enum Route {
    /// A TCP connection to the server's address.
    Direct,
    /// A stream forwarded by the jump host.
    Through(Box<ChannelStream<Msg>>),
}

/// How the files of the current session are read.
enum Files {
    /// Not asked yet on this session.
    Unknown,
    /// Through the server's SFTP subsystem: one channel kept open, on the session it belongs to.
    Sftp { session: Arc<Handle<Verifier>>, sftp: Arc<SftpSession>, _permit: OwnedSemaphorePermit },
    /// The server has no SFTP subsystem: `cat` is run for each read.
    Cat { session: Arc<Handle<Verifier>> },
}

impl fmt::Debug for SshTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshTransport").field("server", &self.server).field("target", &self.config.target).finish()
    }
}

impl SshTransport {
    /// The transport to `server` as `config` says; the key is read now, so a
    /// missing or unreadable one is refused before any connection.
    pub fn new(server: ServerName, config: SshConfig) -> Result<Self> {
        let key = match &config.identity {
            Identity::Agent(socket) => Key::Agent(socket.clone()),
            Identity::File(path) => Key::File(Arc::new(russh::keys::load_secret_key(path, None).map_err(|e| {
                let kind = match &e {
                    russh::keys::Error::IO(io) if io.kind() == std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                    _ => ErrorKind::Invalid,
                };
                Error::new(kind, format!("cannot read the SSH key {}", path.display()))
                    .with_context("server", &server)
                    .with_context("field", "identity")
                    .with_source(e)
            })?)),
        };
        let channels = Arc::new(Semaphore::new(config.max_channels.max(1)));
        let (session, files) = (tokio::sync::Mutex::new(None), tokio::sync::Mutex::new(Files::Unknown));
        let via = Mutex::new(None);
        Ok(SshTransport { server, config, key, session, channels, files, via })
    }

    /// Where it logs in.
    pub fn target(&self) -> &SshTarget {
        &self.config.target
    }

    /// The host keys it trusts.
    pub fn known_hosts(&self) -> &KnownHosts {
        &self.config.known_hosts
    }

    /// The live session, connecting (once at a time) when there is none or it dropped.
    async fn session(&self) -> Result<Arc<Handle<Verifier>>> {
        let mut session = self.session.lock().await;
        if let Some(handle) = session.as_ref().filter(|h| !h.is_closed()) {
            return Ok(Arc::clone(handle));
        }
        let handle = Arc::new(self.establish().await?);
        *session = Some(Arc::clone(&handle));
        Ok(handle)
    }

    /// Connects (through the jump host, when there is one), checks the host
    /// keys and logs in, within the connect timeout.
    async fn establish(&self) -> Result<Handle<Verifier>> {
        let target = &self.config.target;
        let work = async {
            let Some(jump) = &self.config.jump else { return self.log_in(target, Route::Direct).await };
            let via = self.log_in(jump, Route::Direct).await?;
            let channel =
                via.channel_open_direct_tcpip(target.host(), u32::from(target.port()), "127.0.0.1", 0).await.map_err(
                    |e| self.error(ErrorKind::Unavailable, format!("the jump host {jump} cannot reach {target}: {e}")),
                )?;
            let handle = self.log_in(target, Route::Through(Box::new(channel.into_stream()))).await?;
            // The target's session runs inside the jump host's: it lives as long.
            if let Ok(mut kept) = self.via.lock() {
                *kept = Some(via);
            }
            Ok(handle)
        };
        tokio::time::timeout(self.config.connect_timeout, work).await.unwrap_or_else(|_| {
            Err(self.error(
                ErrorKind::Timeout,
                format!("no SSH session with {target} within {:?}", self.config.connect_timeout),
            ))
        })
    }

    /// Connects to `target` by `route`, checks its host key and logs in.
    async fn log_in(&self, target: &SshTarget, route: Route) -> Result<Handle<Verifier>> {
        let verdict = Arc::new(Mutex::new(None));
        let verifier = Verifier {
            target: target.clone(),
            known_hosts: self.config.known_hosts.clone(),
            verdict: Arc::clone(&verdict),
        };
        let config = Arc::new(client::Config {
            keepalive_interval: Some(self.config.keepalive),
            keepalive_max: 3,
            nodelay: true,
            ..Default::default()
        });
        let connected = match route {
            Route::Direct => match socket::QuickAck::connect(target.host(), target.port()).await {
                Ok(stream) => client::connect_stream(config, stream, verifier).await,
                Err(e) => Err(russh::Error::from(e)),
            },
            Route::Through(stream) => client::connect_stream(config, stream, verifier).await,
        };
        let mut handle =
            connected.map_err(|e| self.connect_failure(target, e, verdict.lock().ok().and_then(|mut v| v.take())))?;
        let hash = handle.best_supported_rsa_hash().await.map_err(|e| self.lost(e))?.flatten();
        let accepted = match &self.key {
            Key::File(key) => {
                let key = PrivateKeyWithHashAlg::new(Arc::clone(key), hash);
                handle.authenticate_publickey(target.user(), key).await.map_err(|e| self.lost(e))?.success()
            }
            Key::Agent(socket) => {
                let mut agent = self.agent(socket.as_deref()).await?;
                let keys = agent.request_identities().await.map_err(|e| self.agent_failure(&e))?;
                let mut accepted = false;
                for key in keys.iter().map(|k| k.public_key().into_owned()) {
                    let auth = handle.authenticate_publickey_with(target.user(), key, hash, &mut agent).await;
                    if auth.map_err(|e| self.agent_failure(&e))?.success() {
                        accepted = true;
                        break;
                    }
                }
                accepted
            }
        };
        if !accepted {
            return Err(self.error(ErrorKind::Unauthenticated, format!("{target} refused {}", self.config.identity)));
        }
        Ok(handle)
    }

    /// The ssh-agent at `socket`, or at `$SSH_AUTH_SOCK`.
    async fn agent(&self, socket: Option<&Path>) -> Result<AgentClient<tokio::net::UnixStream>> {
        let agent = match socket {
            Some(socket) => AgentClient::connect_uds(socket).await,
            None => AgentClient::connect_env().await,
        };
        agent.map_err(|e| self.agent_failure(&e))
    }

    fn agent_failure(&self, e: &dyn std::fmt::Display) -> Error {
        self.error(ErrorKind::Unauthenticated, format!("cannot log in with {}: {e}", self.config.identity))
    }

    /// The public keys this transport logs in with: its key file's, or every key of its agent.
    pub async fn login_keys(&self) -> Result<Vec<PublicKey>> {
        match &self.key {
            Key::File(key) => Ok(vec![key.public_key().clone()]),
            Key::Agent(socket) => {
                let identities = self.agent(socket.as_deref()).await?.request_identities().await;
                let identities = identities.map_err(|e| self.agent_failure(&e))?;
                Ok(identities.iter().map(|k| k.public_key().into_owned()).collect())
            }
        }
    }

    /// Opens a channel with `open`, holding a channel permit; a session that
    /// dropped meanwhile is opened again once (nothing was sent on it yet).
    async fn channel<F, Fut>(&self, what: &str, open: F) -> Result<(Channel<Msg>, OwnedSemaphorePermit)>
    where
        F: Fn(Arc<Handle<Verifier>>) -> Fut,
        Fut: Future<Output = std::result::Result<Channel<Msg>, russh::Error>>,
    {
        let permit = Arc::clone(&self.channels).acquire_owned().await.map_err(|_| {
            self.error(ErrorKind::Internal, "the channel limit of the SSH transport was closed".to_owned())
        })?;
        let session = self.session().await?;
        let opened = match open(Arc::clone(&session)).await {
            Err(_) if session.is_closed() => open(self.session().await?).await,
            other => other,
        };
        let channel = opened.map_err(|e| {
            self.error(ErrorKind::Unavailable, format!("{} refused to open {what}: {e}", self.config.target))
        })?;
        Ok((channel, permit))
    }

    /// The SFTP session of the live session, opened on first use (and again
    /// after a reconnect); `None` when the server offers no SFTP subsystem.
    async fn sftp(&self) -> Result<Option<Arc<SftpSession>>> {
        let session = self.session().await?;
        let mut files = self.files.lock().await;
        match &*files {
            Files::Sftp { session: on, sftp, .. } if Arc::ptr_eq(on, &session) => return Ok(Some(Arc::clone(sftp))),
            Files::Cat { session: on } if Arc::ptr_eq(on, &session) => return Ok(None),
            _ => {}
        }
        let (mut channel, permit) =
            self.channel("an SFTP channel", |h| async move { h.channel_open_session().await }).await?;
        let opened = match offers_sftp(&mut channel).await {
            true => SftpSession::new(channel.into_stream()).await.ok(),
            false => None,
        };
        *files = match opened {
            Some(sftp) => Files::Sftp { session, sftp: Arc::new(sftp), _permit: permit },
            None => Files::Cat { session },
        };
        Ok(match &*files {
            Files::Sftp { sftp, .. } => Some(Arc::clone(sftp)),
            Files::Unknown | Files::Cat { .. } => None,
        })
    }

    /// The error for a failed SFTP read of `path`.
    fn sftp_failure(&self, path: &Path, e: russh_sftp::client::error::Error) -> Error {
        use russh_sftp::protocol::StatusCode;
        let kind = match &e {
            russh_sftp::client::error::Error::Status(status) => match status.status_code {
                StatusCode::NoSuchFile => ErrorKind::NotFound,
                StatusCode::PermissionDenied => ErrorKind::Forbidden,
                _ => ErrorKind::Unavailable,
            },
            _ => ErrorKind::Unavailable,
        };
        self.error(kind, format!("cannot read {}: {e}", path.display())).with_context("path", path.display())
    }

    /// Runs `argv` with `input` and collects what it leaves, within `timeout`.
    async fn exec(&self, argv: &[String], input: Option<&[u8]>, timeout: Duration) -> Result<Output> {
        let program = argv.first().map_or("", String::as_str);
        let (channel, _permit) =
            self.channel("a session channel", |h| async move { h.channel_open_session().await }).await?;
        channel.exec(true, argv::command_line(argv)).await.map_err(|e| self.lost(e))?;
        let (mut read, write) = channel.split();
        let feed = async {
            if let Some(input) = input {
                write.data(input).await?;
            }
            write.eof().await
        };
        let collect = async {
            let mut output = Output { status: None, stdout: Vec::new(), stderr: Vec::new() };
            while let Some(message) = read.wait().await {
                match message {
                    ChannelMsg::Data { data } => output.stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => output.stderr.extend_from_slice(&data),
                    ChannelMsg::ExitStatus { exit_status } => output.status = i32::try_from(exit_status).ok(),
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            output
        };
        let work = async { tokio::join!(feed, collect) };
        match tokio::time::timeout(timeout, work).await {
            Ok((fed, output)) => {
                // A program that exits without reading its input closes the channel: its choice.
                if let Err(e) = fed
                    && output.status.is_none()
                {
                    return Err(self.lost(e).with_context("program", program));
                }
                Ok(output)
            }
            Err(_) => {
                let _ = write.signal(Sig::KILL).await;
                Err(self
                    .error(ErrorKind::Timeout, format!("{program} did not finish within {timeout:?}; it was killed"))
                    .with_context("program", program))
            }
        }
    }

    /// The error for a failed connection to `target`, told by what the host key check found.
    fn connect_failure(&self, target: &SshTarget, e: russh::Error, verdict: Option<Result<HostKeyCheck>>) -> Error {
        let file = self.config.known_hosts.path().display();
        match verdict {
            Some(Err(e)) => e.with_context("server", &self.server),
            Some(Ok(HostKeyCheck::Unknown)) => self.error(
                ErrorKind::Forbidden,
                format!("the host key of {target} is not pinned in {file}; pin it with `we server add` after checking its fingerprint"),
            ),
            Some(Ok(HostKeyCheck::Changed { pinned })) => self.error(
                ErrorKind::Forbidden,
                format!("the host key of {target} changed: {pinned} is pinned in {file}; if the server was really reinstalled, remove its line there and pin the new key with `we server add`"),
            ),
            Some(Ok(HostKeyCheck::Pinned)) | None => {
                self.error(ErrorKind::Unavailable, format!("cannot reach {target}: {e}")).with_source(e)
            }
        }
    }

    /// The error for a session that failed after it was made.
    fn lost(&self, e: russh::Error) -> Error {
        self.error(ErrorKind::Unavailable, format!("the SSH session with {} failed: {e}", self.config.target))
            .with_source(e)
    }

    fn error(&self, kind: ErrorKind, message: String) -> Error {
        Error::new(kind, message).with_context("server", &self.server).with_context("ssh", &self.config.target)
    }

    /// The error for a file command that failed, by what it said on stderr.
    fn file_failure(&self, what: &str, path: &Path, output: &Output) -> Error {
        let said = String::from_utf8_lossy(&output.stderr).to_ascii_lowercase();
        let kind = if said.contains("no such file") || said.contains("nonexistent") {
            ErrorKind::NotFound
        } else if said.contains("permission denied") {
            ErrorKind::Forbidden
        } else {
            ErrorKind::Unavailable
        };
        self.error(kind, format!("cannot {what} {}", path.display())).with_context("path", path.display())
    }
}

/// Asks for the SFTP subsystem on `channel` and waits for the server's
/// yes or no: a server without one says no at once, where waiting for an
/// SFTP greeting would take the SFTP client's whole timeout.
async fn offers_sftp(channel: &mut Channel<Msg>) -> bool {
    if channel.request_subsystem(true, "sftp").await.is_err() {
        return false;
    }
    let reply = async {
        loop {
            match channel.wait().await {
                Some(ChannelMsg::Success) => return true,
                Some(ChannelMsg::Failure | ChannelMsg::Close | ChannelMsg::Eof) | None => return false,
                Some(_) => {}
            }
        }
    };
    tokio::time::timeout(Command::DEFAULT_TIMEOUT, reply).await.unwrap_or(false)
}

/// Replaces `$1` with standard input, atomically and durably, with mode `$2`.
/// Constant: the path and the mode arrive as arguments, never as code.
const WRITE_FILE: &str = r#"set -e
tmp="$1.codeb-tmp.$$"
trap 'rm -f "$tmp"' EXIT
(umask 077; cat > "$tmp")
chmod "$2" "$tmp"
sync "$tmp"
mv -f "$tmp" "$1"
trap - EXIT
sync "$(dirname "$1")" 2>/dev/null || true"#;

#[async_trait]
impl Transport for SshTransport {
    fn server(&self) -> &ServerName {
        &self.server
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Box<dyn Stream>> {
        let what = format!("a stream to {endpoint}");
        let (channel, permit) = match endpoint {
            Endpoint::Unix(path) => {
                let path = path.display().to_string();
                self.channel(&what, |h| {
                    let path = path.clone();
                    async move { h.channel_open_direct_streamlocal(path).await }
                })
                .await?
            }
            Endpoint::Tcp(address) => {
                let (host, port) = (address.ip().to_string(), u32::from(address.port()));
                self.channel(&what, |h| {
                    let host = host.clone();
                    async move { h.channel_open_direct_tcpip(host, port, "127.0.0.1", 0).await }
                })
                .await?
            }
        };
        Ok(Box::new(Forwarded { stream: channel.into_stream(), _permit: permit }))
    }

    async fn run(&self, command: &Command) -> Result<Output> {
        let output = self.exec(command.argv(), command.stdin(), command.timeout()).await?;
        // The server's shell says 127 for a program it cannot find.
        if output.status == Some(127) && output.stdout.is_empty() {
            let program = command.program();
            return Err(self
                .error(ErrorKind::NotFound, format!("{program} is not on the server's PATH"))
                .with_context("program", program));
        }
        Ok(output)
    }

    async fn spawn(&self, command: &Command) -> Result<Box<dyn Stream>> {
        let (channel, permit) =
            self.channel("a session channel", |h| async move { h.channel_open_session().await }).await?;
        let started = channel.exec(true, argv::command_line(command.argv())).await;
        started.map_err(|e| self.lost(e).with_context("program", command.program()))?;
        // The server ends the program when the channel closes: the stream's drop.
        Ok(Box::new(Forwarded { stream: channel.into_stream(), _permit: permit }))
    }

    async fn read_file(&self, path: &Path) -> Result<Vec<u8>> {
        // SFTP asks no shell: a read is one request on a channel kept open.
        if let Some(sftp) = self.sftp().await? {
            let read = tokio::time::timeout(Command::DEFAULT_TIMEOUT, sftp.read(path.display().to_string())).await;
            let result = match read {
                Ok(read) => read.map_err(|e| self.sftp_failure(path, e)),
                Err(_) => Err(self.error(ErrorKind::Timeout, format!("no answer to reading {}", path.display()))),
            };
            if result.as_ref().is_err_and(|e| matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout)) {
                // The SFTP channel may be what failed: the next read opens a new one.
                *self.files.lock().await = Files::Unknown;
            }
            return result;
        }
        let argv = ["cat".to_owned(), "--".to_owned(), path.display().to_string()];
        let output = self.exec(&argv, None, Command::DEFAULT_TIMEOUT).await?;
        if !output.success() {
            return Err(self.file_failure("read", path, &output));
        }
        Ok(output.stdout)
    }

    async fn write_file(&self, path: &Path, contents: &[u8], mode: u32) -> Result<()> {
        let argv = ["sh", "-c", WRITE_FILE, "sh", &path.display().to_string(), &format!("{mode:o}")].map(str::to_owned);
        let output = self.exec(&argv, Some(contents), Command::DEFAULT_TIMEOUT).await?;
        if !output.success() {
            return Err(self.file_failure("write", path, &output));
        }
        Ok(())
    }
}

/// The host key `target` offers, read by starting a connection and ending
/// it at the key check: nothing is authenticated and no key is trusted.
/// `Unavailable` when the server cannot be reached, `Timeout` past `timeout`.
pub async fn scan_host_key(target: &SshTarget, timeout: Duration) -> Result<PublicKey> {
    let offered = Arc::new(Mutex::new(None));
    let scanner = Scanner { offered: Arc::clone(&offered) };
    let config = Arc::new(client::Config { nodelay: true, ..Default::default() });
    let refuse = |kind: ErrorKind, message: String| Error::new(kind, message).with_context("ssh", target);
    let connecting = client::connect(config, (target.host(), target.port()), scanner);
    let ended = tokio::time::timeout(timeout, connecting)
        .await
        .map_err(|_| refuse(ErrorKind::Timeout, format!("no SSH answer from {target} within {timeout:?}")))?;
    let key = offered.lock().ok().and_then(|mut k| k.take());
    match (key, ended) {
        (Some(key), _) => Ok(key),
        (None, Err(e)) => Err(refuse(ErrorKind::Unavailable, format!("cannot reach {target}: {e}")).with_source(e)),
        (None, Ok(_)) => Err(refuse(ErrorKind::Internal, format!("{target} offered no host key"))),
    }
}

/// Keeps the host key a server offers and ends the connection there.
struct Scanner {
    offered: Arc<Mutex<Option<PublicKey>>>,
}

impl client::Handler for Scanner {
    type Error = russh::Error;

    async fn check_server_key(&mut self, offered: &PublicKeyOrCertificate) -> std::result::Result<bool, Self::Error> {
        if let (PublicKeyOrCertificate::PublicKey { key, .. }, Ok(mut kept)) = (offered, self.offered.lock()) {
            *kept = Some(key.clone());
        }
        Ok(false)
    }
}

/// Checks the server's host key against the pinned ones, keeping the verdict
/// for the error when the connection is refused.
struct Verifier {
    target: SshTarget,
    known_hosts: KnownHosts,
    verdict: Arc<Mutex<Option<Result<HostKeyCheck>>>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(&mut self, offered: &PublicKeyOrCertificate) -> std::result::Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = offered else {
            // Host certificates are not pinned: nothing vouches for one.
            return Ok(false);
        };
        let check = self.known_hosts.check(&self.target, key);
        let pinned = matches!(check, Ok(HostKeyCheck::Pinned));
        let check = check.map(|c| match c {
            HostKeyCheck::Changed { pinned } => {
                // Read on as "changed: {pinned} is pinned in FILE" (`connect_failure`).
                HostKeyCheck::Changed { pinned: format!("the server offered {}, but {pinned}", fingerprint(key)) }
            }
            other => other,
        });
        if let Ok(mut verdict) = self.verdict.lock() {
            *verdict = Some(check);
        }
        Ok(pinned)
    }
}

/// A forwarded stream, holding its place among the session's channels until dropped.
struct Forwarded {
    stream: ChannelStream<Msg>,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Forwarded {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Forwarded {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
