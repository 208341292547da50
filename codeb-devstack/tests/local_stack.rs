//! The local stack against the real programs: `up` starts Podman, Caddy,
//! PowerDNS and the registry and each answers; `down` stops exactly those
//! processes; a second `up` is refused; a part that dies or never starts is
//! reported with its log.
//!
//! These tests need the Debian packages (see TESTING.md). Without them they
//! are skipped loudly; under `CI=true` a missing package is a failure.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use codeb::ErrorKind;
use codeb::model::ImageRef;
use codeb::testkit::Namespace;
use codeb_devstack::images::{BusyboxImage, PodmanCli};
use codeb_devstack::{LocalStack, LocalStackOptions, Part, StopOutcome};
use rustix::process::{Pid, Signal, WaitOptions, kill_process, waitpid};

/// Whether the stack's programs are installed; skips loudly, or fails under CI, when not.
fn programs_installed() -> bool {
    match LocalStack::check_programs(&LocalStackOptions::new("/nonexistent")) {
        Ok(()) => true,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("under CI=true the local stack's programs must be installed: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: the local stack cannot start on this machine: {e}");
            false
        }
    }
}

/// A stack that is brought down however the test ends.
struct Running {
    _dir: tempfile::TempDir,
    stack: LocalStack,
}

impl Running {
    fn up() -> Running {
        let dir = tempfile::tempdir().unwrap();
        let stack = LocalStack::up(&LocalStackOptions::new(dir.path())).unwrap_or_else(|e| panic!("up failed: {e}"));
        Running { _dir: dir, stack }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = LocalStack::down(self.stack.dir());
    }
}

/// The PIDs of all processes whose command line mentions `needle`.
fn processes_mentioning(needle: &Path) -> Vec<u32> {
    let needle = needle.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(&needle)
        {
            pids.push(pid);
        }
    }
    pids
}

/// Whether `pid` is a live (non-zombie) process.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(stat.rsplit_once(')').map(|(_, r)| r.trim_start().chars().next()), Some(Some('Z'))),
        Err(_) => false,
    }
}

/// The status code and body of `GET path` on Podman's socket.
fn podman_get(socket: &Path, path: &str) -> (u16, String) {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: d\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let code = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (code, body)
}

/// Whether a DNS server answers a query at `addr` (any answer, even REFUSED, with our ID).
fn dns_answers(addr: SocketAddr) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    socket.connect(addr).unwrap();
    // ID 0xc0de, no flags, one question: "probe.test." SOA IN.
    let mut query = vec![0xc0, 0xde, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["probe", "test"] {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 6, 0, 1]);
    socket.send(&query).unwrap();
    let mut buf = [0u8; 512];
    match socket.recv(&mut buf) {
        Ok(n) => n >= 12 && buf[..2] == [0xc0, 0xde] && buf[2] & 0x80 != 0,
        Err(_) => false,
    }
}

/// Status code and body of a plain HTTP GET through reqwest (a client independent of the stack's own probes).
fn http_get(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut request = reqwest::Client::new().get(url).timeout(Duration::from_secs(10));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    })
}

/// The status a GET of `url` gets with `user` and `password` (HTTP basic authentication).
fn registry_status(url: &str, user: &str, password: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let request = reqwest::Client::new().get(url).basic_auth(user, Some(password)).timeout(Duration::from_secs(10));
        request.send().await.unwrap().status().as_u16()
    })
}

#[test]
fn up_starts_every_part_answering_and_down_stops_exactly_its_processes() {
    if !programs_installed() {
        return;
    }
    let running = Running::up();
    let stack = &running.stack;
    let dir = stack.dir().to_owned();
    let e = stack.endpoints();

    // Each part answers, checked with clients of our own.
    assert_eq!(podman_get(&e.podman_socket, "/_ping"), (200, "OK".to_owned()));
    let (code, body) = http_get(&format!("{}/config/", e.caddy_admin_url()), &[]);
    assert_eq!(code, 200);
    let config: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(config.get("apps").is_none(), "Caddy starts without apps: {body}");
    let key = e.pdns_api_key.expose();
    assert_eq!(http_get(&format!("{}/api/v1/servers/localhost", e.pdns_api_url()), &[("X-API-Key", key)]).0, 200);
    assert_eq!(http_get(&format!("{}/api/v1/servers/localhost", e.pdns_api_url()), &[]).0, 401);
    assert!(dns_answers(e.pdns_dns), "PowerDNS answers DNS on {}", e.pdns_dns);
    let registry = format!("http://{}/v2/", e.registry);
    assert_eq!(http_get(&registry, &[]).0, 401, "the registry wants its user");
    let password = e.registry_password.expose();
    assert_eq!(registry_status(&registry, codeb_devstack::REGISTRY_USER, password), 200);
    assert_eq!(registry_status(&registry, codeb_devstack::REGISTRY_USER, "not-the-password"), 401);
    for addr in [e.caddy_admin, e.http, e.pdns_api, e.pdns_dns, e.registry] {
        assert!(addr.ip().is_loopback(), "{addr} is on loopback");
    }

    // Status sees the same processes, all up.
    let status = LocalStack::status(&dir).unwrap();
    assert!(status.is_up(), "{status:?}");
    assert_eq!(status.parts.iter().map(|p| p.part).collect::<Vec<_>>(), Part::ALL);
    let pids: Vec<u32> = stack.processes().iter().map(|p| p.pid).collect();
    assert_eq!(status.parts.iter().map(|p| p.pid).collect::<Vec<_>>(), pids);
    for process in stack.processes() {
        assert!(process.log.starts_with(&dir) && process.log.is_file(), "{process:?}");
    }

    // The record is private and the key appears in no Debug output.
    let record = dir.join("stack.json");
    assert_eq!(std::fs::metadata(&record).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&record).unwrap().contains(key));
    assert!(!format!("{stack:?}").contains(key));
    assert!(!format!("{status:?}").contains(key));

    // Down stops exactly those processes, and nothing of the stack is left.
    let report = LocalStack::down(&dir).unwrap();
    let mut stopped: Vec<(Part, u32)> = report.parts.iter().map(|p| (p.part, p.pid)).collect();
    stopped.sort();
    let mut expected: Vec<(Part, u32)> = stack.processes().iter().map(|p| (p.part, p.pid)).collect();
    expected.sort();
    assert_eq!(stopped, expected);
    assert!(report.parts.iter().all(|p| matches!(p.outcome, StopOutcome::Stopped { .. })), "{report:?}");
    for pid in pids {
        assert!(!alive(pid), "pid {pid} still runs after down");
    }
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new(), "processes of the stack left behind");
    assert!(!record.exists(), "down removes the record");
    assert!(!e.podman_socket.exists(), "no stale socket is left");
    assert_eq!(LocalStack::status(&dir).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(LocalStack::down(&dir).unwrap().parts, [], "a second down has nothing to do");
}

#[test]
fn down_and_up_again_keep_the_ports_and_the_keys_a_user_added_to_the_platform_file() {
    if !programs_installed() {
        return;
    }
    let running = Running::up();
    let dir = running.stack.dir().to_owned();
    let before = running.stack.endpoints().clone();
    let platform_file = running.stack.write_platform_file().unwrap();
    let edited = std::fs::read_to_string(&platform_file)
        .unwrap()
        .replace("[deploy]\n", "# my own settings\n[deploy]\nkeep_releases = 9\n");
    std::fs::write(&platform_file, &edited).unwrap();
    LocalStack::down(&dir).unwrap();

    let again = LocalStack::up(&LocalStackOptions::new(&dir)).unwrap_or_else(|e| panic!("up again failed: {e}"));
    let after = again.endpoints().clone();
    let rewritten = again.write_platform_file().unwrap();
    let text = std::fs::read_to_string(&rewritten).unwrap();
    LocalStack::down(&dir).unwrap();

    let ports = |e: &codeb_devstack::Endpoints| [e.caddy_admin, e.http, e.pdns_api, e.pdns_dns, e.registry];
    assert_eq!(ports(&after), ports(&before), "the stack comes back on the ports it had");
    assert!(text.contains("keep_releases = 9"), "the user's key survives: {text}");
    assert_eq!(text, edited, "with the same endpoints, the file is left as the user wrote it");
}

#[test]
fn a_second_up_into_a_running_stack_is_refused_and_leaves_it_running() {
    if !programs_installed() {
        return;
    }
    let running = Running::up();
    let before = std::fs::read_to_string(running.stack.dir().join("stack.json")).unwrap();

    let err = LocalStack::up(&LocalStackOptions::new(running.stack.dir())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("already runs"), "{err}");

    assert_eq!(std::fs::read_to_string(running.stack.dir().join("stack.json")).unwrap(), before);
    assert!(LocalStack::status(running.stack.dir()).unwrap().is_up());
}

#[test]
fn status_reports_a_killed_part_as_down_and_down_still_stops_the_rest() {
    if !programs_installed() {
        return;
    }
    let running = Running::up();
    let dir = running.stack.dir().to_owned();
    let registry = running.stack.processes().iter().find(|p| p.part == Part::Registry).unwrap().pid;
    let registry = Pid::from_raw(registry.try_into().unwrap()).unwrap();
    kill_process(registry, Signal::KILL).unwrap();
    // Reap it (it is this test's child), so it is gone rather than a zombie.
    waitpid(Some(registry), WaitOptions::empty()).unwrap();

    let status = LocalStack::status(&dir).unwrap();
    assert!(!status.is_up());
    for part in &status.parts {
        let down = part.part == Part::Registry;
        assert_eq!(part.running, !down, "{part:?}");
        assert_eq!(part.answering, !down, "{part:?}");
    }

    let report = LocalStack::down(&dir).unwrap();
    for p in &report.parts {
        let expected_exited = p.part == Part::Registry;
        assert_eq!(p.outcome == StopOutcome::AlreadyExited, expected_exited, "{p:?}");
    }
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new());
}

#[test]
fn a_part_that_exits_while_starting_fails_up_with_its_log_and_stops_the_others() {
    if !programs_installed() {
        return;
    }
    // The real programs, except a registry that complains and exits.
    let bin = tempfile::tempdir().unwrap();
    for program in ["podman", "runc", "caddy", "pdns_server", "sqlite3"] {
        let real = which(program);
        std::os::unix::fs::symlink(&real, bin.path().join(program)).unwrap();
    }
    let fake = bin.path().join("docker-registry");
    std::fs::write(&fake, "#!/bin/sh\necho 'listen tcp: address already in use (a fake registry)' >&2\nexit 3\n")
        .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let options = LocalStackOptions::new(dir.path()).with_search_path(bin.path().as_os_str());
    let err = LocalStack::up(&options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(err.context_value("part"), Some("registry"), "{err}");
    assert!(err.to_string().contains("a fake registry"), "the error quotes the log: {err}");

    let dir = dir.path().canonicalize().unwrap();
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new(), "the parts already started are stopped");
    assert!(!dir.join("stack.json").exists());
}

#[test]
fn a_missing_program_is_named_with_its_debian_package_and_nothing_is_created() {
    // Stand-ins for every program except pdns_server: the lookup only needs executables.
    let bin = tempfile::tempdir().unwrap();
    for program in ["podman", "runc", "caddy", "sqlite3", "docker-registry"] {
        let path = bin.path().join(program);
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("stack");
    let options = LocalStackOptions::new(&data_dir).with_search_path(bin.path().as_os_str());

    let err = LocalStack::up(&options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let text = err.to_string();
    assert!(text.contains("pdns_server (Debian package pdns-server)"), "{text}");
    assert!(text.contains("apt-get install pdns-server"), "{text}");
    assert!(!text.contains("caddy (Debian"), "only what is missing is listed: {text}");
    assert!(!data_dir.exists(), "nothing is created when a program is missing");
}

#[test]
fn the_stacks_podman_runs_an_image_it_pulled_from_the_stacks_registry_over_plain_http_with_its_user() {
    if !programs_installed() {
        return;
    }
    let running = Running::up();
    let e = running.stack.endpoints();
    let ns = Namespace::random();
    let local = ImageRef::parse(&format!("localhost/codeb-test-{}/httpd:v1", ns.as_str())).unwrap();
    let remote = ImageRef::parse(&format!("{}/codeb-test-{}/httpd:v1", e.registry, ns.as_str())).unwrap();
    let podman_cli = PodmanCli::new(&e.podman_socket).unwrap();
    let page = format!("hello from {}", ns.as_str());
    BusyboxImage::httpd(local.clone(), &page).build(&podman_cli, &running.stack.dir().join("images")).unwrap();
    let authfile = running.stack.registry_auth_file();
    podman_cli.push(&local, &remote, &authfile).unwrap();

    let podman = |args: &[&str]| {
        let out = Command::new(which("podman")).arg("--url").arg(e.podman_url()).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Pushing does not tag the image with the registry's name; removing the local tag leaves no copy.
    let (ok, _, err) = podman(&["rmi", local.as_str()]);
    assert!(ok, "{err}");
    assert!(!podman(&["image", "exists", remote.as_str()]).0);
    // No --tls-verify here: the service's registries.conf is what allows plain HTTP.
    let (ok, _, err) = podman(&["pull", remote.as_str()]);
    assert!(!ok && err.contains("authentication required"), "no pull without the registry's user: {err}");
    let (ok, _, err) = podman(&["pull", "--authfile", authfile.to_str().unwrap(), remote.as_str()]);
    assert!(ok, "pull over plain HTTP: {err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let name = format!("codeb-{}-web", ns.as_str());
    let publish = format!("127.0.0.1:{port}:8080");
    let (ok, _, err) = podman(&["run", "-d", "--name", &name, "-p", &publish, remote.as_str()]);
    let cleanup_container = || {
        podman(&["rm", "-f", "-t", "0", &name]);
    };
    let cleanup = || {
        cleanup_container();
        podman(&["rmi", "-f", remote.as_str()]);
    };
    if !ok {
        cleanup();
        panic!("run: {err}");
    }
    let mut body = None;
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = write!(s, "GET / HTTP/1.0\r\n\r\n");
            let mut r = String::new();
            if s.read_to_string(&mut r).is_ok() && r.starts_with("HTTP/1.") {
                body = r.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cleanup_container();
    // A one-off container, not `podman exec`: an exec session's conmon lingers for minutes after it ends.
    let (_, limits, _) = podman(&["run", "--rm", remote.as_str(), "/bin/busybox", "cat", "/proc/self/limits"]);
    cleanup();
    assert_eq!(body.as_deref(), Some(page.as_str()));
    let open_files = limits.lines().find(|l| l.starts_with("Max open files")).unwrap_or_default();
    assert_eq!(open_files.split_whitespace().collect::<Vec<_>>()[3..5], ["1024", "1024"], "{limits}");
}

/// The absolute path of `program` on this machine.
fn which(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is not installed"))
}
