//! In-memory fakes of every backend trait: working, stateful implementations
//! (not mocks), always compiled, so the SDK's logic is tested fast and doc
//! examples run anywhere. [`FakeBackends`] puts each behind the fault layer
//! ([`crate::faults::Faulty`]), so the failure paths are tested fast too.

mod backends;
mod dns;
mod doctor;
mod http;
mod liveness;
mod ports;
mod proxy;
mod runtime;
mod secrets;

pub use crate::ssot::MemoryStateStore;
pub use backends::FakeBackends;
pub use dns::FakeDns;
pub use doctor::FakeDoctor;
pub use http::FakeHttpProbe;
pub use liveness::FakeLiveness;
pub use ports::{FakePortProbe, FakePortRegistry};
pub use proxy::FakeProxy;
pub use runtime::{AppBehaviour, CommandScript, FakeRuntime};
pub use secrets::FakeSecretStore;
