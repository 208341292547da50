//! The MCP server (rmcp) that exposes the codeb SDK as safe, outcome-level tools
//! for AI agents will live here. Nothing is implemented yet (issue 6), so this
//! crate deliberately exposes no items.
#![deny(missing_docs)]
