//! Every conformance suite against its in-memory fake: the fakes keep the
//! same contract the real backends are held to.

use std::sync::Arc;

use async_trait::async_trait;
use codeb::fake::{
    FakeDns, FakePortProbe, FakePortRegistry, FakeProxy, FakeRuntime, FakeSecretStore, MemoryStateStore,
};
use codeb::model::{ImageRef, Port, ServerName};
use codeb::ports::ListenerOwner;
use codeb::testkit::{self, Namespace};

#[tokio::test]
async fn fake_runtime_conforms() {
    let runtime = FakeRuntime::new();
    let image = ImageRef::parse("localhost:5000/codeb/busybox:1").unwrap();
    runtime.add_registry_image(&image);
    let next = std::sync::atomic::AtomicU16::new(20000);
    let suite = testkit::runtime::RuntimeSuite {
        image,
        command: None,
        container_port: Port::new(8080).unwrap(),
        succeeding_command: vec!["/bin/busybox".to_owned(), "true".to_owned()],
        free_port: Box::new(move || Port::new(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)).unwrap()),
        print_env: None,
    };
    testkit::runtime::run(&runtime, &suite, &Namespace::random()).await;
}

#[tokio::test]
async fn fake_proxy_conforms() {
    testkit::proxy::run(&FakeProxy::new(), &Namespace::random()).await;
}

#[tokio::test]
async fn fake_dns_conforms() {
    testkit::dns::run(&FakeDns::new(), &Namespace::random()).await;
}

#[tokio::test]
async fn fake_secret_store_conforms() {
    testkit::secrets::run(&FakeSecretStore::new(), &Namespace::random()).await;
}

#[test]
fn memory_state_store_conforms() {
    testkit::state::run(&MemoryStateStore::default());
}

/// Occupies ports by telling the fake probe they listen on the local server.
struct FakeOccupier(Arc<FakePortProbe>);

struct Occupied(Arc<FakePortProbe>, Port);

impl Drop for Occupied {
    fn drop(&mut self) {
        self.0.close(&ServerName::local(), self.1);
    }
}

#[async_trait]
impl testkit::ports::PortOccupier for FakeOccupier {
    async fn occupy(&self, port: Port) -> Box<dyn Send> {
        self.0.listen(&ServerName::local(), port, ListenerOwner::Unknown);
        Box::new(Occupied(self.0.clone(), port))
    }
}

#[tokio::test]
async fn fake_port_registry_conforms() {
    let store = Arc::new(codeb::ssot::MemoryStateStore::default());
    let registry = FakePortRegistry::with_store(store, testkit::ports::suite_ranges()).unwrap();
    let occupier = FakeOccupier(registry.probe().inner().clone());
    testkit::ports::run(&registry, &occupier, &Namespace::random()).await;
}
