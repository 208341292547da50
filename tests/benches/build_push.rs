//! Build and push of an example, time-stamped by step (issue 16): the
//! example `examples/hello` deployed through the SDK with the live stack's
//! registry as `[registry]`, so each deploy builds the image, pushes it,
//! pulls it back by digest and runs that. Each round changes the page, so
//! every build and push has a new layer to make and send; the first round
//! is cold (no layer in the registry yet). Prints, per round, how long each
//! change of the plan took, from the events the executor emits.
//!
//! Needs the live stack (`codeb-testenv up DIR`, then `eval` its exports).
//! Run: `cargo bench -p codeb-tests --bench build_push`. Figures: docs/benchmarks.md.

use std::path::Path;
use std::time::Instant;

use codeb::config::PlatformConfig;
use codeb::engine::DeployOptions;
use codeb::model::Environment;
use codeb::project::ProjectFile;
use codeb::testkit::{Namespace, copy_example, live_env, live_platform_file, live_registry_section};
use codeb_tests::timing::timed_changes;

const ROUNDS: usize = 3;

/// The platform file of the live stack with its registry as `[registry]`.
fn platform_file(dir: &Path) -> Option<std::path::PathBuf> {
    let registry = live_registry_section(dir, &live_env("CODEB_TEST_REGISTRY_PASSWORD")?)?;
    let extra = format!("drain_grace = \"0s\"\nstop_grace = \"2s\"\nwatch_window = \"0s\"\n{registry}");
    live_platform_file(dir, "build-push.codeb.test", &extra)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let Some(config) = platform_file(dir.path()) else {
        eprintln!("build_push: no live stack (see the header of benches/build_push.rs)");
        return;
    };
    let platform = codeb_backends::connect(&PlatformConfig::read(&config).unwrap(), "bench").unwrap();
    let ns = Namespace::random();
    let project = ns.project("bench");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello");
    let app = copy_example(&example, &dir.path().join("app"), project.as_str(), ns.host("bench").as_str());
    println!("round | change           | ms");
    for round in 1..=ROUNDS {
        let page = format!("<h1>hello from round {round} of {}</h1>\n", ns.as_str());
        std::fs::write(app.join("rootfs/www/index.html"), page).unwrap();
        let mut request = ProjectFile::read(&app).unwrap().deploy_request(&Environment::Staging, None).unwrap();
        request.domains.clear();
        let (sink, seen) = timed_changes();
        let started = Instant::now();
        let report = platform.deploy(&request, &DeployOptions { events: Some(sink), ..DeployOptions::default() }).await;
        let total = started.elapsed();
        let report = report.unwrap_or_else(|e| panic!("round {round}: {e}"));
        for change in seen.lock().unwrap().iter() {
            println!("{round:>5} | {:<16} | {:>6}", change.kind, change.took.as_millis());
        }
        println!("{round:>5} | {:<16} | {:>6}   ({})", "whole deploy", total.as_millis(), report.image);
    }
    platform.project_delete(&project, true, &DeployOptions::default()).await.unwrap();
}
