//! The Node.js base image the harness builds from Debian's packages
//! (`CODEB_TEST_NODE_IMAGE`), run on the live Podman: it runs Node.js
//! programs and has npm's `npx`, which a release command such as
//! `npx prisma migrate deploy` needs. (The PostgreSQL image is proven as an
//! accessory by `live_data`.)

use std::process::{Command, Output};

use codeb::testkit::live_env;

/// `podman --url <socket> <args>`, or `None` when the live stack is not there.
fn podman(args: &[&str]) -> Option<Output> {
    let socket = live_env("CODEB_TEST_PODMAN_SOCKET")?;
    Some(Command::new("podman").arg("--url").arg(format!("unix://{socket}")).args(args).output().unwrap())
}

/// `podman run --rm <node image> <argv>` without a network.
fn run_in_node_image(argv: &[&str]) -> Option<Output> {
    let image = live_env("CODEB_TEST_NODE_IMAGE")?;
    podman(&[&["run", "--rm", "--network", "none", &image], argv].concat())
}

fn stdout_of(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}{stderr}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_node_image_runs_a_node_program() {
    let program = "console.log(`node ${process.versions.node} says ${6 * 7}`)";
    let Some(output) = run_in_node_image(&["node", "-e", program]) else {
        return;
    };
    let stdout = stdout_of(&output);
    assert!(stdout.starts_with("node 18."), "Debian bookworm's Node.js is 18: {stdout}");
    assert!(stdout.trim_end().ends_with("says 42"), "{stdout}");
}

#[test]
fn the_node_image_has_npx_and_runs_node_by_default() {
    let Some(output) = run_in_node_image(&["npx", "--version"]) else {
        return;
    };
    let version = stdout_of(&output);
    assert!(version.trim().split('.').all(|part| part.parse::<u32>().is_ok()), "npx --version: {version}");
    let image = live_env("CODEB_TEST_NODE_IMAGE").unwrap();
    let cmd = stdout_of(&podman(&["image", "inspect", "--format", "{{json .Config.Cmd}}", &image]).unwrap());
    assert_eq!(cmd.trim(), r#"["node"]"#);
}
