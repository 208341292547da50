//! Network namespaces and their links: made and removed with `ip` (argv
//! only), joined by a thread of this process through `setns` (rustix), which
//! is what `nsenter --net` does: only the network namespace changes, never
//! the mounts (`ip netns exec` remounts /sys, and runc then fails).

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use codeb::{Error, ErrorKind, Result};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use crate::images::run_command;

/// Where `ip netns add` puts the namespaces it names.
const NETNS_DIR: &str = "/run/netns";
/// The private range the fleets' links take their /30s from, one /24 per run.
pub(crate) const RANGE_PREFIX: [u8; 2] = [10, 231];

/// The path that names the network namespace `name`.
pub(crate) fn path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Runs `ip ARGS`; a failure quotes its output.
pub(crate) fn ip(args: &[&str]) -> Result<String> {
    let mut command = Command::new("ip");
    command.args(args);
    run_command(command, &format!("ip {}", args.join(" ")))
}

/// The names of the network namespaces `ip netns` lists.
pub(crate) fn list() -> Result<Vec<String>> {
    Ok(ip(&["netns", "list"])?.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_owned).collect())
}

/// One host's link: `root` in the root namespace at `.1` of a /30, `eth0`
/// inside `namespace` at `.2`.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    /// The namespace's name.
    pub namespace: String,
    /// The root side's interface name (at most 15 bytes).
    pub root: String,
    /// The root side's address.
    pub root_address: Ipv4Addr,
    /// The namespace side's address.
    pub address: Ipv4Addr,
}

impl Link {
    /// Makes the namespace with `lo` up and the veth pair addressed on both ends.
    pub fn create(&self) -> Result<()> {
        let ns = self.namespace.as_str();
        let (root_cidr, ns_cidr) = (format!("{}/30", self.root_address), format!("{}/30", self.address));
        // The other hosts of the fleet are reached through the root namespace, which forwards.
        let [a, b, c, _] = self.address.octets();
        let (fleet_net, via) = (format!("{a}.{b}.{c}.0/24"), self.root_address.to_string());
        ip(&["netns", "add", ns])?;
        let steps: [&[&str]; 7] = [
            &["link", "add", &self.root, "type", "veth", "peer", "name", "eth0", "netns", ns],
            &["addr", "add", &root_cidr, "dev", &self.root],
            &["link", "set", &self.root, "up"],
            &["-n", ns, "link", "set", "lo", "up"],
            &["-n", ns, "addr", "add", &ns_cidr, "dev", "eth0"],
            &["-n", ns, "link", "set", "eth0", "up"],
            &["-n", ns, "route", "add", &fleet_net, "via", &via],
        ];
        for step in steps {
            if let Err(e) = ip(step) {
                self.remove();
                return Err(e.with_context("namespace", ns));
            }
        }
        Ok(())
    }

    /// Removes the namespace and the link, by name; what is gone already is no failure.
    pub fn remove(&self) {
        remove_namespace(&self.namespace);
        if ip(&["link", "show", &self.root]).is_ok() {
            let _ = ip(&["link", "del", &self.root]);
        }
    }
}

/// Lets the root namespace forward between the hosts' links (as Podman's
/// networks need too); a machine that forwards already is left as it is.
pub(crate) fn forward_between_hosts() -> Result<()> {
    const FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(FORWARD).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    std::fs::write(FORWARD, "1").map_err(|e| {
        Error::new(ErrorKind::Unavailable, format!("cannot turn on forwarding in {FORWARD}")).with_source(e)
    })
}

/// Kills every process left in the namespace `name`, then deletes it (its
/// veth pair goes with it).
pub(crate) fn remove_namespace(name: &str) {
    if let Ok(pids) = ip(&["netns", "pids", name]) {
        for pid in pids.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
    if path(name).exists() {
        let _ = ip(&["netns", "del", name]);
    }
}

/// Runs `work` on a thread that has joined the network namespace `name`:
/// the sockets it opens and the processes it starts are that host's.
pub(crate) fn within<T: Send>(name: &str, work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    let file = File::open(path(name)).map_err(|e| {
        Error::new(ErrorKind::NotFound, "no such network namespace").with_context("namespace", name).with_source(e)
    })?;
    std::thread::scope(|scope| {
        let joined = scope.spawn(|| {
            move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network)).map_err(|e| {
                Error::new(ErrorKind::Forbidden, "cannot join the network namespace")
                    .with_context("namespace", name)
                    .with_source(std::io::Error::from(e))
            })?;
            work()
        });
        joined.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A third octet whose /24 inside [`RANGE_PREFIX`] no address or route of
/// the root namespace touches, trying `start` first.
pub(crate) fn free_subnet(start: u8) -> Result<u8> {
    let addresses = ip(&["-o", "-4", "addr", "show"])?;
    let routes = ip(&["-4", "route", "show"])?;
    let taken = |octet: u8| {
        let net = Ipv4Addr::new(RANGE_PREFIX[0], RANGE_PREFIX[1], octet, 0);
        addresses
            .lines()
            .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "inet").nth(1))
            .any(|cidr| overlaps(cidr, net))
            || routes.lines().filter_map(|l| l.split_whitespace().next()).any(|dest| overlaps(dest, net))
    };
    (0..=255u8)
        .map(|i| start.wrapping_add(i))
        .find(|o| !taken(*o))
        .ok_or_else(|| Error::new(ErrorKind::Unavailable, "every /24 of 10.231.0.0/16 is in use on this machine"))
}

/// Whether `cidr` (`a.b.c.d/len` or `a.b.c.d`; `default` never) overlaps the /24 at `net`.
fn overlaps(cidr: &str, net: Ipv4Addr) -> bool {
    let (address, len) = cidr.split_once('/').unwrap_or((cidr, "32"));
    let (Ok(address), Ok(len)) = (address.parse::<Ipv4Addr>(), len.parse::<u32>()) else {
        return false;
    };
    let shared = len.min(24);
    let mask = if shared == 0 { 0 } else { u32::MAX << (32 - shared) };
    u32::from(address) & mask == u32::from(net) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_or_address_overlaps_the_subnet_it_touches() {
        let net = Ipv4Addr::new(10, 231, 7, 0);
        assert!(overlaps("10.231.7.5/30", net));
        assert!(overlaps("10.0.0.0/8", net), "a wider route covers it");
        assert!(overlaps("10.231.7.9", net));
        assert!(!overlaps("10.231.8.1/30", net));
        assert!(!overlaps("10.88.0.0/16", net));
        assert!(!overlaps("default", net));
    }
}
