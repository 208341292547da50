//! The MCP server over stdio: idle RSS of the `codeb-mcp` process after its
//! handshake, and the round trip of `ssot_status` through a real rmcp client
//! over the child's stdin/stdout, beside the same SDK call made in process.
//!
//! Run: `cargo bench -p codeb-mcp --bench stdio`. Figures: docs/benchmarks.md.

use std::time::{Duration, Instant};

use codeb::engine::Platform;
use codeb::model::{Environment, Port, ProjectName, Service};
use codeb::ssot::StateStore;
use codeb_backends::FileStateStore;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;

const CALLS: usize = 2_000;
const WARM_UP: usize = 100;

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn report(name: &str, samples: &mut [Duration]) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "{name}: {} calls, median {:.1?}, p90 {:.1?}, p99 {:.1?}, min {:.1?}",
        samples.len(),
        pick(0.5),
        pick(0.9),
        pick(0.99),
        samples[0]
    );
}

/// Starts `codeb-mcp` with `args`, measures its idle RSS and the `ssot_status` round trip.
async fn measure(label: &str, args: &[&str]) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_codeb-mcp"));
    command.args(args);
    let transport = TokioChildProcess::new(command).unwrap();
    let pid = transport.id().unwrap();
    let client = ().serve(transport).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(pid);
    println!("{label}: idle RSS after the handshake: {idle} KiB ({:.1} MiB)", idle as f64 / 1024.0);

    let call = || CallToolRequestParams::new("ssot_status").with_arguments(serde_json::Map::new());
    for _ in 0..WARM_UP {
        client.call_tool(call()).await.unwrap();
    }
    let mut samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        let result = client.call_tool(call()).await.unwrap();
        samples.push(started.elapsed());
        assert_ne!(result.is_error, Some(true));
    }
    report(&format!("{label}: ssot_status over stdio"), &mut samples);
    let after = rss_kib(pid);
    println!("{label}: RSS after {} calls: {after} KiB ({:.1} MiB)", CALLS + WARM_UP, after as f64 / 1024.0);
    client.cancel().await.unwrap();
}

/// A platform file with a file SSOT of 100 projects; its services are never called by `ssot_status`.
fn platform_file(dir: &std::path::Path) -> String {
    let store = FileStateStore::new(dir.join("ssot.json"));
    store
        .update(&mut |doc| {
            for i in 0..100u16 {
                let project = ProjectName::parse(&format!("p{i}")).unwrap();
                doc.environment_mut(&project, &Environment::Production)
                    .ports
                    .insert(Service::App, Port::new(4000 + i).unwrap());
            }
            Ok(())
        })
        .unwrap();
    // No service runs: `ssot_status` reads only the SSOT, and Podman is connected on first use.
    let path = codeb::testkit::offline_platform_file(dir, &dir.join("podman.sock"));
    path.to_str().unwrap().to_owned()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    measure("memory platform (--memory)", &["--memory"]).await;
    let dir = tempfile::tempdir().unwrap();
    let config = platform_file(dir.path());
    measure("platform file (file SSOT of 100 projects)", &["--config", &config]).await;

    let platform = Platform::memory();
    let mut floor = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        platform.ssot_status().await.unwrap();
        floor.push(started.elapsed());
    }
    report("floor: Platform::memory().ssot_status() in process", &mut floor);
}
