//! The conformance suite of [`ContainerRuntime`].

use crate::runtime::{RemoveContainerOptions, StopOptions};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::ErrorKind;
use crate::model::{ContainerName, EnvVar, Environment, ImageRef, Port, Service};
use crate::runtime::{
    BuildSpec, ContainerRuntime, ContainerSpec, ContainerState, ExecSpec, LABEL_PROTECTED, LogOptions, NetworkSpec,
    PortBinding, RemoveVolumeOptions, Resources, VolumeSpec, managed_labels,
};

use super::{Namespace, expect_kind, ok};

/// What the backend under test can run.
pub struct RuntimeSuite {
    /// An image the runtime has or can pull, that keeps running once started.
    pub image: ImageRef,
    /// The command that keeps the image running (argv), if its default does not.
    pub command: Option<Vec<String>>,
    /// The port the command listens on inside the container.
    pub container_port: Port,
    /// A command (argv) that exits 0 inside a running container of the image.
    pub succeeding_command: Vec<String>,
    /// Hands out a host port that is free right now.
    pub free_port: Box<dyn Fn() -> Port + Send + Sync>,
    /// A command (argv) that prints its environment to its log, one
    /// `KEY=value` a line, then keeps running; `None` for a runtime that
    /// runs no processes (the fake), where the check of what a container's
    /// process sees stops at its running.
    pub print_env: Option<Vec<String>>,
}

/// Runs every check; objects are named inside `ns` and removed afterwards.
pub async fn run(rt: &dyn ContainerRuntime, suite: &RuntimeSuite, ns: &Namespace) {
    ok("ping", rt.ping().await);
    images_are_ensured_idempotently(rt, suite).await;
    a_built_image_is_listed_by_its_labels_and_removed_once_unused(rt, suite, ns).await;
    a_container_goes_through_its_lifecycle(rt, suite, ns).await;
    a_running_container_is_removed_only_with_force(rt, suite, ns).await;
    a_secret_variable_reaches_the_containers_process_like_a_plain_one(rt, suite, ns).await;
    two_running_containers_cannot_publish_one_host_port(rt, suite, ns).await;
    a_protected_volume_is_removed_only_with_force(rt, ns).await;
    networks_are_ensured_and_removed_idempotently(rt, ns).await;
}

fn spec(suite: &RuntimeSuite, ns: &Namespace, name: ContainerName, host_port: Port) -> ContainerSpec {
    ContainerSpec {
        name,
        image: suite.image.clone(),
        command: suite.command.clone(),
        env: Vec::new(),
        labels: managed_labels(&ns.project("rt"), &Environment::Staging, Service::App, None),
        ports: vec![PortBinding {
            host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            host_port,
            container_port: suite.container_port,
        }],
        volumes: Vec::new(),
        network: None,
        resources: Resources::default(),
        init: true,
        secret_files: Vec::new(),
    }
}

/// Ensuring a present image twice succeeds and names the same image id.
pub async fn images_are_ensured_idempotently(rt: &dyn ContainerRuntime, suite: &RuntimeSuite) {
    let first = ok("ensure_image", rt.ensure_image(&suite.image).await);
    let second = ok("ensure_image again", rt.ensure_image(&suite.image).await);
    assert_eq!(first.id, second.id, "ensuring an image twice must name the same image");
}

/// A built image is listed by its labels (and not by another project's), a
/// container using it keeps it, and once unused it is removed, once.
pub async fn a_built_image_is_listed_by_its_labels_and_removed_once_unused(
    rt: &dyn ContainerRuntime,
    suite: &RuntimeSuite,
    ns: &Namespace,
) {
    let context = std::env::temp_dir().join(format!("codeb-conformance-{}", ns.as_str()));
    std::fs::create_dir_all(&context).expect("a temporary build context");
    std::fs::write(context.join("Containerfile"), format!("FROM {}\n", suite.image)).expect("its Containerfile");
    let project = ns.project("img");
    let tag = ImageRef::parse(&format!("localhost/{project}:build-1")).expect("a valid tag");
    let labels = managed_labels(&project, &Environment::Staging, Service::App, None);
    let build = BuildSpec {
        context: context.clone(),
        containerfile: None,
        generated: None,
        tag: tag.clone(),
        labels: labels.clone(),
    };
    ok("build_image", rt.build_image(&build).await);
    let _ = std::fs::remove_dir_all(&context);
    let listed = ok("list_images", rt.list_images(&labels).await);
    assert!(listed.iter().any(|i| i.reference == tag), "a built image must be listed by its labels: {listed:?}");
    let other = managed_labels(&ns.project("other"), &Environment::Staging, Service::App, None);
    let not_listed = ok("list_images other", rt.list_images(&other).await);
    assert!(not_listed.iter().all(|i| i.reference != tag), "a label filter must exclude other projects");

    let user = ContainerSpec { image: tag.clone(), ..spec(suite, ns, ns.container("img-user"), (suite.free_port)()) };
    ok("create a container of the image", rt.create_container(&user).await);
    expect_kind("remove an image in use", rt.remove_image(&tag).await, ErrorKind::Conflict);
    ok("cleanup", rt.remove_container(&user.name, RemoveContainerOptions::FORCE).await);
    ok("remove_image", rt.remove_image(&tag).await);
    let listed = ok("list_images after", rt.list_images(&labels).await);
    assert!(listed.iter().all(|i| i.reference != tag), "a removed image must not be listed");
    expect_kind("remove a removed image", rt.remove_image(&tag).await, ErrorKind::NotFound);
}

/// Create, start, list, stop and remove a container; each step is visible and errors are typed.
pub async fn a_container_goes_through_its_lifecycle(rt: &dyn ContainerRuntime, suite: &RuntimeSuite, ns: &Namespace) {
    let name = ns.container("life");
    let spec = spec(suite, ns, name.clone(), (suite.free_port)());
    ok("create_container", rt.create_container(&spec).await);
    expect_kind("create the same name twice", rt.create_container(&spec).await, ErrorKind::AlreadyExists);
    let info = ok("inspect created", rt.inspect_container(&name).await);
    assert_eq!(info.state, ContainerState::Created, "a new container must be created, not running");
    assert!(spec.labels.iter().all(|(k, v)| info.labels.get(k) == Some(v)), "labels must be kept");
    assert_eq!(info.ports, spec.ports, "port bindings must be kept");

    ok("start_container", rt.start_container(&name).await);
    assert_eq!(ok("inspect running", rt.inspect_container(&name).await).state, ContainerState::Running);
    let listed = ok("list_containers", rt.list_containers(&spec.labels).await);
    assert!(listed.iter().any(|c| c.name == name), "a container must be listed by its labels");
    let mut other = spec.labels.clone();
    other.insert(crate::runtime::LABEL_PROJECT.to_owned(), format!("{}-other", ns.as_str()));
    let not_listed = ok("list_containers other", rt.list_containers(&other).await);
    assert!(not_listed.iter().all(|c| c.name != name), "a label filter must exclude other projects");
    let logs = ok("logs", rt.logs(&name, LogOptions { tail: 5 }).await);
    assert!(logs.len() <= 5, "logs must respect the tail");
    let exec = ExecSpec { argv: suite.succeeding_command.clone(), env: Vec::new() };
    assert_eq!(ok("exec", rt.exec(&name, &exec).await), 0, "a command that succeeds must exit 0");

    ok("stop_container", rt.stop_container(&name, StopOptions { grace: Duration::from_secs(5) }).await);
    let stopped = ok("inspect stopped", rt.inspect_container(&name).await).state;
    assert!(matches!(stopped, ContainerState::Exited { .. }), "a stopped container must be exited, was {stopped:?}");
    ok("stop a stopped container", rt.stop_container(&name, StopOptions { grace: Duration::from_secs(5) }).await);
    expect_kind("exec in a stopped container", rt.exec(&name, &exec).await, ErrorKind::Conflict);

    ok("remove_container", rt.remove_container(&name, RemoveContainerOptions::default()).await);
    expect_kind("inspect removed", rt.inspect_container(&name).await, ErrorKind::NotFound);
    expect_kind(
        "remove removed",
        rt.remove_container(&name, RemoveContainerOptions::default()).await,
        ErrorKind::NotFound,
    );
    expect_kind("start removed", rt.start_container(&name).await, ErrorKind::NotFound);
    expect_kind("logs of removed", rt.logs(&name, LogOptions::default()).await, ErrorKind::NotFound);
    expect_kind("exec in removed", rt.exec(&name, &exec).await, ErrorKind::NotFound);
}

/// A container with a secret variable and a plain one runs, and its process
/// (where the runtime runs processes) sees both.
pub async fn a_secret_variable_reaches_the_containers_process_like_a_plain_one(
    rt: &dyn ContainerRuntime,
    suite: &RuntimeSuite,
    ns: &Namespace,
) {
    let name = ns.container("env");
    let mut spec = spec(suite, ns, name.clone(), (suite.free_port)());
    spec.command = suite.print_env.clone().or(spec.command);
    let (plain, secret) =
        ("CODEB_SUITE_PLAIN=plain value".to_owned(), format!("CODEB_SUITE_SECRET=s3cret-{}", ns.as_str()));
    spec.env = [(&plain, false), (&secret, true)]
        .into_iter()
        .map(|(assignment, secret)| EnvVar::parse_assignment(assignment, secret).expect("a valid assignment"))
        .collect();
    ok("create with a secret variable", rt.create_container(&spec).await);
    ok("start with a secret variable", rt.start_container(&name).await);
    let state = ok("inspect with a secret variable", rt.inspect_container(&name).await).state;
    let printed = match &suite.print_env {
        Some(_) => logged(rt, &name, &[&plain, &secret]).await,
        None => Ok(()),
    };
    ok("remove with a secret variable", rt.remove_container(&name, RemoveContainerOptions::FORCE).await);
    assert_eq!(state, ContainerState::Running, "a container with a secret variable must run");
    if let Err(lines) = printed {
        panic!("the process must see the plain and the secret variable; its log has {lines} lines without them");
    }
}

/// Waits up to 10 s until the log of `name` holds every one of `lines`; else
/// how many lines it holds (never the lines: they may hold a secret).
async fn logged(rt: &dyn ContainerRuntime, name: &ContainerName, lines: &[&String]) -> Result<(), usize> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = ok("logs", rt.logs(name, LogOptions { tail: 1000 }).await);
        if lines.iter().all(|line| log.contains(line)) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(log.len());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Removing a running container needs force.
pub async fn a_running_container_is_removed_only_with_force(
    rt: &dyn ContainerRuntime,
    suite: &RuntimeSuite,
    ns: &Namespace,
) {
    let name = ns.container("force");
    ok("create", rt.create_container(&spec(suite, ns, name.clone(), (suite.free_port)())).await);
    ok("start", rt.start_container(&name).await);
    expect_kind(
        "remove running without force",
        rt.remove_container(&name, RemoveContainerOptions::default()).await,
        ErrorKind::Conflict,
    );
    assert_eq!(ok("inspect", rt.inspect_container(&name).await).state, ContainerState::Running);
    ok("remove running with force", rt.remove_container(&name, RemoveContainerOptions::FORCE).await);
    expect_kind("inspect removed", rt.inspect_container(&name).await, ErrorKind::NotFound);
}

/// A second container cannot start on a host port a running one publishes.
pub async fn two_running_containers_cannot_publish_one_host_port(
    rt: &dyn ContainerRuntime,
    suite: &RuntimeSuite,
    ns: &Namespace,
) {
    let port = (suite.free_port)();
    let (a, b) = (ns.container("clash-a"), ns.container("clash-b"));
    ok("create a", rt.create_container(&spec(suite, ns, a.clone(), port)).await);
    ok("create b", rt.create_container(&spec(suite, ns, b.clone(), port)).await);
    ok("start a", rt.start_container(&a).await);
    let started_b = rt.start_container(&b).await;
    for name in [&a, &b] {
        ok("cleanup", rt.remove_container(name, RemoveContainerOptions::FORCE).await);
    }
    expect_kind("start b on a's port", started_b, ErrorKind::Conflict);
}

/// A volume labelled protected survives a plain removal and goes only with force.
pub async fn a_protected_volume_is_removed_only_with_force(rt: &dyn ContainerRuntime, ns: &Namespace) {
    let mut labels = managed_labels(&ns.project("vol"), &Environment::Production, Service::Postgres, None);
    labels.insert(LABEL_PROTECTED.to_owned(), "true".to_owned());
    let protected = VolumeSpec { name: ns.volume("pgdata"), labels: labels.clone() };
    let info = ok("create_volume", rt.create_volume(&protected).await);
    assert!(info.is_protected(), "the protected label must be kept");
    expect_kind("create the same volume twice", rt.create_volume(&protected).await, ErrorKind::AlreadyExists);
    let plain = RemoveVolumeOptions::default();
    expect_kind("remove protected without force", rt.remove_volume(&protected.name, plain).await, ErrorKind::Forbidden);
    let listed = ok("list_volumes", rt.list_volumes(&labels).await);
    assert!(listed.iter().any(|v| v.name == protected.name), "a refused removal must leave the volume");
    ok("remove protected with force", rt.remove_volume(&protected.name, RemoveVolumeOptions { force: true }).await);
    let listed = ok("list_volumes", rt.list_volumes(&labels).await);
    assert!(listed.iter().all(|v| v.name != protected.name), "a forced removal must remove the volume");
    expect_kind("remove absent volume", rt.remove_volume(&protected.name, plain).await, ErrorKind::NotFound);

    let scratch = VolumeSpec { name: ns.volume("scratch"), labels: Default::default() };
    ok("create unprotected", rt.create_volume(&scratch).await);
    ok("remove unprotected", rt.remove_volume(&scratch.name, plain).await);
}

/// Ensuring a network twice and removing it twice both succeed.
pub async fn networks_are_ensured_and_removed_idempotently(rt: &dyn ContainerRuntime, ns: &Namespace) {
    let spec = NetworkSpec { name: ns.network("net"), labels: Default::default() };
    ok("ensure_network", rt.ensure_network(&spec).await);
    ok("ensure_network again", rt.ensure_network(&spec).await);
    ok("remove_network", rt.remove_network(&spec.name).await);
    ok("remove_network again", rt.remove_network(&spec.name).await);
}
