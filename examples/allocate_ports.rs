//! Allocates ports for a project in the embedded default SSOT (a JSON file)
//! while skipping whatever already listens on this machine, then checks the
//! record against reality.
//!
//! Run: `cargo run -p codeb-examples --example allocate_ports -- [STATE_FILE]`
//! (default: a file under the system temp directory). Run it twice: the second
//! run finds the same ports in the file.

use std::sync::Arc;

use codeb::model::{Environment, ProjectName, Service};
use codeb::ports::{PortFilter, PortKey, PortRanges, PortRegistry, SsotPortRegistry};
use codeb_backends::transport::LocalTransport;
use codeb_backends::{FileStateStore, ProcPortProbe};

#[tokio::main]
async fn main() -> codeb::Result<()> {
    let path = std::env::args().nth(1).map_or_else(|| std::env::temp_dir().join("codeb-example-ssot.json"), Into::into);
    let store = Arc::new(FileStateStore::new(&path));
    let registry = SsotPortRegistry::new(
        store,
        Arc::new(ProcPortProbe::new(Arc::new(LocalTransport::new()))),
        PortRanges::default(),
    )?;

    let project = ProjectName::parse("my-app")?;
    for service in [Service::App, Service::Postgres, Service::Redis] {
        registry.allocate(&PortKey::new(project.clone(), Environment::Staging, service)).await?;
    }
    let filter = PortFilter { project: Some(project), env: None };
    for allocation in registry.list(&filter).await? {
        println!("{} -> {}", allocation.key, allocation.port);
    }
    let report = registry.check().await?;
    println!(
        "{} conflict(s), {} drift item(s); the SSOT is {}",
        report.conflicts.len(),
        report.drift.len(),
        path.display()
    );
    Ok(())
}
