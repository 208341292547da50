//! How a backend reaches its server: one seam for streams, programs and files.
//!
//! Every real backend is built over an `Arc<dyn Transport>` and does its I/O
//! through it: Podman's API socket and Caddy's and PowerDNS's loopback APIs
//! are [`Transport::connect`]ed, the port probe and the lock liveness read
//! `/proc` with [`Transport::read_file`], and the health probe connects to a
//! release's address. No backend opens a socket or reads a server's files by
//! itself, so the same backend works on the machine `we` runs on
//! ([`LocalTransport`]) or, through another implementation of this trait, on
//! a server reached over SSH, where every endpoint and path is the server's.
//!
//! The trait holds only what an implementation must do. What it promises:
//!
//! - endpoints and paths are the server's: `127.0.0.1:2019` is the server's
//!   loopback, `/proc/net/tcp` the server's socket table;
//! - a program runs from an argv, each argument delivered literally (never
//!   through a shell that would split or expand it), to its end
//!   ([`Transport::run`]) or as a conversation ([`Transport::spawn`]);
//! - a file is replaced atomically and durably, with the mode asked for;
//! - failures are [`codeb::Error`]s whose kind says what to do (see each
//!   method) and whose context names the [`server`](Transport::server).

pub(crate) mod http;
mod local;
pub mod ssh;
pub mod trace;

use std::error::Error as StdError;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use codeb::model::ServerName;
use codeb::{Error, Result};
use tokio::io::{AsyncRead, AsyncWrite};

pub use self::local::LocalTransport;
pub(crate) use self::trace::Traced;

/// Reaches one server: connects to its endpoints, runs its programs, reads and
/// writes its files.
///
/// Object-safe and shareable: backends hold it as `Arc<dyn Transport>`, and a
/// wrapper (recording, fault injection) is just another implementation.
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// The server this transport reaches; errors name it, and the probes that
    /// answer for one server answer for this one.
    fn server(&self) -> &ServerName;

    /// Opens a byte stream to `endpoint` as the server sees it.
    ///
    /// `Unavailable` when nothing listens there (a missing socket, a refused
    /// connection) or the server cannot be reached; the error names the
    /// endpoint and the server. Callers bound the wait with their own timeout.
    async fn connect(&self, endpoint: &Endpoint) -> Result<Box<dyn Stream>>;

    /// Runs `command` on the server and collects its output.
    ///
    /// A program that ran is an `Ok` whatever its exit status: the caller
    /// judges [`Output::status`]. `NotFound` when the program does not exist,
    /// `Timeout` when it did not finish within [`Command::timeout`] (it is
    /// then killed), `Unavailable` when it could not be started.
    async fn run(&self, command: &Command) -> Result<Output>;

    /// Reads the whole file at `path` on the server (files in `/proc` included).
    ///
    /// `NotFound` when there is no such file, `Forbidden` when it may not be
    /// read, `Unavailable` for any other failure.
    async fn read_file(&self, path: &Path) -> Result<Vec<u8>>;

    /// Replaces the file at `path` on the server with `contents`, atomically
    /// and durably, with permission bits `mode` (e.g. `0o600`) whatever the umask.
    ///
    /// The bytes go to a temporary file beside `path`, which is synced and
    /// renamed over `path`, so a reader sees the old or the new file, never a
    /// mix. The directory must exist (`NotFound` otherwise); `Forbidden` when
    /// it may not be written; `Unavailable` for any other failure.
    async fn write_file(&self, path: &Path, contents: &[u8], mode: u32) -> Result<()>;
    /// Starts `command` on the server for a conversation: what is written to
    /// the stream is its standard input, what is read its standard output
    /// (its standard error is dropped). The end of the stream is the
    /// program's end; dropping the stream ends the program.
    ///
    /// [`Command::stdin`] and [`Command::timeout`] do not apply: the caller
    /// writes the input and bounds each wait itself. `NotFound` when the
    /// program does not exist (where that can be told at start),
    /// `Unavailable` when it could not be started.
    async fn spawn(&self, command: &Command) -> Result<Box<dyn Stream>>;
}

/// A bidirectional byte stream to an [`Endpoint`].
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + ?Sized> Stream for T {}

/// Where a stream connects, as the server sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A unix socket on the server (Podman's API).
    Unix(PathBuf),
    /// A TCP address the server dials (an admin API on its loopback, a release's port).
    Tcp(SocketAddr),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
            Endpoint::Tcp(address) => write!(f, "tcp:{address}"),
        }
    }
}

/// A program to run on a server: an argv, never a shell line.
///
/// Each argument reaches the program as it is, so a value never needs
/// quoting and can never become a second command. Arguments show up in the
/// server's process list: secrets go through [`Command::with_stdin`], never
/// into an argument. `Debug` shows the argv and only the size of the input.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    argv: Vec<String>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl Command {
    /// How long a command may run when no timeout is given.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// `program` with no arguments, no input and the default timeout.
    ///
    /// A `program` without a `/` is looked up in the server's `PATH`.
    pub fn new(program: impl Into<String>) -> Self {
        Command { argv: vec![program.into()], stdin: None, timeout: Self::DEFAULT_TIMEOUT }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.argv.push(arg.into());
        self
    }

    /// Adds arguments, in order.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.argv.extend(args.into_iter().map(Into::into));
        self
    }

    /// Feeds `input` to the program's standard input (closed after it);
    /// without it, standard input is empty.
    pub fn with_stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Sets how long the program may run before it is killed.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The program and its arguments.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// The program (`argv[0]`).
    pub fn program(&self) -> &str {
        &self.argv[0]
    }

    /// The arguments after the program.
    pub fn arguments(&self) -> &[String] {
        &self.argv[1..]
    }

    /// The bytes fed to standard input, if any.
    pub fn stdin(&self) -> Option<&[u8]> {
        self.stdin.as_deref()
    }

    /// How long the program may run.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("argv", &self.argv)
            .field("stdin_bytes", &self.stdin.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What a program that ran left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The exit code; `None` when a signal ended the program.
    pub status: Option<i32>,
    /// Everything it wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything it wrote to standard error.
    pub stderr: Vec<u8>,
}

impl Output {
    /// Whether the program exited with code 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// The innermost source of `err` (`err` itself when it has none).
pub(crate) fn root_cause<'a>(err: &'a (dyn StdError + 'static)) -> &'a (dyn StdError + 'static) {
    std::iter::successors(Some(err), |&e| e.source()).last().unwrap_or(err)
}

/// `err`'s message and its innermost cause, for a library that carries
/// errors as text (bollard, Podman's raw reads).
pub(crate) fn message_with_cause(err: &Error) -> String {
    match err.source() {
        Some(source) => format!("{}: {}", err.message(), root_cause(source)),
        None => err.message().to_owned(),
    }
}
