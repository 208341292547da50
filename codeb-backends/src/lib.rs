//! The real backends of codeb: implementations of the `codeb` traits that
//! touch disks, sockets and services.
//!
//! - [`PodmanRuntime`] — the container runtime, bollard over Podman's
//!   Docker-compatible API on a unix socket ([`PodmanConfig`]). Everything it
//!   creates carries the SDK's labels; it lists only `io.codeb.managed=true`
//!   objects and removes a protected volume only when named with `force`.
//! - [`FileSecretStore`] — env vars and secrets per project environment, one
//!   XChaCha20-Poly1305 file per scope, versioned, key from a 0600 key file or
//!   an environment variable ([`SecretFileConfig`], [`KeySource`]).
//! - [`FileStateStore`] — the embedded default SSOT: one JSON file, locked,
//!   written atomically so a crash never tears it.
//! - [`LocalPortProbe`] — the local machine's listening TCP ports.
//!
//! Still to come, each behind the trait `codeb` already defines: Caddy (routes
//! and TLS through its admin API), PowerDNS (records through its HTTP API),
//! and the SSH transport that lets the runtime and the port probe reach
//! remote servers.
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
