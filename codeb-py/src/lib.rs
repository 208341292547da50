//! The pyo3 crate behind the Python module `codeb` will live here, built by
//! maturin from `bindings/python/`. Nothing is implemented yet (issue 7), so
//! this crate deliberately exposes no items.
#![deny(missing_docs)]
