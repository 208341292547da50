//! Support for the workspace-level tests.
