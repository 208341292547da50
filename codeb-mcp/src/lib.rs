//! The codeb MCP server: the SDK as safe, outcome-level tools for AI agents.
//!
//! A thin front end on [`codeb`]: each tool validates its arguments through
//! the SDK's own types, calls one SDK function, and answers with the SDK's
//! own result type, whose JSON schema (codeb's `schemars` feature, made
//! standard JSON Schema in one place) is the tool's `outputSchema`.
//! Destructive tools change nothing without `force: true`; failures are tool
//! errors carrying the evidence as text (never `structuredContent`, which
//! clients check against the output schema); long calls send progress built
//! from the engine's events; secret values are never shown; app output
//! (logs, health evidence, failure reasons) is marked untrusted. The SSOT
//! is also a resource. A server whose platform cannot be built still
//! starts, and every tool says why.
//!
//! It speaks stdio ([`launch::Transport::Stdio`]) or streamable HTTP behind a
//! bearer token, Host and Origin checks ([`http`]). Start it with the
//! `codeb-mcp` binary or `we mcp serve`; both call [`serve`].
//!
//! ```
//! use codeb::engine::Platform;
//! use codeb_mcp::CodebServer;
//!
//! let server = CodebServer::new(Platform::memory());
//! assert!(server.tools().iter().any(|t| t.name == "deploy"));
//! ```
#![deny(missing_docs)]

mod args;
mod failure;
pub mod http;
mod input;
pub mod launch;
mod output;
mod progress;
mod resources;
mod roots;
mod server;
mod stdio;
mod tools;

pub use args::ServeArgs;
pub use failure::UNTRUSTED_NOTICE;
pub use launch::{PlatformSource, ServeOptions, Transport, serve};
pub use roots::ProjectRoots;
pub use server::CodebServer;
