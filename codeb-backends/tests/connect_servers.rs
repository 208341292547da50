//! How `connect` reaches each `[servers.NAME]`: over SSH, or, for a build
//! server with `local = true`, on the machine codeb runs on (a CI runner
//! that builds and pushes while the app servers pull). Nothing is asked of
//! any server here: connecting reads only the platform file and key files.

use codeb::ErrorKind;
use codeb::config::PlatformConfig;
use codeb::model::{Role, ServerName};

/// A platform file in `dir` whose servers are `servers` (TOML sections).
fn platform_file(dir: &std::path::Path, servers: &str) -> String {
    let key = dir.join("pdns.key");
    std::fs::write(&key, "k3y").unwrap();
    let path = |name: &str| format!("{:?}", dir.join(name).display().to_string());
    format!(
        "[state]\npath = {}\n[secrets]\ndir = {}\nkey_file = {}\n[podman]\nsocket = {}\n\
         [caddy]\nadmin = \"http://127.0.0.1:2019\"\nlisten = [\"127.0.0.1:8080\"]\n\
         [powerdns]\napi = \"http://127.0.0.1:8081\"\napi_key_file = {}\nzone = \"codeb.test\"\n\
         [ssh]\nknown_hosts = {}\n\
         [servers.app1]\nroles = [\"app\", \"proxy\", \"dns\"]\nssh = \"deploy@203.0.113.10\"\n{servers}",
        path("ssot.json"),
        path("secrets"),
        path("secret.key"),
        path("podman.sock"),
        path("pdns.key"),
        path("known_hosts"),
    )
}

fn connect(servers: &str) -> codeb::Result<codeb::engine::Platform> {
    let dir = tempfile::tempdir().unwrap();
    codeb_backends::connect(&PlatformConfig::parse(&platform_file(dir.path(), servers)).unwrap(), "test")
}

#[test]
fn a_local_build_server_is_this_machine_and_builds_for_the_servers_reached_over_ssh() {
    let p =
        connect("[servers.ci]\nroles = [\"build\"]\nlocal = true\npodman_socket = \"/run/ci/podman.sock\"\n").unwrap();
    let fleet = &p.backends().fleet;
    let (ci, app1) = (ServerName::parse("ci").unwrap(), ServerName::parse("app1").unwrap());
    let builder = fleet.builder(&app1).unwrap();
    assert_eq!((&builder.name, builder.doctor.reach()), (&ci, "local".to_owned()), "built here");
    assert!(builder.has(Role::Build) && !builder.has(Role::App));
    assert_eq!(fleet.host(&app1).unwrap().doctor.reach(), "ssh deploy@203.0.113.10:22");
}

#[test]
fn local_is_only_for_a_build_server_and_never_beside_ssh() {
    let refused = |servers: &str, field: &str, says: &str| {
        let err = connect(servers).map(drop).unwrap_err();
        assert_eq!((err.kind(), err.context_value("field")), (ErrorKind::Invalid, Some(field)), "{err}");
        assert!(err.message().contains("[servers.ci]") && err.message().contains(says), "{err}");
    };
    refused("[servers.ci]\nroles = [\"build\", \"app\"]\nlocal = true\n", "roles", "may have only the build role");
    refused("[servers.ci]\nroles = [\"build\"]\nlocal = true\nssh = \"ci@x\"\n", "ssh", "reached without it");
    refused("[servers.ci]\nroles = [\"build\"]\nlocal = true\nidentity = \"/k\"\n", "identity", "is for SSH");
    refused("[servers.ci]\nroles = [\"build\"]\n", "ssh", "or `local = true`");
}
