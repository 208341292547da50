//! Time from "create this container" to its first HTTP 200, through
//! `PodmanRuntime`, beside the floor: a bare `podman run -d` of the same image
//! (the CLI, spawned with argv) in the same run, polled the same way.
//!
//! Run (the live service and image as for the live tests):
//!
//! ```text
//! CODEB_TEST_PODMAN_SOCKET=/path/podman.sock CODEB_TEST_IMAGE_V1=localhost/codeb-test/httpd:v1 \
//!     cargo bench -p codeb-backends --bench podman_start
//! ```
//!
//! `CODEB_BENCH_RUNS` sets the number of measured runs per side (default 20,
//! after 2 warm-up runs each); the sides alternate so drift hits both alike.
//! `CODEB_BENCH_PODMAN_ARGS` holds the CLI's global arguments, split on
//! whitespace (default `--url unix://<socket>`: podman's own client against
//! the same service; pass e.g. `--root DIR --runroot DIR` with the service's
//! `CONTAINERS_CONF` exported to time a local, serviceless `podman run`).
//! Figures are recorded in docs/benchmarks.md.

use codeb::runtime::RemoveContainerOptions;
use std::net::{Ipv4Addr, TcpListener};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codeb::model::{ContainerName, Environment, ImageRef, Port, ProjectName, Service};
use codeb::runtime::{ContainerRuntime, ContainerSpec, PortBinding, Resources, managed_labels};
use codeb_backends::transport::LocalTransport;
use codeb_backends::{PodmanConfig, PodmanRuntime};

const WARM_UP: usize = 2;

fn free_port() -> Port {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    Port::new(listener.local_addr().unwrap().port()).unwrap()
}

/// Polls `/` on `port` every 2 ms until it answers 200 (at most 10 s).
async fn first_ok(client: &reqwest::Client, port: Port) {
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(answer) = client.get(&url).send().await
            && answer.status() == reqwest::StatusCode::OK
        {
            return;
        }
        assert!(Instant::now() < deadline, "{url} never answered 200");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn spec(image: &ImageRef, name: ContainerName, port: Port) -> ContainerSpec {
    ContainerSpec {
        name,
        image: image.clone(),
        command: None,
        env: Vec::new(),
        labels: managed_labels(&ProjectName::parse("bench").unwrap(), &Environment::Staging, Service::App, None),
        ports: vec![PortBinding {
            host_ip: Ipv4Addr::LOCALHOST.into(),
            host_port: port,
            container_port: Port::new(8080).unwrap(),
        }],
        volumes: Vec::new(),
        network: None,
        resources: Resources::default(),
        init: true,
        secret_files: Vec::new(),
    }
}

/// One create + start + first 200 through the backend, with the time of each stage;
/// the container is removed afterwards (untimed).
async fn ours(runtime: &PodmanRuntime, client: &reqwest::Client, image: &ImageRef, i: usize) -> [Duration; 4] {
    let name = ContainerName::parse(&format!("codeb-bench-ours-{}-{i}", std::process::id())).unwrap();
    let port = free_port();
    let started = Instant::now();
    runtime.create_container(&spec(image, name.clone(), port)).await.unwrap();
    let created = started.elapsed();
    runtime.start_container(&name).await.unwrap();
    let running = started.elapsed();
    first_ok(client, port).await;
    let took = started.elapsed();
    runtime.remove_container(&name, RemoveContainerOptions::FORCE).await.unwrap();
    [took, created, running - created, took - running]
}

/// One `podman run -d --init -p 127.0.0.1:P:8080 IMAGE` + first 200; removed afterwards (untimed).
async fn cli(
    runtime: &PodmanRuntime,
    client: &reqwest::Client,
    global: &[String],
    image: &ImageRef,
    i: usize,
) -> Duration {
    let name = format!("codeb-bench-cli-{}-{i}", std::process::id());
    let port = free_port();
    let started = Instant::now();
    let status = Command::new("podman")
        .args(global)
        .args(["run", "-d", "--init", "--name", &name, "-p", &format!("127.0.0.1:{port}:8080"), image.as_str()])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "podman run failed: {status}");
    first_ok(client, port).await;
    let took = started.elapsed();
    runtime.remove_container(&ContainerName::parse(&name).unwrap(), RemoveContainerOptions::FORCE).await.unwrap();
    took
}

fn summary(label: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = times[times.len() / 2];
    let p90 = times[(times.len() * 9 / 10).min(times.len() - 1)];
    println!(
        "| {label} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {} |",
        ms(median),
        ms(times[0]),
        ms(p90),
        ms(times[times.len() - 1]),
        times.len()
    );
    median
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing special. Run only when asked to bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let (Ok(socket), Ok(image)) = (std::env::var("CODEB_TEST_PODMAN_SOCKET"), std::env::var("CODEB_TEST_IMAGE_V1"))
    else {
        eprintln!("SKIPPED: set CODEB_TEST_PODMAN_SOCKET and CODEB_TEST_IMAGE_V1 to run the Podman start benchmark");
        return;
    };
    let runs: usize = std::env::var("CODEB_BENCH_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(20);
    let global: Vec<String> = std::env::var("CODEB_BENCH_PODMAN_ARGS")
        .unwrap_or_else(|_| format!("--url unix://{socket}"))
        .split_whitespace()
        .map(ToOwned::to_owned)
        .collect();
    let image = ImageRef::parse(&image).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let runtime = PodmanRuntime::connect_when_ready(
            Arc::new(LocalTransport::new()),
            PodmanConfig::new(&socket),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap();
        let (mut ours_times, mut cli_times, mut stages) =
            (Vec::new(), Vec::new(), [Vec::new(), Vec::new(), Vec::new()]);
        for i in 0..WARM_UP + runs {
            let (a, b) = if i % 2 == 0 {
                let a = ours(&runtime, &client, &image, i).await;
                (a, cli(&runtime, &client, &global, &image, i).await)
            } else {
                let b = cli(&runtime, &client, &global, &image, i).await;
                (ours(&runtime, &client, &image, i).await, b)
            };
            if i >= WARM_UP {
                ours_times.push(a[0]);
                for (stage, time) in stages.iter_mut().zip(&a[1..]) {
                    stage.push(*time);
                }
                cli_times.push(b);
            }
        }
        println!("podman CLI global args: {global:?}");
        println!("| path | median | min | p90 | max | runs |");
        println!("|---|---|---|---|---|---|");
        let ours_median = summary("PodmanRuntime: create + start + first 200", ours_times);
        let cli_median = summary(&format!("`podman {} run -d --init` + first 200", global.join(" ")), cli_times);
        for (label, times) in
            ["ours, stage: create", "ours, stage: start", "ours, stage: start to first 200"].into_iter().zip(stages)
        {
            summary(label, times);
        }
        println!("ratio of medians (ours / CLI): {:.2}", ours_median.as_secs_f64() / cli_median.as_secs_f64());
    });
}
