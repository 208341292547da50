//! The real backends of codeb: implementations of the `codeb` traits that
//! touch disks, sockets and services.
//!
//! Every backend that reaches a server does so through one
//! [`Transport`](transport::Transport) ([`transport`]): connect to a unix
//! socket or a TCP address, run an argv, read or write a file, all on that
//! server. [`LocalTransport`](transport::LocalTransport) is the machine codeb
//! runs on; [`connect`] builds one and hands it to every backend.
//!
//! - [`PodmanRuntime`]: the container runtime, bollard over Podman's
//!   Docker-compatible API on a unix socket ([`PodmanConfig`]). Everything it
//!   creates carries the SDK's labels; it lists only `io.codeb.managed=true`
//!   objects and removes a protected volume only when named with `force`.
//! - [`CaddyProxy`] ([`caddy`]): the `Proxy` over Caddy's JSON admin API, one
//!   route object per host, one admin change per upstream switch.
//! - [`PowerDns`] ([`powerdns`]): the `Dns` over the PowerDNS HTTP API, every
//!   batch of record changes in one all-or-nothing PATCH.
//! - [`FileSecretStore`]: env vars and secrets per project environment, one
//!   XChaCha20-Poly1305 file per scope, versioned, key from a 0600 key file or
//!   an environment variable ([`SecretFileConfig`], [`KeySource`]).
//! - [`FileStateStore`]: the embedded default SSOT, one JSON file, locked and
//!   written atomically so a crash never tears it.
//! - [`ProcPortProbe`]: a server's listening TCP ports, from its `/proc/net/tcp{,6}`.
//! - [`TransportHttpProbe`]: the health probe, one HTTP GET per probe from
//!   the release's server.
//! - [`ProcLiveness`]: whether a lock holder still runs, from `/proc/<pid>/stat`.
//! - [`connect`]: the one constructor of a [`codeb::engine::Platform`] from a
//!   platform file, which every front end uses.
//!
//! The local stack that runs these services on loopback for the live tests
//! and `we local` is not here: it is the crate `codeb-devstack`, which this
//! crate does not depend on.
//!
//! Still to come: the SSH transport (russh), which lets the same backends
//! reach remote servers.
#![deny(missing_docs)]

mod atomic_file;
pub mod caddy;
mod connect;
pub mod control;
mod doctor;
mod http;
mod http_probe;
mod keys;
mod liveness;
mod podman;
mod port_probe;
pub mod powerdns;
mod secret_file;
pub mod servers;
pub mod ssh_keys;
mod state_file;
pub mod transport;

pub use caddy::{CaddyConfig, CaddyProxy};
pub use connect::{connect, connect_discovered};
pub use doctor::TransportDoctor;
pub use http_probe::TransportHttpProbe;
pub use liveness::ProcLiveness;
pub use podman::{PackedContext, PodmanConfig, PodmanRuntime, RegistryLogin, Ulimit, pack_build_context};
pub use port_probe::ProcPortProbe;
pub use powerdns::{PowerDns, PowerDnsConfig};
pub use secret_file::{DEFAULT_KEEP_VERSIONS, FileSecretStore, KEY_BYTES, KeySource, SecretFileConfig, SecretKey};
pub use state_file::FileStateStore;
