//! Free loopback ports for the stack's listeners, chosen by the kernel, and
//! kept in `<dir>/ports.json` so the next `up` in the directory comes back on
//! the same ones (and its platform file stays true) while they are free.
//!
//! Each port is held open until all are chosen, so they differ from each
//! other; they are released just before the services start, which leaves a
//! short window in which another process could take one (a service that then
//! fails to bind says so in its log, which `up` reports).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;

use crate::atomic::replace_owner_only;

/// The file in the data directory that remembers the stack's ports.
pub(crate) const PORTS_FILE: &str = "ports.json";

/// How many times to look for a port that is free for both TCP and UDP.
const DNS_PORT_ATTEMPTS: usize = 50;

/// The loopback ports of one stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StackPorts {
    /// Caddy's admin API.
    pub caddy_admin: SocketAddr,
    /// Reserved for the HTTP server codeb configures in Caddy (nothing listens on it at first).
    pub http: SocketAddr,
    /// PowerDNS's DNS listener (UDP and TCP).
    pub pdns_dns: SocketAddr,
    /// PowerDNS's webserver and API.
    pub pdns_api: SocketAddr,
    /// The registry.
    pub registry: SocketAddr,
}

/// Picks five distinct free loopback ports, the DNS one free for UDP too.
fn pick() -> io::Result<StackPorts> {
    let mut held: Vec<TcpListener> = Vec::new();
    let mut tcp = || -> io::Result<SocketAddr> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        held.push(listener);
        Ok(addr)
    };
    let caddy_admin = tcp()?;
    let http = tcp()?;
    let pdns_api = tcp()?;
    let registry = tcp()?;
    let mut pdns_dns = None;
    let mut udp_held = Vec::new();
    for _ in 0..DNS_PORT_ATTEMPTS {
        let addr = tcp()?;
        if let Ok(udp) = UdpSocket::bind(addr) {
            udp_held.push(udp);
            pdns_dns = Some(addr);
            break;
        }
    }
    let pdns_dns = pdns_dns.ok_or_else(|| io::Error::other("no loopback port is free for both TCP and UDP"))?;
    Ok(StackPorts { caddy_admin, http, pdns_dns, pdns_api, registry })
}

/// The ports the last stack in `dir` used, if they are all free again; else new ones.
pub(crate) fn pick_in(dir: &Path) -> io::Result<StackPorts> {
    let remembered = std::fs::read(dir.join(PORTS_FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok());
    match remembered {
        Some(ports) if all_free(&ports) => Ok(ports),
        _ => pick(),
    }
}

/// Remembers `ports` as the ports of the stack in `dir`.
pub(crate) fn remember(dir: &Path, ports: &StackPorts) -> io::Result<()> {
    replace_owner_only(&dir.join(PORTS_FILE), &serde_json::to_vec_pretty(ports).map_err(io::Error::other)?)
}

/// Whether every port can be bound now (the DNS one for UDP too).
fn all_free(ports: &StackPorts) -> bool {
    let tcp = [ports.caddy_admin, ports.http, ports.pdns_api, ports.registry, ports.pdns_dns];
    let held: io::Result<Vec<TcpListener>> = tcp.iter().map(TcpListener::bind).collect();
    held.is_ok() && UdpSocket::bind(ports.pdns_dns).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_ports_are_distinct_loopback_ports_and_free_afterwards() {
        let ports = pick().unwrap();
        let all = [ports.caddy_admin, ports.http, ports.pdns_dns, ports.pdns_api, ports.registry];
        assert_eq!(all.iter().map(|a| a.port()).collect::<BTreeSet<_>>().len(), all.len());
        for addr in all {
            assert!(addr.ip().is_loopback());
            TcpListener::bind(addr).unwrap();
        }
        UdpSocket::bind(ports.pdns_dns).unwrap();
    }

    #[test]
    fn remembered_ports_come_back_while_free_and_new_ones_replace_a_taken_one() {
        let dir = tempfile::tempdir().unwrap();
        let first = pick_in(dir.path()).unwrap();
        remember(dir.path(), &first).unwrap();
        assert_eq!(pick_in(dir.path()).unwrap(), first);
        let _taken = TcpListener::bind(first.http).unwrap();
        assert_ne!(pick_in(dir.path()).unwrap().http, first.http);
    }
}
