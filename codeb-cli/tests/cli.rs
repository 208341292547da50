//! The `we` binary's conventions, checked without any service: exit codes,
//! one JSON document with --json, validation before any backend is touched,
//! completions and the man page.

use std::process::{Command, Output};

use serde_json::{Value, json};

fn we(args: &[&str], config: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_we"))
        .args(args)
        .env("CODEB_CONFIG", config)
        .env("HOME", "/nonexistent-home")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {text}"))
}

/// A platform file whose services do not exist (a stopped stack: not even Podman's socket).
fn dead_platform(dir: &std::path::Path) -> String {
    let path = codeb::testkit::offline_platform_file(dir, &dir.join("no-such.sock"));
    path.to_str().unwrap().to_owned()
}

#[test]
fn version_completions_and_man_page_come_from_the_clap_definitions() {
    let out = we(&["--version"], "/none");
    assert!(out.status.success());
    let version = String::from_utf8_lossy(&out.stdout);
    let target = std::env::consts::ARCH;
    assert!(version.starts_with("we ") && version.contains(target), "names the target: {version}");
    let commit = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().unwrap();
    let commit = String::from_utf8_lossy(&commit.stdout);
    assert!(version.contains(commit.trim()), "names the commit {commit}: {version}");
    let bash = we(&["completions", "bash"], "/none");
    let script = String::from_utf8_lossy(&bash.stdout);
    assert!(script.contains("COMPLETE=\"bash\"") && script.contains("-F _clap_complete_we we"), "{script}");
    let man = we(&["man"], "/none");
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(page.starts_with(".ie") || page.contains(".TH we"), "a roff page: {}", &page[..page.len().min(80)]);
}

#[test]
fn usage_errors_exit_2_and_are_json_when_asked() {
    let out = we(&["releases", "-p", "Shop;id", "--env", "staging"], "/none");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "human usage errors go to stderr");
    let out = we(&["releases", "-p", "Shop;id", "--env", "staging", "--json"], "/none");
    assert_eq!(out.status.code(), Some(2));
    let doc = json(&out);
    assert_eq!(doc["error"]["kind"], "invalid");
    assert!(doc["error"]["message"].as_str().unwrap().contains("project name"), "{doc}");
}

#[test]
fn a_usage_error_never_echoes_a_raw_control_character() {
    let hostile = "deploy\u{1b}]0;owned\u{7}\u{1b}[2J\r\u{8}";
    for args in [vec![hostile], vec!["releases", "-p", hostile, "--env", "staging"], vec!["deploy", "--image", hostile]]
    {
        let out = we(&args, "/none");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.chars().any(|c| c.is_control() && c != '\n'), "{args:?}: {stderr:?}");
        assert!(stderr.contains("\\r") || stderr.contains("\\u{1b}"), "shown escaped: {stderr}");
        let mut json_args = args.clone();
        json_args.push("--json");
        let doc = json(&we(&json_args, "/none"));
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(!message.chars().any(|c| c.is_control() && c != '\n'), "{message:?}");
    }
}

#[test]
fn a_missing_platform_file_is_not_found_with_a_hint() {
    let out = we(&["ssot", "status", "--json"], "/nonexistent/platform.toml");
    assert_eq!(out.status.code(), Some(4));
    let doc = json(&out);
    assert_eq!(doc["error"]["kind"], "not_found");
    assert!(doc["error"]["context"]["hint"].as_str().unwrap().contains("we local up"), "{doc}");
    let human = we(&["ssot", "status"], "/nonexistent/platform.toml");
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(stderr.starts_with("error: cannot read the platform file"), "one prefix, no kind: {stderr}");
    assert!(human.stdout.is_empty());
}

#[test]
fn colour_is_decided_per_stream_and_by_color() {
    let missing = "/nonexistent/platform.toml";
    let painted = |out: &Output| String::from_utf8_lossy(&out.stderr).contains('\x1b');
    assert!(!painted(&we(&["ssot", "status"], missing)), "a piped stderr gets no colour");
    assert!(painted(&we(&["ssot", "status", "--color", "always"], missing)), "--color always paints");
    assert!(!painted(&we(&["ssot", "status", "--color", "never"], missing)));
    let no_color = Command::new(env!("CARGO_BIN_EXE_we"))
        .args(["ssot", "status", "--color", "auto"])
        .env("CODEB_CONFIG", missing)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!painted(&no_color));
    let bad = we(&["ssot", "status", "--color", "sometimes"], missing);
    assert_eq!(bad.status.code(), Some(2), "an unknown choice is a usage error");
}

#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    for args in [&["completions", "zsh"][..], &["man"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_we"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // like `| head -0`: the pipe's reader is gone
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "we {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "we {args:?} says nothing: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn bad_env_assignments_are_refused_before_any_backend_is_reached() {
    // The platform file does not even exist: validation comes first.
    let out =
        we(&["env", "set", "BAD KEY=s3cret", "-p", "shop", "-e", "staging", "--json"], "/nonexistent/platform.toml");
    assert_eq!(out.status.code(), Some(2));
    let doc = json(&out);
    assert_eq!(doc["error"]["kind"], "invalid");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret"), "a refused value is never echoed");

    let mut child = Command::new(env!("CARGO_BIN_EXE_we"))
        .args(["env", "set", "--stdin", "--secret", "-p", "shop", "-e", "staging", "--json"])
        .env("CODEB_CONFIG", "/nonexistent/platform.toml")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"# comment\nexport GOOD=\"1\"\ns3cret-without-a-key\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc = json(&out);
    assert_eq!(doc["error"]["context"]["line"], "3", "the bad line is named by number: {doc}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret"), "a refused line is never echoed");
}

#[test]
fn a_stopped_stack_still_answers_from_the_ssot_and_names_what_to_check_for_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_platform(dir.path());
    for reads in [&["project", "list"][..], &["ssot", "status"], &["port", "list"]] {
        let out = we(reads, &config);
        assert_eq!(out.status.code(), Some(0), "we {reads:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // Allocating asks Podman which ports its containers publish.
    let out = we(&["port", "allocate", "-p", "shop", "-e", "staging"], &config);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: ") && stderr.contains("no-such.sock"), "names the socket: {stderr}");
    assert!(stderr.contains("hint: a backend did not answer"), "{stderr}");
}

#[test]
fn server_check_exits_1_naming_the_check_that_fails_and_server_list_needs_no_service() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_platform(dir.path());
    let list = we(&["server", "list", "--json"], &config);
    assert_eq!(list.status.code(), Some(0), "{}", String::from_utf8_lossy(&list.stderr));
    let servers = json(&list);
    assert_eq!((servers[0]["server"].as_str(), servers[0]["reach"].as_str()), (Some("local"), Some("local")));
    let check = we(&["server", "check", "--json"], &config);
    assert_eq!(check.status.code(), Some(1), "a failing check exits 1");
    let report = json(&check);
    let checks = report[0]["checks"].as_array().unwrap();
    assert_eq!(checks[0]["check"], "login");
    assert_eq!(checks[0]["ok"], true, "this machine runs programs: {report}");
    let engine = checks.iter().find(|c| c["check"] == "engine").unwrap();
    assert_eq!(engine["ok"], false);
    assert!(engine["detail"].as_str().unwrap().contains("no-such.sock"), "names the socket: {engine}");
    let human = String::from_utf8_lossy(&we(&["server", "check"], &config).stdout).into_owned();
    assert!(human.starts_with("failing: local (local)") && human.contains("FAIL engine: "), "{human}");
}

#[test]
fn server_add_without_a_way_to_trust_the_key_or_with_a_hostile_target_is_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_platform(dir.path());
    let before = std::fs::read_to_string(&config).unwrap();
    // Nothing listens on port 9: a connection attempt would be `unavailable` (exit 1), not a usage error.
    let base =
        ["server", "add", "app1", "--ssh", "deploy@127.0.0.1:9", "--role", "app", "--identity", "/none", "--json"];
    let untrusted = we(&base, &config);
    assert_eq!(untrusted.status.code(), Some(2), "{}", String::from_utf8_lossy(&untrusted.stdout));
    let doc = json(&untrusted);
    assert!(doc["error"]["hint"].as_str().unwrap().contains("--fingerprint SHA256:"), "{doc}");
    for hostile in ["-oProxyCommand=touch /tmp/x@host", "deploy@host with space", "deploy@host:70000"] {
        // `--ssh=VALUE`, so even a value that looks like a flag reaches the target's parser.
        let ssh = format!("--ssh={hostile}");
        let mut args: Vec<&str> =
            base.iter().copied().filter(|a| *a != "--ssh" && *a != "deploy@127.0.0.1:9").collect();
        args.extend([ssh.as_str(), "--accept-new"]);
        let out = we(&args, &config);
        assert_eq!(out.status.code(), Some(2), "{hostile}: {}", String::from_utf8_lossy(&out.stdout));
        assert!(String::from_utf8_lossy(&out.stdout).contains("ssh target"), "{hostile}");
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before, "the platform file is untouched");
}

#[test]
fn ssh_key_add_refuses_a_key_with_options_or_a_private_key_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_platform(dir.path());
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHf0tQeyZ3eB4uKH0mO3Uy1a4F8OaVAqmm/3e2PtZ3Xm ops@laptop";
    for hostile in [format!("command=\"id\" {key}"), "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n".to_owned()] {
        let file = dir.path().join("hostile.pub");
        std::fs::write(&file, &hostile).unwrap();
        let out = we(&["ssh", "key", "add", "app1", "--file", file.to_str().unwrap(), "--json"], &config);
        assert_eq!(out.status.code(), Some(2), "{hostile}: {}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(json(&out)["error"]["field"], "key");
    }
    let unknown = we(&["ssh", "key", "list", "app1", "--json"], &config);
    assert_eq!(unknown.status.code(), Some(4), "a server the platform file does not list is not found");
}

#[test]
fn we_mcp_serve_answers_the_mcp_handshake_on_stdio() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_we"))
        .args(["mcp", "serve", "--memory"])
        .env("HOME", "/nonexistent-home")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"we-test","version":"0"}}}"#;
    writeln!(stdin, "{initialize}").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first: Value = serde_json::from_str(stdout.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("stdout holds only protocol ({e}): {stdout}"));
    assert_eq!(first["result"]["serverInfo"]["name"], "codeb", "{stdout}");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn local_status_before_any_up_says_so_without_an_error_line() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_we"))
        .args(["local", "status"])
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "not up");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("no local stack in") && stdout.contains("we local up"), "{stdout}");
    assert!(stderr.is_empty(), "the normal flow prints no error line: {stderr}");
    let quiet =
        Command::new(env!("CARGO_BIN_EXE_we")).args(["local", "status", "--quiet"]).env("HOME", home.path()).output();
    assert!(quiet.unwrap().stderr.is_empty());
}

#[test]
fn every_command_has_a_man_page_with_exit_status_environment_and_files_and_every_reference_exists() {
    let dir = tempfile::tempdir().unwrap();
    let out = we(&["man", "--dir", dir.path().to_str().unwrap()], "/none");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let pages: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    for page in ["we.1", "we-deploy.1", "we-env-set.1", "we-local-up.1", "we-ssot-diff.1"] {
        assert!(pages.iter().any(|p| p == page), "{page} in {pages:?}");
    }
    for page in &pages {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        for section in [".SH \"EXIT STATUS\"", ".SH \"ENVIRONMENT\"", ".SH \"FILES\""] {
            assert!(text.contains(section), "{page} has {section}");
        }
        // clap_mangen names subcommand pages as `we\-deploy(1)`: each must exist.
        for reference in text.split("we\\-").skip(1).filter_map(|rest| rest.split_once("(1)")).map(|(name, _)| name) {
            let file = format!("we-{}.1", reference.replace("\\-", "-"));
            assert!(pages.contains(&file), "{page} points at {file}, which exists");
        }
    }
    let deploy = we(&["man", "deploy"], "/none");
    assert!(String::from_utf8_lossy(&deploy.stdout).contains(".TH we-deploy"), "one command's page on stdout");
    assert_eq!(we(&["man", "no-such-command"], "/none").status.code(), Some(4));
    let hostile = we(&["man", "x\u{1b}[2J"], "/none");
    assert!(!String::from_utf8_lossy(&hostile.stderr).contains('\u{1b}'), "a refused name is echoed escaped");
}

#[test]
fn the_project_is_the_one_of_the_codeb_toml_here_unless_named() {
    let dir = tempfile::tempdir().unwrap();
    let in_dir = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_we"))
            .args(args)
            .current_dir(dir.path())
            .env("CODEB_CONFIG", "/nonexistent/platform.toml")
            .output()
            .unwrap()
    };
    let without = in_dir(&["releases", "--env", "staging"]);
    assert_eq!(without.status.code(), Some(2), "no codeb.toml here: --project is required");
    assert!(
        String::from_utf8_lossy(&without.stderr).contains("--project"),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    std::fs::write(dir.path().join("codeb.toml"), "name = \"inferred\"\nimage = \"localhost/x:1\"\nport = 80\n")
        .unwrap();
    let help = String::from_utf8_lossy(&in_dir(&["releases", "--help"]).stdout).into_owned();
    assert!(help.contains("[default: inferred]"), "{help}");
    let inferred = in_dir(&["releases", "--env", "staging", "--json"]);
    assert_eq!(inferred.status.code(), Some(4), "it reached the platform file, past the arguments");
}

/// A platform file with no services whose SSOT holds shop/staging locked by
/// `ci` on another host, its lease ending `lease_s` seconds from now, and one
/// release deployed by `ana` through `we`.
fn locked_platform(dir: &std::path::Path, lease_s: i64) -> String {
    use codeb::model::{Environment, ImageRef, ProjectName, ReleaseId};
    use codeb::ssot::{DeployLock, Deployer, ReleaseConfig, ReleaseRecord, ReleaseStatus, Ssot};
    let config = dead_platform(dir);
    let now = chrono::Utc::now();
    let mut doc = Ssot::default();
    let env = doc.environment_mut(&ProjectName::parse("shop").unwrap(), &Environment::Staging);
    env.lock = Some(DeployLock {
        owner: "ci (we)".into(),
        host: "ci-runner".into(),
        pid: 77,
        started_at: now - chrono::TimeDelta::seconds(90),
        message: Some("deploy shop/staging".into()),
        lease_until: Some(now + chrono::TimeDelta::seconds(lease_s)),
    });
    env.releases.push(ReleaseRecord {
        id: ReleaseId::parse("v1").unwrap(),
        image: ImageRef::parse("localhost/shop:v1").unwrap(),
        image_digest: None,
        config: ReleaseConfig::default(),
        status: ReleaseStatus::Live,
        created_at: now,
        updated_at: now,
        deployed_by: Some(Deployer { user: "ana".into(), host: "laptop".into(), front_end: "we".into() }),
        rolled_back_by: None,
    });
    std::fs::write(dir.join("ssot.json"), doc.to_json().unwrap()).unwrap();
    config
}

#[test]
fn lock_status_names_the_holder_its_host_since_when_and_the_lease_left_or_that_it_ran_out() {
    let target = ["lock", "status", "-p", "shop", "--env", "staging"];
    let dir = tempfile::tempdir().unwrap();
    let config = locked_platform(dir.path(), 40);
    let out = we(&[&target[..], &["--json"]].concat(), &config);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let status = json(&out);
    assert_eq!((&status["holder"]["owner"], &status["holder"]["host"]), (&json!("ci (we)"), &json!("ci-runner")));
    assert!(status["holder"]["started_at"].is_string() && status["holder"]["lease_until"].is_string(), "{status}");
    let left = status["lease_left_ms"].as_u64().unwrap();
    assert!((30_000..=40_000).contains(&left), "{status}");
    assert_eq!(status["stale"], false);
    let text = String::from_utf8_lossy(&we(&target, &config).stdout).into_owned();
    assert!(text.contains("locked by ci (we)@ci-runner (pid 77) since "), "{text}");
    assert!(text.contains("its lease runs 4") && text.contains(" more s unless renewed"), "{text}");

    let ran_out = tempfile::tempdir().unwrap();
    let config = locked_platform(ran_out.path(), -5);
    let status = json(&we(&[&target[..], &["--json"]].concat(), &config));
    assert_eq!((&status["stale"], &status["lease_left_ms"]), (&json!(true), &json!(0)), "{status}");
    let text = String::from_utf8_lossy(&we(&target, &config).stdout).into_owned();
    assert!(text.contains("its lease ran out: the lock is stale and can be taken"), "{text}");
}

#[test]
fn releases_show_who_deployed_each_in_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let config = locked_platform(dir.path(), 40);
    let target = ["releases", "-p", "shop", "--env", "staging"];
    let listed = json(&we(&[&target[..], &["--json"]].concat(), &config));
    assert_eq!(listed[0]["deployed_by"], json!({ "user": "ana", "host": "laptop", "front_end": "we" }), "{listed}");
    let text = String::from_utf8_lossy(&we(&target, &config).stdout).into_owned();
    assert!(text.lines().next().is_some_and(|header| header.contains("BY")), "{text}");
    assert!(text.contains("ana@laptop via we"), "{text}");
}

#[test]
fn init_writes_codeb_toml_once_and_refuses_to_write_over_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("package.json"),
        r#"{"name":"shop","scripts":{"start":"next start"},"dependencies":{"next":"15"}}"#,
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let first = we(&["init", path, "--json"], "/nonexistent/platform.toml");
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    let report = json(&first);
    assert_eq!((report["name"].as_str(), report["analysis"]["framework"].as_str()), (Some("shop"), Some("nextjs")));
    let written = std::fs::read_to_string(dir.path().join("codeb.toml")).unwrap();
    assert_eq!(report["project_file"].as_str(), Some(written.as_str()));
    let again = we(&["init", path, "--json"], "/nonexistent/platform.toml");
    assert_eq!(again.status.code(), Some(7), "an existing codeb.toml is a conflict");
    assert_eq!(json(&again)["error"]["context"]["file"], "codeb.toml");
    let dry = we(&["init", path, "--force", "--dry-run"], "/nonexistent/platform.toml");
    let shown = String::from_utf8_lossy(&dry.stdout);
    assert!(shown.starts_with("would write (dry run) ") && shown.contains("name = \"shop\""), "{shown}");
    std::fs::write(dir.path().join("package.json"), "{\"name\": \"shop\",\n  oops }").unwrap();
    let broken = we(&["init", path, "--force", "--json"], "/nonexistent/platform.toml");
    assert_eq!(json(&broken)["error"]["context"]["line"], "2", "the bad line is named");
    assert_eq!(std::fs::read_to_string(dir.path().join("codeb.toml")).unwrap(), written, "nothing was written");
}
