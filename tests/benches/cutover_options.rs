//! The cutover options of issue 15, measured side by side on the live Caddy
//! and PowerDNS: how long one cutover takes with 10 and with 1,000 sites, how
//! long until Caddy sends new requests to the new upstream, and how many
//! requests the load of `codeb_tests::load` sees fail across ten cutovers.
//!
//! - `admin`: the route's static upstream switched through Caddy's admin API
//!   (`CaddyProxy::switch_upstreams`), as codeb does today. Caddy 2.6
//!   re-provisions its whole configuration on every admin change.
//! - `dns`: the route's upstreams discovered from an SRV record in PowerDNS
//!   (`dynamic_upstreams` with source `srv`, its `resolver` and the HTTP
//!   transport's `resolver` both pointed at PowerDNS, `refresh` 250 ms: the
//!   route JSON codeb writes, `caddy::json::route`); the
//!   cutover is one PATCH of that record and Caddy's configuration is not
//!   touched. The SRV target is a host name with an A record in the same zone
//!   (Go's resolver refuses an IP address as an SRV target).
//!
//! The two upstreams are busybox httpd processes on loopback that both stay
//! up, so every failure is the proxy's, none the drain's.
//!
//! Needs the live stack (`codeb-testenv up DIR`, then `eval` its exports).
//! Run: `cargo bench -p codeb-tests --bench cutover_options`. Figures: docs/benchmarks.md.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codeb::model::{DomainName, Port};
use codeb::proxy::{Proxy, Route, TlsPolicy, Upstream, Upstreams};
use codeb::testkit::live_env;
use codeb_backends::caddy::json;
use codeb_backends::transport::LocalTransport;
use codeb_backends::{CaddyConfig, CaddyProxy};
use codeb_tests::load::{Load, LoadReport, SLOW_CGI, SLOW_PATH};
use serde_json::{Value, json};

const SERVER: &str = "codeb-cutover-options";
const ZONE: &str = "options.codeb.test.";
const SRV_NAME: &str = "app.upstreams.options.codeb.test.";
const TARGET: &str = "local.servers.options.codeb.test.";
const HOST: &str = "app.options.codeb.test";
const CUTOVERS: usize = 10;
const REQUESTS: usize = 20_000;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A busybox httpd on loopback answering `page` at `/` and after 2 s at [`SLOW_PATH`].
fn httpd(root: &Path, page: &str) -> (Child, u16) {
    let www = root.join(page);
    std::fs::create_dir_all(www.join("cgi-bin")).unwrap();
    std::fs::write(www.join("index.html"), page).unwrap();
    let slow = www.join(SLOW_PATH.trim_start_matches('/'));
    std::fs::write(&slow, SLOW_CGI).unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let port = free_port();
    let child = Command::new("/bin/busybox")
        .args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h"])
        .arg(&www)
        .stdin(Stdio::null())
        .spawn()
        .expect("busybox-static provides /bin/busybox");
    (child, port)
}

/// The live Caddy's and PowerDNS's APIs, through plain requests.
struct Apis {
    http: reqwest::Client,
    caddy: String,
    pdns: String,
    key: String,
    dns: String,
}

impl Apis {
    async fn send(&self, request: reqwest::RequestBuilder) {
        let response = request.send().await.unwrap();
        let status = response.status();
        assert!(status.is_success() || status == 409, "{status}: {}", response.text().await.unwrap_or_default());
    }

    async fn put_server(&self, server: &Value) {
        self.send(self.http.put(format!("{}/config/apps/http/servers/{SERVER}", self.caddy)).json(server)).await;
    }

    async fn delete_server(&self) {
        self.send(self.http.delete(format!("{}/config/apps/http/servers/{SERVER}", self.caddy))).await;
    }

    fn zones(&self) -> String {
        format!("{}/api/v1/servers/localhost/zones", self.pdns)
    }

    async fn patch(&self, rrsets: Value) {
        let url = format!("{}/{ZONE}", self.zones());
        self.send(self.http.patch(url).header("X-API-Key", &self.key).json(&json!({ "rrsets": rrsets }))).await;
    }

    /// Points the SRV record at `port` of [`TARGET`].
    async fn point(&self, port: u16) {
        let content = format!("0 0 {port} {TARGET}");
        self.patch(json!([{ "name": SRV_NAME, "type": "SRV", "ttl": 1, "changetype": "REPLACE",
                            "records": [{ "content": content, "disabled": false }] }]))
            .await;
    }
}

/// Codeb's route JSON for `host`, its upstreams discovered from [`SRV_NAME`] through PowerDNS at `dns`.
fn discovered_route(host: &DomainName, dns: &str) -> Value {
    let name = DomainName::parse(SRV_NAME.trim_end_matches('.')).unwrap();
    let route = Route { host: host.clone(), upstreams: Upstreams::Srv(name), tls: TlsPolicy::Off };
    json::route(SERVER, &route, Some(dns)).unwrap()
}

fn static_route(host: &DomainName, port: u16) -> Route {
    Route {
        host: host.clone(),
        upstreams: Upstreams::Fixed(vec![Upstream { host: [127, 0, 0, 1].into(), port: Port::new(port).unwrap() }]),
        tls: TlsPolicy::Off,
    }
}

/// Codeb's server with `measured` first and `sites - 1` other sites behind it.
fn server(config: &CaddyConfig, measured: Value, sites: usize) -> Value {
    let mut server = json::server(config);
    let others = (1..sites).map(|i| {
        let host = DomainName::parse(&format!("site{i}.options.codeb.test")).unwrap();
        json::route(SERVER, &static_route(&host, 3000 + (i % 1000) as u16), None).unwrap()
    });
    server["routes"] = Value::Array(std::iter::once(measured).chain(others).collect());
    server
}

/// The page a fresh connection gets through Caddy.
async fn page(proxy: SocketAddr) -> String {
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().unwrap();
    let url = format!("http://{proxy}/");
    match client.get(url).header("Host", HOST).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// One cutover's cost: the call, and the time until a new request reaches the new upstream.
struct Cutover {
    call: Duration,
    followed: Duration,
}

#[derive(Clone, Copy, Debug)]
enum Via {
    Admin,
    Dns,
}

async fn measure(apis: &Apis, option: Via, sites: usize, ports: [u16; 2]) -> (LoadReport, Vec<Cutover>) {
    let listen = format!("127.0.0.1:{}", free_port());
    let proxy: SocketAddr = listen.parse().unwrap();
    let config = CaddyConfig::new(&apis.caddy).with_server(SERVER).with_listen([listen]).with_automatic_https(false);
    let caddy = CaddyProxy::new(Arc::new(LocalTransport::new()), config.clone()).unwrap();
    let host = DomainName::parse(HOST).unwrap();
    let measured = match option {
        Via::Admin => json::route(SERVER, &static_route(&host, ports[0]), None).unwrap(),
        Via::Dns => {
            apis.point(ports[0]).await;
            discovered_route(&host, &apis.dns)
        }
    };
    apis.put_server(&server(&config, measured, sites)).await;
    while page(proxy).await != "v1" {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let load = Load::start(proxy, HOST);
    let share = REQUESTS / (CUTOVERS + 1);
    let mut cutovers = Vec::new();
    for n in 0..CUTOVERS {
        while load.sent() < share * (n + 1) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (to, page_to) = if n % 2 == 0 { (ports[1], "v2") } else { (ports[0], "v1") };
        let started = Instant::now();
        match option {
            Via::Admin => caddy.switch_upstreams(&host, &static_route(&host, to).upstreams).await.unwrap(),
            Via::Dns => apis.point(to).await,
        }
        let call = started.elapsed();
        while page(proxy).await != page_to {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cutovers.push(Cutover { call, followed: started.elapsed() });
    }
    while load.sent() < REQUESTS {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = load.stop().await;
    apis.delete_server().await;
    (report, cutovers)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (Some(caddy), Some(pdns), Some(key), Some(dns)) = (
        live_env("CODEB_TEST_CADDY_ADMIN"),
        live_env("CODEB_TEST_PDNS_API"),
        live_env("CODEB_TEST_PDNS_API_KEY"),
        live_env("CODEB_TEST_PDNS_DNS"),
    ) else {
        eprintln!("cutover_options: no live stack (see the header of benches/cutover_options.rs)");
        return;
    };
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let apis = Apis { http, caddy, pdns, key, dns };
    let zone = json!({ "name": ZONE, "kind": "Native", "nameservers": [] });
    apis.send(apis.http.post(apis.zones()).header("X-API-Key", &apis.key).json(&zone)).await;
    apis.patch(json!([{ "name": TARGET, "type": "A", "ttl": 60, "changetype": "REPLACE",
                        "records": [{ "content": "127.0.0.1", "disabled": false }] }]))
        .await;
    let root = tempfile::tempdir().unwrap();
    let (mut v1, port1) = httpd(root.path(), "v1");
    let (mut v2, port2) = httpd(root.path(), "v2");

    println!(
        "| option | sites | cutover call (median) | until new requests reach the new upstream (median, max) | failed requests |"
    );
    println!("|---|---|---|---|---|");
    for option in [Via::Admin, Via::Dns] {
        for sites in [10, 1_000] {
            let (load, cutovers) = measure(&apis, option, sites, [port1, port2]).await;
            let calls = median(cutovers.iter().map(|c| c.call).collect());
            let followed: Vec<Duration> = cutovers.iter().map(|c| c.followed).collect();
            let max = followed.iter().max().copied().unwrap_or_default();
            println!("| {option:?} | {sites} | {calls:.1?} | {:.1?}, {max:.1?} | {load} |", median(followed));
        }
    }

    let url = format!("{}/{ZONE}", apis.zones());
    apis.send(apis.http.delete(url).header("X-API-Key", &apis.key)).await;
    for child in [&mut v1, &mut v2] {
        let _ = child.kill();
        let _ = child.wait();
    }
}
