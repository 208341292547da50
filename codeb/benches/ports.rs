//! Port allocation and lookup with 10,000 projects in the in-memory SSOT.
//!
//! Run: `cargo bench -p codeb --bench ports`. The file-backed SSOT has its own
//! bench in codeb-backends. Figures are recorded in docs/benchmarks.md.

use std::sync::Arc;

use codeb::fake::{FakePortRegistry, MemoryStateStore};
use codeb::model::{Environment, PortRange, ProjectName, Service};
use codeb::ports::{PortFilter, PortKey, PortRanges, PortRegistry, ServiceRanges};
use criterion::{Criterion, criterion_group, criterion_main};

const PROJECTS: usize = 10_000;

/// Ranges wide enough to give every one of 10,000 projects a staging app port.
fn wide_ranges() -> PortRanges {
    let r = |a, b| PortRange::new(a, b).unwrap();
    PortRanges {
        staging: ServiceRanges {
            app: r(10_000, 29_999),
            postgres: Some(r(60_000, 60_999)),
            redis: Some(r(61_000, 61_999)),
        },
        production: ServiceRanges {
            app: r(30_000, 49_999),
            postgres: Some(r(62_000, 62_999)),
            redis: Some(r(63_000, 63_999)),
        },
        preview: ServiceRanges { app: r(50_000, 59_999), postgres: None, redis: None },
    }
}

fn key(i: usize) -> PortKey {
    PortKey::new(ProjectName::parse(&format!("p{i}")).unwrap(), Environment::Staging, Service::App)
}

fn ports(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    let registry = FakePortRegistry::with_store(Arc::new(MemoryStateStore::default()), wide_ranges()).unwrap();
    rt.block_on(async {
        for i in 0..PROJECTS {
            registry.allocate(&key(i)).await.unwrap();
        }
    });

    let mut group = c.benchmark_group("memory_ssot_10k_projects");
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

criterion_group!(benches, ports);
criterion_main!(benches);
