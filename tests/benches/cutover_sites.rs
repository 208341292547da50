//! A deploy's cutover through codeb's own deploy, with 10 and with 1,000
//! sites on the proxy (issue 15's flat cost): the live stack's v1 and v2
//! images deployed alternately by `Platform::deploy` to one environment
//! while codeb's Caddy server holds 9 or 999 other sites. Timed: the deploy
//! call, and from its start until a request on a new connection through
//! Caddy gets the new page. Checked on every deploy: its plan changes no
//! route (the cutover is one `point_upstream`).
//!
//! Needs the live stack (`codeb-testenv up DIR`, then `eval` its exports).
//! Run: `cargo bench -p codeb-tests --bench cutover_sites`. Figures: docs/benchmarks.md.

use std::time::{Duration, Instant};

use codeb::config::PlatformConfig;
use codeb::engine::{Change, DeployOptions};
use codeb::model::{DomainName, ImageRef, Port, ProjectName};
use codeb::proxy::{Route, TlsPolicy, Upstream, Upstreams};
use codeb::testkit::{live_env, live_platform_file};
use codeb_backends::caddy::json;
use codeb_tests::cutover::alternating;
use serde_json::Value;

const DEPLOYS: usize = 6;
const OTHERS_ID: &str = "codeb-route.codeb.site";

/// The page Caddy at `proxy` answers for `host` on a new connection.
async fn page(client: &reqwest::Client, proxy: &str, host: &DomainName) -> String {
    match client.get(format!("http://{proxy}/")).header("Host", host.as_str()).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The routes of codeb's server in the live Caddy.
fn routes_url(admin: &str) -> String {
    format!("{admin}/config/apps/http/servers/codeb/routes")
}

/// Puts `count` other sites into codeb's server in one admin change (none: takes them out again).
async fn other_sites(http: &reqwest::Client, admin: &str, count: usize) {
    let routes: Vec<Value> = http.get(routes_url(admin)).send().await.unwrap().json().await.unwrap();
    let mut kept: Vec<Value> = routes
        .into_iter()
        .filter(|r| !r.get("@id").and_then(Value::as_str).is_some_and(|id| id.starts_with(OTHERS_ID)))
        .collect();
    for i in 0..count {
        let host = DomainName::parse(&format!("site{i}.sites-bench.codeb.test")).unwrap();
        let upstream = Upstream { host: [127, 0, 0, 1].into(), port: Port::new(3000 + (i % 1000) as u16).unwrap() };
        let route = Route { host, upstreams: Upstreams::Fixed(vec![upstream]), tls: TlsPolicy::Off };
        kept.push(json::route("codeb", &route, None).unwrap());
    }
    let status = http.patch(routes_url(admin)).json(&kept).send().await.unwrap().status();
    assert!(status.is_success(), "replacing codeb's routes: {status}");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let timings = "drain_grace = \"10s\"\nstop_grace = \"5s\"\nwatch_window = \"0s\"";
    let (Some(config), Some(proxy), Some(admin), Some(v1), Some(v2)) = (
        live_platform_file(dir.path(), "sites.codeb.test", timings),
        live_env("CODEB_TEST_CADDY_HTTP"),
        live_env("CODEB_TEST_CADDY_ADMIN"),
        live_env("CODEB_TEST_IMAGE_V1"),
        live_env("CODEB_TEST_IMAGE_V2"),
    ) else {
        eprintln!("cutover_sites: no live stack (see the header of benches/cutover_sites.rs)");
        return;
    };
    let platform = codeb_backends::connect(&PlatformConfig::read(&config).unwrap(), "sites-bench").unwrap();
    let project = ProjectName::parse("sites").unwrap();
    let domain = DomainName::parse("app.sites.codeb.test").unwrap();
    let images = [ImageRef::parse(&v1).unwrap(), ImageRef::parse(&v2).unwrap()];
    let [first, second] = alternating(project.clone(), &domain, images, Duration::from_millis(5));
    let options = DeployOptions::default();
    let http = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().unwrap();
    platform.deploy(&first, &options).await.unwrap();

    println!("| sites on the proxy | deploy call (median) | until new requests reach the new release (median, max) |");
    println!("|---|---|---|");
    for sites in [10, 1_000] {
        other_sites(&http, &admin, sites - 1).await;
        let (mut calls, mut followed) = (Vec::new(), Vec::new());
        for n in 0..DEPLOYS {
            let (request, want) = if n % 2 == 0 { (&second, "v2") } else { (&first, "v1") };
            let plan = platform.plan(request).await.unwrap();
            let routes = plan.changes.iter().filter(|c| c.change.kind().ends_with("_route")).count();
            assert_eq!(routes, 0, "the cutover changes no route: {:?}", plan.changes);
            assert!(plan.changes.iter().any(|c| matches!(c.change, Change::PointUpstream { .. })));
            let started = Instant::now();
            let watch = async {
                while page(&http, &proxy, &domain).await != want {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                started.elapsed()
            };
            let call = async {
                platform.apply(&plan, &options).await.unwrap();
                started.elapsed()
            };
            let (seen, took) = tokio::join!(watch, call);
            followed.push(seen);
            calls.push(took);
        }
        let max = followed.iter().max().copied().unwrap_or_default();
        println!("| {sites} | {:.0?} | {:.0?}, {max:.0?} |", median(calls), median(followed));
    }
    other_sites(&http, &admin, 0).await;
    platform.project_delete(&project, true, &options).await.unwrap();
}
