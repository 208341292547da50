//! One truth for a team: the SSOT and the secret store of a fleet kept on
//! its control server, and every client reaching them there.
//!
//! The engine runs where `we` runs (a laptop, a CI runner, an agent's
//! host); only its state goes to the control server. There, `we control
//! serve` ([`serve_stdio`]) keeps the same files a single machine keeps (a
//! [`FileStateStore`](crate::FileStateStore) with its cross-process lock, a
//! [`FileSecretStore`](crate::FileSecretStore) with its key) and answers one
//! client over its standard input and output: each client starts its own
//! endpoint through the SSH transport ([`crate::transport::Transport::spawn`]),
//! so its requests and every secret value travel only inside SSH, the
//! secret key never leaves the control server, and the endpoints of all
//! clients serialise on the one file lock. The locks and the port allocator
//! live in the SSOT, so every client sees one revision, one lock per
//! environment and one allocator. See ARCHITECTURE.md for why this design.

mod client;
pub(crate) mod protocol;
mod serve;

pub use client::{ControlClient, RemoteSecretStore, RemoteStateStore};
pub use serve::{ControlPaths, serve, serve_stdio};
