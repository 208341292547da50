//! The shared `StateStore` conformance suite, run against the file store.

use codeb::ssot::StateStore;
use codeb::testkit;
use codeb_backends::FileStateStore;

#[test]
fn the_file_state_store_keeps_the_state_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-yet").join("ssot.json");
    let store = FileStateStore::new(&path);
    testkit::state::run(&store);

    // What the suite committed is on disk: a fresh store at the same path sees it.
    let reopened = FileStateStore::new(&path);
    assert_eq!(reopened.load().unwrap(), store.load().unwrap());
    assert!(reopened.load().unwrap().revision > 0);
}
