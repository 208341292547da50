//! codeb: deploy containerised apps to your own servers.
//!
//! This crate is the SDK every front end shares: the validated domain model
//! ([`model`]), the backend traits ([`runtime::ContainerRuntime`],
//! [`proxy::Proxy`], [`dns::Dns`], [`secrets::SecretStore`],
//! [`ports::PortRegistry`]), the single source of truth ([`ssot`]), and
//! in-memory fakes of every trait ([`fake`]). It does no network or process
//! I/O of its own; the real backends live in `codeb-backends`.
//!
//! ```
//! use codeb::fake::FakePortRegistry;
//! use codeb::model::{Environment, ProjectName, Service};
//! use codeb::ports::{PortKey, PortRegistry};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> codeb::Result<()> {
//! let ports = FakePortRegistry::new();
//! let key = PortKey::new(ProjectName::parse("shop")?, Environment::Staging, Service::App);
//! let port = ports.allocate(&key).await?;
//! assert_eq!(port.get(), 3000); // the lowest free port of staging's app range
//! assert_eq!(ports.allocate(&key).await?, port); // asking again returns the same port
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod config;
pub mod dns;
pub mod engine;
pub mod envfile;
pub mod error;
pub mod fake;
pub mod faults;
pub mod fleet;
pub mod model;
pub mod ops;
pub mod ports;
pub mod project;
pub mod proxy;
pub mod redact;
pub mod releases;
pub mod runtime;
#[cfg(feature = "schemars")]
pub mod schema;
pub mod secrets;
pub mod ssot;
#[cfg(feature = "testkit")]
pub mod testkit;
mod text;
#[cfg(test)]
mod text_tests;
pub mod tomlfile;

pub use error::{Error, ErrorKind, Result};
