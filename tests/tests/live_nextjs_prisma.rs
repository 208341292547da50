//! The example app `examples/nextjs-prisma` on the live Podman, by hand
//! (podman's CLI, no codeb deploy): built from the harness's Node.js image
//! with no network, its release command (`npx prisma migrate deploy`, the
//! WebAssembly schema engine through the pg driver adapter) creating the
//! table and row in a container of the harness's PostgreSQL image, then its
//! page reading that row through Prisma. `docs/prisma-offline.md` says why
//! the build gets `node_modules` from the host (`CODEB_TEST_NEXTJS_PRISMA`,
//! made by `scripts/npm-ci-cached`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use codeb::runtime::{LABEL_MANAGED, LABEL_PROJECT};
use codeb::testkit::{Namespace, live_env};

/// What the migration inserts and the page shows.
const GREETING: &str = "Hello from PostgreSQL, read through Prisma";

/// The example's Containerfile on the Node.js image `base`: `prisma generate`
/// and `next build`, then a non-root runtime with the standalone server and
/// what the release command runs (the Prisma CLI, its config, the migrations).
fn containerfile(base: &str) -> String {
    format!(
        "FROM {base} AS build\n\
         WORKDIR /app\n\
         ENV NEXT_TELEMETRY_DISABLED=1 CHECKPOINT_DISABLE=1\n\
         COPY . .\n\
         RUN DATABASE_URL=postgresql://build@localhost/build npx prisma generate\n\
         RUN npx next build\n\
         \n\
         FROM {base}\n\
         WORKDIR /app\n\
         ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 CHECKPOINT_DISABLE=1 PORT=3000 HOSTNAME=0.0.0.0 npm_config_cache=/tmp/.npm\n\
         RUN useradd --system --uid 1001 --home-dir /app --no-create-home app\n\
         COPY --from=build /app/node_modules ./node_modules\n\
         COPY --from=build /app/.next/standalone ./\n\
         COPY --from=build /app/.next/static ./.next/static\n\
         COPY --from=build /app/prisma ./prisma\n\
         COPY --from=build /app/prisma.config.ts /app/package.json ./\n\
         USER app\n\
         EXPOSE 3000\n\
         CMD [\"node\", \"server.js\"]\n"
    )
}

/// The live Podman, and everything this test made there, removed on drop.
struct Live {
    socket: String,
    ns: Namespace,
    image: String,
    containers: Vec<String>,
    network: Option<String>,
}

impl Live {
    fn podman(&self, args: &[&str]) -> Output {
        Command::new("podman").arg("--url").arg(format!("unix://{}", self.socket)).args(args).output().unwrap()
    }

    /// `podman <args>`, which must succeed; its stdout.
    fn podman_ok(&self, args: &[&str]) -> String {
        let output = self.podman(args);
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "podman {}:\n{text}", args.join(" "));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The labels that let `codeb-testenv up` reap what a killed run left.
    fn labels(&self) -> [String; 4] {
        let project = self.ns.project("nextjs");
        ["--label".into(), format!("{LABEL_MANAGED}=true"), "--label".into(), format!("{LABEL_PROJECT}={project}")]
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        for container in std::mem::take(&mut self.containers) {
            let _ = self.podman(&["rm", "--force", "--time", "0", &container]);
        }
        if let Some(network) = self.network.take() {
            let _ = self.podman(&["network", "rm", "--force", &network]);
        }
        let image = self.image.clone();
        let _ = self.podman(&["rmi", "--force", &image]);
    }
}

/// The example with its `node_modules` (hard links into the cache where the
/// filesystem allows) and the Containerfile, in `dir`.
fn build_context(dir: &Path, node_modules: &Path, base: &str) -> PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/nextjs-prisma");
    let context = dir.join("app");
    let copy = |args: &[&std::ffi::OsStr]| Command::new("cp").args(args).status().unwrap().success();
    assert!(copy(&["-a".as_ref(), example.as_os_str(), context.as_os_str()]));
    for generated in ["node_modules", ".next"] {
        let _ = std::fs::remove_dir_all(context.join(generated));
    }
    let modules = node_modules.join("node_modules");
    let target = context.join("node_modules");
    if !copy(&["-al".as_ref(), modules.as_os_str(), target.as_os_str()]) {
        let _ = std::fs::remove_dir_all(&target);
        assert!(copy(&["-a".as_ref(), modules.as_os_str(), target.as_os_str()]));
    }
    std::fs::write(context.join("Containerfile"), containerfile(base)).unwrap();
    context
}

/// The answer (status line, headers and body) to `GET /` on `port` of this
/// machine once its status is 200, within `limit`.
fn page(port: u16, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let answer = get(port);
        match answer {
            Ok(text) if text.starts_with("HTTP/1.1 200") => return text,
            Ok(text) if Instant::now() > deadline => panic!("GET / answered:\n{text}"),
            Err(e) if Instant::now() > deadline => panic!("GET / failed: {e}"),
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// One HTTP/1.0 `GET /` to `127.0.0.1:port`, read to the end.
fn get(port: u16) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

#[test]
fn the_example_builds_offline_migrates_with_prisma_and_serves_the_row_it_reads() {
    let (Some(socket), Some(node), Some(postgres), Some(node_modules)) = (
        live_env("CODEB_TEST_PODMAN_SOCKET"),
        live_env("CODEB_TEST_NODE_IMAGE"),
        live_env("CODEB_TEST_POSTGRES_IMAGE"),
        live_env("CODEB_TEST_NEXTJS_PRISMA"),
    ) else {
        return;
    };
    let ns = Namespace::random();
    let image = format!("localhost/codeb-test-{}/nextjs-prisma:1", ns.as_str());
    let mut live = Live { socket, ns, image: image.clone(), containers: Vec::new(), network: None };
    let dir = tempfile::tempdir().unwrap();
    let context = build_context(dir.path(), Path::new(&node_modules), &node);

    let context_arg = context.display().to_string();
    // No layers kept: the build stage leaves no untagged image behind.
    live.podman_ok(&["build", "--layers=false", "--network", "none", "--tag", &image, &context_arg]);

    let network = live.ns.network("nextjs").to_string();
    let labels = live.labels();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    live.podman_ok(&[&["network", "create"], &labels[..], &[&network]].concat());
    live.network = Some(network.clone());
    let database = live.ns.container("nextjs-pg").to_string();
    live.containers.push(database.clone());
    // As codeb's PostgreSQL accessory runs (its user, a database named for the project) and its URL.
    let credentials = ["-e", "POSTGRES_PASSWORD=live-test", "-e", "POSTGRES_DB=nextjs"];
    let run_database =
        [&["run", "-d", "--name", &database, "--network", &network], &labels[..], &credentials, &[&postgres]];
    live.podman_ok(&run_database.concat());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !live.podman(&["exec", &database, "pg_isready", "-h", "127.0.0.1", "-U", "postgres"]).status.success() {
        assert!(Instant::now() < deadline, "the database never became ready");
        std::thread::sleep(Duration::from_millis(300));
    }
    let url = format!("DATABASE_URL=postgres://postgres:live-test@{database}:5432/nextjs");

    let migrate = ["run", "--rm", "--network", &network, "-e", &url, &image, "npx", "prisma", "migrate", "deploy"];
    let applied = live.podman_ok(&migrate);
    assert!(applied.contains("20261201000000_init"), "{applied}");
    assert!(applied.contains("All migrations have been successfully applied."), "{applied}");
    let again = live.podman_ok(&migrate);
    assert!(again.contains("No pending migrations to apply."), "the release command is idempotent: {again}");

    let web = live.ns.container("nextjs-web").to_string();
    live.containers.push(web.clone());
    let run_web = [
        &["run", "-d", "--name", &web, "--network", &network, "-p", "127.0.0.1::3000", "-e", &url],
        &labels[..],
        &[&image],
    ];
    live.podman_ok(&run_web.concat());
    let published = live.podman_ok(&["port", &web, "3000/tcp"]);
    let port: u16 = published.trim().rsplit(':').next().and_then(|p| p.parse().ok()).unwrap();
    let body = page(port, Duration::from_secs(60));
    assert!(body.contains(&format!("<h1 id=\"greeting\">{GREETING}</h1>")), "{body}");
    assert_eq!(live.podman_ok(&["exec", &web, "id", "-u"]).trim(), "1001", "the app runs as its own user");
}
