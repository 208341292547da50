//! Clearing away what killed test runs left in Podman.
//!
//! A session that is killed while its stack runs takes conmon with it, but
//! not Podman's records: its test containers stay "running" with their NAT
//! rules, networks (each holding a /24 of Podman's pool) and volumes. When a
//! new stack starts, `codeb-testenv up` removes those of *test* projects
//! (named by `codeb::testkit::Namespace`) whose containers are orphans. A
//! test running right now has a live conmon, so concurrent runs are safe.

use std::path::Path;

use codeb::Result;
use codeb::runtime::{LABEL_MANAGED, LABEL_PROJECT};
use codeb_devstack::images::PodmanCli;

/// One container as `podman inspect` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspected {
    /// Its name.
    pub name: String,
    /// Whether Podman says it runs.
    pub running: bool,
    /// Its conmon's PID (0 when it has none).
    pub conmon_pid: u32,
    /// Its `io.codeb.project` label.
    pub project: String,
}

/// What a reap removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reaped {
    /// The test projects whose orphans were found.
    pub projects: Vec<String>,
    /// How many containers, networks and volumes of theirs were removed.
    pub removed: usize,
}

/// The `--format` of `podman inspect` that [`parse_inspected`] reads.
const INSPECT_FORMAT: &str =
    "{{.Name}}\t{{.State.Running}}\t{{.State.ConmonPid}}\t{{index .Config.Labels \"io.codeb.project\"}}";

/// Whether `project` is one of the test suite's (`t` and 8 lowercase letters or digits, then `-`).
pub fn is_test_project(project: &str) -> bool {
    let bytes = project.as_bytes();
    bytes.len() > 10
        && bytes[0] == b't'
        && bytes[1..9].iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes[9] == b'-'
}

/// Parses the lines `podman inspect --format INSPECT_FORMAT` prints.
pub fn parse_inspected(text: &str) -> Vec<Inspected> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (name, running, pid, project) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
            Some(Inspected {
                name: name.to_owned(),
                running: running == "true",
                conmon_pid: pid.parse().ok()?,
                project: project.to_owned(),
            })
        })
        .collect()
}

/// The test projects that have a container Podman calls running whose conmon is not alive.
pub fn orphaned_projects(containers: &[Inspected], conmon_alive: impl Fn(u32) -> bool) -> Vec<String> {
    let mut projects: Vec<String> = containers
        .iter()
        .filter(|c| c.running && is_test_project(&c.project) && !(c.conmon_pid > 0 && conmon_alive(c.conmon_pid)))
        .map(|c| c.project.clone())
        .collect();
    projects.sort();
    projects.dedup();
    projects
}

/// Whether `pid` is a running conmon.
fn conmon_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "conmon")
}

/// Removes every container, network and volume of the test projects that
/// have orphans, through the podman CLI against the service at `socket`.
pub fn reap_orphans(socket: &Path) -> Result<Reaped> {
    let podman = PodmanCli::new(socket)?;
    let managed = format!("label={LABEL_MANAGED}=true");
    let names = lines(&podman, &["ps", "-a", "--filter", &managed, "--format", "{{.Names}}"])?;
    if names.is_empty() {
        return Ok(Reaped::default());
    }
    let mut args = vec!["inspect", "--type", "container", "--format", INSPECT_FORMAT];
    args.extend(names.iter().map(String::as_str));
    let projects = orphaned_projects(&parse_inspected(&podman.run(&args)?), conmon_alive);
    let mut reaped = Reaped { projects: projects.clone(), removed: 0 };
    for project in &projects {
        let label = format!("label={LABEL_PROJECT}={project}");
        let containers = lines(&podman, &["ps", "-a", "--filter", &label, "--format", "{{.Names}}"])?;
        if !containers.is_empty() {
            // A forced removal of an orphan can fail once at its stop step; the second one succeeds.
            let mut rm = vec!["rm", "-f", "-t", "0"];
            rm.extend(containers.iter().map(String::as_str));
            podman.run(&rm).or_else(|_| podman.run(&rm))?;
        }
        let networks = lines(&podman, &["network", "ls", "--filter", &label, "--format", "{{.Name}}"])?;
        let volumes = lines(&podman, &["volume", "ls", "--filter", &label, "--format", "{{.Name}}"])?;
        for (command, objects) in [("network", &networks), ("volume", &volumes)] {
            if !objects.is_empty() {
                let mut rm = vec![command, "rm", "-f"];
                rm.extend(objects.iter().map(String::as_str));
                podman.run(&rm)?;
            }
        }
        reaped.removed += containers.len() + networks.len() + volumes.len();
    }
    Ok(reaped)
}

/// The non-empty lines `podman args` prints.
fn lines(podman: &PodmanCli, args: &[&str]) -> Result<Vec<String>> {
    Ok(podman.run(args)?.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_suite_s_namespaces_are_test_projects() {
        assert!(is_test_project("tqqoetxhx-orphan"));
        assert!(is_test_project("t12345678-live"));
        for other in ["hello", "shop-staging", "tQQOETXHX-x", "tqqoetxh-x", "tqqoetxhx-", "xqqoetxhx-app", ""] {
            assert!(!is_test_project(other), "{other}");
        }
    }

    #[test]
    fn orphans_are_running_test_containers_whose_conmon_is_gone() {
        let text = "codeb-ta0000000-a-v1\ttrue\t100\tta0000000-a\n\
                    codeb-tb0000000-b-v1\ttrue\t200\ttb0000000-b\n\
                    codeb-tc0000000-c-v1\tfalse\t0\ttc0000000-c\n\
                    codeb-hello-staging-v1\ttrue\t300\thello\n\
                    codeb-td0000000-d-v1\ttrue\t0\ttd0000000-d\n\
                    a line of another shape\n";
        let containers = parse_inspected(text);
        assert_eq!(containers.len(), 5);
        assert_eq!(
            containers[0],
            Inspected {
                name: "codeb-ta0000000-a-v1".into(),
                running: true,
                conmon_pid: 100,
                project: "ta0000000-a".into()
            }
        );
        // conmon 100 lives; 200 and 300 are gone; d has none at all.
        let orphans = orphaned_projects(&containers, |pid| pid == 100);
        assert_eq!(orphans, ["tb0000000-b", "td0000000-d"], "a live test, an exited one and a non-test project stay");
    }
}
