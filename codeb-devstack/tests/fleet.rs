//! The fleet harness against the real programs: hosts in network namespaces
//! that the root namespace reaches over SSH at their own addresses, each
//! command running inside its host; a stack on one host with container
//! storage of its own; an image pushed by one host's stack to its registry
//! over TLS and pulled by another's; nothing left behind by a dropped or a
//! killed run.
//!
//! They need root, `ip` and OpenSSH: skipped loudly without, failures under `CI=true`.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::Command;

use codeb::model::ImageRef;
use codeb_devstack::fleet::{Fleet, FleetHost, NAMESPACE_PREFIX, reap_stale};
use codeb_devstack::images::{BusyboxImage, PodmanCli};

fn fleet_possible() -> bool {
    codeb::testkit::live_requirement("a fleet in network namespaces", Fleet::check_requirements())
}

/// `ssh` to `host` as the fleet's client, trusting only the host's own key; its stdout.
fn ssh(fleet: &Fleet, host: &FleetHost, argv: &[&str]) -> String {
    let known_hosts = fleet.client_key().with_file_name(format!("known_hosts_{}", host.name()));
    std::fs::write(&known_hosts, format!("{} {}", host.address(), host.host_key().unwrap())).unwrap();
    let out = Command::new("ssh")
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o"])
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .arg("-i")
        .arg(fleet.client_key())
        .arg(format!("root@{}", host.address()))
        .args(argv)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh {argv:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn namespaces() -> String {
    String::from_utf8(Command::new("ip").args(["netns", "list"]).output().unwrap().stdout).unwrap()
}

fn links() -> String {
    String::from_utf8(Command::new("ip").args(["-o", "link", "show"]).output().unwrap().stdout).unwrap()
}

#[test]
fn each_host_answers_over_ssh_at_its_address_from_inside_its_namespace_and_is_gone_when_dropped() {
    if !fleet_possible() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let fleet = Fleet::up(tmp.path(), &["app", "storage", "backup"], &[]).unwrap();
    let addresses: Vec<_> = fleet.hosts().iter().map(FleetHost::address).collect();
    assert_eq!(addresses.len(), 3);
    for host in fleet.hosts() {
        assert!(host.address().to_string().starts_with("10.231."), "{}", host.address());
        let seen = ssh(&fleet, host, &["ip", "-o", "-4", "addr", "show"]);
        assert!(seen.contains(&format!("inet {}/30", host.address())), "{seen}");
        for other in addresses.iter().filter(|a| **a != host.address()) {
            assert!(!seen.contains(&other.to_string()), "a host sees only its own link: {seen}");
        }
    }
    let hosts: Vec<&str> = fleet.hosts().iter().map(FleetHost::name).collect();
    assert_eq!(hosts, ["app", "storage", "backup"]);
    let names: Vec<(String, String)> =
        fleet.hosts().iter().map(|h| (h.namespace().to_owned(), h.root_link().to_owned())).collect();
    let (listed, linked) = (namespaces(), links());
    for (namespace, link) in &names {
        assert!(namespace.starts_with(NAMESPACE_PREFIX) && listed.contains(namespace.as_str()), "{listed}");
        assert!(linked.contains(&format!(" {link}@")), "{linked}");
    }
    let dir = fleet.hosts()[0].dir().parent().unwrap().to_owned();
    drop(fleet);
    let (listed, linked) = (namespaces(), links());
    for (namespace, link) in &names {
        assert!(!listed.contains(namespace.as_str()), "{namespace} is removed: {listed}");
        assert!(!linked.contains(&format!(" {link}@")), "{link} is removed: {linked}");
    }
    assert!(!dir.exists(), "the fleet's directory is removed");
}

#[test]
fn a_host_runs_a_stack_of_its_own_with_its_own_container_storage() {
    if !fleet_possible() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let fleet = Fleet::up(tmp.path(), &["app"], &["app"]).unwrap();
    let app = fleet.host("app").unwrap();
    let stack = fleet.stack("app").unwrap();
    // Caddy's admin API listens on the app host's loopback, not the root namespace's.
    let admin = stack.endpoints().caddy_admin;
    let config = ssh(&fleet, app, &["busybox", "wget", "-q", "-O", "-", &format!("http://{admin}/config/")]);
    assert!(config.contains(&admin.to_string()), "Caddy answers on the host's loopback: {config}");
    let podman = codeb_devstack::images::PodmanCli::new(&stack.endpoints().podman_socket).unwrap();
    let root = podman.run(&["info", "--format", "{{.Store.GraphRoot}}"]).unwrap();
    assert!(Path::new(root.trim()).starts_with(app.dir()), "its own storage: {root}");
    assert_eq!(podman.run(&["images", "--quiet"]).unwrap().trim(), "", "none of the machine's images");
    let network = format!("codeb-fleet-test-{}", std::process::id());
    podman.run(&["network", "create", &network]).unwrap();
    let config = Path::new("/etc/containers/networks").join(format!("{network}.json"));
    assert!(!config.exists(), "its networks are its own, not the machine's: {}", config.display());
    assert!(podman.run(&["network", "ls", "--quiet"]).unwrap().contains(&network));
}

#[test]
fn one_host_pulls_what_another_pushed_to_its_registry_over_verified_tls() {
    if !fleet_possible() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let fleet = Fleet::up(tmp.path(), &["build", "app"], &["build", "app"]).unwrap();
    let (build, app) = (fleet.stack("build").unwrap(), fleet.stack("app").unwrap());
    let registry = build.endpoints().registry;
    assert_eq!(registry.ip(), std::net::IpAddr::V4(fleet.host("build").unwrap().address()), "at the host's address");
    assert!(build.endpoints().registry_tls);
    let podman = |stack: &codeb_devstack::LocalStack| PodmanCli::new(&stack.endpoints().podman_socket).unwrap();
    let image = ImageRef::parse("localhost/fleet-tls:1").unwrap();
    BusyboxImage::httpd(image.clone(), "over tls").build(&podman(build), &tmp.path().join("scratch")).unwrap();
    let remote = format!("{registry}/fleet-tls:1");
    let auth = build.registry_auth_file();
    let auth = auth.to_str().unwrap();
    // No --tls-verify=false: each host's Podman verifies the certificate against the fleet's authority.
    podman(build).run(&["push", "--authfile", auth, image.as_str(), &remote]).unwrap();
    podman(app).run(&["pull", "--authfile", auth, &remote]).unwrap();
    assert!(podman(app).has_image(&ImageRef::parse(&remote).unwrap()).unwrap(), "pulled from the other host");

    // A Podman that does not trust the fleet's authority refuses the registry's certificate.
    let untrusting = Command::new("podman").args(["pull", "--authfile", auth, &remote]).output().unwrap();
    let said = String::from_utf8_lossy(&untrusting.stderr);
    assert!(!untrusting.status.success() && said.contains("x509"), "refused as unverified: {said}");
}

#[test]
fn what_a_killed_run_left_is_reaped_by_name() {
    if !fleet_possible() {
        return;
    }
    // A namespace and link as a run whose process is gone (no PID is u32::MAX) left them.
    let name = format!("{NAMESPACE_PREFIX}{}-0dead0-app", u32::MAX);
    let link = "cf0dead00";
    for args in
        [vec!["netns", "add", &name], vec!["link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", &name]]
    {
        assert!(Command::new("ip").args(&args).status().unwrap().success(), "ip {args:?}");
    }
    let reaped = reap_stale();
    assert!(reaped.contains(&name), "{reaped:?}");
    assert!(!namespaces().contains(&name));
    assert!(!links().contains(link), "its link is gone too");
}
