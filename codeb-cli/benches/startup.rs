//! Start time of `we --version`, and of `we ssot status` against an SSOT of
//! 1,000 projects (process start, platform file, SSOT read, print).
//!
//! Run: `cargo bench -p codeb-cli --bench startup`. Figures: docs/benchmarks.md.

use std::process::Command;
use std::time::{Duration, Instant};

use codeb::model::{Environment, Port, ProjectName, Service};
use codeb::ssot::StateStore;
use codeb_backends::FileStateStore;

const RUNS: usize = 50;

fn time(args: &[&str], config: &str) -> Vec<Duration> {
    let mut samples: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_we")).args(args).env("CODEB_CONFIG", config).output().unwrap();
            assert!(out.status.success(), "we {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            started.elapsed()
        })
        .collect();
    samples.sort();
    samples
}

fn report(name: &str, samples: &[Duration]) {
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!("{name}: {RUNS} runs, median {:.1?}, p90 {:.1?}, min {:.1?}", pick(0.5), pick(0.9), samples[0]);
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStateStore::new(dir.path().join("ssot.json"));
    store
        .update(&mut |doc| {
            for i in 0..1_000u16 {
                let project = ProjectName::parse(&format!("p{i}")).unwrap();
                let ports = &mut doc.environment_mut(&project, &Environment::Production).ports;
                ports.insert(Service::App, Port::new(10_000 + i).unwrap());
            }
            Ok(())
        })
        .unwrap();
    // No service runs: `ssot status` reads only the SSOT, and Podman is connected on first use.
    let config = codeb::testkit::offline_platform_file(dir.path(), &dir.path().join("podman.sock"));
    let config = config.to_str().unwrap();
    report("we --version", &time(&["--version"], config));
    report("we ssot status (1,000 projects)", &time(&["ssot", "status"], config));
    report("we ssot status --json (1,000 projects)", &time(&["ssot", "status", "--json"], config));
}
