//! Failed requests over ten consecutive deploys (issue 15): the load of
//! `codeb_tests::load` (clients that never retry, keep-alive and new
//! connections, requests in flight for 2 s, one connection held throughout)
//! through the live Caddy while the SDK deploys one environment with the
//! local stack's drain of 1 s, until the load has sent 100,000 requests.
//!
//! Needs the live stack (`codeb-testenv up DIR`, then `eval` its exports).
//! Run: `cargo bench -p codeb-tests --bench cutover_load`. Figures: docs/benchmarks.md.

use std::time::Duration;

use codeb::config::PlatformConfig;
use codeb::engine::{DeployOptions, DeployRequest};
use codeb::model::{DomainName, Environment, HealthCheck, Port, ProjectName};
use codeb::testkit::{live_env, live_platform_file};
use codeb_tests::cutover::{build_slow_images, deploys_under_load};

const DEPLOYS: usize = 10;
const REQUESTS: usize = 100_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let timings = "drain_grace = \"1s\"\nstop_grace = \"5s\"\nwatch_window = \"0s\"";
    let (Some(config), Some(socket), Some(proxy)) = (
        live_platform_file(dir.path(), "cutover.codeb.test", timings),
        live_env("CODEB_TEST_PODMAN_SOCKET"),
        live_env("CODEB_TEST_CADDY_HTTP"),
    ) else {
        eprintln!("cutover_load: no live stack (see the header of benches/cutover_load.rs)");
        return;
    };
    let platform = codeb_backends::connect(&PlatformConfig::read(&config).unwrap(), "cutover-bench").unwrap();
    let [v1, v2] = build_slow_images(socket.as_ref(), "localhost/codeb-bench/slow", dir.path()).unwrap();
    let project = ProjectName::parse("cutover").unwrap();
    let domain = DomainName::parse("app.cutover.codeb.test").unwrap();
    let mut first = DeployRequest::new(project.clone(), Environment::Staging, v1, Port::new(8080).unwrap());
    first.domains = vec![domain.clone()];
    first.health = HealthCheck { interval: Duration::from_millis(20), ..HealthCheck::default() };
    let second = DeployRequest { image: v2, ..first.clone() };
    platform.deploy(&first, &DeployOptions::default()).await.unwrap();

    let run =
        deploys_under_load(&platform, [&first, &second], proxy.parse().unwrap(), domain.as_str(), DEPLOYS, REQUESTS)
            .await;
    platform.project_delete(&project, true, &DeployOptions::default()).await.unwrap();
    let run = run.unwrap();
    let mut deploys = run.deploys.clone();
    deploys.sort();
    println!("cutover under load, {DEPLOYS} deploys, drain 1 s: {}", run.load);
    println!("deploy durations under load: median {:.0?}, max {:.0?}", deploys[DEPLOYS / 2], deploys[DEPLOYS - 1]);
}
