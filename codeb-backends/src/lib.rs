//! The real backends of codeb: implementations of the `codeb` traits that
//! touch disks, sockets and services.
//!
//! Today the crate holds the embedded default SSOT, [`FileStateStore`] (one
//! JSON file, locked, written atomically so a crash never tears it), and
//! [`LocalPortProbe`], which reads the local machine's listening TCP ports.
//!
//! Still to come, each behind the trait `codeb` already defines: Podman (the
//! container runtime, through its Docker-compatible socket), Caddy (routes and
//! TLS through its admin API), PowerDNS (records through its HTTP API), the
//! encrypted file secret store, and the SSH transport that lets all of them,
//! and the port probe, reach remote servers.
#![deny(missing_docs)]

mod atomic_file;
mod podman;
mod port_probe;
mod secret_file;
mod state_file;

pub use podman::{PodmanConfig, PodmanRuntime, Ulimit};
pub use port_probe::LocalPortProbe;
pub use secret_file::{DEFAULT_KEEP_VERSIONS, FileSecretStore, KEY_BYTES, KeySource, SecretFileConfig, SecretKey};
pub use state_file::FileStateStore;
