//! The real backends of codeb: implementations of the `codeb` traits that
//! touch disks, sockets and services.
//!
//! - [`FileStateStore`]: the embedded default SSOT, one JSON file, locked and
//!   written atomically so a crash never tears it.
//! - [`LocalPortProbe`]: the local machine's listening TCP ports.
//! - [`CaddyProxy`] ([`caddy`]): the `Proxy` over Caddy's JSON admin API, one
//!   route object per host, one admin change per upstream switch.
//! - [`PowerDns`] ([`powerdns`]): the `Dns` over the PowerDNS HTTP API, every
//!   batch of record changes in one all-or-nothing PATCH.
//! - [`ReqwestHttpProbe`]: the health probe, one HTTP GET per probe.
//! - [`ProcLiveness`]: whether a lock holder still runs, from `/proc`.
//! - [`local_stack`]: Podman, Caddy, PowerDNS and a registry on loopback, for
//!   the live tests and `we local up`.
//!
//! Still to come, each behind the trait `codeb` already defines: Podman (the
//! container runtime, through its Docker-compatible socket), the encrypted
//! file secret store, and the SSH transport that lets all of them, and the
//! port probe, reach remote servers.
#![deny(missing_docs)]

pub mod caddy;
mod http;
mod http_probe;
mod liveness;
pub mod local_stack;
mod port_probe;
pub mod powerdns;
mod state_file;

pub use caddy::{CaddyConfig, CaddyProxy};
pub use http_probe::ReqwestHttpProbe;
pub use liveness::ProcLiveness;
pub use port_probe::LocalPortProbe;
pub use powerdns::{PowerDns, PowerDnsConfig};
pub use state_file::FileStateStore;
