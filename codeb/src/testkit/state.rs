//! The conformance suite of [`StateStore`].

use crate::model::{Environment, Port, ProjectName, Service};
use crate::ssot::{StateStore, StateStoreExt};
use crate::{Error, ErrorKind};

use super::{expect_kind, ok};

/// Runs every check against a store that holds no document yet.
pub fn run(store: &dyn StateStore) {
    empty_store_loads_revision_zero(store);
    each_change_bumps_the_revision_by_one(store);
    an_unchanged_document_is_not_written(store);
    a_failed_mutation_changes_nothing(store);
}

/// A store that was never written loads as an empty document at revision 0.
pub fn empty_store_loads_revision_zero(store: &dyn StateStore) {
    let doc = ok("load of an empty store", store.load());
    assert_eq!(doc.revision, 0, "an empty store must load at revision 0");
    assert!(doc.projects.is_empty(), "an empty store must hold no projects");
}

/// Every committed change bumps the revision by exactly one and is visible to `load`.
pub fn each_change_bumps_the_revision_by_one(store: &dyn StateStore) {
    let before = ok("load", store.load()).revision;
    let project = project("bump");
    let port = ok("port", Port::new(3333).map_err(Error::from));
    let commit = ok(
        "update",
        store.update(&mut |doc| {
            doc.environment_mut(&project, &Environment::Staging).ports.insert(Service::App, port);
            Ok(())
        }),
    );
    assert!(commit.changed, "a change must be reported as changed");
    assert_eq!(commit.revision, before + 1, "a change must bump the revision by one");
    let doc = ok("load after update", store.load());
    assert_eq!(doc.revision, before + 1);
    assert_eq!(doc.environment(&project, &Environment::Staging).and_then(|e| e.ports.get(&Service::App)), Some(&port));
    let value = ok("modify", store.modify(|doc| Ok(doc.projects.len())));
    assert_eq!(value, doc.projects.len(), "modify must return what the mutation returned");
}

/// A mutation that leaves the document as it was writes nothing and keeps the revision.
pub fn an_unchanged_document_is_not_written(store: &dyn StateStore) {
    let before = ok("load", store.load()).revision;
    let commit = ok("no-op update", store.update(&mut |_| Ok(())));
    assert!(!commit.changed, "a no-op must not be reported as changed");
    assert_eq!(commit.revision, before);
    assert_eq!(ok("load", store.load()).revision, before, "a no-op must not bump the revision");
}

/// A mutation that fails leaves the committed document untouched, even if it changed its copy first.
pub fn a_failed_mutation_changes_nothing(store: &dyn StateStore) {
    let before = ok("load", store.load());
    let project = project("failed");
    let result = store.update(&mut |doc| {
        doc.environment_mut(&project, &Environment::Production);
        Err(Error::new(ErrorKind::Conflict, "refused by the test"))
    });
    expect_kind("failed mutation", result, ErrorKind::Conflict);
    assert_eq!(ok("load", store.load()), before, "a failed mutation must change nothing");
}

fn project(name: &str) -> ProjectName {
    super::valid(ProjectName::parse(&format!("suite-{name}")))
}
