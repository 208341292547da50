//! A real app from its repository to production, through `we` alone, on the
//! live stack: `examples/nextjs-prisma` (Next.js and Prisma on PostgreSQL,
//! every package from the npm registry).
//!
//! 1. `we init` finds Next.js, npm, Prisma on PostgreSQL with its config
//!    file and the standalone output, and writes a codeb.toml with a
//!    PostgreSQL accessory and `npx prisma migrate deploy` as the release
//!    command;
//! 2. the user points `[build]` at the harness's offline Node.js image and
//!    uncomments `install = false` (the context brings `node_modules`: no
//!    build here reaches the npm registry, `docs/prisma-offline.md`), and
//!    routes staging at a domain;
//! 3. `we deploy` builds with the generated Containerfile, pushes to the
//!    stack's registry, runs the migration in a one-off container (its
//!    output shown, the database's password never), starts the release,
//!    and Caddy serves the page that reads the migration's row through Prisma;
//! 4. `we promote` runs that very digest in production with no build: the
//!    same command migrates production's own database, and, once a domain
//!    is set up, Caddy serves production's page;
//! 5. promoting again applies nothing: the release command is idempotent.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use codeb::runtime::{LABEL_PROJECT, LABEL_SERVICE};
use codeb::testkit::{Namespace, live_env, live_platform_file, live_registry_section};
use serde_json::Value;
use support::We;

mod support;

/// What the migration inserts and the page shows.
const GREETING: &str = "Hello from PostgreSQL, read through Prisma";

/// What `prisma migrate deploy` says when it applied the migrations.
const APPLIED: &str = "All migrations have been successfully applied.";

/// The example as project `project`, with the `node_modules` the harness
/// installed (`installed`/node_modules: hard links where the filesystem allows).
fn app(root: &Path, project: &str, installed: &Path) -> PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/nextjs-prisma");
    let dir = root.join("nextjs-prisma");
    let cp = |args: &[&std::ffi::OsStr]| Command::new("cp").args(args).status().unwrap().success();
    assert!(cp(&["-a".as_ref(), example.as_os_str(), dir.as_os_str()]));
    for generated in ["node_modules", ".next"] {
        let _ = std::fs::remove_dir_all(dir.join(generated));
    }
    let (modules, target) = (installed.join("node_modules"), dir.join("node_modules"));
    if !cp(&["-al".as_ref(), modules.as_os_str(), target.as_os_str()]) {
        let _ = std::fs::remove_dir_all(&target);
        assert!(cp(&["-a".as_ref(), modules.as_os_str(), target.as_os_str()]));
    }
    let package = dir.join("package.json");
    let text = std::fs::read_to_string(&package).unwrap();
    let renamed = text.replace("\"name\": \"nextjs-prisma\"", &format!("\"name\": \"{project}\""));
    assert_ne!(renamed, text, "the example's package.json names it");
    std::fs::write(&package, renamed).unwrap();
    dir
}

/// `file` with `from` replaced by `to`, which must be there.
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} has no {from:?}:\n{text}", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

/// The answer (status line, headers and body) to one `GET /` through Caddy at `caddy` for `host`.
fn get(caddy: &str, host: &str) -> String {
    let mut stream = std::net::TcpStream::connect(caddy).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// The image the live release of `project`'s `env` runs.
fn live_image(we: &mut We, project: &str, env: &str) -> String {
    let releases = we.json(&["releases", "-p", project, "-e", env], 0);
    let live = releases.as_array().unwrap().iter().rev().find(|r| r["status"]["status"] == "live");
    live.and_then(|r| r["image"].as_str()).unwrap_or_else(|| panic!("no live release: {releases}")).to_owned()
}

/// Podman's CLI on the stack's socket: what codeb made, seen without codeb.
struct Podman(String);

impl Podman {
    /// `podman args`, which may fail: its stdout, trimmed.
    fn quiet(&self, args: &[&str]) -> std::io::Result<(bool, String)> {
        let out = Command::new("podman").arg("--url").arg(format!("unix://{}", self.0)).args(args).output()?;
        Ok((out.status.success(), String::from_utf8_lossy(&out.stdout).trim().to_owned()))
    }

    /// `podman args`, which must succeed: its stdout, trimmed.
    fn run(&self, args: &[&str]) -> String {
        match self.quiet(args) {
            Ok((true, stdout)) => stdout,
            other => panic!("podman {args:?}: {other:?}"),
        }
    }

    /// The names of `project`'s running containers of the service `service` (app, postgres).
    fn containers(&self, project: &str, service: &str) -> Vec<String> {
        let (project, service) =
            (format!("label={LABEL_PROJECT}={project}"), format!("label={LABEL_SERVICE}={service}"));
        let names = self.run(&["ps", "--format", "{{.Names}}", "--filter", &project, "--filter", &service]);
        names.lines().map(str::to_owned).collect()
    }
}

/// Whatever the test leaves of the project on the live Podman (its
/// containers, protected volumes, network, images), removed however it ends.
struct Leftovers<'a> {
    podman: &'a Podman,
    project: String,
}

impl Drop for Leftovers<'_> {
    fn drop(&mut self) {
        let label = format!("label={LABEL_PROJECT}={}", self.project);
        let kinds: [(&[&str], &[&str]); 4] = [
            (&["ps", "-aq"], &["rm", "--force", "--time", "0"]),
            (&["volume", "ls", "-q"], &["volume", "rm", "--force"]),
            (&["network", "ls", "-q"], &["network", "rm", "--force"]),
            (&["images", "-q"], &["rmi", "--force"]),
        ];
        for (list, remove) in kinds {
            let listed = self.podman.quiet(&[list, &["--filter", &label]].concat()).map(|(_, out)| out);
            for name in listed.unwrap_or_default().lines() {
                let _ = self.podman.quiet(&[remove, &[name]].concat());
            }
        }
    }
}

#[test]
fn a_nextjs_app_with_prisma_goes_from_we_init_to_production_by_its_digest() {
    let (Some(socket), Some(caddy), Some(node), Some(installed), Some(password)) = (
        live_env("CODEB_TEST_PODMAN_SOCKET"),
        live_env("CODEB_TEST_CADDY_HTTP"),
        live_env("CODEB_TEST_NODE_IMAGE"),
        live_env("CODEB_TEST_NEXTJS_PRISMA"),
        live_env("CODEB_TEST_REGISTRY_PASSWORD"),
    ) else {
        return;
    };
    let (ns, tmp) = (Namespace::random(), tempfile::tempdir().unwrap());
    let zone = format!("{}.codeb.test", ns.as_str());
    let registry = live_registry_section(tmp.path(), &password).expect("the stack was found above");
    let deploy = format!("drain_grace = \"0s\"\nstop_grace = \"2s\"\nwatch_window = \"0s\"\n{registry}");
    let config = live_platform_file(tmp.path(), &zone, &deploy).expect("the stack was found above");
    let mut we = We::new(config, tmp.path().join("home"));
    let project = ns.project("next").to_string();
    let podman = Podman(socket);
    let _leftovers = Leftovers { podman: &podman, project: project.clone() };
    let dir = app(tmp.path(), &project, Path::new(&installed));
    let path = dir.to_str().unwrap();

    // 1. `we init`: the analysis and the file it writes.
    let init = we.json(&["init", path], 0);
    let found = &init["analysis"];
    assert_eq!((&found["framework"], &found["package_manager"]), (&"nextjs".into(), &"npm".into()), "{init}");
    let prisma = &found["prisma"];
    assert_eq!((&prisma["provider"], &prisma["config"]), (&"postgresql".into(), &"prisma.config.ts".into()), "{init}");
    assert_eq!((&found["standalone"], &found["needs_postgres"]), (&Value::Bool(true), &Value::Bool(true)), "{init}");
    assert_eq!((init["name"].as_str(), &init["written"]), (Some(project.as_str()), &Value::Bool(true)), "{init}");
    let file = dir.join("codeb.toml");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("release_command = [\"npx\", \"prisma\", \"migrate\", \"deploy\"]"), "{written}");
    assert!(written.contains("postgres = true"), "{written}");

    // 2. What this machine asks of the file: the offline base image, the context's node_modules, domains.
    let (staging_host, production_host) = (format!("next.{zone}"), format!("next-production.{zone}"));
    let routed = format!("{written}\n[environments.staging]\ndomains = [\"{staging_host}\"]\n");
    std::fs::write(&file, routed).unwrap();
    edit(&file, "# base_image = \"docker.io/library/node:22-bookworm-slim\"", &format!("base_image = {node:?}"));
    edit(&file, "# install = false", "install = false");

    // 3. Staging: build, push, migrate, serve.
    let plan = we.json(&["deploy", path, "--env", "staging", "--dry-run"], 0);
    let changes: Vec<&str> = plan["changes"].as_array().unwrap().iter().filter_map(|c| c["change"].as_str()).collect();
    let order = ["start_accessory", "build_image", "push_image", "run_release_command", "start_release"];
    let at: Vec<Option<usize>> = order.iter().map(|c| changes.iter().position(|x| x == c)).collect();
    assert!(at.iter().all(Option::is_some) && at.is_sorted(), "{order:?} in that order: {changes:?}");
    let staging = we.ok(&["deploy", path, "--env", "staging"]);
    assert!(staging.stderr.contains("npx prisma migrate deploy` exited with 0"), "{}", staging.stderr);
    assert!(staging.stderr.contains(APPLIED) && staging.stderr.contains("20261201000000_init"), "{}", staging.stderr);
    let page = get(&caddy, &staging_host);
    assert!(page.starts_with("HTTP/1.1 200") || page.starts_with("HTTP/1.0 200"), "{page}");
    assert!(page.contains(&format!("<h1 id=\"greeting\">{GREETING}</h1>")), "{page}");
    let web = podman.containers(&project, "app");
    assert_eq!(web.len(), 1, "{web:?}");
    assert_eq!(podman.run(&["exec", &web[0], "id", "-u"]), "1001", "the app runs as its own user");
    let built = live_image(&mut we, &project, "staging");
    let registry = live_env("CODEB_TEST_REGISTRY").unwrap();
    assert!(built.starts_with(&format!("{registry}/")) && built.contains("@sha256:"), "run by digest: {built}");

    // 4. Production: the very digest, its own database migrated, its own domain.
    let promote = ["promote", project.as_str(), "--from", "staging", "--to", "production"];
    let plan = we.json(&[&promote[..], &["--dry-run"]].concat(), 0);
    let changes = plan["changes"].to_string();
    assert!(!changes.contains("build_image") && !changes.contains("push_image"), "no build: {plan}");
    let production = we.ok(&promote);
    assert!(production.stderr.contains(APPLIED), "production's own database: {}", production.stderr);
    assert_eq!(live_image(&mut we, &project, "production"), built, "the very image staging runs");
    we.ok(&["domain", "setup", &production_host, "-p", &project, "-e", "production"]);
    let page = get(&caddy, &production_host);
    assert!(page.contains(&format!("<h1 id=\"greeting\">{GREETING}</h1>")), "{page}");

    // 5. Again: nothing left to apply.
    let again = we.ok(&promote);
    assert!(again.stderr.contains("No pending migrations to apply."), "{}", again.stderr);

    // The databases' passwords reached the release command, never an output.
    for database in podman.containers(&project, "postgres") {
        let env = podman.run(&["inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", &database]);
        let file = env.lines().find_map(|l| l.strip_prefix("POSTGRES_PASSWORD_FILE=")).expect("the password's file");
        let password = podman.run(&["exec", &database, "cat", file]);
        assert!(password.len() >= 16, "a generated password");
        let leaks = we.outputs.iter().filter(|o| o.contains(&password)).count();
        assert_eq!(leaks, 0, "no output shows the database password");
    }
    let deleted = we.json(&["project", "delete", &project, "--force"], 0);
    assert!(deleted.is_object(), "{deleted}");
}
