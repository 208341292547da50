//! Deploy latency of the example image through `we deploy --image`, against
//! the floor measured in the same run: a bare `podman run`, polling until the
//! first 200, and one route switch in Caddy through its admin API.
//!
//! Needs the live stack (`codeb-testenv up`, then `eval` its exports); the
//! drain grace and watch window are zero so both paths do the same work, and
//! each timed deploy starts once the previous one's background retirement has
//! stopped the release it replaced (untimed, as the floor's `podman rm` is).
//! Run: `cargo bench -p codeb-cli --bench deploy_latency`. Figures: docs/benchmarks.md.

use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codeb::model::{DomainName, Port};
use codeb::proxy::{Proxy, Route, TlsPolicy, Upstream, Upstreams};
use codeb::testkit::live_platform_file;
use codeb_backends::transport::LocalTransport;
use codeb_backends::{CaddyConfig, CaddyProxy};

const RUNS: usize = 15;

fn var(name: &str) -> Option<String> {
    codeb::testkit::live_env(name)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `port` until it answers 200.
fn first_200(rt: &tokio::runtime::Runtime, port: u16) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let ok = rt.block_on(async {
            client.get(format!("http://127.0.0.1:{port}/")).send().await.map(|r| r.status().as_u16())
        });
        if matches!(ok, Ok(200)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("port {port} never answered 200");
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = "drain_grace = \"0s\"\nstop_grace = \"5s\"\nwatch_window = \"0s\"";
    let (Some(config), Some(socket), Some(admin), Some(http), Some(image)) = (
        live_platform_file(dir.path(), "bench.codeb.test", deploy),
        var("CODEB_TEST_PODMAN_SOCKET"),
        var("CODEB_TEST_CADDY_ADMIN"),
        var("CODEB_TEST_CADDY_HTTP"),
        var("CODEB_TEST_IMAGE_V1"),
    ) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("codeb.toml"),
        format!(
            "name = \"latency\"\nimage = \"{image}\"\nport = 8080\n[healthcheck]\ninterval = \"5ms\"\n\
             [environments.staging]\ndomains = [\"app.bench.codeb.test\"]\n"
        ),
    )
    .unwrap();

    let we = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_we")).args(args).env("CODEB_CONFIG", &config).output().unwrap();
        assert!(out.status.success(), "we {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let app_dir = app.to_str().unwrap();
    // `we deploy` answers once traffic moved and leaves the previous release's
    // stop to a `we retire` of its own: like the floor's `podman rm`, that is
    // waited for outside the timing, so one deploy never competes with the last one's stop.
    let retired = || {
        let deadline = Instant::now() + Duration::from_secs(30);
        // `we retire` stops the previous release, then removes the pruned ones' containers.
        while Command::new("pgrep").args(["-f", " retire [{]"]).output().unwrap().status.success() {
            assert!(Instant::now() < deadline, "a `we retire` never ended");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    we(&["deploy", app_dir, "--env", "staging", "--quiet"]);
    let deploys: Vec<Duration> = (0..RUNS)
        .map(|_| {
            retired();
            let started = Instant::now();
            we(&["deploy", app_dir, "--env", "staging", "--quiet"]);
            started.elapsed()
        })
        .collect();
    we(&["project", "delete", "latency", "--force", "--quiet"]);

    let caddy = CaddyProxy::new(
        Arc::new(LocalTransport::new()),
        CaddyConfig::new(&admin).with_listen([http.clone()]).with_automatic_https(false),
    )
    .unwrap();
    let host = DomainName::parse("floor.bench.codeb.test").unwrap();
    let upstream =
        |port: u16| Upstreams::Fixed(vec![Upstream { host: [127, 0, 0, 1].into(), port: Port::new(port).unwrap() }]);
    rt.block_on(caddy.upsert_route(&Route { host: host.clone(), upstreams: upstream(1), tls: TlsPolicy::Off }))
        .unwrap();
    let podman = |args: &[&str]| {
        let out = Command::new("podman").arg("--url").arg(format!("unix://{socket}")).args(args).output().unwrap();
        assert!(out.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let floors: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let port = free_port();
            let started = Instant::now();
            let id = podman(&["run", "-d", "--init", "-p", &format!("127.0.0.1:{port}:8080"), &image]);
            first_200(&rt, port);
            rt.block_on(caddy.switch_upstreams(&host, &upstream(port))).unwrap();
            let elapsed = started.elapsed();
            podman(&["rm", "-f", &id]);
            elapsed
        })
        .collect();
    rt.block_on(caddy.remove_route(&host)).unwrap();

    let (ours, floor) = (median(deploys), median(floors));
    println!(
        "deploy latency, median of {RUNS}: we deploy {ours:.1?}; floor (podman run + first 200 + one route switch) {floor:.1?}; ratio {:.2}x",
        ours.as_secs_f64() / floor.as_secs_f64()
    );
}
