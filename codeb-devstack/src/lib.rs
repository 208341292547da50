//! The local stack: the services codeb drives, started on this machine on
//! loopback under one data directory, for the live tests and for
//! `we local up`; and the busybox images the tests deploy ([`images`]).
//!
//! This is a developer's and a test harness's crate, kept out of
//! `codeb-backends` so the backends ship no process supervision. It depends
//! on `codeb` only (its errors, image references and the platform file's
//! shape); `codeb-cli` (`we local`) and `codeb-tests` (`codeb-testenv`) use
//! it. Like every crate of the workspace it has no `unsafe`: its system calls
//! (pidfds, signals, poll, waitpid) go through rustix.
//!
//! [`LocalStack::up`] starts Podman's API service (on a unix socket, with
//! runc, rlimits that work here and the stack's registry marked as plain
//! HTTP), Caddy (its admin API only, no apps; one more free port is reserved
//! for the HTTP server codeb configures in it), PowerDNS (SQLite backend, DNS
//! and HTTP API on free ports, a random API key) and an OCI registry, waits
//! until each answers, and records what it started in `<dir>/stack.json`
//! (mode 0600: it holds the key). The processes are daemons of the stack: in
//! their own process groups, stdin from `/dev/null`, output in
//! `<dir>/logs/<part>.log`, so they outlive the caller until
//! [`LocalStack::down`] stops exactly them. [`LocalStack::status`] tells
//! whether each still runs and answers.
//!
//! Everything here blocks (it starts processes and polls them); call it from
//! async code through `spawn_blocking`.
//!
//! The data directory holds:
//!
//! ```text
//! stack.json  stack.lock            the record of a running stack; the up/down lock
//! podman.sock containers.conf registries.conf
//! caddy.json  caddy/                Caddy's config; its XDG config and data home
//! pdns/       pdns.conf pdns.sqlite3 (kept across restarts) and the control socket
//! registry/   config.yml htpasswd data/  (data kept across restarts)
//! registry.password registry-auth.json  its user's password; the podman CLI's auth file for it
//! logs/       podman.log caddy.log powerdns.log registry.log
//! ```
#![deny(missing_docs)]

mod api_key;
mod atomic;
mod binaries;
mod config;
mod daemon;
pub mod fleet;
pub mod images;
mod part;
mod platform_file;
mod ports;
mod probe;
mod record;
mod report;
pub mod tls;

use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use codeb::{Error, ErrorKind, Result};
use tls::TlsFiles;

pub use api_key::ApiKey;
pub use daemon::StopOutcome;
pub use part::Part;
pub use platform_file::{
    AccessoryImages, LOCAL_ZONE, MARKER, PDNS_KEY_FILE, PLATFORM_FILE, STACK_KEYS, UPSTREAM_ZONE, with_stack_keys_of,
};
pub use report::{StackStarted, StatusReport, default_dir};

use binaries::{SearchPath, StackPrograms};
use daemon::{DaemonSpec, Liveness, ProcessId};
use probe::Target;
use record::{EndpointsRecord, PartRecord, StackRecord};

/// How long `up` waits, by default, for every part to answer.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `down` lets a part shut down after SIGTERM before it sends SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long a part may take to disappear after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// The bound of each I/O step of a health probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause between two rounds of probes while starting.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How much of a part's log an error quotes.
const LOG_TAIL_LINES: usize = 20;
const LOG_TAIL_BYTES: u64 = 4096;
/// The longest unix socket path the kernel accepts (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Where and how to start a local stack.
#[derive(Clone, Debug)]
pub struct LocalStackOptions {
    data_dir: PathBuf,
    search_path: Option<OsString>,
    start_timeout: Duration,
    runroot: Option<PathBuf>,
    registry_tls: Option<(IpAddr, TlsFiles)>,
    trust_dir: Option<PathBuf>,
}

impl LocalStackOptions {
    /// A stack under `data_dir` (created when missing), with the programs found
    /// on `$PATH` and the sbin directories, and [`DEFAULT_START_TIMEOUT`].
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        LocalStackOptions {
            data_dir: data_dir.into(),
            search_path: None,
            start_timeout: DEFAULT_START_TIMEOUT,
            runroot: None,
            registry_tls: None,
            trust_dir: None,
        }
    }

    /// Looks the programs up only in `dirs` (in `$PATH` syntax).
    pub fn with_search_path(mut self, dirs: impl Into<OsString>) -> Self {
        self.search_path = Some(dirs.into());
        self
    }

    /// Waits at most `timeout` for all parts to answer.
    pub fn with_start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Gives the stack's Podman container storage of its own: its `--root`,
    /// `--tmpdir` and `--network-config-dir` under `<dir>/containers/`, its `--runroot` at
    /// `runroot` (Podman refuses one longer than 50 bytes), so it sees none
    /// of the machine's images and containers: a host of a [`fleet`] beside
    /// the machine's own Podman.
    pub fn with_own_container_storage(mut self, runroot: impl Into<PathBuf>) -> Self {
        self.runroot = Some(runroot.into());
        self
    }

    /// Serves the registry over TLS at `ip` (a host's own address, which
    /// other hosts reach) with the certificate `tls`, instead of plain HTTP
    /// on loopback; Podman then verifies it rather than trusting it blindly.
    pub fn with_registry_over_tls(mut self, ip: IpAddr, tls: TlsFiles) -> Self {
        self.registry_tls = Some((ip, tls));
        self
    }

    /// Makes the stack's Podman trust the certificates in `dir` besides the
    /// system's (`SSL_CERT_DIR`): a [`tls::TestAuthority`]'s trust directory.
    pub fn trusting(mut self, dir: impl Into<PathBuf>) -> Self {
        self.trust_dir = Some(dir.into());
        self
    }

    /// The data directory as given.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

/// How to reach each part of a stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// Podman's API socket (Docker-compatible and libpod endpoints).
    pub podman_socket: PathBuf,
    /// Caddy's admin API.
    pub caddy_admin: SocketAddr,
    /// A free loopback address reserved for the HTTP server codeb configures in Caddy.
    pub http: SocketAddr,
    /// PowerDNS's webserver and HTTP API.
    pub pdns_api: SocketAddr,
    /// The key PowerDNS's API requires (`X-API-Key`).
    pub pdns_api_key: ApiKey,
    /// PowerDNS's DNS listener (UDP and TCP).
    pub pdns_dns: SocketAddr,
    /// The OCI registry (`host:port`, the form image references use).
    pub registry: SocketAddr,
    /// Whether the registry speaks TLS ([`LocalStackOptions::with_registry_over_tls`]); else plain HTTP on loopback.
    pub registry_tls: bool,
    /// The password of the registry's one user, [`REGISTRY_USER`] (htpasswd, bcrypt).
    pub registry_password: ApiKey,
}

/// The user the stack's registry knows.
pub const REGISTRY_USER: &str = "codeb";

impl Endpoints {
    /// Podman's socket as a URL (`unix:///dir/podman.sock`), as `podman --url` and `CONTAINER_HOST` take it.
    pub fn podman_url(&self) -> String {
        format!("unix://{}", self.podman_socket.display())
    }

    /// The base URL of Caddy's admin API.
    pub fn caddy_admin_url(&self) -> String {
        format!("http://{}", self.caddy_admin)
    }

    /// The base URL of PowerDNS's webserver (the API is under `/api/v1`).
    pub fn pdns_api_url(&self) -> String {
        format!("http://{}", self.pdns_api)
    }

    /// Where `part` answers, as a person would use it.
    pub fn describe(&self, part: Part) -> String {
        match part {
            Part::Podman => self.podman_url(),
            Part::Caddy => format!("{} (HTTP port reserved: {})", self.caddy_admin_url(), self.http),
            Part::PowerDns => format!("{} (DNS: {})", self.pdns_api_url(), self.pdns_dns),
            Part::Registry => format!("{}://{}", if self.registry_tls { "https" } else { "http" }, self.registry),
        }
    }

    fn from_record(r: EndpointsRecord) -> Self {
        Endpoints {
            podman_socket: r.podman_socket,
            caddy_admin: r.caddy_admin,
            http: r.http,
            pdns_api: r.pdns_api,
            pdns_api_key: ApiKey::from_recorded(r.pdns_api_key),
            pdns_dns: r.pdns_dns,
            registry: r.registry,
            registry_tls: r.registry_tls,
            registry_password: ApiKey::from_recorded(r.registry_password),
        }
    }

    fn to_record(&self) -> EndpointsRecord {
        EndpointsRecord {
            podman_socket: self.podman_socket.clone(),
            caddy_admin: self.caddy_admin,
            http: self.http,
            pdns_api: self.pdns_api,
            pdns_api_key: self.pdns_api_key.expose().to_owned(),
            pdns_dns: self.pdns_dns,
            registry: self.registry,
            registry_tls: self.registry_tls,
            registry_password: self.registry_password.expose().to_owned(),
        }
    }
}

/// One process of a stack.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StackProcess {
    /// The part it is.
    pub part: Part,
    /// Its PID.
    pub pid: u32,
    /// The file its stdout and stderr go to.
    pub log: PathBuf,
}

/// A stack that `up` started and that has not been brought down.
#[derive(Clone, Debug)]
pub struct LocalStack {
    dir: PathBuf,
    endpoints: Endpoints,
    processes: Vec<StackProcess>,
}

/// What `status` sees of one part.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PartStatus {
    /// The part.
    pub part: Part,
    /// The PID `up` recorded.
    pub pid: u32,
    /// Where it answers.
    pub endpoint: String,
    /// Whether the recorded process still runs (not merely some process with its PID).
    pub running: bool,
    /// Whether it answered its health request just now.
    pub answering: bool,
    /// Its log file.
    pub log: PathBuf,
}

/// What `status` sees of a stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackStatus {
    /// The data directory.
    pub dir: PathBuf,
    /// Each part, in start order.
    pub parts: Vec<PartStatus>,
}

impl StackStatus {
    /// Whether every part runs and answers.
    pub fn is_up(&self) -> bool {
        self.parts.iter().all(|p| p.running && p.answering)
    }
}

/// What `down` did to one part.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PartStopped {
    /// The part.
    pub part: Part,
    /// The PID `up` recorded.
    pub pid: u32,
    /// What happened to it.
    pub outcome: StopOutcome,
}

/// What `down` did; empty when no stack was recorded in the directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DownReport {
    /// Each recorded part, in the order they were stopped.
    #[serde(rename = "stopped")]
    pub parts: Vec<PartStopped>,
}

impl LocalStack {
    /// The podman CLI's auth file with the credentials of the stack's registry (`podman push --authfile`).
    pub fn registry_auth_file(&self) -> PathBuf {
        self.dir.join(platform_file::REGISTRY_AUTH_FILE)
    }

    /// The file holding the password of the stack's registry user, [`REGISTRY_USER`].
    pub fn registry_password_file(&self) -> PathBuf {
        self.dir.join(platform_file::REGISTRY_PASSWORD_FILE)
    }

    /// Starts a stack under the options' data directory and waits until every
    /// part answers.
    ///
    /// Fails, before creating anything, when a program is missing (naming the
    /// Debian packages to install); with [`ErrorKind::Conflict`] when a stack
    /// already runs in the directory, and [`ErrorKind::Locked`] while another
    /// `up` or `down` works on it. When a part exits or does not answer in
    /// time, the error names it and quotes the end of its log, and everything
    /// this call started is stopped again.
    pub fn up(options: &LocalStackOptions) -> Result<LocalStack> {
        let programs = binaries::resolve_stack(&SearchPath::new(options.search_path.as_deref()))?;
        let layout = Layout::new(prepare_dir(&options.data_dir)?)?;
        // A stack that runs is a conflict whoever holds the lock: a child some
        // other thread of this process forks holds a copy of the lock's file
        // until it execs, so the lock alone can look busy for a moment after
        // the `up` that took it has finished.
        refuse_if_running(&layout)?;
        let _lock = layout.lock()?;
        refuse_if_running(&layout)?;

        let ports =
            ports::pick_in(&layout.dir).map_err(|e| io_error("cannot find free loopback ports", &layout.dir, e))?;
        let key = ApiKey::generate().map_err(|e| io_error("cannot generate the PowerDNS API key", &layout.dir, e))?;
        let registry_password =
            ApiKey::generate().map_err(|e| io_error("cannot generate the registry's password", &layout.dir, e))?;
        let endpoints = Endpoints {
            podman_socket: layout.podman_socket(),
            caddy_admin: ports.caddy_admin,
            http: ports.http,
            pdns_api: ports.pdns_api,
            pdns_api_key: key,
            pdns_dns: ports.pdns_dns,
            registry: match &options.registry_tls {
                Some((ip, _)) => SocketAddr::new(*ip, ports.registry.port()),
                None => ports.registry,
            },
            registry_tls: options.registry_tls.is_some(),
            registry_password,
        };
        layout.write_configs(&programs, &endpoints, options.registry_tls.as_ref().map(|(_, tls)| tls))?;
        layout.create_pdns_database(&programs)?;
        layout.remove_stale_socket()?;

        let storage = options.runroot.as_ref().map(|runroot| Storage { dir: layout.container_storage(), runroot });
        let mut started: Vec<Started> = Vec::new();
        for part in Part::ALL {
            let log = layout.log(part);
            let spawned = File::create(&log)
                .and_then(|_| daemon::spawn(&layout.daemon_spec(part, &programs, storage.as_ref(), options), &log));
            match spawned {
                Ok((child, process)) => started.push(Started { part, child, process, log }),
                Err(e) => {
                    stop_started(&started);
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!("cannot start {part}: {e}; the end of {}:\n{}", log.display(), log_tail(&log)),
                    )
                    .with_context("part", part)
                    .with_context("log", log.display()));
                }
            }
        }
        let record = StackRecord::new(
            started
                .iter()
                .map(|s| PartRecord { part: s.part, process: s.process.clone(), log: s.log.clone() })
                .collect(),
            endpoints.to_record(),
        );
        // Recorded before waiting, so an interrupted `up` leaves what `down` needs.
        if let Err(e) = record::write(&layout.dir, &record) {
            stop_started(&started);
            return Err(io_error("cannot write the stack record", &layout.dir.join(record::RECORD_FILE), e));
        }
        if let Err(e) = ports::remember(&layout.dir, &ports) {
            stop_started(&started);
            let _ = record::remove(&layout.dir);
            return Err(io_error("cannot remember the stack's ports", &layout.dir.join(ports::PORTS_FILE), e));
        }
        if let Err(e) = wait_until_answering(&mut started, &endpoints, options.start_timeout) {
            stop_started(&started);
            let _ = record::remove(&layout.dir);
            return Err(e.with_context("dir", layout.dir.display()));
        }
        Ok(LocalStack::from_record(layout.dir, record))
    }

    /// Checks that every program the stack runs is on this machine; the
    /// error names each missing one with the Debian package that provides it.
    pub fn check_programs(options: &LocalStackOptions) -> Result<()> {
        binaries::resolve_stack(&SearchPath::new(options.search_path.as_deref())).map(|_| ())
    }

    /// The stack recorded in `dir`; [`ErrorKind::NotFound`] when none is.
    pub fn open(dir: impl AsRef<Path>) -> Result<LocalStack> {
        let dir = existing_dir(dir.as_ref())?;
        match read_record(&dir)? {
            Some(record) => Ok(LocalStack::from_record(dir, record)),
            None => Err(no_stack(&dir)),
        }
    }

    /// Stops exactly the processes `up` recorded in `dir` (SIGTERM, then
    /// SIGKILL after [`STOP_GRACE`]) and removes the record. A recorded PID
    /// that now belongs to another process is left alone. With no stack
    /// recorded, there is nothing to do and the report is empty.
    pub fn down(dir: impl AsRef<Path>) -> Result<DownReport> {
        let dir = dir.as_ref();
        if !dir.exists() {
            return Ok(DownReport::default());
        }
        let layout = Layout::new(existing_dir(dir)?)?;
        let _lock = layout.lock()?;
        let Some(record) = read_record(&layout.dir)? else {
            return Ok(DownReport::default());
        };
        let mut report = DownReport::default();
        let mut failure = None;
        for p in record.parts.iter().rev() {
            match daemon::stop(&p.process, STOP_GRACE, KILL_WAIT) {
                Ok(outcome) => report.parts.push(PartStopped { part: p.part, pid: p.process.pid, outcome }),
                Err(e) => {
                    failure.get_or_insert(
                        io_error(format!("cannot stop {} (pid {})", p.part, p.process.pid), &p.log, e)
                            .with_context("part", p.part),
                    );
                }
            }
        }
        if let Some(e) = failure {
            // The record stays, so another `down` can finish the job.
            return Err(e.with_context("dir", layout.dir.display()));
        }
        layout.remove_stale_socket()?;
        record::remove(&layout.dir)
            .map_err(|e| io_error("cannot remove the stack record", &layout.dir.join(record::RECORD_FILE), e))?;
        Ok(report)
    }

    /// Whether each part recorded in `dir` still runs and answers;
    /// [`ErrorKind::NotFound`] when no stack is recorded there.
    pub fn status(dir: impl AsRef<Path>) -> Result<StackStatus> {
        let dir = existing_dir(dir.as_ref())?;
        let Some(record) = read_record(&dir)? else {
            return Err(no_stack(&dir));
        };
        let endpoints = Endpoints::from_record(record.endpoints);
        let mut parts = Vec::new();
        for p in record.parts {
            let running = daemon::liveness(&p.process)
                .map_err(|e| io_error(format!("cannot inspect {} (pid {})", p.part, p.process.pid), &dir, e))?
                == Liveness::Running;
            parts.push(PartStatus {
                part: p.part,
                pid: p.process.pid,
                endpoint: endpoints.describe(p.part),
                running,
                answering: running && answers(p.part, &endpoints),
                log: p.log,
            });
        }
        Ok(StackStatus { dir, parts })
    }

    /// The data directory (absolute).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How to reach each part.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The processes of the stack, in start order.
    pub fn processes(&self) -> &[StackProcess] {
        &self.processes
    }

    fn from_record(dir: PathBuf, record: StackRecord) -> Self {
        let processes = record
            .parts
            .iter()
            .map(|p| StackProcess { part: p.part, pid: p.process.pid, log: p.log.clone() })
            .collect();
        LocalStack { dir, endpoints: Endpoints::from_record(record.endpoints), processes }
    }
}

/// A part started by this `up`.
struct Started {
    part: Part,
    child: Child,
    process: ProcessId,
    log: PathBuf,
}

/// Stops what this `up` started, best effort: the caller is already failing with a better error.
fn stop_started(started: &[Started]) {
    for s in started.iter().rev() {
        let _ = daemon::stop(&s.process, STOP_GRACE, KILL_WAIT);
    }
}

/// Polls every part until all answer, one exits, or `timeout` passes.
fn wait_until_answering(started: &mut [Started], endpoints: &Endpoints, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut ready = vec![false; started.len()];
    loop {
        for (s, ready) in started.iter_mut().zip(ready.iter_mut()).filter(|(_, r)| !**r) {
            if let Ok(Some(status)) = s.child.try_wait() {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "{} exited while starting ({status}); the end of {}:\n{}",
                        s.part,
                        s.log.display(),
                        log_tail(&s.log)
                    ),
                )
                .with_context("part", s.part)
                .with_context("log", s.log.display()));
            }
            *ready = answers(s.part, endpoints);
        }
        if ready.iter().all(|r| *r) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let Some(s) = started.iter().zip(&ready).find(|(_, r)| !**r).map(|(s, _)| s) else {
                return Ok(());
            };
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "{} did not answer at {} within {timeout:?}; the end of {}:\n{}",
                    s.part,
                    endpoints.describe(s.part),
                    s.log.display(),
                    log_tail(&s.log)
                ),
            )
            .with_context("part", s.part)
            .with_context("log", s.log.display()));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Whether `part` answers its health request with 200 right now.
fn answers(part: Part, endpoints: &Endpoints) -> bool {
    let key = endpoints.pdns_api_key.expose();
    let login = format!("Basic {}", registry_credentials(endpoints));
    let (target, path, headers): (Target<'_>, &str, &[(&str, &str)]) = match part {
        Part::Podman => (Target::Unix(&endpoints.podman_socket), "/_ping", &[]),
        Part::Caddy => (Target::Tcp(endpoints.caddy_admin), "/config/", &[]),
        Part::PowerDns => (Target::Tcp(endpoints.pdns_api), "/api/v1/servers/localhost", &[("X-API-Key", key)]),
        // The probe speaks plain HTTP: a TLS registry answers once it listens (Podman's pushes verify it).
        Part::Registry if endpoints.registry_tls => {
            return std::net::TcpStream::connect_timeout(&endpoints.registry, PROBE_TIMEOUT).is_ok();
        }
        Part::Registry => (Target::Tcp(endpoints.registry), "/v2/", &[("Authorization", &login)]),
    };
    probe::http_status(target, path, headers, PROBE_TIMEOUT).is_ok_and(|code| code == 200)
}

/// The registry's user and password as HTTP basic auth and podman's auth files encode them.
fn registry_credentials(endpoints: &Endpoints) -> String {
    use base64::Engine as _;
    let pair = format!("{REGISTRY_USER}:{}", endpoints.registry_password.expose());
    base64::engine::general_purpose::STANDARD.encode(pair)
}

/// The last lines of a log file, for an error message.
fn log_tail(path: &Path) -> String {
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) if text.trim().is_empty() => "(the log is empty)".to_owned(),
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
        }
        Err(e) => format!("(cannot read the log: {e})"),
    }
}

/// The files of a stack inside its (absolute, checked) data directory.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn new(dir: PathBuf) -> Result<Self> {
        let layout = Layout { dir };
        let socket = layout.podman_socket();
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(Error::invalid(format!(
                "the data directory's path is too long for a unix socket inside it (at most {MAX_SOCKET_PATH} bytes for {})",
                socket.display()
            ))
            .with_context("dir", layout.dir.display()));
        }
        Ok(layout)
    }

    fn podman_socket(&self) -> PathBuf {
        self.dir.join("podman.sock")
    }
    fn containers_conf(&self) -> PathBuf {
        self.dir.join("containers.conf")
    }
    fn registries_conf(&self) -> PathBuf {
        self.dir.join("registries.conf")
    }
    fn caddy_json(&self) -> PathBuf {
        self.dir.join("caddy.json")
    }
    fn caddy_home(&self) -> PathBuf {
        self.dir.join("caddy")
    }
    fn pdns_dir(&self) -> PathBuf {
        self.dir.join("pdns")
    }
    fn pdns_database(&self) -> PathBuf {
        self.pdns_dir().join("pdns.sqlite3")
    }
    fn registry_dir(&self) -> PathBuf {
        self.dir.join("registry")
    }
    fn registry_config(&self) -> PathBuf {
        self.registry_dir().join("config.yml")
    }
    fn registry_htpasswd(&self) -> PathBuf {
        self.registry_dir().join("htpasswd")
    }
    fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }
    fn log(&self, part: Part) -> PathBuf {
        self.logs().join(format!("{part}.log"))
    }

    /// Takes the lock that keeps `up` and `down` on one directory apart; released on drop.
    fn lock(&self) -> Result<File> {
        let path = self.dir.join("stack.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io_error("cannot open the stack's lock file", &path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(TryLockError::WouldBlock) => Err(Error::new(
                ErrorKind::Locked,
                "another `up` or `down` is working on this local stack; try again when it has finished",
            )
            .with_context("dir", self.dir.display())),
            Err(TryLockError::Error(e)) => Err(io_error("cannot lock the stack", &path, e)),
        }
    }

    /// Writes every service's configuration for these endpoints (the registry's certificate `tls`, if it has one).
    fn write_configs(&self, programs: &StackPrograms, endpoints: &Endpoints, tls: Option<&TlsFiles>) -> Result<()> {
        for dir in [self.caddy_home(), self.pdns_dir(), self.registry_dir().join("data"), self.logs()] {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| io_error("cannot create a directory of the stack", &dir, e))?;
        }
        let pdns = config::pdns_conf(&config::PdnsSettings {
            database: &self.pdns_database(),
            dns: endpoints.pdns_dns,
            api: endpoints.pdns_api,
            api_key: &endpoints.pdns_api_key,
            socket_dir: &self.pdns_dir(),
        });
        let registry_secret =
            api_key::random_hex(16).map_err(|e| io_error("cannot generate the registry's secret", &self.dir, e))?;
        let files = [
            (self.containers_conf(), config::containers_conf(&programs.runc), 0o644),
            (self.registries_conf(), config::registries_conf(endpoints.registry, tls.is_some()), 0o644),
            (self.caddy_json(), config::caddy_json(endpoints.caddy_admin), 0o644),
            (self.pdns_dir().join("pdns.conf"), pdns, 0o600),
            (
                self.registry_config(),
                config::registry_config(&config::RegistrySettings {
                    storage: &self.registry_dir().join("data"),
                    addr: endpoints.registry,
                    http_secret: &registry_secret,
                    htpasswd: &self.registry_htpasswd(),
                    tls,
                }),
                0o600,
            ),
            (self.registry_htpasswd(), config::htpasswd(REGISTRY_USER, &endpoints.registry_password)?, 0o600),
            (
                self.dir.join(platform_file::REGISTRY_PASSWORD_FILE),
                endpoints.registry_password.expose().to_owned(),
                0o600,
            ),
            (
                self.dir.join(platform_file::REGISTRY_AUTH_FILE),
                config::podman_auth(endpoints.registry, &registry_credentials(endpoints)),
                0o600,
            ),
        ];
        for (path, text, mode) in files {
            write_file(&path, &text, mode).map_err(|e| io_error("cannot write a configuration file", &path, e))?;
        }
        Ok(())
    }

    /// Creates PowerDNS's SQLite database from the backend's schema, once: an
    /// existing database (zones of an earlier run) is kept.
    fn create_pdns_database(&self, programs: &StackPrograms) -> Result<()> {
        let db = self.pdns_database();
        if db.exists() {
            return Ok(());
        }
        let tmp = self.pdns_dir().join("pdns.sqlite3.new");
        let _ = fs::remove_file(&tmp);
        let schema = File::open(&programs.pdns_sqlite_schema)
            .map_err(|e| io_error("cannot read PowerDNS's SQLite schema", &programs.pdns_sqlite_schema, e))?;
        let output = Command::new(&programs.sqlite3)
            .arg("-bail")
            .arg(&tmp)
            .stdin(schema)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| io_error("cannot run sqlite3", &programs.sqlite3, e))?;
        if !output.status.success() {
            let _ = fs::remove_file(&tmp);
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "sqlite3 could not create PowerDNS's database ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            )
            .with_context("part", Part::PowerDns)
            .with_context("path", db.display()));
        }
        fs::rename(&tmp, &db).map_err(|e| io_error("cannot put PowerDNS's database in place", &db, e))
    }

    /// Removes a socket file left by a Podman service that did not exit cleanly.
    fn remove_stale_socket(&self) -> Result<()> {
        let socket = self.podman_socket();
        match fs::symlink_metadata(&socket) {
            Ok(m) if m.file_type().is_socket() => {
                fs::remove_file(&socket).map_err(|e| io_error("cannot remove a stale Podman socket", &socket, e))
            }
            Ok(_) => {
                Err(Error::new(ErrorKind::Conflict, "a file that is not a socket is in the way of Podman's socket")
                    .with_context("path", socket.display()))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("cannot inspect Podman's socket", &socket, e)),
        }
    }

    /// Where the stack's own container storage lives, when it has one.
    fn container_storage(&self) -> PathBuf {
        self.dir.join("containers")
    }

    /// How to start `part`; Podman with its own `storage` when given, trusting what `options` say.
    fn daemon_spec(
        &self,
        part: Part,
        programs: &StackPrograms,
        storage: Option<&Storage<'_>>,
        options: &LocalStackOptions,
    ) -> DaemonSpec {
        let os = |p: PathBuf| p.into_os_string();
        let spec = |program: &Path, args: Vec<OsString>| DaemonSpec {
            program: program.to_owned(),
            args,
            env: Vec::new(),
            env_remove: Vec::new(),
            cwd: self.dir.clone(),
        };
        match part {
            Part::Podman => DaemonSpec {
                env: [
                    ("CONTAINERS_CONF".into(), os(self.containers_conf())),
                    ("CONTAINERS_REGISTRIES_CONF".into(), os(self.registries_conf())),
                ]
                .into_iter()
                .chain(options.trust_dir.as_ref().map(|dir| ("SSL_CERT_DIR".into(), trust_dirs(dir))))
                .collect(),
                // Either would turn `podman` into a client of some other service.
                env_remove: vec!["CONTAINER_HOST", "CONTAINER_CONNECTION"],
                ..spec(&programs.podman, podman_args(storage, self.podman_socket()))
            },
            Part::Caddy => DaemonSpec {
                env: vec![
                    ("XDG_CONFIG_HOME".into(), os(self.caddy_home())),
                    ("XDG_DATA_HOME".into(), os(self.caddy_home())),
                ],
                ..spec(&programs.caddy, vec!["run".into(), "--config".into(), os(self.caddy_json())])
            },
            Part::PowerDns => spec(
                &programs.pdns_server,
                vec![
                    concat_os("--config-dir=", self.pdns_dir()),
                    "--daemon=no".into(),
                    "--guardian=no".into(),
                    "--disable-syslog".into(),
                    "--write-pid=no".into(),
                ],
            ),
            Part::Registry => DaemonSpec {
                // REGISTRY_* variables override the config file.
                env_remove: vec!["REGISTRY_*"],
                ..spec(&programs.docker_registry, vec!["serve".into(), os(self.registry_config())])
            },
        }
    }
}

/// `dir` and the system's certificates, as `SSL_CERT_DIR` lists directories.
fn trust_dirs(dir: &Path) -> OsString {
    let mut dirs = dir.as_os_str().to_owned();
    dirs.push(":/etc/ssl/certs");
    dirs
}

/// A Podman service's own container storage.
struct Storage<'a> {
    /// Holds its `--root` (`storage/`), `--tmpdir` (`tmp/`) and `--network-config-dir` (`networks/`).
    dir: PathBuf,
    /// Its `--runroot`.
    runroot: &'a Path,
}

/// `podman [--root D/storage --tmpdir D/tmp --network-config-dir D/networks --runroot R] system service
/// --time=0 unix://SOCKET`.
fn podman_args(storage: Option<&Storage<'_>>, socket: PathBuf) -> Vec<OsString> {
    let mut args = Vec::new();
    if let Some(Storage { dir, runroot }) = storage {
        for (flag, sub) in [("--root", "storage"), ("--tmpdir", "tmp"), ("--network-config-dir", "networks")] {
            args.extend([flag.into(), dir.join(sub).into_os_string()]);
        }
        args.extend(["--runroot".into(), runroot.as_os_str().to_owned()]);
    }
    args.extend(["system".into(), "service".into(), "--time=0".into(), concat_os("unix://", socket)]);
    args
}

/// `prefix` followed by `path`, as one argument.
fn concat_os(prefix: &str, path: PathBuf) -> OsString {
    let mut arg = OsString::from(prefix);
    arg.push(path.as_os_str());
    arg
}

/// Creates `dir` (private) when missing and returns its checked absolute form.
fn prepare_dir(dir: &Path) -> Result<PathBuf> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_error("cannot create the data directory", dir, e))?;
    existing_dir(dir)
}

/// The absolute form of an existing data directory, which must be UTF-8
/// without control characters so it fits in every config file format.
fn existing_dir(dir: &Path) -> Result<PathBuf> {
    let abs = dir.canonicalize().map_err(|e| {
        let kind = if e.kind() == io::ErrorKind::NotFound { ErrorKind::NotFound } else { ErrorKind::Unavailable };
        Error::new(kind, "cannot find the data directory").with_context("dir", dir.display()).with_source(e)
    })?;
    match abs.to_str() {
        Some(s) if !s.chars().any(char::is_control) => Ok(abs),
        _ => Err(Error::invalid("the data directory's path must be UTF-8 without control characters")
            .with_context("dir", abs.display())),
    }
}

/// The record in `dir`, mapped to codeb errors.
fn read_record(dir: &Path) -> Result<Option<StackRecord>> {
    let path = dir.join(record::RECORD_FILE);
    record::read(dir).map_err(|e| match e {
        record::ReadError::Io(e) => io_error("cannot read the stack record", &path, e),
        record::ReadError::Invalid(why) => {
            Error::invalid(format!("the stack record is not one this codeb wrote: {why}"))
                .with_context("path", path.display())
        }
    })
}

/// Refuses to start a second stack over a running one; a record whose
/// processes are all gone (a reboot, a kill) is stale and replaced.
fn refuse_if_running(layout: &Layout) -> Result<()> {
    let Some(record) = read_record(&layout.dir)? else {
        return Ok(());
    };
    let mut running = Vec::new();
    for p in &record.parts {
        let liveness =
            daemon::liveness(&p.process).map_err(|e| io_error(format!("cannot inspect {}", p.part), &layout.dir, e))?;
        if liveness == Liveness::Running {
            running.push(format!("{} (pid {})", p.part, p.process.pid));
        }
    }
    if running.is_empty() {
        return Ok(());
    }
    Err(Error::conflict(format!(
        "a local stack already runs in this directory ({}); stop it with `down` first",
        running.join(", ")
    ))
    .with_context("dir", layout.dir.display()))
}

/// The error for a directory without a stack record.
fn no_stack(dir: &Path) -> Error {
    Error::not_found("no local stack is recorded in this directory (is it up?)").with_context("dir", dir.display())
}

/// An I/O failure about `path`: the stack is unavailable.
fn io_error(what: impl Into<String>, path: &Path, source: io::Error) -> Error {
    Error::new(ErrorKind::Unavailable, what).with_context("path", path.display()).with_source(source)
}

/// Writes `text` to `path` with `mode` (also when the file exists with another mode).
fn write_file(path: &Path, text: &str, mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(path)?;
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(text.as_bytes())
}
