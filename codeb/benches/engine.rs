//! Engine overhead per deploy on the in-memory fakes: 1,000 deploys of
//! alternating images into one environment (cutover, stop, record, prune).
//! Everything the backends do is in memory, so what is measured is the
//! engine's own work plus the SSOT copies it makes.
//!
//! Run: `cargo bench -p codeb --bench engine`. Figures: docs/benchmarks.md.

use std::time::{Duration, Instant};

use codeb::engine::{DeployOptions, DeployRequest, Platform, Settings};
use codeb::fake::FakeBackends;
use codeb::model::HealthCheck;
use codeb::model::{DomainName, Environment, ImageRef, Port, ProjectName};

const DEPLOYS: usize = 1_000;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let fakes = FakeBackends::new();
    let images: Vec<ImageRef> =
        ["a", "b"].iter().map(|t| ImageRef::parse(&format!("localhost/app:{t}")).unwrap()).collect();
    for image in &images {
        fakes.runtime.add_registry_image(image);
    }
    let mut settings = Settings::local("bench", "bench");
    settings.zone = Some(DomainName::parse("codeb.test").unwrap());
    settings.drain_grace = Duration::ZERO;
    settings.stop_grace = Duration::ZERO;
    settings.watch_window = Duration::ZERO;
    let platform = Platform::new(fakes.backends(), settings);
    let project = ProjectName::parse("bench").unwrap();
    let mut request = DeployRequest::new(project, Environment::Production, images[0].clone(), Port::new(8080).unwrap());
    request.domains = vec![DomainName::parse("bench.codeb.test").unwrap()];
    request.health = HealthCheck { interval: Duration::from_millis(1), ..HealthCheck::default() };

    let mut samples = Vec::with_capacity(DEPLOYS);
    let total = Instant::now();
    for i in 0..DEPLOYS {
        request.image = images[i % 2].clone();
        let started = Instant::now();
        rt.block_on(platform.deploy(&request, &DeployOptions::default())).unwrap();
        samples.push(started.elapsed());
    }
    let total = total.elapsed();
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "engine: {DEPLOYS} deploys on the fakes in {total:.2?}: mean {:.1?}, p50 {:.1?}, p90 {:.1?}, p99 {:.1?}, max {:.1?}",
        total / DEPLOYS as u32,
        pick(0.5),
        pick(0.9),
        pick(0.99),
        samples[samples.len() - 1]
    );
}
