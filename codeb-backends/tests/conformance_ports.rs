//! The port registry conformance suite against the real embedded default: the
//! SSOT in a file and the local socket table, with ports made to listen by
//! real TCP listeners.

use std::net::TcpListener;
use std::sync::Arc;

use async_trait::async_trait;
use codeb::model::Port;
use codeb::ports::SsotPortRegistry;
use codeb::testkit::{self, Namespace};
use codeb_backends::transport::LocalTransport;
use codeb_backends::{FileStateStore, ProcPortProbe};

/// Makes a port listen on loopback with a real socket.
struct TcpOccupier;

#[async_trait]
impl testkit::ports::PortOccupier for TcpOccupier {
    async fn occupy(&self, port: Port) -> Box<dyn Send> {
        // If another process already listens there, the port is occupied all the same.
        Box::new(TcpListener::bind(("127.0.0.1", port.get())).ok())
    }
}

#[tokio::test]
async fn the_file_backed_registry_with_the_local_probe_keeps_the_port_registry_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStateStore::new(dir.path().join("ssot.json")));
    let registry = SsotPortRegistry::new(
        store,
        Arc::new(ProcPortProbe::new(Arc::new(LocalTransport::new()))),
        testkit::ports::suite_ranges(),
    )
    .unwrap();
    testkit::ports::run(&registry, &TcpOccupier, &Namespace::random()).await;
}
