//! Real backends.
