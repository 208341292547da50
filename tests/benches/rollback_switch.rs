//! How long a rollback to a kept previous release takes to switch traffic
//! (issue 15's goal: within 1 s): the live stack's v1 and v2 images deployed
//! through the SDK, then `Platform::rollback` to v1's release, timed from the call
//! until a request on a new connection through Caddy gets v1's page, and
//! until the call returns. Five rounds, each a deploy of v1 and one of v2,
//! then the measured rollback to that v1 release; the drain waits until the
//! old release is idle (grace 10 s), no watch window.
//!
//! Needs the live stack (`codeb-testenv up DIR`, then `eval` its exports).
//! Run: `cargo bench -p codeb-tests --bench rollback_switch`. Figures: docs/benchmarks.md.

use std::time::{Duration, Instant};

use codeb::config::PlatformConfig;
use codeb::engine::DeployOptions;
use codeb::model::{DomainName, Environment, ImageRef, ProjectName};
use codeb::testkit::{live_env, live_platform_file};
use codeb_tests::cutover::alternating;

const ROUNDS: usize = 5;

/// The page Caddy at `proxy` answers for `host` on a new connection.
async fn page(client: &reqwest::Client, proxy: &str, host: &DomainName) -> String {
    match client.get(format!("http://{proxy}/")).header("Host", host.as_str()).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let timings = "drain_grace = \"10s\"\nstop_grace = \"5s\"\nwatch_window = \"0s\"";
    let (Some(config), Some(proxy), Some(v1), Some(v2)) = (
        live_platform_file(dir.path(), "rollback.codeb.test", timings),
        live_env("CODEB_TEST_CADDY_HTTP"),
        live_env("CODEB_TEST_IMAGE_V1"),
        live_env("CODEB_TEST_IMAGE_V2"),
    ) else {
        eprintln!("rollback_switch: no live stack (see the header of benches/rollback_switch.rs)");
        return;
    };
    let platform = codeb_backends::connect(&PlatformConfig::read(&config).unwrap(), "rollback-bench").unwrap();
    let project = ProjectName::parse("rollback").unwrap();
    let domain = DomainName::parse("app.rollback.codeb.test").unwrap();
    let images = [ImageRef::parse(&v1).unwrap(), ImageRef::parse(&v2).unwrap()];
    let [first, second] = alternating(project.clone(), &domain, images, Duration::from_millis(5));
    let options = DeployOptions::default();
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().unwrap();

    let mut switched = Vec::new();
    let mut returned = Vec::new();
    for _ in 0..ROUNDS {
        let kept = platform.deploy(&first, &options).await.unwrap().release;
        platform.deploy(&second, &options).await.unwrap();
        assert_eq!(page(&client, &proxy, &domain).await, "v2");
        let started = Instant::now();
        let watch = async {
            while page(&client, &proxy, &domain).await != "v1" {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            started.elapsed()
        };
        let call = async {
            platform.rollback(&project, &Environment::Staging, Some(&kept), &options).await.unwrap();
            started.elapsed()
        };
        let (switch, call) = tokio::join!(watch, call);
        switched.push(switch);
        returned.push(call);
    }
    platform.project_delete(&project, true, &options).await.unwrap();
    switched.sort();
    returned.sort();
    println!(
        "rollback to the kept previous release, {ROUNDS} rounds: traffic switched after median {:.0?} (max {:.0?}); \
         the call returned after median {:.0?} (max {:.0?})",
        switched[ROUNDS / 2],
        switched[ROUNDS - 1],
        returned[ROUNDS / 2],
        returned[ROUNDS - 1]
    );
}
