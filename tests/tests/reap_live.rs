//! `codeb-testenv up` clears away what killed test runs left in Podman:
//! against the live service, an orphaned test project (its conmon killed)
//! loses its container, network and volume; a live test project keeps its own.

use std::process::Command;
use std::time::{Duration, Instant};

use codeb::testkit::{Namespace, live_env};
use codeb_tests::reap::reap_orphans;

/// The podman CLI against the live service: what it printed, trimmed.
fn podman(socket: &str, args: &[&str]) -> String {
    let out = Command::new("podman").arg("--url").arg(format!("unix://{socket}")).args(args).output().unwrap();
    assert!(out.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Starts a managed container of `project` with its network and volume; returns the container's name.
fn workload(socket: &str, image: &str, project: &str) -> String {
    let (managed, owner) = ("--label=io.codeb.managed=true".to_owned(), format!("--label=io.codeb.project={project}"));
    let name = format!("codeb-{project}-staging-v1");
    podman(socket, &["network", "create", &managed, &owner, &format!("codeb-{project}-staging")]);
    podman(socket, &["volume", "create", &managed, &owner, &format!("codeb-{project}-staging-postgres-data")]);
    podman(socket, &["run", "-d", "--init", "--name", &name, &managed, &owner, image]);
    name
}

/// How many containers, networks and volumes labelled with `project` exist, in that order.
fn objects(socket: &str, project: &str) -> [usize; 3] {
    let filter = format!("label=io.codeb.project={project}");
    let listings: [&[&str]; 3] = [
        &["ps", "-a", "--format", "{{.Names}}"],
        &["network", "ls", "--format", "{{.Name}}"],
        &["volume", "ls", "--format", "{{.Name}}"],
    ];
    listings.map(|listing| {
        let mut args = listing.to_vec();
        args.extend(["--filter", &filter]);
        podman(socket, &args).lines().filter(|l| !l.is_empty()).count()
    })
}

/// Removes a workload of `project`, whatever is left of it.
fn remove(socket: &str, project: &str) {
    let url = format!("unix://{socket}");
    for args in [
        vec!["rm", "-f", "-t", "0", &format!("codeb-{project}-staging-v1")],
        vec!["network", "rm", "-f", &format!("codeb-{project}-staging")],
        vec!["volume", "rm", "-f", &format!("codeb-{project}-staging-postgres-data")],
    ] {
        let _ = Command::new("podman").arg("--url").arg(&url).args(&args).output();
    }
}

#[test]
fn an_orphaned_test_project_is_removed_and_a_live_one_is_left_alone() {
    let (Some(socket), Some(image)) = (live_env("CODEB_TEST_PODMAN_SOCKET"), live_env("CODEB_TEST_IMAGE_V1")) else {
        return;
    };
    let (dead, alive) = (Namespace::random().project("reap"), Namespace::random().project("reap"));
    let orphan = workload(&socket, &image, dead.as_str());
    let survivor = workload(&socket, &image, alive.as_str());
    let pids = podman(&socket, &["inspect", "--format", "{{.State.ConmonPid}} {{.State.Pid}}", &orphan]);
    assert!(Command::new("kill").arg("-9").args(pids.split_whitespace()).status().unwrap().success());
    let conmon = pids.split_whitespace().next().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{conmon}")).exists() {
        assert!(Instant::now() < deadline, "conmon {conmon} outlived SIGKILL");
        std::thread::sleep(Duration::from_millis(20));
    }

    let reaped = reap_orphans(std::path::Path::new(&socket));
    let (left, kept) = (objects(&socket, dead.as_str()), objects(&socket, alive.as_str()));
    let running = podman(&socket, &["inspect", "--format", "{{.State.Running}}", &survivor]);
    remove(&socket, dead.as_str());
    remove(&socket, alive.as_str());

    let reaped = reaped.expect("the reap runs");
    assert!(reaped.projects.contains(&dead.to_string()), "{reaped:?}");
    assert!(!reaped.projects.contains(&alive.to_string()), "a live test's project is not an orphan: {reaped:?}");
    assert_eq!(left, [0, 0, 0], "the orphan's container, network and volume are gone");
    assert_eq!(kept, [1, 1, 1], "the live project keeps its container, network and volume");
    assert_eq!(running, "true");
}
