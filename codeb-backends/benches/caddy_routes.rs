//! Adding one route and switching one route's upstreams through `CaddyProxy`
//! with 10 and with 1,000 existing routes, each beside its floor measured in
//! the same run: a bare `POST /load` of the same full configuration.
//!
//! Run (needs a Caddy admin API; the benchmark replaces that Caddy's whole
//! configuration while it runs and restores it at the end, so use a Caddy
//! nothing else is using):
//!
//! ```sh
//! CODEB_TEST_CADDY_ADMIN=http://127.0.0.1:PORT \
//!   cargo bench -p codeb-backends --bench caddy_routes -- --warm-up-time 1 --measurement-time 5
//! ```
//!
//! Caddy 2.6 re-provisions its whole configuration on every admin change, so
//! every figure grows with the number of routes; the question is how much
//! codeb adds on top (one read of `/config/apps` before each change).
//! Figures are recorded in docs/benchmarks.md.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codeb::model::{DomainName, Port};
use codeb::proxy::{Proxy, Route, TlsPolicy, Upstream, Upstreams};
use codeb_backends::caddy::json;
use codeb_backends::transport::LocalTransport;
use codeb_backends::{CaddyConfig, CaddyProxy};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::Value;

const SERVER: &str = "codeb-bench";

fn upstream(port: u16) -> Upstream {
    Upstream { host: IpAddr::V4(Ipv4Addr::LOCALHOST), port: Port::new(port).unwrap() }
}

fn route(host: &str, port: u16) -> Route {
    Route {
        host: DomainName::parse(host).unwrap(),
        upstreams: Upstreams::Fixed(vec![upstream(port)]),
        tls: TlsPolicy::Off,
    }
}

/// The admin API, with one fresh connection per request as `CaddyProxy` uses.
struct Admin {
    client: reqwest::Client,
    base: String,
}

impl Admin {
    async fn config(&self) -> Value {
        self.client.get(format!("{}/config/", self.base)).send().await.unwrap().json().await.unwrap()
    }

    /// `POST /load` of a whole configuration, tried again if Caddy drops the connection.
    async fn load(&self, config: &Value) {
        let body = serde_json::to_vec(config).unwrap();
        for _ in 0..5 {
            match self
                .client
                .post(format!("{}/load", self.base))
                .header("Content-Type", "application/json")
                .body(body.clone())
                .send()
                .await
            {
                Ok(response) => {
                    assert!(response.status().is_success(), "/load: {}", response.text().await.unwrap_or_default());
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        panic!("/load kept failing");
    }
}

/// `base` (Caddy's whole config) with codeb's server holding `routes`, as codeb would write it.
fn full_config(base: &Value, config: &CaddyConfig, routes: &[Route]) -> Value {
    let mut full = base.clone();
    let mut server = json::server(config);
    server["routes"] = Value::Array(routes.iter().map(|r| json::route(SERVER, r, None).unwrap()).collect());
    full["apps"] = serde_json::json!({ "http": { "servers": { SERVER: server } } });
    full
}

fn bench_routes(c: &mut Criterion, rt: &tokio::runtime::Runtime, admin: &Admin, base: &Value, existing: usize) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = CaddyConfig::new(&admin.base)
        .with_server(SERVER)
        .with_listen([format!("127.0.0.1:{port}")])
        .with_automatic_https(false);
    let proxy = CaddyProxy::new(Arc::new(LocalTransport::new()), config.clone()).unwrap();
    let routes: Vec<Route> =
        (0..existing).map(|i| route(&format!("r{i}.bench.codeb.test"), 3000 + (i % 1000) as u16)).collect();
    let seeded = full_config(base, &config, &routes);
    let added = route("new.bench.codeb.test", 4000);
    // Exact hosts go to the front of the route list, as codeb inserts them.
    let with_added = full_config(base, &config, &[std::slice::from_ref(&added), &routes].concat());
    let switched_host = routes[0].host.clone();
    let mut switched_routes = routes.clone();
    switched_routes[0].upstreams = Upstreams::Fixed(vec![upstream(5001)]);
    let (switch_a, switch_b) = (full_config(base, &config, &switched_routes), {
        switched_routes[0].upstreams = Upstreams::Fixed(vec![upstream(5002)]);
        full_config(base, &config, &switched_routes)
    });

    let mut group = c.benchmark_group(format!("caddy_{existing}_routes"));
    group.sample_size(20);

    group.bench_function("add_route", |b| {
        rt.block_on(admin.load(&seeded));
        b.to_async(rt).iter_custom(|iters| {
            let (proxy, added) = (&proxy, &added);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    proxy.upsert_route(added).await.unwrap();
                    total += start.elapsed();
                    proxy.remove_route(&added.host).await.unwrap();
                }
                total
            }
        });
    });
    group.bench_function("add_route_floor_load", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let (seeded, with_added) = (&seeded, &with_added);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    admin.load(with_added).await;
                    total += start.elapsed();
                    admin.load(seeded).await;
                }
                total
            }
        });
    });
    group.bench_function("switch_upstreams", |b| {
        rt.block_on(admin.load(&seeded));
        let mut flip = false;
        b.to_async(rt).iter(|| {
            flip = !flip;
            let (proxy, host) = (&proxy, &switched_host);
            let port = if flip { 5001 } else { 5002 };
            async move { proxy.switch_upstreams(host, &Upstreams::Fixed(vec![upstream(port)])).await.unwrap() }
        });
    });
    group.bench_function("switch_floor_load", |b| {
        let mut flip = false;
        b.to_async(rt).iter(|| {
            flip = !flip;
            let config = if flip { &switch_a } else { &switch_b };
            admin.load(config)
        });
    });
    group.finish();
}

fn caddy_routes(c: &mut Criterion) {
    let Ok(base_url) = std::env::var("CODEB_TEST_CADDY_ADMIN") else {
        eprintln!("SKIPPED: CODEB_TEST_CADDY_ADMIN is not set, so the Caddy benchmark did not run");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().unwrap();
    let admin = Admin { client, base: base_url.trim_end_matches('/').to_owned() };
    let original = rt.block_on(admin.config());
    for existing in [10, 1000] {
        bench_routes(c, &rt, &admin, &original, existing);
    }
    rt.block_on(admin.load(&original));
}

criterion_group!(benches, caddy_routes);
criterion_main!(benches);
