//! Conformance suites: one set of public async test functions per backend
//! trait, run here against the fakes and in `codeb-backends` against live
//! services, so every implementation keeps the same contract.
//!
//! Each suite takes the backend as a trait object plus a [`Namespace`] that
//! prefixes every name it creates, so suites can run in parallel against one
//! shared live service and leave nothing that collides. Differences between
//! backends (which image a runtime can run, how to make a port listen) are
//! explicit parameters. A failed check panics with a message naming it.

pub mod dns;
pub mod ports;
pub mod proxy;
pub mod runtime;
pub mod secrets;
pub mod state;

use crate::model::{ContainerName, DomainName, NetworkName, ProjectName, VolumeName};

/// A random prefix that keeps one test's names apart from every other test's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace(String);

impl Namespace {
    /// A fresh namespace: `t` followed by eight random lowercase letters and digits.
    pub fn random() -> Self {
        let suffix: String = std::iter::repeat_with(|| fastrand::alphanumeric().to_ascii_lowercase()).take(8).collect();
        Namespace(format!("t{suffix}"))
    }

    /// The prefix itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A project name inside the namespace (`<ns>-<suffix>`).
    pub fn project(&self, suffix: &str) -> ProjectName {
        valid(ProjectName::parse(&format!("{}-{suffix}", self.0)))
    }

    /// A container name inside the namespace.
    pub fn container(&self, suffix: &str) -> ContainerName {
        valid(ContainerName::parse(&format!("codeb-{}-{suffix}", self.0)))
    }

    /// A volume name inside the namespace.
    pub fn volume(&self, suffix: &str) -> VolumeName {
        valid(VolumeName::parse(&format!("codeb-{}-{suffix}", self.0)))
    }

    /// A network name inside the namespace.
    pub fn network(&self, suffix: &str) -> NetworkName {
        valid(NetworkName::parse(&format!("codeb-{}-{suffix}", self.0)))
    }

    /// A DNS zone inside the namespace (`<ns>.codeb.test`).
    pub fn zone(&self) -> DomainName {
        valid(DomainName::parse(&format!("{}.codeb.test", self.0)))
    }

    /// A host name inside the namespace's zone (`<label>.<ns>.codeb.test`).
    pub fn host(&self, label: &str) -> DomainName {
        valid(DomainName::parse(&format!("{label}.{}.codeb.test", self.0)))
    }
}

/// Names built from a valid namespace and a suite's own literal suffix are valid;
/// a failure here is a bug in the suite itself.
fn valid<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("testkit built an invalid name: {e}"))
}

/// Asserts `result` failed with `kind`, naming the check in the panic message.
#[track_caller]
fn expect_kind<T: std::fmt::Debug>(check: &str, result: crate::Result<T>, kind: crate::ErrorKind) {
    match result {
        Err(e) if e.kind() == kind => {}
        Err(e) => panic!("{check}: expected a {kind} error, got {e}"),
        Ok(v) => panic!("{check}: expected a {kind} error, got Ok({v:?})"),
    }
}

/// Unwraps `result`, naming the check in the panic message.
#[track_caller]
fn ok<T>(check: &str, result: crate::Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{check}: unexpected error: {e}"))
}

/// The address of a live service for a real-backend test, from environment variable `var`.
///
/// The test harness (`scripts/test`, run by CI) starts the services and sets
/// these variables. Without one, the test cannot run: under `CI=true` that is
/// a failure (a panic), never a skip; elsewhere the test is skipped, loudly,
/// on stderr, and the caller returns.
pub fn live_env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{var} is not set: under CI=true every live-service test must run (start the stack with scripts/test)"
            )
        }
        _ => {
            eprintln!(
                "SKIPPED: {var} is not set, so this live-service test did not run; scripts/test starts the services"
            );
            None
        }
    }
}

/// Whether what a live test needs of the machine is there: `check` says
/// (root, a program...). When it is not, the test cannot run: under
/// `CI=true` that is a failure (a panic naming `what` and the error), never
/// a skip; elsewhere the test is skipped, loudly, on stderr, and the caller
/// returns.
pub fn live_requirement(what: &str, check: crate::Result<()>) -> bool {
    match check {
        Ok(()) => true,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("under CI=true every live test must run, but {what} cannot: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: {what} cannot run on this machine, so this live test did not run: {e}");
            false
        }
    }
}

/// The upstream zone of the live platform files: routes discover releases there.
pub const LIVE_UPSTREAM_ZONE: &str = "codeb.internal";

/// Writes a platform file for the live test stack (from the `CODEB_TEST_*`
/// variables) into `dir`, with its own SSOT, secrets and PowerDNS key file
/// there, records in `zone`, the cutover through DNS ([`LIVE_UPSTREAM_ZONE`],
/// resolved by Caddy at PowerDNS's DNS port), and `deploy` as the body of its `[deploy]`
/// section (timings) after the accessory images: the harness's PostgreSQL
/// and Redis images (`CODEB_TEST_POSTGRES_IMAGE`, `CODEB_TEST_REDIS_IMAGE`).
/// `None` when the stack is not there (see [`live_env`]: a failure under
/// `CI=true`).
pub fn live_platform_file(dir: &std::path::Path, zone: &str, deploy: &str) -> Option<std::path::PathBuf> {
    let socket = live_env("CODEB_TEST_PODMAN_SOCKET")?;
    let admin = live_env("CODEB_TEST_CADDY_ADMIN")?;
    let listen = live_env("CODEB_TEST_CADDY_HTTP")?;
    let api = live_env("CODEB_TEST_PDNS_API")?;
    let dns = live_env("CODEB_TEST_PDNS_DNS")?;
    let key = live_env("CODEB_TEST_PDNS_API_KEY")?;
    let postgres = live_env("CODEB_TEST_POSTGRES_IMAGE")?;
    let redis = live_env("CODEB_TEST_REDIS_IMAGE")?;
    let write = |path: std::path::PathBuf, text: &str| {
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    };
    let key_file = write(dir.join("pdns.key"), &key);
    let quoted = |p: std::path::PathBuf| format!("{:?}", p.display().to_string());
    let text = format!(
        "[state]\npath = {state}\n[secrets]\ndir = {secrets}\nkey_file = {secret_key}\n\
         [podman]\nsocket = {socket:?}\n\
         [caddy]\nadmin = {admin:?}\nlisten = [{listen:?}]\ntls = \"off\"\nresolver = {dns:?}\n\
         [powerdns]\napi = {api:?}\napi_key_file = {key_file}\nzone = {zone:?}\nupstream_zone = \"{LIVE_UPSTREAM_ZONE}\"\n\
         [deploy]\npostgres_image = {postgres:?}\nredis_image = {redis:?}\n{deploy}\n",
        state = quoted(dir.join("ssot.json")),
        secrets = quoted(dir.join("secrets")),
        secret_key = quoted(dir.join("secret.key")),
        key_file = quoted(key_file),
    );
    Some(write(dir.join("platform.toml"), &text))
}

/// The `[registry]` section of the live stack's registry (`CODEB_TEST_REGISTRY`,
/// its user `CODEB_TEST_REGISTRY_USER`), logging in with `password`, kept in
/// a file in `dir`: what follows the `[deploy]` body of [`live_platform_file`].
/// `None` when the stack is not there (see [`live_env`]).
pub fn live_registry_section(dir: &std::path::Path, password: &str) -> Option<String> {
    let registry = live_env("CODEB_TEST_REGISTRY")?;
    let user = live_env("CODEB_TEST_REGISTRY_USER")?;
    let password_file = dir.join("registry.password");
    std::fs::write(&password_file, password)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", password_file.display()));
    let password_file = password_file.display().to_string();
    Some(format!(
        "[registry]\naddress = {registry:?}\ntls = false\nusername = {user:?}\npassword_file = {password_file:?}"
    ))
}

/// Copies the example app at `example` (e.g. `examples/hello`) to `dest`
/// under the project name `project`, routed at `domain`, with the machine's
/// static busybox (Debian's busybox-static) in its rootfs so Podman can build
/// it. Returns `dest`.
pub fn copy_example(
    example: &std::path::Path,
    dest: &std::path::Path,
    project: &str,
    domain: &str,
) -> std::path::PathBuf {
    copy_tree(example, dest);
    let busybox = dest.join("rootfs/bin/busybox");
    std::fs::copy("/bin/busybox", &busybox).unwrap_or_else(|e| panic!("busybox-static provides /bin/busybox: {e}"));
    let file = dest.join("codeb.toml");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let text = text
        .replace("name = \"hello\"", &format!("name = \"{project}\""))
        .replace("domains = [\"hello.codeb.test\"]", &format!("domains = [\"{domain}\"]"));
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    dest.to_owned()
}

/// Copies a directory tree, keeping symlinks as links and leaving out any `busybox` binary.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    fn check<T>(result: std::io::Result<T>, path: &std::path::Path) -> T {
        result.unwrap_or_else(|e| panic!("copying the example at {}: {e}", path.display()))
    }
    check(std::fs::create_dir_all(to), to);
    for entry in check(std::fs::read_dir(from), from).flatten() {
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = check(entry.file_type(), &source);
        if kind.is_dir() {
            copy_tree(&source, &target);
        } else if kind.is_symlink() {
            check(std::os::unix::fs::symlink(check(std::fs::read_link(&source), &source), &target), &target);
        } else if entry.file_name() != "busybox" {
            check(std::fs::copy(&source, &target), &source);
        }
    }
}

/// Writes a platform file whose services are never reached (for tests and
/// benchmarks of what needs only the SSOT): the SSOT and secrets under `dir`,
/// Podman's socket at `podman_socket` (bind it first if the platform must be
/// built), Caddy and PowerDNS on the discard port, and an unused PowerDNS key
/// file. Returns its path.
pub fn offline_platform_file(dir: &std::path::Path, podman_socket: &std::path::Path) -> std::path::PathBuf {
    let write = |path: std::path::PathBuf, text: &str| {
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    };
    let key_file = write(dir.join("pdns.key"), "unused");
    let quoted = |p: &std::path::Path| format!("{:?}", p.display().to_string());
    let text = format!(
        "[state]\npath = {state}\n[secrets]\ndir = {secrets}\nkey_file = {secret_key}\n\
         [podman]\nsocket = {socket}\n[caddy]\nadmin = \"http://127.0.0.1:9\"\nlisten = [\"127.0.0.1:9\"]\n\
         [powerdns]\napi = \"http://127.0.0.1:9\"\napi_key_file = {key_file}\n",
        state = quoted(&dir.join("ssot.json")),
        secrets = quoted(&dir.join("secrets")),
        secret_key = quoted(&dir.join("secret.key")),
        socket = quoted(podman_socket),
        key_file = quoted(&key_file),
    );
    write(dir.join("platform.toml"), &text)
}
