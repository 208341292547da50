//! Building the SDK's platform: from the platform file, through the one
//! constructor every front end uses, or in memory.

use std::path::PathBuf;

use codeb::engine::Platform as Sdk;
use pyo3::prelude::*;

use crate::errors::IntoPyResult;
use crate::runtime::runtime;

/// The platform of the platform file found the way the CLI finds it: `path`,
/// else `$CODEB_CONFIG`, else `$XDG_CONFIG_HOME/codeb/platform.toml` (or
/// `~/.config/...`); and that file's path.
pub(crate) fn from_config(py: Python<'_>, path: Option<PathBuf>) -> PyResult<(Sdk, PathBuf)> {
    let runtime = runtime()?;
    py.detach(|| {
        // Backend clients are made inside the runtime they will run on.
        let _context = runtime.enter();
        codeb_backends::connect_discovered(path.as_deref(), "python")
    })
    .py_err(py)
}

/// A whole platform in memory, on the SDK's fakes.
pub(crate) fn memory() -> PyResult<Sdk> {
    let runtime = runtime()?;
    let _context = runtime.enter();
    Ok(Sdk::memory())
}
