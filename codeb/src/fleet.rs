//! The fleet: the servers a platform deploys to, what each is for, and how
//! the engine reaches each one's container runtime, port table and HTTP probe.
//!
//! With no servers configured, the fleet is one host, [`ServerName::local`],
//! holding every role: the machine codeb runs on.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use crate::engine::HttpProbe;
use crate::model::{Role, ServerName};
use crate::ports::PortProbe;
use crate::releases::ReleaseDriver;
use crate::runtime::ContainerRuntime;
use crate::{Error, ErrorKind, Result};

/// The addresses of one server, as the engine uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct HostAddresses {
    /// Where release and accessory ports are published on the server.
    pub bind: IpAddr,
    /// Where the proxy and the health probe reach releases on the server.
    pub upstream: IpAddr,
    /// The address DNS records of domains served from this server point at.
    pub public_ipv4: Ipv4Addr,
}

impl HostAddresses {
    /// Everything on loopback: one machine.
    pub fn loopback() -> Self {
        HostAddresses {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            upstream: IpAddr::V4(Ipv4Addr::LOCALHOST),
            public_ipv4: Ipv4Addr::LOCALHOST,
        }
    }
}

/// One server of the fleet and the backends that reach it.
#[derive(Clone, Debug)]
pub struct Host {
    /// Its name.
    pub name: ServerName,
    /// What it is for.
    pub roles: BTreeSet<Role>,
    /// Its addresses.
    pub addresses: HostAddresses,
    /// Its container runtime (images, accessories, volumes, networks, logs).
    pub runtime: Arc<dyn ContainerRuntime>,
    /// How releases start, stop and are removed there.
    pub releases: Arc<dyn ReleaseDriver>,
    /// Which ports listen there.
    pub ports: Arc<dyn PortProbe>,
    /// The health probe, run from the server's side.
    pub http: Arc<dyn HttpProbe>,
    /// What `server check` asks the server itself.
    pub doctor: Arc<dyn ServerDoctor>,
}

/// What `server check` asks a server itself: whether codeb can log in, its
/// container engine, its free disk and its clock.
#[async_trait::async_trait]
pub trait ServerDoctor: Send + Sync + std::fmt::Debug {
    /// How the server is reached, for people: `local`, `ssh deploy@203.0.113.10:22`.
    fn reach(&self) -> String;
    /// Logs in and runs nothing (over SSH: the host key is the pinned one and the key is accepted).
    async fn login(&self) -> Result<()>;
    /// The container engine and its API version (`Podman Engine 4.3.1, API 1.41`).
    async fn engine(&self) -> Result<String>;
    /// Where containers are stored and how many bytes are free there.
    async fn disk_free(&self) -> Result<(String, u64)>;
    /// The server's clock, now.
    async fn clock(&self) -> Result<chrono::DateTime<chrono::Utc>>;
}

impl Host {
    /// Whether the host has `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// The servers a platform deploys to, by name.
#[derive(Clone, Debug)]
pub struct Fleet {
    hosts: Arc<BTreeMap<ServerName, Host>>,
}

impl Fleet {
    /// A fleet of `hosts`; refused when empty, when a name repeats, or when no host has the app role.
    pub fn new(hosts: impl IntoIterator<Item = Host>) -> Result<Self> {
        let mut by_name = BTreeMap::new();
        for host in hosts {
            let name = host.name.clone();
            if by_name.insert(name.clone(), host).is_some() {
                return Err(Error::invalid(format!("server {name} is listed twice")));
            }
        }
        if !by_name.values().any(|h| h.has(Role::App)) {
            return Err(Error::invalid("the fleet has no server with the app role"));
        }
        Ok(Fleet { hosts: Arc::new(by_name) })
    }

    /// A fleet of one host holding every role.
    pub fn single(mut host: Host) -> Self {
        host.roles = Role::ALL.into_iter().collect();
        let name = host.name.clone();
        Fleet { hosts: Arc::new(BTreeMap::from([(name, host)])) }
    }

    /// The host named `name`.
    pub fn host(&self, name: &ServerName) -> Result<&Host> {
        self.hosts.get(name).ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("server {name} is not in the fleet")).with_context("server", name)
        })
    }

    /// Every host, ordered by name.
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }

    /// The hosts with the app role, ordered by name: the servers that run
    /// releases and accessories, so the only ones holding codeb's
    /// containers and volumes (a storage or backup server need not run
    /// Podman at all).
    pub fn app_hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values().filter(|h| h.has(Role::App))
    }

    /// The hosts that hold images codeb built: the app servers, and the
    /// servers with the build role.
    pub fn image_hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values().filter(|h| h.has(Role::App) || h.has(Role::Build))
    }

    /// Where the images of an environment that runs on `runs_on` are built:
    /// there when it has the build role (as the one machine of a local
    /// platform does) or no server has it; else on the first server (by
    /// name) with the build role, which then pushes to the registry the
    /// environment's server pulls from.
    pub fn builder(&self, runs_on: &ServerName) -> Result<&Host> {
        let here = self.host(runs_on)?;
        if here.has(Role::Build) {
            return Ok(here);
        }
        Ok(self.hosts.values().find(|h| h.has(Role::Build)).unwrap_or(here))
    }

    /// The first host (by name) with `role`.
    pub fn with_role(&self, role: Role) -> Result<&Host> {
        self.hosts
            .values()
            .find(|h| h.has(role))
            .ok_or_else(|| Error::invalid(format!("no server of the fleet has the {role} role")))
    }

    /// Where an environment runs: where it is recorded, or else the server
    /// asked for, or else the first app server. An environment never moves
    /// silently: asking for another server than the recorded one is a conflict.
    pub fn place(&self, recorded: Option<&ServerName>, wanted: Option<&ServerName>) -> Result<&Host> {
        match (recorded, wanted) {
            (Some(recorded), Some(wanted)) if recorded != wanted => Err(Error::conflict(format!(
                "the environment runs on server {recorded}, not {wanted}; moving it between servers is not supported yet"
            ))),
            (Some(name), _) | (None, Some(name)) => {
                let host = self.host(name)?;
                if !host.has(Role::App) {
                    return Err(Error::invalid(format!("server {name} has no app role, so it runs no releases")));
                }
                Ok(host)
            }
            (None, None) => self.with_role(Role::App),
        }
    }
}

/// The fleet's port tables: each server's own probe answers for it.
#[async_trait::async_trait]
impl PortProbe for Fleet {
    async fn listeners(&self, server: &ServerName) -> Result<Vec<crate::ports::Listener>> {
        self.host(server)?.ports.listeners(server).await
    }

    async fn taken(&self, server: &ServerName) -> Result<BTreeSet<crate::model::Port>> {
        self.host(server)?.ports.taken(server).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeBackends;

    fn host(name: &str, roles: &[Role]) -> Host {
        let mut host = FakeBackends::new().host();
        host.name = ServerName::parse(name).unwrap();
        host.roles = roles.iter().copied().collect();
        host
    }

    #[tokio::test]
    async fn each_server_s_ports_are_answered_by_its_own_probe() {
        use crate::fake::FakePortProbe;
        use crate::ports::ListenerOwner;
        let (app, store) = (ServerName::parse("app").unwrap(), ServerName::parse("store").unwrap());
        let fleet = Fleet::new([&app, &store].map(|name| {
            let probe = Arc::new(FakePortProbe::new());
            let port = crate::model::Port::new(if *name == app { 3000 } else { 9000 }).unwrap();
            probe.listen(name, port, ListenerOwner::Foreign { description: "sshd".into() });
            Host { ports: probe, ..host(name.as_str(), &[Role::App]) }
        }))
        .unwrap();
        let ports = |server| {
            let fleet = fleet.clone();
            async move { fleet.taken(&server).await.unwrap().into_iter().map(|p| p.get()).collect::<Vec<_>>() }
        };
        assert_eq!(ports(app).await, [3000]);
        assert_eq!(ports(store).await, [9000]);
        let unknown = fleet.taken(&ServerName::parse("gone").unwrap()).await.unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn a_fleet_needs_an_app_server_and_unique_names() {
        assert!(Fleet::new([host("store", &[Role::Storage])]).is_err());
        assert!(Fleet::new([host("a", &[Role::App]), host("a", &[Role::Backup])]).is_err());
        assert!(Fleet::new([host("a", &[Role::App])]).is_ok());
    }

    #[test]
    fn placement_keeps_the_recorded_server_and_defaults_to_the_first_app_server() {
        let fleet =
            Fleet::new([host("backup", &[Role::Backup]), host("app2", &[Role::App]), host("app1", &[Role::App])])
                .unwrap();
        let name = |s: &str| ServerName::parse(s).unwrap();
        assert_eq!(fleet.place(None, None).unwrap().name, name("app1"));
        assert_eq!(fleet.place(None, Some(&name("app2"))).unwrap().name, name("app2"));
        assert_eq!(fleet.place(Some(&name("app2")), None).unwrap().name, name("app2"));
        assert_eq!(fleet.place(Some(&name("app2")), Some(&name("app1"))).unwrap_err().kind(), ErrorKind::Conflict);
        assert_eq!(fleet.place(None, Some(&name("backup"))).unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(fleet.place(None, Some(&name("nowhere"))).unwrap_err().kind(), ErrorKind::NotFound);
    }

    #[test]
    fn images_are_built_where_the_environment_runs_unless_another_server_has_the_build_role() {
        let name = |s: &str| ServerName::parse(s).unwrap();
        let plain = Fleet::new([host("app1", &[Role::App]), host("store", &[Role::Storage])]).unwrap();
        assert_eq!(plain.builder(&name("app1")).unwrap().name, name("app1"), "no build server: where it runs");
        let fleet = Fleet::new([
            host("app1", &[Role::App]),
            host("app2", &[Role::App, Role::Build]),
            host("ci2", &[Role::Build]),
            host("ci1", &[Role::Build]),
        ])
        .unwrap();
        assert_eq!(fleet.builder(&name("app1")).unwrap().name, name("app2"), "the first build server by name");
        assert_eq!(fleet.builder(&name("app2")).unwrap().name, name("app2"), "a build server builds its own");
        assert_eq!(fleet.builder(&name("gone")).unwrap_err().kind(), ErrorKind::NotFound);
        let held: Vec<_> = fleet.image_hosts().map(|h| h.name.to_string()).collect();
        assert_eq!(held, ["app1", "app2", "ci1", "ci2"]);
        assert_eq!(plain.image_hosts().count(), 1, "a storage server holds no images");
    }

    #[test]
    fn a_single_host_holds_every_role() {
        let fleet = Fleet::single(host("local", &[]));
        for role in Role::ALL {
            assert_eq!(fleet.with_role(role).unwrap().name, ServerName::local());
        }
    }
}
