//! The conformance suite of [`SecretStore`].

use crate::ErrorKind;
use crate::model::{EnvKey, EnvValue, EnvVar, Environment};
use crate::secrets::{Scope, SecretStore};

use super::{Namespace, expect_kind, ok};

/// Runs every check in scopes of their own inside `ns`.
pub async fn run(store: &dyn SecretStore, ns: &Namespace) {
    changes_make_versions_that_can_be_read_back(store, ns).await;
    scopes_never_see_each_other(store, ns).await;
}

fn var(key: &str, value: &str, secret: bool) -> EnvVar {
    let key = EnvKey::parse(key).unwrap_or_else(|e| panic!("{e}"));
    let value = EnvValue::parse(value).unwrap_or_else(|e| panic!("{e}"));
    EnvVar { key, value, secret }
}

fn plain_pairs(set: &crate::secrets::EnvSet) -> Vec<(String, String, bool)> {
    set.vars.iter().map(|v| (v.key.to_string(), v.value.expose().to_owned(), v.secret)).collect()
}

/// Each effective change makes one version; no-ops make none; old versions read back as they were.
pub async fn changes_make_versions_that_can_be_read_back(store: &dyn SecretStore, ns: &Namespace) {
    let scope = Scope::new(ns.project("env"), Environment::Staging);
    let empty = ok("list empty", store.list(&scope).await);
    assert_eq!((empty.version, empty.vars.len()), (0, 0), "a new scope is empty at version 0");

    let v1 = ok(
        "set",
        store.set(&scope, &[var("DATABASE_URL", "postgres://u:p@db/x", true), var("MODE", "a b=c\n", false)]).await,
    );
    assert_eq!(v1, 1, "the first change makes version 1");
    let got = ok("get", store.get(&scope, &EnvKey::parse("DATABASE_URL").unwrap_or_else(|e| panic!("{e}"))).await);
    let got = got.unwrap_or_else(|| panic!("get must find a set variable"));
    assert_eq!(
        (got.value.expose(), got.secret),
        ("postgres://u:p@db/x", true),
        "values and the secret flag round-trip"
    );

    let same = ok("set the same again", store.set(&scope, &[var("MODE", "a b=c\n", false)]).await);
    assert_eq!(same, 1, "setting what is already set makes no version");
    let v2 = ok("set changed", store.set(&scope, &[var("MODE", "prod", false)]).await);
    assert_eq!(v2, 2);
    let v3 = ok("unset", store.unset(&scope, &[EnvKey::parse("DATABASE_URL").unwrap_or_else(|e| panic!("{e}"))]).await);
    assert_eq!(v3, 3);
    let none =
        ok("unset absent", store.unset(&scope, &[EnvKey::parse("NOPE").unwrap_or_else(|e| panic!("{e}"))]).await);
    assert_eq!(none, 3, "unsetting an absent key makes no version");

    let current = ok("list", store.list(&scope).await);
    assert_eq!(current.version, 3);
    assert_eq!(plain_pairs(&current), vec![("MODE".to_owned(), "prod".to_owned(), false)]);
    let first = ok("list_at 1", store.list_at(&scope, 1).await);
    assert_eq!(
        plain_pairs(&first),
        vec![
            ("DATABASE_URL".to_owned(), "postgres://u:p@db/x".to_owned(), true),
            ("MODE".to_owned(), "a b=c\n".to_owned(), false)
        ],
        "an old version must read back exactly as it was"
    );
    expect_kind("list_at a future version", store.list_at(&scope, 99).await, ErrorKind::NotFound);
}

/// Variables of one project environment are invisible from another.
pub async fn scopes_never_see_each_other(store: &dyn SecretStore, ns: &Namespace) {
    let staging = Scope::new(ns.project("iso"), Environment::Staging);
    let production = Scope::new(ns.project("iso"), Environment::Production);
    let other = Scope::new(ns.project("iso2"), Environment::Staging);
    ok("set", store.set(&staging, &[var("TOKEN", "s3cr3t", true)]).await);
    for scope in [&production, &other] {
        let set = ok("list", store.list(scope).await);
        assert!(set.vars.is_empty(), "{scope} must not see {staging}'s variables");
        let key = EnvKey::parse("TOKEN").unwrap_or_else(|e| panic!("{e}"));
        assert!(ok("get", store.get(scope, &key).await).is_none(), "{scope} must not get {staging}'s variable");
    }
}
