//! In-memory fakes of every backend trait: working, stateful implementations
//! (not mocks) with fault injection, always compiled, so the SDK's logic and
//! its failure paths are tested fast and doc examples run anywhere.

mod backends;
mod dns;
mod faults;
mod http;
mod liveness;
mod ports;
mod proxy;
mod runtime;
mod secrets;

pub use crate::ssot::MemoryStateStore;
pub use backends::FakeBackends;
pub use dns::{DNS_OPS, FakeDns};
pub use faults::Faults;
pub use http::{FakeHttpProbe, HTTP_OPS};
pub use liveness::FakeLiveness;
pub use ports::{FakePortProbe, FakePortRegistry, PORT_OPS, PROBE_OPS};
pub use proxy::{FakeProxy, PROXY_OPS};
pub use runtime::{AppBehaviour, FakeRuntime, RUNTIME_OPS};
pub use secrets::{FakeSecretStore, SECRET_OPS};
