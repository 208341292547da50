//! A real MCP client no one here wrote, the Python `mcp` package from PyPI,
//! drives the `codeb-mcp` binary over stdio (tests/python/real_client.py):
//! once on the in-memory platform (always), and once against the live stack
//! (Podman, Caddy, PowerDNS from scripts/test), deploying the example app.
//!
//! `scripts/test` creates the venv and exports CODEB_TEST_PYTHON; without it
//! these tests skip loudly, and fail under CI=true.

use std::path::{Path, PathBuf};
use std::process::Command;

use codeb::testkit::{Namespace, live_env};

/// The venv's Python with `mcp` installed.
fn python() -> Option<String> {
    match std::env::var("CODEB_TEST_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CODEB_TEST_PYTHON is not set: under CI=true the Python MCP client test must run (scripts/test creates the venv)"
            )
        }
        _ => {
            eprintln!(
                "SKIPPED: CODEB_TEST_PYTHON is not set, so the Python MCP client did not run; scripts/test sets it"
            );
            None
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/real_client.py")
}

/// Runs the client script with the server `command` and the project to deploy.
fn run_client(python: &str, command: &[String], path: &Path, project: &str, image: Option<&str>) {
    let out = Command::new(python)
        .arg(script())
        .env("CODEB_MCP_COMMAND", serde_json::to_string(command).unwrap())
        .env("CODEB_MCP_PATH", path)
        .env("CODEB_MCP_PROJECT", project)
        .env("CODEB_MCP_IMAGE", image.unwrap_or(""))
        .output()
        .expect("the venv's python runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the Python MCP client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("checks passed"), "{stdout}");
    eprintln!("{}", stdout.trim());
}

#[test]
fn the_python_mcp_client_drives_the_stdio_server_on_the_memory_platform() {
    let Some(python) = python() else { return };
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello");
    let command = vec![env!("CARGO_BIN_EXE_codeb-mcp").to_owned(), "--memory".to_owned()];
    run_client(&python, &command, &example, "hello", None);
}

/// What the live run needs from the stack.
struct Stack {
    podman_socket: String,
    caddy_admin: String,
    caddy_http: String,
    pdns_api: String,
    pdns_key: String,
}

fn stack() -> Option<Stack> {
    Some(Stack {
        podman_socket: live_env("CODEB_TEST_PODMAN_SOCKET")?,
        caddy_admin: live_env("CODEB_TEST_CADDY_ADMIN")?,
        caddy_http: live_env("CODEB_TEST_CADDY_HTTP")?,
        pdns_api: live_env("CODEB_TEST_PDNS_API")?,
        pdns_key: live_env("CODEB_TEST_PDNS_API_KEY")?,
    })
}

/// A platform file for the live stack with this test's own SSOT, secrets and zone.
fn write_platform_file(dir: &Path, s: &Stack, zone: &str) -> PathBuf {
    let key = dir.join("pdns.key");
    std::fs::write(&key, &s.pdns_key).unwrap();
    let text = format!(
        "[state]\npath = \"{state}\"\n[secrets]\ndir = \"{secrets}\"\nkey_file = \"{secret_key}\"\n\
         [podman]\nsocket = \"{socket}\"\n[caddy]\nadmin = \"{admin}\"\nlisten = [\"{listen}\"]\ntls = \"off\"\n\
         [powerdns]\napi = \"{api}\"\napi_key_file = \"{key}\"\nzone = \"{zone}\"\n\
         [deploy]\ndrain_grace = \"200ms\"\nstop_grace = \"5s\"\nwatch_window = \"0s\"\n",
        state = dir.join("ssot.json").display(),
        secrets = dir.join("secrets").display(),
        secret_key = dir.join("secret.key").display(),
        socket = s.podman_socket,
        admin = s.caddy_admin,
        listen = s.caddy_http,
        api = s.pdns_api,
        key = key.display(),
    );
    let path = dir.join("platform.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The example app under a unique name and domain, with busybox in its rootfs so Podman can build it.
fn example_copy(root: &Path, project: &str, domain: &str) -> PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello");
    codeb::testkit::copy_example(&example, &root.join("hello"), project, domain)
}

#[test]
fn the_python_mcp_client_deploys_the_example_on_the_live_stack() {
    let Some(s) = stack() else { return };
    let Some(python) = python() else { return };
    let ns = Namespace::random();
    let tmp = tempfile::tempdir().unwrap();
    let zone = format!("{}.codeb.test", ns.as_str());
    let project = format!("{}-hello", ns.as_str());
    let path = example_copy(tmp.path(), &project, &format!("hello.{zone}"));
    let config = write_platform_file(tmp.path(), &s, &zone);
    let command =
        vec![env!("CARGO_BIN_EXE_codeb-mcp").to_owned(), "--config".to_owned(), config.to_str().unwrap().to_owned()];
    run_client(&python, &command, &path, &project, None);
}
