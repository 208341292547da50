//! A team on one fleet: two clients, each with its own HOME, host name and
//! network namespace, run the real `we` against one app host that is also
//! the control server. They share its SSOT, secrets and locks through `we
//! control serve` over SSH; nothing of the truth is on the clients.
//!
//! Needs root, `ip`, `unshare`, `nsenter` and OpenSSH (the fleet), and the
//! live stack's test image (`scripts/test`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use codeb::model::ImageRef;
use codeb::testkit::{Namespace, live_env, live_requirement};
use codeb_devstack::fleet::Fleet;
use serde_json::Value;

/// The fleet: the app host (app, proxy, dns and control) and two laptops.
struct Team {
    fleet: Fleet,
    ns: Namespace,
    dir: tempfile::TempDir,
    image: String,
}

const CLIENTS: [&str; 2] = ["laptop1", "laptop2"];

/// The deploy locks' lease: short, so a vanished holder's lock runs out within the test.
const LEASE_SECONDS: u64 = 5;

impl Team {
    fn start() -> Option<Team> {
        if !live_requirement("a fleet in network namespaces", Fleet::check_requirements()) {
            return None;
        }
        let (socket, image) = (live_env("CODEB_TEST_PODMAN_SOCKET")?, live_env("CODEB_TEST_IMAGE_V1")?);
        let dir = tempfile::tempdir().unwrap();
        let fleet = Fleet::up(dir.path(), &["app", CLIENTS[0], CLIENTS[1]], &["app"]).unwrap();
        fleet.copy_images("app", Path::new(&socket), &[ImageRef::parse(&image).unwrap()]).unwrap();
        let team = Team { fleet, ns: Namespace::random(), dir, image };
        for client in CLIENTS {
            team.write_platform_file(client);
        }
        Some(team)
    }

    /// Where the control server keeps the truth (on the app host; the hosts share this file system).
    fn control(&self, name: &str) -> String {
        format!("{:?}", self.dir.path().join("control").join(name).display().to_string())
    }

    fn home(&self, client: &str) -> PathBuf {
        self.dir.path().join(client)
    }

    /// `client`'s platform file: the truth on the control server, every service on the app host.
    fn write_platform_file(&self, client: &str) {
        let app = self.fleet.host("app").unwrap();
        let stack = self.fleet.stack("app").unwrap().endpoints();
        let home = self.home(client);
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join("pdns.key"), stack.pdns_api_key.expose()).unwrap();
        std::fs::write(home.join("known_hosts"), format!("{} {}", app.address(), app.host_key().unwrap())).unwrap();
        let text = format!(
            "[state]\npath = {state}\n[secrets]\ndir = {secrets}\nkey_file = {key}\n\
             [podman]\nsocket = \"/nonexistent/podman.sock\"\n\
             [caddy]\nadmin = \"http://{admin}\"\nlisten = [\"{app_ip}:{http}\"]\ntls = \"off\"\n\
             [powerdns]\napi = \"http://{api}\"\napi_key_file = {pdns_key:?}\nzone = {zone:?}\n\
             [deploy]\ndrain_grace = \"100ms\"\nstop_grace = \"2s\"\nwatch_window = \"0s\"\nlock_lease = \"{LEASE_SECONDS}s\"\n\
             [ssh]\nknown_hosts = {known_hosts:?}\n\
             [servers.app]\nroles = [\"app\", \"proxy\", \"dns\", \"control\"]\nssh = \"root@{app_ip}:22\"\n\
             identity = {identity:?}\npodman_socket = {socket:?}\npublic_ipv4 = \"{app_ip}\"\n\
             [control]\ncommand = [{we:?}, \"control\", \"serve\"]\n",
            state = self.control("ssot.json"),
            secrets = self.control("secrets"),
            key = self.control("secret.key"),
            admin = stack.caddy_admin,
            api = stack.pdns_api,
            http = stack.http.port(),
            app_ip = app.address(),
            pdns_key = home.join("pdns.key").display().to_string(),
            zone = self.ns.zone().as_str(),
            known_hosts = home.join("known_hosts").display().to_string(),
            identity = self.fleet.client_key().display().to_string(),
            socket = stack.podman_socket.display().to_string(),
            we = env!("CARGO_BIN_EXE_we"),
        );
        std::fs::write(home.join("platform.toml"), text).unwrap();
    }

    /// `we ARGS` as `client` runs it: its host name, HOME, platform file and network namespace.
    fn we(&self, client: &str, args: &[&str]) -> Command {
        self.we_with(client, &self.home(client).join("platform.toml"), args)
    }

    /// `we ARGS` as `client` runs it with the platform file `config`.
    fn we_with(&self, client: &str, config: &Path, args: &[&str]) -> Command {
        let host = self.fleet.host(client).unwrap();
        let home = self.home(client);
        let mut command = Command::new("unshare");
        command
            .args(["--uts", "--", "sh", "-c", r#"hostname "$1" && shift && exec "$@""#, "sh", client, "nsenter"])
            .arg(format!("--net=/run/netns/{}", host.namespace()))
            .args(["--", env!("CARGO_BIN_EXE_we"), "--config"])
            .arg(config)
            .args(args)
            .env("HOME", &home)
            .env("NO_COLOR", "1");
        command
    }

    fn run(&self, client: &str, args: &[&str]) -> Output {
        self.we(client, args).output().unwrap()
    }

    /// A project directory for `name`, deploying the test image.
    fn project(&self, name: &str) -> PathBuf {
        self.project_checked_at(name, "/", "project")
    }

    /// A project directory `dir_name` for `name` whose health check asks for `path`.
    fn project_checked_at(&self, name: &str, path: &str, dir_name: &str) -> PathBuf {
        let dir = self.dir.path().join("projects").join(name).join(dir_name);
        std::fs::create_dir_all(&dir).unwrap();
        let toml = format!(
            "name = {name:?}\nport = 8080\nimage = {image:?}\n\
             [healthcheck]\npath = {path:?}\ninterval = \"100ms\"\ndeadline = \"60s\"\n",
            image = self.image
        );
        std::fs::write(dir.join("codeb.toml"), toml).unwrap();
        dir
    }

    /// The SSOT document as `client` exports it.
    fn ssot(&self, client: &str) -> Value {
        let out = self.run(client, &["ssot", "export"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn text(out: &Output) -> String {
    format!("stdout: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn two_clients_deploying_twenty_times_across_ten_projects_at_once_share_one_truth() {
    let Some(team) = Team::start() else { return };
    let projects: Vec<(String, PathBuf)> = (0..10)
        .map(|i| {
            let name = team.ns.project(&format!("p{i}")).as_str().to_owned();
            let dir = team.project(&name);
            (name, dir)
        })
        .collect();
    // One client goes up the list, the other down it: they meet on every project.
    let runs: Vec<(String, &str, Output)> = std::thread::scope(|s| {
        let racers: Vec<_> = CLIENTS
            .iter()
            .enumerate()
            .map(|(n, client)| {
                let (team, projects) = (&team, &projects);
                s.spawn(move || {
                    let mut order: Vec<&(String, PathBuf)> = projects.iter().collect();
                    if n == 1 {
                        order.reverse();
                    }
                    order
                        .into_iter()
                        .map(|(name, dir)| {
                            let out = team.run(client, &["deploy", &dir.display().to_string(), "-e", "staging"]);
                            (name.clone(), *client, out)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        racers.into_iter().flat_map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(runs.len(), 20);

    let mut live: BTreeMap<String, usize> = BTreeMap::new();
    for (project, client, out) in &runs {
        match out.status.code() {
            Some(0) => *live.entry(project.clone()).or_default() += 1,
            // Refused: the other client holds the lock, and the refusal names it.
            Some(3) => {
                let other = CLIENTS.iter().find(|c| *c != client).unwrap();
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(stderr.contains(&format!("@{other}")), "{client} on {project}: the holder is named: {stderr}");
            }
            _ => panic!("{client} on {project} neither went live nor was refused for the lock:\n{}", text(out)),
        }
    }
    assert!(live.len() == 10, "every project went live at least once: {live:?}");

    // One truth: both clients see the same document, with every live deploy recorded once,
    // once the `we retire` each deploy left (which frees its previous release's port) has ended.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while Command::new("pgrep").args(["-f", " retire [{]"]).output().unwrap().status.success() {
        assert!(std::time::Instant::now() < deadline, "a `we retire` never ended");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let doc = team.ssot(CLIENTS[0]);
    assert_eq!(doc, team.ssot(CLIENTS[1]), "both clients read one revision");
    let mut ports = Vec::new();
    for (project, deploys) in &live {
        let staging = &doc["projects"][project]["environments"]["staging"];
        let releases = staging["releases"].as_array().unwrap();
        let serving = releases.iter().filter(|r| r["status"]["state"] != "failed").count();
        assert_eq!(serving, *deploys, "{project}: every live deploy is recorded, none lost: {staging}");
        for release in releases {
            let by = &release["deployed_by"];
            assert!(CLIENTS.iter().any(|c| by["host"] == *c) && by["front_end"] == "we", "who deployed it: {release}");
        }
        ports.push(staging["ports"]["app"].as_u64().unwrap());
    }
    let unique: std::collections::BTreeSet<_> = ports.iter().collect();
    assert_eq!(unique.len(), ports.len(), "no port handed out twice: {ports:?}");
    assert!(
        !team.home(CLIENTS[0]).join("ssot.json").exists() && !team.dir.path().join("ssot.json").exists(),
        "the truth is on the control server only"
    );
}

#[test]
fn a_control_server_that_is_down_gives_every_client_a_clear_error_never_an_empty_platform() {
    let Some(team) = Team::start() else { return };
    let dir = team.project(team.ns.project("down").as_str());
    let first = team.run(CLIENTS[0], &["deploy", &dir.display().to_string(), "-e", "staging"]);
    assert!(first.status.success(), "{}", text(&first));
    team.fleet.host("app").unwrap().kill_sshd().unwrap();
    for client in CLIENTS {
        for args in [&["ssot", "status"][..], &["project", "list"], &["ssot", "export"]] {
            let out = team.run(client, args);
            assert!(!out.status.success(), "{client} {args:?} fails:\n{}", text(&out));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("server=app"), "{client} {args:?} names the control server: {stderr}");
            assert!(out.stdout.is_empty(), "{client} {args:?} prints no platform: {}", text(&out));
        }
    }
}

#[test]
fn a_single_machines_platform_moves_to_the_control_server_with_its_secrets() {
    let Some(team) = Team::start() else { return };
    // The platform as it was: files on laptop1, no servers.
    let old = team.home(CLIENTS[0]).join("single");
    std::fs::create_dir_all(&old).unwrap();
    let old_file = old.join("platform.toml");
    let quoted = |name: &str| format!("{:?}", old.join(name).display().to_string());
    std::fs::write(
        &old_file,
        format!(
            "[state]\npath = {}\n[secrets]\ndir = {}\nkey_file = {}\n[podman]\nsocket = \"/nonexistent.sock\"\n\
             [caddy]\nadmin = \"http://127.0.0.1:1\"\nlisten = [\"127.0.0.1:1\"]\n[powerdns]\napi = \"http://127.0.0.1:1\"\napi_key_file = {}\n",
            quoted("ssot.json"),
            quoted("secrets"),
            quoted("secret.key"),
            quoted("pdns.key"),
        ),
    )
    .unwrap();
    std::fs::write(old.join("pdns.key"), "unused").unwrap();
    let project = team.ns.project("moved");
    let old_we = |args: &[&str]| {
        let out = team.we_with(CLIENTS[0], &old_file, args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        out
    };
    let scope = ["-p", project.as_str(), "-e", "staging"];
    old_we(&[&["env", "set", "--secret", "API_TOKEN=first-token"][..], &scope].concat());
    old_we(&[&["env", "set", "--secret", "API_TOKEN=moved-token"][..], &scope].concat());
    let export = old_we(&["ssot", "export"]);
    let file = team.dir.path().join("export.json");
    std::fs::write(&file, &export.stdout).unwrap();

    // laptop1 imports into the control server; laptop2 then reads it all there.
    let import = ["ssot", "import", &file.display().to_string(), "--secrets-from", &old_file.display().to_string()];
    let imported = team.run(CLIENTS[0], &[&import[..], &["--json"]].concat());
    assert!(imported.status.success(), "{}", text(&imported));
    let report: Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!((report["projects"].as_u64(), report["secret_versions"].as_u64()), (Some(1), Some(2)), "{report}");
    let got = team.run(CLIENTS[1], &[&["env", "get", "API_TOKEN"][..], &scope].concat());
    assert!(got.status.success(), "{}", text(&got));
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), "moved-token");
    assert!(team.ssot(CLIENTS[1])["projects"].get(project.as_str()).is_some(), "the project moved");
    let again = team.run(CLIENTS[0], &import);
    assert_eq!(again.status.code(), Some(7), "a second import does not replace the truth: {}", text(&again));
}

/// The lock status of `project`'s staging as `client` reads it.
fn lock_status(team: &Team, client: &str, project: &str) -> Value {
    let out = team.run(client, &["lock", "status", "-p", project, "-e", "staging", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_lock_whose_holder_vanished_is_taken_by_another_client_once_its_lease_runs_out() {
    let Some(team) = Team::start() else { return };
    let project = team.ns.project("vanish");
    let good = team.project(project.as_str());
    // laptop1's deploy waits on a health check that never passes, holding the lock.
    let stuck = team.project_checked_at(project.as_str(), "/never-there", "stuck");
    let mut holder = team
        .we(CLIENTS[0], &["deploy", &stuck.display().to_string(), "-e", "staging"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let locked = || {
        let out = team.run(CLIENTS[1], &["lock", "status", "-p", project.as_str(), "-e", "staging", "--json"]);
        // Until laptop1's first commit, the project is not recorded at all.
        out.status.success() && !serde_json::from_slice::<Value>(&out.stdout).unwrap()["holder"].is_null()
    };
    while !locked() {
        assert!(std::time::Instant::now() < deadline, "laptop1 never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Its laptop's lid closes: the process is gone without a word.
    holder.kill().unwrap();
    holder.wait().unwrap();

    let held = lock_status(&team, CLIENTS[1], project.as_str());
    assert_eq!(held["holder"]["host"], CLIENTS[0], "laptop2 sees laptop1 as the holder: {held}");
    assert_eq!(held["stale"], false, "its lease has not run out yet: {held}");
    assert!(held["holder"]["started_at"].is_string() && held["lease_left_ms"].as_u64().is_some(), "{held}");
    let refused = team.run(CLIENTS[1], &["deploy", &good.display().to_string(), "-e", "staging"]);
    assert_eq!(refused.status.code(), Some(3), "refused while the lease runs: {}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains(&format!("@{}", CLIENTS[0])), "{}", text(&refused));

    std::thread::sleep(std::time::Duration::from_secs(LEASE_SECONDS + 1));
    let stale = lock_status(&team, CLIENTS[1], project.as_str());
    assert_eq!(stale["stale"], true, "the lease ran out: {stale}");
    let taken = team.run(CLIENTS[1], &["deploy", &good.display().to_string(), "-e", "staging"]);
    assert!(taken.status.success(), "laptop2 deploys once the lease ran out: {}", text(&taken));
    let released = lock_status(&team, CLIENTS[1], project.as_str());
    assert!(released["holder"].is_null(), "and leaves no lock: {released}");
}
