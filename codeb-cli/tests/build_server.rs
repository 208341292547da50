//! `we deploy` on a fleet with a build server, as a user runs it: the real
//! `we` in a HOME of its own, a project directory with a codeb.toml and a
//! Containerfile, and a platform file whose servers are hosts in network
//! namespaces reached over SSH (`codeb_tests::fleet_site`). The build and
//! the push run on the build host, which keeps its registry over TLS; the
//! app host pulls the digest and serves it through its Caddy.
//!
//! Needs root, `ip` and OpenSSH (the fleet), and the live stack's test
//! images (`scripts/test`).

mod support;

use codeb::testkit::live_env;
use codeb_devstack::images::PodmanCli;
use codeb_tests::fleet_site::{BUILD, Site};
use serde_json::Value;
use support::We;

/// A project directory: a codeb.toml that builds `FROM` the test image v1 a page saying `page`, served at `domain`.
fn project_dir(site: &Site, project: &str, domain: &str, page: &str) -> std::path::PathBuf {
    let dir = site.path("app");
    std::fs::create_dir_all(&dir).unwrap();
    let v1 = live_env("CODEB_TEST_IMAGE_V1").unwrap();
    std::fs::write(dir.join("Containerfile"), format!("FROM {v1}\nCOPY index.html /www/index.html\n")).unwrap();
    std::fs::write(dir.join("index.html"), page).unwrap();
    let toml = format!(
        "name = {project:?}\nport = 8080\n[build]\ncontext = \".\"\ncontainerfile = \"Containerfile\"\n\
         [healthcheck]\npath = \"/\"\ninterval = \"100ms\"\ndeadline = \"20s\"\n\
         [environments.staging]\ndomains = [{domain:?}]\n"
    );
    std::fs::write(dir.join("codeb.toml"), toml).unwrap();
    dir
}

/// `(change, server)` of each change of a plan printed with `--json`.
fn placed(plan: &Value) -> Vec<(String, String)> {
    let changes = plan["changes"].as_array().unwrap_or_else(|| panic!("a plan: {plan}"));
    changes
        .iter()
        .map(|c| (c["change"].as_str().unwrap().to_owned(), c["server"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn we_deploy_builds_on_the_build_server_and_the_app_server_serves_the_digest_it_pulls() {
    let Some(site) = Site::with_build_server() else { return };
    let config = site.path("platform.toml");
    std::fs::write(&config, site.usual_platform_file()).unwrap();
    let mut we = We::new(config, site.path("home"));
    let project = site.project("cli-built").to_string();
    let web = site.domain("cli-built");
    let dir = project_dir(&site, &project, web.as_str(), "built by we on the build server");
    let path = dir.to_str().unwrap();

    let plan = we.json(&["deploy", path, "--env", "staging", "--dry-run"], 0);
    let at = |kind: &str| placed(&plan).into_iter().find(|(k, _)| k == kind).map(|(_, server)| server);
    for (kind, server) in
        [("build_image", BUILD), ("push_image", BUILD), ("pull_image", "app"), ("start_release", "app")]
    {
        assert_eq!(at(kind).as_deref(), Some(server), "{kind} on {server}: {plan}");
    }
    let shown = we.ok(&["deploy", path, "--env", "staging", "--dry-run"]).stdout;
    assert!(shown.contains(&format!("build image localhost/{project}")) && shown.contains(" on build\n"), "{shown}");

    let deployed = we.json(&["deploy", path, "--env", "staging"], 0);
    let image = deployed["image"].as_str().unwrap_or_else(|| panic!("a report: {deployed}")).to_owned();
    let registry = site.fleet.stack(BUILD).unwrap().endpoints().registry.to_string();
    assert!(image.starts_with(&format!("{registry}/{project}@sha256:")), "run by digest from the registry: {image}");
    assert_eq!(site.page(&web), (200, "built by we on the build server".to_owned()));

    let podman = |host: &str| PodmanCli::new(&site.fleet.stack(host).unwrap().endpoints().podman_socket).unwrap();
    let tags =
        podman(BUILD).run(&["images", "--format", "{{.Repository}}", "--filter", "reference=localhost/*"]).unwrap();
    assert!(tags.lines().any(|t| t == format!("localhost/{project}")), "built on the build host: {tags}");
    let on_app = podman("app").run(&["images", "--format", "{{.Repository}}"]).unwrap();
    assert!(!on_app.lines().any(|t| t == format!("localhost/{project}")), "never built on the app host: {on_app}");
    we.ok(&["project", "delete", &project, "--force"]);
}
