//! How to reach one Podman API service and what every container it creates gets.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

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
    /// The host address ports are published on unless the SDK names another
    /// in a `PortBinding` (see [`super::PodmanRuntime::port_binding`]).
    pub bind_address: IpAddr,
    /// Resource limits sent with every container.
    pub ulimits: Vec<Ulimit>,
    /// The longest one API request may take (pulls and builds included).
    pub timeout: Duration,
}

impl PodmanConfig {
    /// The defaults for the socket at `socket`: publish on 127.0.0.1,
    /// `nofile=1024` and `nproc=1000`, requests of at most 10 minutes.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        PodmanConfig {
            socket: socket.into(),
            bind_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ulimits: vec![Ulimit::new("nofile", 1024), Ulimit::new("nproc", 1000)],
            timeout: Duration::from_secs(600),
        }
    }

    /// Publishes ports on `address` by default.
    pub fn with_bind_address(mut self, address: IpAddr) -> Self {
        self.bind_address = address;
        self
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
