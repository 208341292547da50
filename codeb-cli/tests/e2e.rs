//! The end-to-end test: the `we` binary against real Podman, Caddy and
//! PowerDNS (the stack `scripts/test` starts), deploying the example app.
//!
//! 1. deploy v1: DNS resolves its domain, Caddy serves v1's page;
//! 2. deploy v2 from a plan saved by `--dry-run --json` (another process applies it;
//!    applying it again is refused, the SSOT having moved) while a client requests without pause: no failed
//!    request, and none resent, until the `we retire` the deploy left behind has stopped v1;
//! 3. deploy v3 that never becomes healthy: fails at the health step, v2 serves;
//! 4. roll back to v1: v1 serves, with v1's env vars; each release names who deployed it (and v1 who rolled back to it);
//! 5. set a secret (on stdin) and redeploy: the app sees it, listings mask it, no output shows it;
//! 6. delete the project: refused without --force; with it, containers, route and
//!    record go, the protected volume stays;
//! 7. every command runs with --json and its output parses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use codeb::testkit::{Namespace, copy_example, live_env, live_platform_file};
use serde_json::Value;
use support::We;

mod support;

const SECRET: &str = "e2e-secret-4711-do-not-print";

/// What the test reads of the live stack besides its platform file.
struct Stack {
    podman_socket: String,
    caddy_http: String,
    pdns_dns: String,
}

fn stack() -> Option<Stack> {
    Some(Stack {
        podman_socket: live_env("CODEB_TEST_PODMAN_SOCKET")?,
        caddy_http: live_env("CODEB_TEST_CADDY_HTTP")?,
        pdns_dns: live_env("CODEB_TEST_PDNS_DNS")?,
    })
}

/// GETs through Caddy with an app's Host header, on a fresh connection each time.
///
/// Every Caddy config change (one per cutover) replaces its servers, and Go's
/// graceful shutdown closes *idle* keep-alive connections; a client that
/// sends on such a connection at that instant sees a reset that browsers
/// answer by retrying. No pooling keeps the count of failed requests about
/// codeb's cutover, not about that client-side race.
struct Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    caddy: String,
}

impl Client {
    fn new(caddy: &str) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let http = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().unwrap();
        Client { rt, http, caddy: caddy.to_owned() }
    }

    fn get(&self, host: &str, path: &str) -> Result<(u16, String), String> {
        self.rt.block_on(async {
            let response = self
                .http
                .get(format!("http://{}{path}", self.caddy))
                .header("Host", host)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            Ok((status, response.text().await.map_err(|e| e.to_string())?))
        })
    }

    fn page(&self, host: &str, path: &str) -> String {
        self.get(host, path).unwrap_or_else(|e| panic!("GET {host}{path}: {e}")).1
    }
}

/// The example app, renamed, with a PostgreSQL accessory, and its page and greeting set to `version`.
fn app_version(root: &Path, project: &str, domain: &str, version: &str, healthy: bool) -> PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello");
    let dir = copy_example(&example, &root.join(version), project, domain);
    std::fs::write(dir.join("rootfs/www/index.html"), format!("hello {version}\n")).unwrap();
    let text = std::fs::read_to_string(dir.join("codeb.toml")).unwrap();
    let text = text
        .replace("GREETING = \"hello from codeb\"", &format!("GREETING = \"greeting {version}\""))
        .replace("deadline = \"20s\"", "deadline = \"4s\"")
        .replace("[env]", "[accessories]\npostgres = true\n\n[env]");
    std::fs::write(dir.join("codeb.toml"), text).unwrap();
    if !healthy {
        let containerfile = std::fs::read_to_string(dir.join("Containerfile")).unwrap();
        let never_listens = containerfile.replace(
            r#"CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]"#,
            r#"CMD ["/bin/busybox", "sleep", "3600"]"#,
        );
        assert_ne!(never_listens, containerfile);
        std::fs::write(dir.join("Containerfile"), never_listens).unwrap();
    }
    dir
}

fn dig(server: &str, name: &str) -> String {
    let (ip, port) = server.rsplit_once(':').unwrap();
    let out = Command::new("dig")
        .args([&format!("@{ip}"), "-p", port, name, "A", "+short"])
        .output()
        .expect("dnsutils provides dig");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The podman CLI against the stack's service: what codeb left, seen independently of codeb.
fn podman(s: &Stack, args: &[&str]) -> String {
    let out =
        Command::new("podman").arg("--url").arg(format!("unix://{}", s.podman_socket)).args(args).output().unwrap();
    assert!(out.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        match entry.file_type().unwrap() {
            kind if kind.is_dir() => files.extend(walk(&path)),
            kind if kind.is_file() => files.push(path),
            _ => {}
        }
    }
    files
}

/// Requests `host` without pause until told to stop, counting answers that are not v1's or v2's page.
fn hammer(
    caddy: String,
    host: String,
    stop: Arc<AtomicBool>,
) -> (std::thread::JoinHandle<()>, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(Mutex::new(Vec::new()));
    let (ok2, failed2) = (ok.clone(), failed.clone());
    let handle = std::thread::spawn(move || {
        let client = Client::new(&caddy);
        let started = Instant::now();
        while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
            // No resend: a cutover through DNS changes nothing in Caddy, so no
            // connection is reset. Any answer that is not v1's or v2's page counts as failed.
            match client.get(&host, "/") {
                Ok((200, body)) if body == "hello v1\n" || body == "hello v2\n" => {
                    ok2.fetch_add(1, Ordering::Relaxed);
                }
                other => failed2.lock().unwrap().push(format!("{other:?}")),
            }
        }
    });
    (handle, ok, failed)
}

#[test]
fn a_project_lives_its_whole_life_through_we_against_real_services() {
    let Some(s) = stack() else { return };
    let ns = Namespace::random();
    let tmp = tempfile::tempdir().unwrap();
    let zone = format!("{}.codeb.test", ns.as_str());
    let project = format!("{}-hello", ns.as_str());
    let domain = format!("hello.{zone}");
    let deploy = "drain_grace = \"500ms\"\nstop_grace = \"5s\"\nwatch_window = \"2s\"";
    let config = live_platform_file(tmp.path(), &zone, deploy).expect("the stack was found above");
    let mut we = We::new(config, tmp.path().join("home"));
    let client = Client::new(&s.caddy_http);
    let apps = tmp.path().join("apps");
    let [v1, v2, v3] = [("v1", true), ("v2", true), ("v3", false)]
        .map(|(v, healthy)| app_version(&apps, &project, &domain, v, healthy).to_str().unwrap().to_owned());

    // 1. v1: DNS and Caddy.
    let plan = we.json(&["deploy", &v1, "--env", "staging", "--dry-run"], 0);
    assert!(plan["changes"].as_array().unwrap().iter().any(|c| c["change"] == "start_accessory"), "{plan}");
    let report = we.json(&["deploy", &v1, "--env", "staging"], 0);
    assert_eq!(report["release"], "v1");
    assert_eq!(dig(&s.pdns_dns, &domain), "127.0.0.1", "PowerDNS answers the app's name");
    assert_eq!(client.get(&domain, "/").unwrap(), (200, "hello v1\n".to_owned()));

    // 2. v2 while a client requests without pause: zero failures.
    let stop = Arc::new(AtomicBool::new(false));
    let saved = tmp.path().join("v2.plan.json");
    let shown = we.ok(&["deploy", &v2, "--env", "staging", "--dry-run", "--json"]);
    std::fs::write(&saved, &shown.stdout).unwrap();
    let (handle, ok, failed) = hammer(s.caddy_http.clone(), domain.clone(), stop.clone());
    // The saved plan, applied by another process: what it showed is what runs.
    let report = we.json(&["deploy", "--plan", saved.to_str().unwrap()], 0);
    assert_eq!(report["retiring"]["previous"]["release"], "v1", "{report}");
    // The command is back; v1 drains and stops in a `we retire` of its own, while the client goes on.
    let v1_container = format!("codeb-{project}-staging-v1");
    let drift = we.run(&["ssot", "diff", "--json"]).json();
    let ours: Vec<&Value> =
        drift["items"].as_array().unwrap().iter().filter(|i| i.to_string().contains(&project)).collect();
    assert!(ours.is_empty(), "a release retiring is no drift: {ours:?}");
    let retired = Instant::now();
    while podman(&s, &["inspect", "--format", "{{.State.Status}}", &v1_container]) == "running" {
        assert!(retired.elapsed() < Duration::from_secs(30), "v1 was never stopped");
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    handle.join().unwrap();
    assert_eq!(report["release"], "v2");
    let failures = failed.lock().unwrap().clone();
    let served = ok.load(Ordering::Relaxed);
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {:?}",
        failures.len(),
        served + failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(served > 10, "the client kept requesting during the deploy ({served} answers)");
    assert_eq!(client.page(&domain, "/"), "hello v2\n");
    let stale = we.json(&["deploy", "--plan", saved.to_str().unwrap()], 7);
    assert_eq!(stale["error"]["kind"], "conflict", "a plan made before the SSOT moved is refused: {stale}");

    // 3. v3 never becomes healthy: the health step fails with evidence; v2 serves.
    let error = we.json(&["deploy", &v3, "--env", "staging"], 5);
    assert_eq!(error["error"]["kind"], "unhealthy", "{error}");
    assert_eq!(error["error"]["context"]["step"], "health_check", "{error}");
    assert!(
        error["error"]["message"].as_str().unwrap().contains("last probe"),
        "the evidence is in the error: {error}"
    );
    assert_eq!(client.page(&domain, "/"), "hello v2\n");
    let releases = we.json(&["releases", "-p", &project, "--env", "staging"], 0);
    let statuses: Vec<&str> =
        releases.as_array().unwrap().iter().map(|r| r["status"]["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["retired", "live", "failed"]);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_owned();
    for release in releases.as_array().unwrap() {
        let by = &release["deployed_by"];
        assert_eq!((&by["front_end"], &by["host"]), (&Value::from("we"), &Value::from(host.as_str())), "{release}");
        assert!(by["user"].as_str().is_some_and(|user| !user.is_empty()), "{release}");
    }

    // 4. Roll back to v1: v1 serves with v1's env vars.
    we.json(&["rollback", "-p", &project, "--env", "staging", "--to", "v1", "--dry-run"], 0);
    let report = we.json(&["rollback", "-p", &project, "--env", "staging", "--to", "v1"], 0);
    assert_eq!(report["release"], "v1");
    let releases = we.json(&["releases", "-p", &project, "--env", "staging"], 0);
    let v1 = releases.as_array().unwrap().iter().find(|r| r["id"] == "v1").unwrap();
    assert_eq!(v1["rolled_back_by"]["front_end"], "we", "the rollback records who made v1 serve again: {v1}");
    assert_eq!(client.page(&domain, "/"), "hello v1\n");
    let env = client.page(&domain, "/cgi-bin/env");
    assert!(env.contains("GREETING=greeting v1"), "v1 runs with v1's variables: {env}");

    // 5. A secret: the app sees it, listings mask it, no output shows it.
    let set = format!("SECRET_TOKEN={SECRET}");
    let input = format!("# given on stdin, as a .env file says it\nexport SECRET_TOKEN=\"{SECRET}\" # quoted\n");
    we.json_with_input(&["env", "set", "--stdin", "--secret", "-p", &project, "-e", "staging"], &input, 0);
    let listed = we.json(&["env", "list", "-p", &project, "-e", "staging"], 0);
    let vars = listed["vars"].as_array().unwrap();
    assert!(vars.iter().any(|v| v["key"] == "SECRET_TOKEN" && v["value"] == "********"), "{listed}");
    assert!(vars.iter().any(|v| v["key"] == "DATABASE_URL" && v["value"] == "********"), "{listed}");
    let human = we.run(&["env", "list", "-p", &project, "-e", "staging"]);
    assert!(human.stdout.contains("SECRET_TOKEN=********"), "{}", human.stdout);
    let redeploy = we.run(&["deploy", &v2, "--env", "staging", "-v"]);
    assert_eq!(redeploy.code, 0, "{}", redeploy.stderr);
    for call in ["POST /build?", "POST /v4.0.0/libpod/containers/create", "PATCH /api/v1/servers/localhost/zones/"] {
        assert!(
            redeploy.stderr.contains(call),
            "-v traces each backend call, {call:?} among them: {}",
            redeploy.stderr
        );
    }
    assert!(redeploy.stderr.contains("STEP 1/"), "-v shows the build's output: {}", redeploy.stderr);
    for step in ["started image\n", "finished health_check (", "applied point_upstream on local\n"] {
        let line = format!("\ndeploy {project}/staging: {step}");
        assert!(redeploy.stderr.contains(&line), "piped, progress is a line per step: {}", redeploy.stderr);
    }
    let env = client.page(&domain, "/cgi-bin/env");
    assert!(env.contains(&set), "the app sees the secret: {env}");
    let reads: [&[&str]; 11] = [
        &["ssot", "export"],
        &["ssot", "show", &project],
        &["ssot", "status"],
        &["ssot", "diff"],
        &["port", "list"],
        &["port", "check"],
        &["project", "list"],
        &["lock", "status", "-p", &project, "--env", "staging"],
        &["health", "check", "-p", &project, "--env", "staging"],
        &["logs", "-p", &project, "--env", "staging", "--tail", "20"],
        &["domain", "list", "-p", &project, "-e", "staging"],
    ];
    for args in reads {
        let human = we.run(args);
        assert_eq!(human.code, 0, "we {args:?}: {}{}", human.stdout, human.stderr);
        let mut json_args = args.to_vec();
        json_args.push("--json");
        let run = we.run(&json_args);
        assert_eq!(run.code, 0, "we {json_args:?}: {}", run.stderr);
        if args[0] == "logs" {
            for line in run.stdout.lines() {
                serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"));
            }
        } else {
            run.json();
        }
    }
    let revealed = we.run(&["env", "get", "SECRET_TOKEN", "-p", &project, "-e", "staging"]);
    assert_eq!(revealed.stdout.trim(), SECRET, "env get reveals it when asked explicitly");
    we.outputs.pop();
    let leaks: Vec<&String> = we.outputs.iter().filter(|o| o.contains(SECRET)).collect();
    assert!(leaks.is_empty(), "the secret leaked into: {leaks:?}");
    for file in walk(tmp.path()).iter().filter(|f| !f.starts_with(&apps)) {
        let bytes = std::fs::read(file).unwrap();
        let found = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
        assert!(!found, "the secret is in {} in plaintext", file.display());
    }

    // 6. Delete: refused without --force; with it, everything but the protected volume goes.
    let refused = we.json(&["project", "delete", &project], 6);
    assert_eq!(refused["applied"], false);
    assert!(refused["changes"].as_array().unwrap().iter().any(|c| c["change"] == "keep_volume"), "{refused}");
    assert_eq!(client.page(&domain, "/"), "hello v2\n", "nothing changed without --force");
    let deleted = we.json(&["project", "delete", &project, "--force"], 0);
    assert_eq!(deleted["applied"], true);
    // With no route for a host, Caddy answers an empty 200: the app's page must be gone.
    let after = client.get(&domain, "/");
    assert!(after.as_ref().is_ok_and(|(_, body)| body.is_empty()), "the route is gone: {after:?}");
    assert_eq!(dig(&s.pdns_dns, &domain), "", "the record is gone");
    let label = format!("label=io.codeb.project={project}");
    assert_eq!(podman(&s, &["ps", "-a", "--filter", &label, "--format", "{{.Names}}"]), "", "no container is left");
    let volumes = podman(&s, &["volume", "ls", "--filter", &label, "--format", "{{.Name}}"]);
    assert_eq!(volumes, format!("codeb-{project}-staging-postgres-data"), "the protected volume survives");
    podman(&s, &["volume", "rm", &volumes]);
    let networks = podman(&s, &["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.lines().any(|n| n == format!("codeb-{project}-staging")), "the network is gone: {networks}");
    let images = podman(&s, &["images", "--filter", &label, "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images, "", "no image built for the project is left");
    assert!(we.json(&["project", "list"], 0).as_array().unwrap().is_empty());
}
