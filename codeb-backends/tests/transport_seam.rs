//! Every backend that reaches a server does it through its transport: each
//! is built over a transport that records its calls (and passes them on to
//! the local machine), used once, and the recording must show the socket it
//! connected to or the file it read.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use codeb::Result;
use codeb::dns::Dns;
use codeb::engine::{HttpProbe, Liveness, ProbeRequest};
use codeb::model::HealthPath;
use codeb::model::{DomainName, Port, ServerName};
use codeb::ports::PortProbe;
use codeb::proxy::Proxy;
use codeb::runtime::{ContainerRuntime, LabelFilter};
use codeb_backends::transport::{Command, Endpoint, LocalTransport, Output, Stream, Transport};
use codeb_backends::{
    CaddyConfig, CaddyProxy, PodmanConfig, PodmanRuntime, PowerDns, PowerDnsConfig, ProcLiveness, ProcPortProbe,
    TransportHttpProbe,
};
use serde_json::json;
use support::scripted_server::{Reply, ScriptedServer};

/// The local machine, with a log of every call made to it.
#[derive(Debug, Default)]
struct Recording {
    local: LocalTransport,
    calls: Mutex<Vec<String>>,
}

impl Recording {
    fn new() -> Arc<Self> {
        Arc::new(Recording::default())
    }

    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Transport for Recording {
    fn server(&self) -> &ServerName {
        self.local.server()
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Box<dyn Stream>> {
        self.record(format!("connect {endpoint}"));
        self.local.connect(endpoint).await
    }

    async fn run(&self, command: &Command) -> Result<Output> {
        self.record(format!("run {:?}", command.argv()));
        self.local.run(command).await
    }

    async fn spawn(&self, command: &Command) -> Result<Box<dyn Stream>> {
        self.record(format!("spawn {:?}", command.argv()));
        self.local.spawn(command).await
    }

    async fn read_file(&self, path: &Path) -> Result<Vec<u8>> {
        self.record(format!("read {}", path.display()));
        self.local.read_file(path).await
    }

    async fn write_file(&self, path: &Path, contents: &[u8], mode: u32) -> Result<()> {
        self.record(format!("write {} {mode:o}", path.display()));
        self.local.write_file(path, contents, mode).await
    }
}

#[tokio::test]
async fn caddy_reaches_its_admin_api_through_the_transport() {
    let apps = json!({"http": {"servers": {}}});
    let server = ScriptedServer::start(vec![Reply::json(200, apps)]).await;
    let transport = Recording::new();
    let config = CaddyConfig::new(server.url()).with_listen(["127.0.0.1:8080"]).with_automatic_https(false);
    let proxy = CaddyProxy::new(transport.clone(), config).unwrap();
    assert_eq!(proxy.list_routes().await.unwrap(), Vec::new());
    assert_eq!(transport.calls(), [format!("connect tcp:{}", server.addr())]);
    assert_eq!(server.requests()[0].header("Host"), Some(server.addr().to_string().as_str()));
}

#[tokio::test]
async fn powerdns_reaches_its_api_through_the_transport() {
    let server = ScriptedServer::start(vec![Reply::json(200, json!({"rrsets": []}))]).await;
    let transport = Recording::new();
    let dns = PowerDns::new(transport.clone(), PowerDnsConfig::new(server.url(), "key")).unwrap();
    let zone = DomainName::parse("shop.codeb.test").unwrap();
    assert_eq!(dns.list_records(&zone).await.unwrap(), Vec::new());
    assert_eq!(transport.calls(), [format!("connect tcp:{}", server.addr())]);
}

#[tokio::test]
async fn podman_reaches_its_socket_through_the_transport() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("podman.sock");
    let _server = ScriptedServer::start_unix(&socket, vec![Reply::json(200, json!([]))]).await;
    let transport = Recording::new();
    let runtime = PodmanRuntime::connect(transport.clone(), PodmanConfig::new(&socket)).unwrap();
    assert!(transport.calls().is_empty(), "nothing is reached before the first call");
    assert_eq!(runtime.list_containers(&LabelFilter::new()).await.unwrap(), Vec::new());
    assert_eq!(transport.calls(), [format!("connect unix:{}", socket.display())]);
}

#[tokio::test]
async fn the_port_probe_reads_the_socket_tables_through_the_transport() {
    let transport = Recording::new();
    ProcPortProbe::new(transport.clone()).listeners(&ServerName::local()).await.unwrap();
    assert_eq!(transport.calls(), ["read /proc/net/tcp", "read /proc/net/tcp6"]);
}

#[tokio::test]
async fn the_health_probe_connects_to_the_release_through_the_transport() {
    let server = ScriptedServer::serving("up").await;
    let transport = Recording::new();
    let request = ProbeRequest {
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: Port::new(server.addr().port()).unwrap(),
        path: HealthPath::parse("/health").unwrap(),
        timeout: Duration::from_secs(5),
    };
    let response = TransportHttpProbe::new(transport.clone()).get(&request).await.unwrap();
    assert_eq!((response.status, response.body.as_str()), (200, "up"));
    assert_eq!(transport.calls(), [format!("connect tcp:{}", server.addr())]);
    assert_eq!(server.requests()[0].path, "/health");
}

#[tokio::test]
async fn lock_liveness_reads_the_process_table_through_the_transport() {
    let transport = Recording::new();
    let pid = std::process::id();
    assert!(ProcLiveness::new(transport.clone()).is_alive(pid).await.unwrap());
    assert_eq!(transport.calls(), [format!("read /proc/{pid}/stat")]);
}

#[tokio::test]
async fn a_backend_never_reaches_past_its_transport() {
    // The transport refuses everything: a backend that opened its own socket would still succeed.
    let server = ScriptedServer::serving("{}").await;
    let refusing = Arc::new(Refusing(ServerName::local()));
    let proxy = CaddyProxy::new(refusing.clone(), CaddyConfig::new(server.url())).unwrap();
    assert_eq!(proxy.list_routes().await.unwrap_err().kind(), codeb::ErrorKind::Unavailable);
    let err = ProcPortProbe::new(refusing).listeners(&ServerName::local()).await.unwrap_err();
    assert_eq!(err.kind(), codeb::ErrorKind::Unavailable, "{err}");
    assert!(server.requests().is_empty(), "the server was reached past the transport");
}

/// A transport to a server that cannot be reached at all.
#[derive(Debug)]
struct Refusing(ServerName);

#[async_trait]
impl Transport for Refusing {
    fn server(&self) -> &ServerName {
        &self.0
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Box<dyn Stream>> {
        Err(unreachable(format!("refused {endpoint}")))
    }

    async fn run(&self, command: &Command) -> Result<Output> {
        Err(unreachable(format!("refused {}", command.program())))
    }

    async fn spawn(&self, command: &Command) -> Result<Box<dyn Stream>> {
        Err(unreachable(format!("refused {}", command.program())))
    }

    async fn read_file(&self, path: &Path) -> Result<Vec<u8>> {
        Err(unreachable(format!("refused {}", path.display())))
    }

    async fn write_file(&self, path: &Path, _: &[u8], _: u32) -> Result<()> {
        Err(unreachable(format!("refused {}", path.display())))
    }
}

fn unreachable(message: String) -> codeb::Error {
    codeb::Error::new(codeb::ErrorKind::Unavailable, message)
}
