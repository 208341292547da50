//! Deploys that build, on a fleet (issue 16), side by side in one run: the
//! floor, the app server building its own image (no build server: build,
//! push to the registry at its own address, pull back by digest), against a
//! build server that builds and pushes to its registry while the app server
//! pulls the digest across the fleet's network. Both registries speak TLS
//! at their host's address; every call goes over SSH. The rounds
//! alternate between the two, each writes a new page (a new layer to build
//! and send), and each change is timed from the one before it by the
//! executor's events.
//!
//! Needs root (the fleet's namespaces) and the live stack's variables (the
//! test images): `cargo bench -p codeb-tests --bench build_server`.
//! Figures: docs/benchmarks.md.

use std::time::Instant;

use codeb::engine::{DeployOptions, Platform};
use codeb::model::{Environment, ImageRef, Port, ProjectName};
use codeb::runtime::{BuildSpec, managed_labels};
use codeb::testkit::live_env;
use codeb_tests::fleet_site::{Site, connect, registry_section};
use codeb_tests::timing::timed_changes;

const ROUNDS: usize = 4;

/// One deploy of `project` that builds the test image v1 with `page` from `context`; prints its timings.
async fn round(p: &Platform, project: &ProjectName, context: &std::path::Path, label: &str, page: &str) {
    let v1 = live_env("CODEB_TEST_IMAGE_V1").unwrap();
    std::fs::write(context.join("index.html"), page).unwrap();
    std::fs::write(context.join("Containerfile"), format!("FROM {v1}\nCOPY index.html /www/index.html\n")).unwrap();
    let tag = ImageRef::parse(&format!("localhost/{project}:build")).unwrap();
    let mut request =
        codeb::engine::DeployRequest::new(project.clone(), Environment::Staging, tag.clone(), Port::new(8080).unwrap());
    request.build = Some(BuildSpec {
        context: context.to_owned(),
        containerfile: None,
        generated: None,
        tag,
        labels: managed_labels(project, &Environment::Staging, codeb::model::Service::App, None),
    });
    let (sink, seen) = timed_changes();
    let started = Instant::now();
    let report = p.deploy(&request, &DeployOptions { events: Some(sink), ..DeployOptions::default() }).await;
    let total = started.elapsed();
    report.unwrap_or_else(|e| panic!("{label}: {e}"));
    for change in seen.lock().unwrap().iter() {
        let what = format!("{} on {}", change.kind, change.server);
        println!("{label:<13} | {what:<28} | {:>6}", change.took.as_millis());
    }
    println!("{label:<13} | {:<28} | {:>6}", "whole deploy", total.as_millis());
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(site) = Site::with_build_server() else {
        eprintln!("build_server: no fleet or no live stack (see the header of benches/build_server.rs)");
        return;
    };
    let base = site.platform_file(
        &codeb_devstack::fleet::FleetHost::ssh_target,
        site.fleet.client_key(),
        &site.known_hosts(None),
    );
    // The floor: no build server, the app host's own registry.
    let on_app = connect(&(base.clone() + &registry_section(site.fleet.stack("app").unwrap())));
    let on_build = connect(&(base + &site.build_server_sections()));
    let (floor, served) = (site.project("floor"), site.project("builder"));
    let context = tempfile::tempdir().unwrap();
    println!("deploy        | change                       | ms");
    for n in 1..=ROUNDS {
        let page = format!("<h1>round {n} of {}</h1>\n", site.ns.as_str());
        round(&on_app, &floor, context.path(), &format!("app {n}"), &page).await;
        round(&on_build, &served, context.path(), &format!("build srv {n}"), &page).await;
    }
    for (p, project) in [(&on_app, &floor), (&on_build, &served)] {
        p.project_delete(project, true, &DeployOptions::default()).await.unwrap();
    }
}
