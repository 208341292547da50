//! The shared truth's endpoint, `we control serve`, as a client reaches it:
//! the real binary started through the local transport and through a real
//! OpenSSH server on loopback, under the SSOT's and the secret store's
//! conformance suites, with clients racing, a connection cut mid-update and
//! a control server that is down.

#[allow(dead_code)] // the backends' tests use all of it, these a part
#[path = "../../codeb-backends/tests/support/sshd.rs"]
mod sshd;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use codeb::ErrorKind;
use codeb::model::{EnvVar, Environment, ProjectName, ServerName};
use codeb::secrets::{Scope, SecretStore};
use codeb::ssot::{StateStore, StateStoreExt};
use codeb::testkit::{self, Namespace};
use codeb_backends::control::{ControlClient, RemoteStateStore};
use codeb_backends::transport::ssh::{KnownHosts, SshConfig, SshTarget, SshTransport};
use codeb_backends::transport::{Command, LocalTransport, Transport};
use codeb_backends::{FileSecretStore, FileStateStore, KeySource, SecretFileConfig};

/// `we control serve` keeping its truth in `dir`.
fn endpoint(dir: &Path) -> Command {
    let path = |name: &str| dir.join(name).display().to_string();
    Command::new(env!("CARGO_BIN_EXE_we")).args(["control", "serve", "--state"]).args([
        path("ssot.json"),
        "--secrets".to_owned(),
        path("secrets"),
        "--key-file".to_owned(),
        path("secret.key"),
    ])
}

/// A transport to `sshd` with its host key pinned.
fn over_ssh(sshd: &sshd::Sshd) -> Arc<dyn Transport> {
    let target = SshTarget::parse(&sshd.target).unwrap();
    let known_hosts = sshd.dir.path().join("codeb_known_hosts");
    std::fs::write(&known_hosts, format!("[{}]:{} {}", target.host(), target.port(), sshd.host_key())).unwrap();
    let mut config = SshConfig::new(target, sshd.client_key(), KnownHosts::new(known_hosts));
    config.connect_timeout = Duration::from_secs(5);
    Arc::new(SshTransport::new(ServerName::parse("control").unwrap(), config).unwrap())
}

/// Both conformance suites against the endpoint reached through `transport`,
/// and what they left read back from the files the endpoint keeps.
async fn keeps_both_contracts(transport: Arc<dyn Transport>, dir: &Path) {
    let client = ControlClient::new(transport, endpoint(dir)).unwrap();
    let state = client.state_store();
    tokio::task::spawn_blocking(move || testkit::state::run(&state)).await.unwrap();
    let ns = Namespace::random();
    testkit::secrets::run(&client.secret_store(), &ns).await;

    let on_disk = FileStateStore::new(dir.join("ssot.json")).load().unwrap();
    let remote = client.state_store();
    assert_eq!(tokio::task::spawn_blocking(move || remote.load().unwrap()).await.unwrap(), on_disk);
    let scope = Scope::new(ns.project("kept"), Environment::Staging);
    let var = EnvVar::parse("API_TOKEN", "s3cr3t-over-the-wire", true).unwrap();
    client.secret_store().set(&scope, std::slice::from_ref(&var)).await.unwrap();
    let key = KeySource::File(dir.join("secret.key"));
    let files = FileSecretStore::open(SecretFileConfig::new(dir.join("secrets"), key)).unwrap();
    assert_eq!(files.get(&scope, &var.key).await.unwrap(), Some(var), "kept by the server's own store");
    for entry in walk(&dir.join("secrets")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cr3t-over-the-wire"),
            "{} holds it plain",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() { walk(&path) } else { vec![path] }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_endpoint_keeps_the_state_and_secret_contracts_through_a_local_program() {
    let dir = tempfile::tempdir().unwrap();
    keeps_both_contracts(Arc::new(LocalTransport::new()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_endpoint_keeps_the_state_and_secret_contracts_over_ssh() {
    let Some(sshd) = sshd::Sshd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    keeps_both_contracts(over_ssh(&sshd), dir.path()).await;
}

/// Adds project `name` to the document.
fn add(store: &RemoteStateStore, name: String) -> codeb::Result<()> {
    store.modify(|doc| {
        doc.projects.insert(ProjectName::parse(&name)?, Default::default());
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_racing_over_ssh_lose_no_update() {
    let Some(sshd) = sshd::Sshd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Every client is made (each writes the known_hosts file) before any of them connects.
    let stores: Vec<_> =
        (0..3).map(|_| ControlClient::new(over_ssh(&sshd), endpoint(dir.path())).unwrap().state_store()).collect();
    let racers: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(client, store)| {
            std::thread::spawn(move || (0..10).for_each(|n| add(&store, format!("c{client}-p{n}")).unwrap()))
        })
        .collect();
    racers.into_iter().for_each(|r| r.join().unwrap());
    let doc = FileStateStore::new(dir.path().join("ssot.json")).load().unwrap();
    assert_eq!((doc.projects.len(), doc.revision), (30, 30), "every update of every client is in, once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_cut_during_an_update_leaves_the_document_whole_and_the_next_update_reconnects() {
    let Some(sshd) = sshd::Sshd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = ControlClient::new(over_ssh(&sshd), endpoint(dir.path())).unwrap().state_store();
    let sshd = Arc::new(sshd);
    let (cut_store, cut_sshd) = (store.clone(), Arc::clone(&sshd));
    let cut = tokio::task::spawn_blocking(move || {
        add(&cut_store, "before".to_owned()).unwrap();
        // The session dies while the endpoint holds the lock, before the commit is sent.
        cut_store.modify(|doc| {
            cut_sshd.drop_sessions();
            doc.projects.insert(ProjectName::parse("lost")?, Default::default());
            Ok(())
        })
    });
    let failed = cut.await.unwrap().unwrap_err();
    assert!(matches!(failed.kind(), ErrorKind::Unavailable | ErrorKind::Timeout), "{failed:?}");
    assert_eq!(failed.context_value("server"), Some("control"), "{failed}");

    let doc = FileStateStore::new(dir.path().join("ssot.json")).load().unwrap();
    assert_eq!(doc.revision, 1, "the cut update committed nothing");
    assert!(doc.projects.contains_key(&ProjectName::parse("before").unwrap()));
    let retry = store.clone();
    tokio::task::spawn_blocking(move || add(&retry, "after".to_owned())).await.unwrap().unwrap();
    let doc = FileStateStore::new(dir.path().join("ssot.json")).load().unwrap();
    assert_eq!(doc.revision, 2, "the retry went through a new session, under the lock the cut one gave back");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_control_server_that_is_down_or_lacks_codeb_is_a_clear_error_never_an_empty_document() {
    let dir = tempfile::tempdir().unwrap();
    let Some(sshd) = sshd::Sshd::start() else { return };
    let transport = over_ssh(&sshd);
    let missing = ControlClient::new(Arc::clone(&transport), Command::new("no-such-codeb").args(["control", "serve"]));
    let store = missing.unwrap().state_store();
    let err = tokio::task::spawn_blocking(move || store.load()).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("is codeb installed there"), "{err}");

    let store = ControlClient::new(transport, endpoint(dir.path())).unwrap().state_store();
    drop(sshd);
    let err = tokio::task::spawn_blocking(move || store.load()).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(err.context_value("server"), Some("control"), "{err}");
}
