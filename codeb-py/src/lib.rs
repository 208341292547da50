//! The native module `codeb._codeb` behind the Python package `codeb`.
//!
//! A thin front end over the codeb SDK, like the `we` CLI: each Python
//! method validates its inputs through the SDK's types, makes one SDK call
//! on the module's tokio runtime, and returns a typed result object. The
//! Python package (`bindings/python/python/codeb`) re-exports these classes;
//! `_codeb.pyi` there describes them, and a test keeps the two in step.
//!
//! | module | one idea |
//! |---|---|
//! | `platform` | `Platform` and `AsyncPlatform`, one macro over one list of methods, each its validated inputs and one SDK call |
//! | `connect` | the SDK platform from the platform file (`codeb_backends::connect`) or in memory |
//! | `runtime` | the tokio runtime (one per process, rebuilt after a fork, shut down at interpreter exit); blocking with the GIL released, or as an asyncio awaitable |
//! | `errors` | one exception class per `ErrorKind`, with kind and context |
//! | `events` | the sink that calls a Python progress callable with each `DeployEvent` |
//! | `results` | the result classes, one declaration each over an SDK type, and the generated stubs |
//! | `convert` | JSON values into Python objects |
#![deny(missing_docs)]

mod connect;
mod convert;
mod errors;
mod events;
mod platform;
mod results;
mod runtime;

use pyo3::prelude::*;

/// The native module: the platform classes, the result classes and the exceptions.
#[pymodule]
fn _codeb(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(runtime::_drain, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<platform::Platform>()?;
    m.add_class::<platform::AsyncPlatform>()?;
    results::register(m)?;
    errors::register(m)?;
    Ok(())
}
