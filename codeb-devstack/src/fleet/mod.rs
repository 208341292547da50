//! A fleet on one machine, for the tests of codeb over SSH: hosts in network
//! namespaces, each with a veth pair to the root namespace, addresses from
//! 10.231.0.0/16 (the hosts of one fleet reach each other through the root
//! namespace) and its own sshd (key-only, its own host key); hosts may also
//! run a [`LocalStack`] each (Podman with its own container storage, Caddy
//! and PowerDNS on its loopback, and a registry at the host's address over
//! TLS, with a certificate from the fleet's own [`TestAuthority`] that every
//! stack's Podman trusts, so one host's images can be pulled by another).
//!
//! Needs root (namespaces, links, sshd), `ip` (iproute2) and OpenSSH.
//! Every run's names are its own (`codeb-fleet-<pid>-<tag>-<host>`, links
//! `cf<tag><n>`), so runs may overlap; a [`Fleet`] removes what it made,
//! by name, when dropped, and [`Fleet::up`] first removes what runs whose
//! process is gone left behind ([`reap_stale`]).
//!
//! A host's processes are started by a thread of this process that has
//! joined the host's network namespace (`setns`, as `nsenter --net` does),
//! so they inherit it; nothing else of this process changes namespace.

mod netns;
mod sshd;

use std::fs::{File, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use codeb::model::ImageRef;
use codeb::{Error, ErrorKind, Result};

use crate::binaries::{self, SearchPath};
use crate::daemon::{self, ProcessId};
use crate::images::PodmanCli;
use crate::tls::TestAuthority;
use crate::{LocalStack, LocalStackOptions};

use netns::Link;

/// The first part of every namespace a fleet makes.
pub const NAMESPACE_PREFIX: &str = "codeb-fleet-";
/// The port each host's sshd listens on, at the host's address.
pub const SSH_PORT: u16 = 22;
/// The lock that keeps two runs from picking the same /24 at once.
const SUBNET_LOCK: &str = "/run/codeb-fleet.lock";
/// How long a host's sshd has to stop.
const SSHD_STOP: Duration = Duration::from_secs(2);

/// One host of a fleet.
#[derive(Debug)]
pub struct FleetHost {
    name: String,
    link: Link,
    dir: PathBuf,
    sshd: Mutex<Option<ProcessId>>,
}

impl FleetHost {
    /// Its name in the fleet (`app`, `storage`...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of its network namespace.
    pub fn namespace(&self) -> &str {
        &self.link.namespace
    }

    /// The root namespace's end of its veth pair.
    pub fn root_link(&self) -> &str {
        &self.link.root
    }

    /// Its address, which the root namespace reaches through the veth pair.
    pub fn address(&self) -> Ipv4Addr {
        self.link.address
    }

    /// Where its sshd listens.
    pub fn ssh_address(&self) -> SocketAddr {
        SocketAddr::from((self.address(), SSH_PORT))
    }

    /// `root@<address>:22`, the `ssh` of its `[servers.NAME]` section.
    pub fn ssh_target(&self) -> String {
        format!("root@{}", self.ssh_address())
    }

    /// Its sshd's public host key, in OpenSSH's format.
    pub fn host_key(&self) -> Result<String> {
        let path = self.sshd_dir().join("host_ed25519.pub");
        std::fs::read_to_string(&path).map_err(|e| {
            Error::new(ErrorKind::NotFound, "cannot read the host key")
                .with_context("path", path.display())
                .with_source(e)
        })
    }

    /// Its directory: its sshd's files, its stack's data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sshd_dir(&self) -> PathBuf {
        self.dir.join("sshd")
    }

    fn stack_dir(&self) -> PathBuf {
        self.dir.join("stack")
    }

    fn tls_dir(&self) -> PathBuf {
        self.dir.join("tls")
    }

    /// Its stack's Podman runroot, short as Podman wants it: `/run/<root link>`.
    fn runroot(&self) -> PathBuf {
        Path::new("/run").join(self.root_link())
    }

    /// Runs `work` inside the host's network namespace: the sockets it opens
    /// and the processes it starts are the host's.
    pub fn within<T: Send>(&self, work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        netns::within(self.namespace(), work)
    }

    /// Starts its sshd (again), waiting until it listens.
    pub fn start_sshd(&self) -> Result<()> {
        let (dir, listen) = (self.sshd_dir(), self.ssh_address());
        let program = SearchPath::new(None).require(binaries::SSHD)?;
        let process = self.within(|| sshd::start(&program, &dir, listen))?;
        *self.sshd.lock().unwrap_or_else(|p| p.into_inner()) = Some(process);
        Ok(())
    }

    /// Kills its sshd and every session it serves (SIGKILL), as a crash
    /// would: open connections drop, new ones are refused.
    pub fn kill_sshd(&self) -> Result<()> {
        self.sshd.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.kill_sshd_processes(None)
    }

    /// Kills the processes serving its open SSH sessions (SIGKILL) but not
    /// the listening sshd, as a cut connection would: open sessions drop,
    /// and a new connection is served.
    pub fn drop_sessions(&self) -> Result<()> {
        let listener = self.sshd.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|p| p.pid);
        self.kill_sshd_processes(listener)
    }

    /// Kills every sshd process in its namespace but `spare`.
    fn kill_sshd_processes(&self, spare: Option<u32>) -> Result<()> {
        let pids = netns::ip(&["netns", "pids", self.namespace()])?;
        for pid in pids.split_whitespace().filter_map(|p| p.parse::<u32>().ok()).filter(|p| Some(*p) != spare) {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if let (true, Some(pid)) = (comm.trim() == "sshd", rustix::process::Pid::from_raw(pid as i32)) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        Ok(())
    }

    fn stop_sshd(&self) {
        if let Some(process) = self.sshd.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = daemon::stop(&process, SSHD_STOP, SSHD_STOP);
        }
    }
}

/// Hosts in network namespaces, removed when dropped.
#[derive(Debug)]
pub struct Fleet {
    dir: PathBuf,
    client_key: PathBuf,
    hosts: Vec<FleetHost>,
    /// The stacks, by the name of their host.
    stacks: Vec<(String, LocalStack)>,
}

impl Fleet {
    /// Whether this machine can make a fleet: root, `ip`, sshd and
    /// ssh-keygen. The error names what is missing.
    pub fn check_requirements() -> Result<()> {
        if !rustix::process::geteuid().is_root() {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "a fleet in network namespaces needs root (network namespaces, veth links, sshd)",
            ));
        }
        let search = SearchPath::new(None);
        let missing: Vec<_> =
            binaries::FLEET_NEEDS.into_iter().filter(|needed| search.find(needed.name).is_none()).collect();
        if missing.is_empty() { Ok(()) } else { Err(binaries::missing_error(&missing)) }
    }

    /// Makes the hosts `names` under a fresh directory in `parent`, each with
    /// its sshd running, and a [`LocalStack`] on each host `stacks` names,
    /// with container storage of its own and its registry over TLS at the
    /// host's address. Removes what dead runs left first. A failure removes
    /// what this call made.
    pub fn up(parent: &Path, names: &[&str], stacks: &[&str]) -> Result<Fleet> {
        Fleet::check_requirements()?;
        reap_stale();
        let tag = crate::api_key::random_hex(3).map_err(|e| io("cannot pick the run's name", parent, e))?;
        let run = format!("{NAMESPACE_PREFIX}{}-{tag}", std::process::id());
        let dir = parent.join(&run);
        std::fs::create_dir_all(&dir).map_err(|e| io("cannot create the fleet's directory", &dir, e))?;
        let mut fleet = Fleet { client_key: dir.join("client"), dir, hosts: Vec::new(), stacks: Vec::new() };
        sshd::keygen(&fleet.client_key)?;
        let client_public = std::fs::read_to_string(fleet.client_key.with_extension("pub"))
            .map_err(|e| io("cannot read the client key", &fleet.client_key, e))?;
        {
            let _lock = subnet_lock()?;
            let start = crate::api_key::random_hex(1).ok().and_then(|h| u8::from_str_radix(&h, 16).ok()).unwrap_or(0);
            let octet = netns::free_subnet(start)?;
            for (i, name) in names.iter().enumerate() {
                let base = u8::try_from(4 * i).map_err(|_| Error::invalid("a fleet has at most 64 hosts"))?;
                let [a, b] = netns::RANGE_PREFIX;
                let link = Link {
                    namespace: format!("{run}-{name}"),
                    root: format!("cf{tag}{i}"),
                    root_address: Ipv4Addr::new(a, b, octet, base + 1),
                    address: Ipv4Addr::new(a, b, octet, base + 2),
                };
                link.create()?;
                let host =
                    FleetHost { name: (*name).to_owned(), dir: fleet.dir.join(name), link, sshd: Mutex::new(None) };
                fleet.hosts.push(host);
            }
        }
        netns::forward_between_hosts()?;
        for host in &fleet.hosts {
            sshd::prepare(&host.sshd_dir(), host.ssh_address(), &client_public)?;
            host.start_sshd()?;
        }
        let authority = TestAuthority::create(&fleet.trust_dir())?;
        for name in stacks {
            let host = fleet.host(name)?;
            let ip = std::net::IpAddr::V4(host.address());
            let options = LocalStackOptions::new(host.stack_dir())
                .with_own_container_storage(host.runroot())
                .with_registry_over_tls(ip, authority.issue(ip, &host.tls_dir())?)
                .trusting(authority.trust_dir());
            let stack = host.within(|| LocalStack::up(&options))?;
            fleet.stacks.push(((*name).to_owned(), stack));
        }
        Ok(fleet)
    }

    /// The directory holding only the certificate of the fleet's authority,
    /// which every stack's Podman trusts.
    pub fn trust_dir(&self) -> PathBuf {
        self.dir.join("trust")
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> Result<&FleetHost> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("the fleet has no host {name}")))
    }

    /// Every host, in the order `up` was given.
    pub fn hosts(&self) -> &[FleetHost] {
        &self.hosts
    }

    /// The private key every host's sshd accepts (for root).
    pub fn client_key(&self) -> &Path {
        &self.client_key
    }

    /// The stack of `host`, if `up` was asked to run one there.
    pub fn stack(&self, host: &str) -> Option<&LocalStack> {
        self.stacks.iter().find(|(name, _)| name == host).map(|(_, stack)| stack)
    }

    /// Copies `images` from the Podman service on `from` (the machine's) into
    /// the own storage of `host`'s stack: `podman save` of them into one
    /// archive, then `podman load` of it.
    pub fn copy_images(&self, host: &str, from: &Path, images: &[ImageRef]) -> Result<()> {
        let stack = self.stack(host).ok_or_else(|| Error::invalid(format!("host {host} runs no stack")))?;
        crate::images::copy_images(from, &stack.endpoints().podman_socket, images, &self.dir.join("images.tar"))
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for (_, stack) in self.stacks.drain(..) {
            // Containers run in namespaces of their own: stop them while their Podman still answers.
            if let Ok(podman) = PodmanCli::new(&stack.endpoints().podman_socket) {
                let _ = podman.run(&["rm", "--all", "--force", "--time", "0"]);
            }
            let _ = LocalStack::down(stack.dir());
        }
        for host in &self.hosts {
            host.stop_sshd();
            host.link.remove();
            unmount_under(&host.runroot());
            let _ = std::fs::remove_dir_all(host.runroot());
        }
        unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes the namespaces, links and mounts of fleets whose process is gone
/// (a killed test run), by their names; returns the namespaces removed.
pub fn reap_stale() -> Vec<String> {
    let mut reaped = Vec::new();
    for namespace in netns::list().unwrap_or_default() {
        let Some(run) = stale_run(&namespace) else { continue };
        netns::remove_namespace(&namespace);
        let tag = run.rsplit('-').next().unwrap_or_default();
        for i in 0..64 {
            let root = format!("cf{tag}{i}");
            if netns::ip(&["link", "show", &root]).is_ok() {
                let _ = netns::ip(&["link", "del", &root]);
            }
            let runroot = Path::new("/run").join(&root);
            unmount_under(&runroot);
            let _ = std::fs::remove_dir_all(runroot);
        }
        let mounts = mount_points().into_iter().filter(|m| m.to_string_lossy().contains(&format!("/{run}/")));
        for mount in mounts {
            let _ = rustix::mount::unmount(&mount, rustix::mount::UnmountFlags::DETACH);
        }
        reaped.push(namespace);
    }
    reaped
}

/// `codeb-fleet-<pid>-<tag>` of a namespace whose run's process is gone.
fn stale_run(namespace: &str) -> Option<String> {
    let rest = namespace.strip_prefix(NAMESPACE_PREFIX)?;
    let mut parts = rest.splitn(3, '-');
    let (pid, tag) = (parts.next()?, parts.next()?);
    let alive = pid.parse::<u32>().is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
    (!alive).then(|| format!("{NAMESPACE_PREFIX}{pid}-{tag}"))
}

/// Unmounts what is mounted under `dir` (a host's container storage), deepest first.
fn unmount_under(dir: &Path) {
    let mut mounts: Vec<PathBuf> = mount_points().into_iter().filter(|m| m.starts_with(dir)).collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    for mount in mounts {
        let _ = rustix::mount::unmount(&mount, rustix::mount::UnmountFlags::DETACH);
    }
}

/// This process's mount points, from `/proc/self/mountinfo` (octal escapes undone).
fn mount_points() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines().filter_map(|l| l.split(' ').nth(4)).map(|m| PathBuf::from(unescape_octal(m))).collect()
}

/// `\040` and the like, as mountinfo writes space, tab, newline and backslash, made the bytes again.
fn unescape_octal(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        match rest.get(i + 1..i + 4).and_then(|o| u8::from_str_radix(o, 8).ok()) {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The lock on choosing a /24, held while a run makes its links.
fn subnet_lock() -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(SUBNET_LOCK)
        .map_err(|e| io("cannot open the fleets' lock", Path::new(SUBNET_LOCK), e))?;
    file.lock().map_err(|e| io("cannot take the fleets' lock", Path::new(SUBNET_LOCK), e))?;
    Ok(file)
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Unavailable, what).with_context("path", path.display()).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_is_stale_when_the_process_of_its_run_is_gone() {
        let mine = format!("{NAMESPACE_PREFIX}{}-a1b2c3-app", std::process::id());
        assert_eq!(stale_run(&mine), None, "this process runs");
        let dead = format!("{NAMESPACE_PREFIX}{}-a1b2c3-app", u32::MAX);
        assert_eq!(stale_run(&dead), Some(format!("{NAMESPACE_PREFIX}{}-a1b2c3", u32::MAX)));
        assert_eq!(stale_run("netns-07ac9af6"), None, "only a fleet's namespaces");
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_octal(r"/tmp/a\040b/c\134d"), r"/tmp/a b/c\d");
        assert_eq!(unescape_octal("/plain"), "/plain");
    }
}
