//! The `we` CLI over the codeb SDK will live here: clap parsing, one SDK call per
//! command, one printer. Nothing is implemented yet (issue 5), so this crate
//! deliberately exposes no items and builds no binary.
#![deny(missing_docs)]
