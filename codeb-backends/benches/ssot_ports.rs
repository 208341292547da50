//! Port allocation and lookup with 10,000 projects in the SSOT, in memory and
//! in the file store.
//!
//! Run: `cargo bench -p codeb-backends --bench ssot_ports`. With the file
//! store every operation reads and parses the whole document; a change also
//! writes, fsyncs and renames it. Figures are recorded in docs/benchmarks.md.

use std::sync::Arc;

use codeb::fake::{FakePortProbe, MemoryStateStore};
use codeb::model::{Environment, PortRange, ProjectName, Service};
use codeb::ports::{PortFilter, PortKey, PortRanges, PortRegistry, ServiceRanges, SsotPortRegistry};
use codeb::ssot::StateStore;
use codeb_backends::FileStateStore;
use criterion::{Criterion, criterion_group, criterion_main};

const PROJECTS: usize = 10_000;

/// Ranges wide enough to give every one of 10,000 projects a staging app port.
fn wide_ranges() -> PortRanges {
    let r = |a, b| PortRange::new(a, b).unwrap();
    PortRanges {
        staging: ServiceRanges { app: r(10_000, 29_999), postgres: Some(r(60_000, 60_999)), redis: None },
        production: ServiceRanges { app: r(30_000, 49_999), postgres: None, redis: None },
        preview: ServiceRanges { app: r(50_000, 59_999), postgres: None, redis: None },
    }
}

fn key(i: usize) -> PortKey {
    PortKey::new(ProjectName::parse(&format!("p{i}")).unwrap(), Environment::Staging, Service::App)
}

/// Records a staging app port for each of the 10,000 projects in one commit.
fn seed(store: &dyn StateStore) {
    let ports = wide_ranges().staging.app;
    store
        .update(&mut |doc| {
            for (i, port) in ports.iter().take(PROJECTS).enumerate() {
                let k = key(i);
                doc.environment_mut(&k.project, &k.env).ports.insert(k.service, port);
            }
            Ok(())
        })
        .unwrap();
}

fn bench_store(c: &mut Criterion, group: &str, store: Arc<dyn StateStore>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    seed(store.as_ref());
    let registry = SsotPortRegistry::new(store, Arc::new(FakePortProbe::new()), wide_ranges()).unwrap();
    let mut group = c.benchmark_group(group);
    group.sample_size(20);
    group.bench_function("allocate_existing_key", |b| {
        let k = key(PROJECTS / 2);
        b.to_async(&rt).iter(|| async { registry.allocate(&k).await.unwrap() });
    });
    group.bench_function("allocate_and_release_new_key", |b| {
        let k = key(PROJECTS + 1);
        b.to_async(&rt).iter(|| async {
            registry.allocate(&k).await.unwrap();
            registry.release(&k).await.unwrap();
        });
    });
    group.bench_function("list_one_project", |b| {
        let filter = PortFilter { project: Some(key(7).project), env: None };
        b.to_async(&rt).iter(|| async { registry.list(&filter).await.unwrap() });
    });
    group.finish();
}

fn ssot_ports(c: &mut Criterion) {
    bench_store(c, "memory_ssot_10k_projects", Arc::new(MemoryStateStore::default()));
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStateStore::new(dir.path().join("ssot.json")));
    bench_store(c, "file_ssot_10k_projects", store.clone());
    println!("file SSOT with {PROJECTS} projects: {} bytes", std::fs::metadata(store.path()).unwrap().len());
}

criterion_group!(benches, ssot_ports);
criterion_main!(benches);
