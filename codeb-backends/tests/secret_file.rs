//! `FileSecretStore` on a real file system (a temp dir): the conformance
//! suite, authentication of every byte, file modes, no plaintext on disk,
//! concurrent writers, and bounded history.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use codeb::ErrorKind;
use codeb::model::{EnvKey, EnvValue, EnvVar, Environment, ProjectName};
use codeb::secrets::{Scope, SecretStore};
use codeb::testkit::Namespace;
use codeb_backends::{FileSecretStore, KeySource, SecretFileConfig, SecretKey};

const CANARY: &str = "CANARY-plaintext-9f3a7c";

fn store_in(dir: &Path) -> FileSecretStore {
    FileSecretStore::with_key(dir, SecretKey::generate(), 50).unwrap()
}

fn scope(project: &str) -> Scope {
    Scope::new(ProjectName::parse(project).unwrap(), Environment::Production)
}

fn var(key: &str, value: &str) -> EnvVar {
    EnvVar::secret(EnvKey::parse(key).unwrap(), EnvValue::parse(value).unwrap())
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Asserts that every read of `scope` fails with `Unauthenticated` and that a write neither succeeds nor changes the file.
async fn assert_refused(store: &FileSecretStore, scope: &Scope, what: &str) {
    let before = std::fs::read(store.path_of(scope)).unwrap();
    let key = EnvKey::parse("DATABASE_URL").unwrap();
    let results = [
        store.list(scope).await.map(|s| format!("{} vars", s.vars.len())),
        store.list_at(scope, 1).await.map(|s| format!("{} vars", s.vars.len())),
        store.get(scope, &key).await.map(|v| format!("{v:?}")),
        store.set(scope, &[var("OTHER", "x")]).await.map(|v| v.to_string()),
        store.unset(scope, std::slice::from_ref(&key)).await.map(|v| v.to_string()),
    ];
    for result in results {
        match result {
            Err(e) if e.kind() == ErrorKind::Unauthenticated => {
                assert!(!format!("{e} {e:?}").contains(CANARY), "{what}: the error shows the plaintext");
                assert_eq!(e.context_value("path"), Some(store.path_of(scope).display().to_string().as_str()));
            }
            other => panic!("{what}: expected Unauthenticated, got {other:?}"),
        }
    }
    assert_eq!(std::fs::read(store.path_of(scope)).unwrap(), before, "{what}: a refused file must be left as it was");
}

#[tokio::test]
async fn the_secret_store_conformance_suite_passes_against_files() {
    let dir = tempfile::tempdir().unwrap();
    codeb::testkit::secrets::run(&store_in(dir.path()), &Namespace::random()).await;
}

#[tokio::test]
async fn a_wrong_key_is_unauthenticated_and_returns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let scope = scope("shop");
    store_in(dir.path()).set(&scope, &[var("DATABASE_URL", CANARY)]).await.unwrap();
    assert_refused(&store_in(dir.path()), &scope, "another key").await;
}

/// A store in `dir` holding the canary for project `shop`: the store, the scope, its file and the file's bytes.
async fn stored_canary(dir: &Path) -> (FileSecretStore, Scope, PathBuf, Vec<u8>) {
    let store = store_in(dir);
    let scope = scope("shop");
    store.set(&scope, &[var("DATABASE_URL", CANARY)]).await.unwrap();
    let path = store.path_of(&scope);
    let original = std::fs::read(&path).unwrap();
    (store, scope, path, original)
}

#[tokio::test]
async fn a_flipped_byte_anywhere_is_unauthenticated() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scope, path, original) = stored_canary(dir.path()).await;
    for i in 0..original.len() {
        let mut flipped = original.clone();
        flipped[i] ^= 0x80;
        std::fs::write(&path, &flipped).unwrap();
        assert_refused(&store, &scope, &format!("byte {i} flipped")).await;
    }
    std::fs::write(&path, &original).unwrap();
    assert_eq!(store.list(&scope).await.unwrap().vars[0].value.expose(), CANARY, "the intact file still reads");
}

#[tokio::test]
async fn a_truncated_or_emptied_file_is_unauthenticated() {
    let dir = tempfile::tempdir().unwrap();
    let (store, scope, path, original) = stored_canary(dir.path()).await;
    for len in [0, 1, 9, 33, 48, original.len() / 2, original.len() - 1] {
        std::fs::write(&path, &original[..len]).unwrap();
        assert_refused(&store, &scope, &format!("truncated to {len} bytes")).await;
    }
}

#[tokio::test]
async fn another_scopes_file_copied_over_is_unauthenticated() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let (shop, blog) = (scope("shop"), scope("blog"));
    store.set(&shop, &[var("DATABASE_URL", CANARY)]).await.unwrap();
    store.set(&blog, &[var("DATABASE_URL", "blog-db")]).await.unwrap();
    std::fs::copy(store.path_of(&shop), store.path_of(&blog)).unwrap();
    assert_refused(&store, &blog, "shop's file as blog's").await;
}

#[tokio::test]
async fn an_unreadable_file_is_an_error_never_an_empty_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let scope = scope("shop");
    // A directory where the file should be cannot be read (root reads through any mode bits).
    std::fs::create_dir_all(store.path_of(&scope)).unwrap();
    let err = store.list(&scope).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(store.get(&scope, &EnvKey::parse("A").unwrap()).await.unwrap_err().kind(), ErrorKind::Unavailable);
    assert_eq!(store.set(&scope, &[var("A", "1")]).await.unwrap_err().kind(), ErrorKind::Unavailable);
}

#[tokio::test]
async fn files_locks_and_the_key_file_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys").join("secrets.key");
    let config = SecretFileConfig::new(dir.path().join("store"), KeySource::File(key_file.clone()));
    let store = FileSecretStore::open(config).unwrap();
    let scope = scope("shop");
    store.set(&scope, &[var("DATABASE_URL", CANARY)]).await.unwrap();
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(std::fs::metadata(&key_file).unwrap().len(), 32);
    let files = files_under(&dir.path().join("store"));
    assert!(files.len() >= 2, "the file and its lock: {files:?}");
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(store.path_of(&scope).parent().unwrap()), 0o700);
    assert_eq!(mode(&dir.path().join("store")), 0o700);

    // The key file is reused: a second store with the same config reads the first one's secrets.
    let again =
        FileSecretStore::open(SecretFileConfig::new(dir.path().join("store"), KeySource::File(key_file))).unwrap();
    assert_eq!(again.list(&scope).await.unwrap().vars[0].value.expose(), CANARY);
}

#[tokio::test]
async fn no_plaintext_reaches_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let scope = scope("shop");
    for i in 0..3 {
        store.set(&scope, &[var("SECRET_CANARY_KEY", &format!("{CANARY}-{i}"))]).await.unwrap();
    }
    store.unset(&scope, &[EnvKey::parse("SECRET_CANARY_KEY").unwrap()]).await.unwrap();
    for file in files_under(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        for needle in [CANARY.as_bytes(), b"SECRET_CANARY_KEY", b"shop/production"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} holds {:?}",
                file.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_with_their_own_handles_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate();
    let scope = scope("shop");
    let writers: Vec<_> = (0..4)
        .map(|w| {
            // Each writer is its own store: its own lock file handle, as another process would have.
            let store = FileSecretStore::with_key(dir.path(), key.clone(), 1000).unwrap();
            let scope = scope.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    store.set(&scope, &[var(&format!("W{w}_{i}"), &i.to_string())]).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let store = FileSecretStore::with_key(dir.path(), key, 1000).unwrap();
    let current = store.list(&scope).await.unwrap();
    assert_eq!(current.vars.len(), 100, "every writer's every variable is there");
    assert_eq!(current.version, 100, "every set made exactly one version");
}

#[tokio::test]
async fn versions_beyond_the_kept_history_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileSecretStore::with_key(dir.path(), SecretKey::generate(), 3).unwrap();
    let scope = scope("shop");
    for i in 1..=5 {
        assert_eq!(store.set(&scope, &[var("N", &i.to_string())]).await.unwrap(), i);
    }
    for gone in [1, 2, 6] {
        let err = store.list_at(&scope, gone).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "version {gone}: {err}");
    }
    for kept in 3..=5 {
        assert_eq!(store.list_at(&scope, kept).await.unwrap().vars[0].value.expose(), kept.to_string());
    }
    assert!(store.list_at(&scope, 0).await.unwrap().vars.is_empty(), "version 0 is the empty set");
    assert_eq!(FileSecretStore::with_key(dir.path(), SecretKey::generate(), 0).unwrap_err().kind(), ErrorKind::Invalid);
}

#[tokio::test]
async fn debug_and_errors_never_show_values_or_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key_text = "ab".repeat(32);
    let key = SecretKey::parse(&key_text).unwrap();
    let store = FileSecretStore::with_key(dir.path(), key.clone(), 50).unwrap();
    let scope = scope("shop");
    store.set(&scope, &[var("DATABASE_URL", CANARY)]).await.unwrap();
    let listed = store.list(&scope).await.unwrap();
    let wrong = FileSecretStore::with_key(dir.path(), SecretKey::generate(), 50).unwrap();
    let texts = [
        format!("{store:?}"),
        format!("{key:?}"),
        format!("{listed:?}"),
        format!("{:?}", wrong.list(&scope).await.unwrap_err()),
        wrong.list(&scope).await.unwrap_err().to_string(),
        store.list_at(&scope, 9).await.unwrap_err().to_string(),
        format!("{:?}", SecretKey::parse(CANARY).unwrap_err()),
    ];
    for text in texts {
        assert!(!text.contains(CANARY), "{text}");
        assert!(!text.contains(&key_text), "{text}");
    }
}
