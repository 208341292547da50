//! The SSH transport against a real OpenSSH server on loopback: what it
//! runs, reads, writes and forwards, and what it refuses.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use codeb::ErrorKind;
use codeb::dns::Dns;
use codeb::engine::{DeployOptions, DeployRequest};
use codeb::model::{Environment, HealthCheck, Port, ServerName};
use codeb::proxy::Proxy;
use codeb::runtime::ContainerRuntime;
use codeb_backends::transport::ssh::{KnownHosts, SshConfig, SshTarget, SshTransport, fingerprint};
use codeb_backends::transport::{Command, Endpoint, Transport};
use codeb_backends::{CaddyConfig, CaddyProxy, PodmanConfig, PodmanRuntime, PowerDns, PowerDnsConfig};
use russh::keys::PublicKey;
use support::sshd::{Sshd, keygen};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn public_key(openssh: &str) -> PublicKey {
    PublicKey::from_openssh(openssh.trim()).unwrap()
}

/// A transport to `sshd` logging in with `key`, trusting what `known_hosts` pins.
fn transport(sshd: &Sshd, key: &Path, known_hosts: KnownHosts) -> SshTransport {
    let target = SshTarget::parse(&sshd.target).unwrap();
    let mut config = SshConfig::new(target, key, known_hosts);
    config.connect_timeout = Duration::from_secs(5);
    SshTransport::new(ServerName::parse("app1").unwrap(), config).unwrap()
}

/// A transport to `sshd` with its host key pinned.
fn pinned(sshd: &Sshd) -> SshTransport {
    let known_hosts = KnownHosts::new(sshd.dir.path().join("codeb_known_hosts"));
    known_hosts.pin(&SshTarget::parse(&sshd.target).unwrap(), &public_key(&sshd.host_key())).unwrap();
    transport(sshd, &sshd.client_key(), known_hosts)
}

fn argv(args: &[&str]) -> Command {
    Command::new(args[0]).args(args[1..].iter().copied())
}

#[tokio::test]
async fn a_program_runs_from_its_argv_with_its_input_and_its_exit_status() {
    let Some(sshd) = Sshd::start() else { return };
    let ssh = pinned(&sshd);
    let hostile = ["a b", "it's", "$(touch /tmp/codeb-ssh-owned)", "`id`", "*", ";", ""];
    let mut args = vec!["printf", "%s|"];
    args.extend(hostile);
    let out = ssh.run(&argv(&args)).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a b|it's|$(touch /tmp/codeb-ssh-owned)|`id`|*|;||");
    assert!(!Path::new("/tmp/codeb-ssh-owned").exists(), "an argument never runs as a command");

    let cat = ssh.run(&Command::new("cat").with_stdin(b"secret on stdin\n".to_vec())).await.unwrap();
    assert_eq!((cat.status, cat.stdout.as_slice()), (Some(0), b"secret on stdin\n".as_slice()));
    let failed = ssh.run(&argv(&["sh", "-c", "echo oops >&2; exit 3"])).await.unwrap();
    assert_eq!((failed.status, failed.stderr.as_slice()), (Some(3), b"oops\n".as_slice()));
    let missing = ssh.run(&Command::new("no-such-program-here")).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    let slow = ssh.run(&argv(&["sleep", "5"]).with_timeout(Duration::from_millis(300))).await.unwrap_err();
    assert_eq!(slow.kind(), ErrorKind::Timeout, "{slow}");
    assert_eq!(slow.context_value("server"), Some("app1"));
}

#[tokio::test]
async fn a_spawned_program_converses_over_its_channel_and_ends_when_the_stream_is_dropped() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let Some(sshd) = Sshd::start() else { return };
    let ssh = pinned(&sshd);
    let ended = sshd.dir.path().join("ended");
    let script = r#"while read -r line; do echo "got $line"; done; echo bye > "$1""#;
    let command = argv(&["sh", "-c", script, "sh", &ended.display().to_string()]);
    let mut stream = BufReader::new(ssh.spawn(&command).await.unwrap());
    for line in ["one", "it's $(id)"] {
        stream.get_mut().write_all(format!("{line}\n").as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_line(&mut answer).await.unwrap();
        assert_eq!(answer, format!("got {line}\n"));
    }
    assert!(!ended.exists(), "it runs while the stream is open");
    drop(stream);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !ended.exists() {
        assert!(std::time::Instant::now() < deadline, "the program did not see its input end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn files_are_read_and_replaced_with_their_mode_and_missing_ones_are_not_found() {
    let Some(sshd) = Sshd::start() else { return };
    let ssh = pinned(&sshd);
    let file = sshd.dir.path().join("state dir's file.json");
    ssh.write_file(&file, b"{\"revision\":1}", 0o640).await.unwrap();
    ssh.write_file(&file, b"{\"revision\":2}", 0o640).await.unwrap();
    assert_eq!(ssh.read_file(&file).await.unwrap(), b"{\"revision\":2}");
    let mode = ssh.run(&argv(&["stat", "-c", "%a", &file.display().to_string()])).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&mode.stdout).trim(), "640");
    let leftovers: Vec<_> = std::fs::read_dir(sshd.dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("codeb-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left: {leftovers:?}");

    let absent = ssh.read_file(&sshd.dir.path().join("absent")).await.unwrap_err();
    assert_eq!(absent.kind(), ErrorKind::NotFound, "{absent}");
    let table = ssh.read_file(Path::new("/proc/net/tcp")).await.unwrap();
    assert!(String::from_utf8_lossy(&table).starts_with("  sl  local_address"), "a /proc table reads whole over SFTP");
    let no_dir = ssh.write_file(&sshd.dir.path().join("no/such/dir"), b"x", 0o600).await.unwrap_err();
    assert_eq!(no_dir.kind(), ErrorKind::NotFound, "{no_dir}");
}

#[tokio::test]
async fn streams_reach_the_servers_unix_sockets_and_tcp_ports() {
    let Some(sshd) = Sshd::start() else { return };
    let ssh = pinned(&sshd);
    let socket = sshd.dir.path().join("api.sock");
    let unix = tokio::net::UnixListener::bind(&socket).unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = tcp.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut conn, _) = unix.accept().await.unwrap();
        conn.write_all(b"unix says hi").await.unwrap();
    });
    tokio::spawn(async move {
        let (mut conn, _) = tcp.accept().await.unwrap();
        let mut word = [0u8; 4];
        conn.read_exact(&mut word).await.unwrap();
        conn.write_all(&word).await.unwrap();
    });
    let mut stream = ssh.connect(&Endpoint::Unix(socket)).await.unwrap();
    let mut said = String::new();
    stream.read_to_string(&mut said).await.unwrap();
    assert_eq!(said, "unix says hi");
    let mut stream = ssh.connect(&Endpoint::Tcp(address)).await.unwrap();
    stream.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    stream.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"ping");
    let refused = ssh.connect(&Endpoint::Tcp("127.0.0.1:1".parse().unwrap())).await.map(drop).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unavailable, "{refused}");
}

#[tokio::test]
async fn twenty_concurrent_calls_share_one_session_under_sshds_session_limit() {
    let Some(sshd) = Sshd::start() else { return };
    let ssh = Arc::new(pinned(&sshd));
    // sshd allows 10 channels a session: more at once would be refused (with
    // `max_channels = 20` this test fails with "Failed to open channel").
    let calls = (0..20).map(|i| {
        let ssh = Arc::clone(&ssh);
        tokio::spawn(async move { ssh.run(&argv(&["sh", "-c", &format!("sleep 0.2; echo {i}")])).await })
    });
    // Spawned all at once, before any is awaited.
    let calls: Vec<_> = calls.collect();
    for (i, call) in calls.into_iter().enumerate() {
        let out = call.await.unwrap().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), i.to_string());
    }
}

#[tokio::test]
async fn a_dropped_session_is_opened_again_on_the_next_call() {
    let Some(sshd) = Sshd::start() else { return };
    let ssh = pinned(&sshd);
    // A command's parent is the sshd process of its session.
    let session_pid = async || {
        let out = ssh.run(&argv(&["sh", "-c", "echo $PPID"])).await.unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let before = session_pid().await;
    // End the session from the server's side.
    let _ = ssh.run(&argv(&["sh", "-c", "kill -9 $PPID"])).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = session_pid().await;
    assert!(!before.is_empty() && !after.is_empty());
    assert_ne!(before, after, "the next call ran in a new session");
    assert!(!Path::new(&format!("/proc/{before}")).exists(), "the old session is gone");
}

#[tokio::test]
async fn an_unknown_or_changed_host_key_is_refused_naming_the_fingerprints() {
    let Some(sshd) = Sshd::start() else { return };
    let target = SshTarget::parse(&sshd.target).unwrap();
    let empty = KnownHosts::new(sshd.dir.path().join("empty_known_hosts"));
    let unknown = transport(&sshd, &sshd.client_key(), empty).run(&Command::new("true")).await.unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::Forbidden, "{unknown}");
    assert!(unknown.message().contains("is not pinned"), "{unknown}");

    keygen(&sshd.dir.path().join("impostor"));
    let impostor = public_key(&std::fs::read_to_string(sshd.dir.path().join("impostor.pub")).unwrap());
    let wrong = KnownHosts::new(sshd.dir.path().join("wrong_known_hosts"));
    wrong.pin(&target, &impostor).unwrap();
    let changed = transport(&sshd, &sshd.client_key(), wrong).run(&Command::new("true")).await.unwrap_err();
    assert_eq!(changed.kind(), ErrorKind::Forbidden, "{changed}");
    let offered = fingerprint(&public_key(&sshd.host_key()));
    for named in [fingerprint(&impostor), offered] {
        assert!(changed.message().contains(&named), "names {named}: {changed}");
    }
}

#[tokio::test]
async fn a_hashed_known_hosts_entry_pins_the_key() {
    let Some(sshd) = Sshd::start() else { return };
    // ssh-keygen -H hashes the host names of an OpenSSH known_hosts file.
    let file = sshd.dir.path().join("hashed_known_hosts");
    let port = SshTarget::parse(&sshd.target).unwrap().port();
    std::fs::write(&file, format!("[127.0.0.1]:{port} {}", sshd.host_key())).unwrap();
    let hashed = std::process::Command::new("ssh-keygen").arg("-H").arg("-f").arg(&file).output().unwrap();
    assert!(hashed.status.success(), "{}", String::from_utf8_lossy(&hashed.stderr));
    assert!(std::fs::read_to_string(&file).unwrap().starts_with("|1|"), "the entry is hashed");
    let ssh = transport(&sshd, &sshd.client_key(), KnownHosts::new(&file));
    assert!(ssh.run(&Command::new("true")).await.unwrap().success());
}

#[tokio::test]
async fn a_key_the_server_does_not_accept_is_unauthenticated() {
    let Some(sshd) = Sshd::start() else { return };
    keygen(&sshd.dir.path().join("stranger"));
    let known_hosts = KnownHosts::new(sshd.dir.path().join("codeb_known_hosts"));
    known_hosts.pin(&SshTarget::parse(&sshd.target).unwrap(), &public_key(&sshd.host_key())).unwrap();
    let ssh = transport(&sshd, &sshd.dir.path().join("stranger"), known_hosts);
    let refused = ssh.run(&Command::new("true")).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unauthenticated, "{refused}");
    let missing = SshTransport::new(
        ServerName::parse("app1").unwrap(),
        SshConfig::new(SshTarget::parse(&sshd.target).unwrap(), "/no/such/key", KnownHosts::new("/dev/null")),
    )
    .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
}

#[tokio::test]
async fn podman_caddy_and_powerdns_answer_through_the_ssh_transport() {
    let (Some(socket), Some(admin), Some(api), Some(key)) = (
        codeb::testkit::live_env("CODEB_TEST_PODMAN_SOCKET"),
        codeb::testkit::live_env("CODEB_TEST_CADDY_ADMIN"),
        codeb::testkit::live_env("CODEB_TEST_PDNS_API"),
        codeb::testkit::live_env("CODEB_TEST_PDNS_API_KEY"),
    ) else {
        return;
    };
    let Some(sshd) = Sshd::start() else { return };
    let ssh: Arc<dyn Transport> = Arc::new(pinned(&sshd));
    let podman = PodmanRuntime::connect(Arc::clone(&ssh), PodmanConfig::new(&socket)).unwrap();
    let local =
        PodmanRuntime::connect(Arc::new(codeb_backends::transport::LocalTransport::new()), PodmanConfig::new(&socket));
    let here = local.unwrap().engine_version().await.unwrap();
    assert_eq!(podman.engine_version().await.unwrap(), here, "the same Podman answers through the session");
    let caddy = CaddyProxy::new(Arc::clone(&ssh), CaddyConfig::new(&admin).with_automatic_https(false)).unwrap();
    caddy.list_routes().await.unwrap();
    let dns = PowerDns::new(Arc::clone(&ssh), PowerDnsConfig::new(&api, &key)).unwrap();
    // A zone no test made: PowerDNS's answer (404) came back through the session.
    let zone = codeb::testkit::Namespace::random().zone();
    let absent = dns.list_records(&zone).await.unwrap_err();
    assert_eq!(absent.kind(), ErrorKind::NotFound, "{absent}");
}

/// What Caddy's plain-HTTP listener answers for `host`.
async fn page(caddy_http: &str, host: &str) -> String {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
    let response = client.get(format!("http://{caddy_http}/")).header("Host", host).send().await.unwrap();
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_platform_whose_server_is_reached_over_ssh_deploys_switches_and_deletes_a_project() {
    let (Some(v1), Some(v2), Some(caddy_http)) = (
        codeb::testkit::live_env("CODEB_TEST_IMAGE_V1"),
        codeb::testkit::live_env("CODEB_TEST_IMAGE_V2"),
        codeb::testkit::live_env("CODEB_TEST_CADDY_HTTP"),
    ) else {
        return;
    };
    let Some(sshd) = Sshd::start() else { return };
    let (ns, tmp) = (codeb::testkit::Namespace::random(), tempfile::tempdir().unwrap());
    let timings = "drain_grace = \"0s\"\nstop_grace = \"2s\"\nwatch_window = \"0s\"";
    let file = codeb::testkit::live_platform_file(tmp.path(), ns.zone().as_str(), timings).expect("the stack runs");
    let known_hosts = KnownHosts::new(tmp.path().join("known_hosts"));
    known_hosts.pin(&SshTarget::parse(&sshd.target).unwrap(), &public_key(&sshd.host_key())).unwrap();
    let servers = format!(
        "[ssh]\nknown_hosts = {:?}\n[servers.app1]\nroles = [\"app\", \"proxy\", \"dns\"]\nssh = {:?}\nidentity = {:?}\n",
        known_hosts.path().display().to_string(),
        sshd.target,
        sshd.client_key().display().to_string(),
    );
    let text = std::fs::read_to_string(&file).unwrap() + &servers;
    let config = codeb::config::PlatformConfig::parse(&text).unwrap();
    let p = codeb_backends::connect(&config, "live-ssh").unwrap();
    let report = p.server_check(None).await.unwrap();
    assert_eq!(report[0].reach, format!("ssh {}", SshTarget::parse(&sshd.target).unwrap()));
    // (ports are left out: other tests' listeners come and go beside this one.)
    for check in report[0].checks.iter().filter(|c| c.check != "ports") {
        assert!(check.ok, "the doctor asks the server over SSH: {check}");
    }
    let names: Vec<&str> = report[0].checks.iter().map(|c| c.check.as_str()).collect();
    assert_eq!(names, ["login", "engine", "disk", "clock", "ports", "proxy", "dns"]);
    let project = ns.project("ssh");
    let host = ns.host("web");
    let deploy = |image: &str| {
        let image = codeb::model::ImageRef::parse(image).unwrap();
        let mut r = DeployRequest::new(project.clone(), Environment::Staging, image, Port::new(8080).unwrap());
        r.domains = vec![host.clone()];
        r.health = HealthCheck {
            interval: Duration::from_millis(50),
            deadline: Duration::from_secs(10),
            ..Default::default()
        };
        r
    };

    let first = p.deploy(&deploy(&v1), &DeployOptions::default()).await.unwrap();
    assert_eq!(page(&caddy_http, host.as_str()).await, "v1", "Caddy, configured over SSH, routes to the release");
    let record = p.project_show(&project).await.unwrap();
    assert_eq!(record.environments[&Environment::Staging].server, Some(ServerName::parse("app1").unwrap()));
    let second = p.deploy(&deploy(&v2), &DeployOptions::default()).await.unwrap();
    assert_ne!(first.release, second.release);
    assert_eq!(page(&caddy_http, host.as_str()).await, "v2");

    let removed = p.project_delete(&project, true, &DeployOptions::default()).await.unwrap();
    assert!(removed.applied);
    let label = codeb::runtime::managed_labels(&project, &Environment::Staging, codeb::model::Service::App, None);
    let local = PodmanRuntime::connect(
        Arc::new(codeb_backends::transport::LocalTransport::new()),
        PodmanConfig::new(codeb::testkit::live_env("CODEB_TEST_PODMAN_SOCKET").unwrap()),
    )
    .unwrap();
    assert!(local.list_containers(&label).await.unwrap().is_empty(), "the project's containers are gone");
}

#[tokio::test]
async fn a_server_is_added_only_with_its_key_pinned_as_the_user_says_and_removed_again() {
    use codeb_backends::servers::{NewServer, Pinning, add_server, remove_server};
    let Some(sshd) = Sshd::start() else { return };
    let dir = sshd.dir.path();
    let file = codeb::testkit::offline_platform_file(dir, &dir.join("no-such.sock"));
    let known_hosts = dir.join("codeb_known_hosts");
    let kept = format!("# the team's platform: keep this comment\n{}", std::fs::read_to_string(&file).unwrap());
    std::fs::write(&file, format!("{kept}[ssh]\nknown_hosts = {:?}\n", known_hosts.display().to_string())).unwrap();
    let before = std::fs::read_to_string(&file).unwrap();
    let target = SshTarget::parse(&sshd.target).unwrap();
    use codeb::model::Role;
    let new = |name: &str, identity: &Path| NewServer {
        name: ServerName::parse(name).unwrap(),
        target: target.clone(),
        roles: [Role::App, Role::Proxy, Role::Dns].into_iter().collect(),
        identity: identity.into(),
        public_ipv4: None,
        podman_socket: None,
    };
    let offered = fingerprint(&public_key(&sshd.host_key()));

    let wrong = add_server(&file, &new("app1", &sshd.client_key()), Pinning::Fingerprint("SHA256:not-it".into()))
        .await
        .unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::Forbidden, "{wrong}");
    assert!(wrong.message().contains(&offered) && wrong.message().contains("SHA256:not-it"), "{wrong}");
    let declined = add_server(&file, &new("app1", &sshd.client_key()), Pinning::Ask(&|_| false)).await.unwrap_err();
    assert_eq!(declined.kind(), ErrorKind::Forbidden, "{declined}");
    keygen(&dir.join("stranger"));
    let stranger = add_server(&file, &new("app2", &dir.join("stranger")), Pinning::AcceptNew).await.unwrap_err();
    assert_eq!(stranger.kind(), ErrorKind::Unauthenticated, "{stranger}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before, "nothing is written before a pinned login works");
    assert!(!known_hosts.exists(), "and nothing is pinned");

    let mut app_only = new("app1", &sshd.client_key());
    app_only.roles = [Role::App].into_iter().collect();
    let unserved = add_server(&file, &app_only, Pinning::AcceptNew).await.unwrap_err();
    assert!(unserved.to_string().contains("proxy role"), "a fleet without a proxy is refused: {unserved}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    assert!(!known_hosts.exists(), "nothing is pinned for a refused edit");

    let asked = std::sync::Mutex::new(String::new());
    let confirm = |shown: &str| {
        *asked.lock().unwrap() = shown.to_owned();
        true
    };
    let added = add_server(&file, &new("app1", &sshd.client_key()), Pinning::Ask(&confirm)).await.unwrap();
    assert_eq!(*asked.lock().unwrap(), offered, "the user is shown the offered key's fingerprint");
    assert!(added.newly_pinned);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# the team's platform: keep this comment\n"), "{text}");
    let config = codeb::config::PlatformConfig::parse(&text).unwrap();
    assert_eq!(config.servers.len(), 1);
    assert_eq!(config.servers[0].name.as_str(), "app1");
    let check = KnownHosts::new(&known_hosts).check(&target, &public_key(&sshd.host_key())).unwrap();
    assert_eq!(check, codeb_backends::transport::ssh::HostKeyCheck::Pinned);
    let twice = add_server(&file, &new("app1", &sshd.client_key()), Pinning::AcceptNew).await.unwrap_err();
    assert_eq!(twice.kind(), ErrorKind::AlreadyExists, "{twice}");

    remove_server(&file, &ServerName::parse("app1").unwrap()).await.unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before, "the file is as it was, comment and all");
    let gone = remove_server(&file, &ServerName::parse("app1").unwrap()).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound, "{gone}");
}

#[tokio::test]
async fn authorized_keys_are_listed_added_once_and_codebs_own_key_removed_only_after_another_logs_in() {
    use codeb_backends::ssh_keys::{add_key, list_keys, remove_key};
    let Some(sshd) = Sshd::start() else { return };
    let dir = sshd.dir.path();
    let known_hosts = KnownHosts::new(dir.join("codeb_known_hosts"));
    let target = SshTarget::parse(&sshd.target).unwrap();
    known_hosts.pin(&target, &public_key(&sshd.host_key())).unwrap();
    let file = codeb::testkit::offline_platform_file(dir, &dir.join("no-such.sock"));
    let servers = format!(
        "[ssh]\nknown_hosts = {:?}\n[servers.app1]\nroles = [\"app\", \"proxy\", \"dns\"]\nssh = {:?}\nidentity = {:?}\nauthorized_keys = {:?}\n",
        known_hosts.path().display().to_string(),
        sshd.target,
        sshd.client_key().display().to_string(),
        dir.join("authorized_keys").display().to_string(),
    );
    let config = codeb::config::PlatformConfig::parse(&(std::fs::read_to_string(&file).unwrap() + &servers)).unwrap();
    let app1 = ServerName::parse("app1").unwrap();
    let listed = list_keys(&config, &app1).await.unwrap();
    assert_eq!(listed.keys.len(), 1);
    assert!(listed.keys[0].codeb_logs_in_with_it);
    let own = listed.keys[0].fingerprint.clone();

    let before = std::fs::read_to_string(dir.join("authorized_keys")).unwrap();
    let client_pub = std::fs::read_to_string(dir.join("client.pub")).unwrap();
    let hostile = format!("command=\"touch /tmp/codeb-owned\" {client_pub}");
    assert_eq!(add_key(&config, &app1, &hostile).await.unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(std::fs::read_to_string(dir.join("authorized_keys")).unwrap(), before, "nothing written");
    keygen(&dir.join("second"));
    let second_pub = std::fs::read_to_string(dir.join("second.pub")).unwrap();
    let added = add_key(&config, &app1, &second_pub).await.unwrap();
    assert!(!added.codeb_logs_in_with_it);
    let again = add_key(&config, &app1, &second_pub).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::AlreadyExists, "{again}");
    assert_eq!(list_keys(&config, &app1).await.unwrap().keys.len(), 2);

    let unproven = remove_key(&config, &app1, &own, None).await.unwrap_err();
    assert_eq!(unproven.kind(), ErrorKind::Forbidden, "{unproven}");
    keygen(&dir.join("stranger"));
    let stranger = remove_key(&config, &app1, &own, Some(&dir.join("stranger"))).await.unwrap_err();
    assert_eq!(stranger.kind(), ErrorKind::Forbidden, "a key the server does not authorize proves nothing: {stranger}");
    assert_eq!(list_keys(&config, &app1).await.unwrap().keys.len(), 2, "nothing removed yet");
    remove_key(&config, &app1, &own, Some(&dir.join("second"))).await.unwrap();

    let left = list_keys(&config, &app1).await;
    assert_eq!(left.unwrap_err().kind(), ErrorKind::Unauthenticated, "codeb's old key no longer logs in");
    let second = transport(&sshd, &dir.join("second"), known_hosts.clone());
    assert!(second.run(&Command::new("true")).await.unwrap().success(), "the proven key does");
}

#[tokio::test]
async fn a_server_without_an_sftp_subsystem_is_read_with_cat_alike() {
    let Some(sshd) = Sshd::without_sftp() else { return };
    let ssh = pinned(&sshd);
    let file = sshd.dir.path().join("state.json");
    std::fs::write(&file, b"{\"revision\":7}").unwrap();
    assert_eq!(ssh.read_file(&file).await.unwrap(), b"{\"revision\":7}");
    let absent = ssh.read_file(&sshd.dir.path().join("absent")).await.unwrap_err();
    assert_eq!(absent.kind(), ErrorKind::NotFound, "{absent}");
    assert!(!ssh.read_file(Path::new("/proc/net/tcp")).await.unwrap().is_empty(), "a /proc table reads whole");
}

#[tokio::test]
async fn a_server_behind_a_jump_host_is_reached_through_it_and_only_as_it_allows() {
    let (Some(bastion), Some(app), Some(closed)) = (Sshd::start(), Sshd::start(), Sshd::without_forwarding()) else {
        return;
    };
    // One key logs in everywhere: the bastion's client key is authorized on the others too.
    let key = std::fs::read_to_string(bastion.dir.path().join("client.pub")).unwrap();
    for other in [&app, &closed] {
        let authorized = other.dir.path().join("authorized_keys");
        std::fs::write(&authorized, std::fs::read_to_string(&authorized).unwrap() + &key).unwrap();
    }
    let known_hosts = KnownHosts::new(bastion.dir.path().join("codeb_known_hosts"));
    for sshd in [&bastion, &app, &closed] {
        known_hosts.pin(&SshTarget::parse(&sshd.target).unwrap(), &public_key(&sshd.host_key())).unwrap();
    }
    let through = |jump: &Sshd| {
        let mut config =
            SshConfig::new(SshTarget::parse(&app.target).unwrap(), bastion.client_key(), known_hosts.clone());
        config.jump = Some(SshTarget::parse(&jump.target).unwrap());
        config.connect_timeout = Duration::from_secs(5);
        SshTransport::new(ServerName::parse("app1").unwrap(), config).unwrap()
    };

    let ssh = through(&bastion);
    let out = ssh.run(&argv(&["printf", "%s", "behind the bastion"])).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "behind the bastion");
    let socket = app.dir.path().join("api.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        conn.write_all(b"forwarded twice").await.unwrap();
    });
    let mut said = String::new();
    ssh.connect(&Endpoint::Unix(socket)).await.unwrap().read_to_string(&mut said).await.unwrap();
    assert_eq!(said, "forwarded twice");

    let refused = through(&closed).run(&Command::new("true")).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unavailable, "{refused}");
    assert!(refused.message().contains("jump host") && refused.message().contains("cannot reach"), "{refused}");
}

/// A real ssh-agent on a socket of `dir`, holding `keys`; killed when dropped.
struct Agent {
    child: std::process::Child,
    socket: std::path::PathBuf,
}

impl Agent {
    fn holding(dir: &Path, keys: &[&Path]) -> Agent {
        let socket = dir.join("agent.sock");
        let child = std::process::Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(std::time::Instant::now() < deadline, "ssh-agent made no socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        for key in keys {
            let added = std::process::Command::new("ssh-add")
                .arg("-q")
                .arg(key)
                .env("SSH_AUTH_SOCK", &socket)
                .output()
                .unwrap();
            assert!(added.status.success(), "ssh-add: {}", String::from_utf8_lossy(&added.stderr));
        }
        Agent { child, socket }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn an_ssh_agent_logs_in_with_whichever_of_its_keys_the_server_accepts() {
    use codeb_backends::transport::ssh::Identity;
    let Some(sshd) = Sshd::start() else { return };
    let dir = sshd.dir.path();
    keygen(&dir.join("stranger"));
    let agent = Agent::holding(dir, &[&dir.join("stranger"), &sshd.client_key()]);
    let known_hosts = KnownHosts::new(dir.join("codeb_known_hosts"));
    known_hosts.pin(&SshTarget::parse(&sshd.target).unwrap(), &public_key(&sshd.host_key())).unwrap();
    let with_agent = |socket: &Path| {
        let config = SshConfig::new(
            SshTarget::parse(&sshd.target).unwrap(),
            Identity::Agent(Some(socket.to_owned())),
            known_hosts.clone(),
        );
        SshTransport::new(ServerName::parse("app1").unwrap(), config).unwrap()
    };
    let ssh = with_agent(&agent.socket);
    assert!(ssh.run(&Command::new("true")).await.unwrap().success(), "the second key of the agent is accepted");
    assert_eq!(ssh.login_keys().await.unwrap().len(), 2);

    let only_stranger = tempfile::tempdir().unwrap();
    let other = Agent::holding(only_stranger.path(), &[&dir.join("stranger")]);
    let refused = with_agent(&other.socket).run(&Command::new("true")).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unauthenticated, "{refused}");
    assert!(refused.message().contains("ssh-agent"), "{refused}");
    let absent = with_agent(&only_stranger.path().join("no-agent.sock")).run(&Command::new("true")).await.unwrap_err();
    assert_eq!(absent.kind(), ErrorKind::Unauthenticated, "{absent}");
}
