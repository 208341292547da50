//! How to reach one Podman API service and what every container it creates gets.

use std::path::PathBuf;
use std::time::Duration;

use codeb::model::EnvValue;

/// One resource limit applied to every container (`nofile`, `nproc`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ulimit {
    /// The limit's name as Podman spells it (`nofile`, `nproc`).
    pub name: String,
    /// The soft limit.
    pub soft: i64,
    /// The hard limit.
    pub hard: i64,
}

impl Ulimit {
    /// A limit with equal soft and hard values.
    pub fn new(name: impl Into<String>, value: i64) -> Self {
        Ulimit { name: name.into(), soft: value, hard: value }
    }
}

/// The credentials of one registry, sent (in Podman's registry-auth header,
/// never on argv) when an image of that registry is pulled. `Debug` never
/// shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryLogin {
    /// The registry, as images name it (`ghcr.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The user.
    pub username: String,
    /// The password or token.
    pub password: EnvValue,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// Where the Podman API listens and the defaults codeb applies to what it creates.
///
/// Podman's own `containers.conf` may carry rlimits a host cannot grant
/// (`setrlimit RLIMIT_NOFILE: Operation not permitted`); sending
/// [`PodmanConfig::ulimits`] with every container makes creation independent
/// of that file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodmanConfig {
    /// Path of the API's unix socket (`podman system service unix://PATH`).
    pub socket: PathBuf,
    /// The credentials of the registries images are pulled from.
    pub logins: Vec<RegistryLogin>,
    /// Resource limits sent with every container.
    pub ulimits: Vec<Ulimit>,
    /// The longest one API request may take (pulls and builds included).
    pub timeout: Duration,
}

impl PodmanConfig {
    /// The defaults for the socket at `socket`: no registry credentials,
    /// `nofile=1024` and `nproc=1000`, requests of at most 10 minutes.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        PodmanConfig {
            socket: socket.into(),
            logins: Vec::new(),
            ulimits: vec![Ulimit::new("nofile", 1024), Ulimit::new("nproc", 1000)],
            timeout: Duration::from_secs(600),
        }
    }

    /// Pulls images of `login.registry` with `login`'s credentials.
    pub fn with_login(mut self, login: RegistryLogin) -> Self {
        self.logins.push(login);
        self
    }

    /// The credentials for pulling `image`, if its registry has any.
    pub(crate) fn login_for(&self, image: &codeb::model::ImageRef) -> Option<&RegistryLogin> {
        let registry = image.registry()?;
        self.logins.iter().find(|l| l.registry == registry)
    }

    /// Replaces the resource limits sent with every container.
    pub fn with_ulimits(mut self, ulimits: Vec<Ulimit>) -> Self {
        self.ulimits = ulimits;
        self
    }

    /// Sets the longest one API request may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}
