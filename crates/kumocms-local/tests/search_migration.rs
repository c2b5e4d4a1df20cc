//! A metadata database written by the release that stored SQLite schema version 3
//! (`tests/fixtures/release-v3-search/make_fixture.rs` says how) opens under this
//! code: migrated (the metadata index filled from its records), its documents
//! found by `meta.` and `q` as before, a deleted one never, one in the trash only
//! when asked for.

// Test helpers panic on failure like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use kumocms_core::DocumentId;
use kumocms_core::ports::MetadataStore;
use kumocms_core::query::parse_query;
use kumocms_local::SqliteMetadataStore;
use kumocms_local::sqlite::DATABASE_FILE;
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-v3-search")
}

async fn found(store: &SqliteMetadataStore, params: &[(&str, &str)]) -> HashSet<String> {
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let (query, _) = parse_query(&pairs).unwrap();
    let page = store.search(&query).await.unwrap();
    assert!(page.next.is_none(), "{params:?}: one page");
    page.hits
        .into_iter()
        .map(|h| h.document.id.to_string())
        .collect()
}

#[tokio::test]
async fn a_version_3_database_is_migrated_and_searched_by_metadata_and_text() {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["schema_version"], 3);
    let id = |name: &str| -> String {
        manifest["documents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["file_name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (acme, globex, changed, gone, trashed) = (
        id("Invoice ACME 2026.pdf"),
        id("meeting notes.txt"),
        id("contract.pdf"),
        id("gone.pdf"),
        id("trashed.pdf"),
    );
    // A copy: the committed fixture stays at version 3.
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join(DATABASE_FILE);
    std::fs::copy(fixture().join(DATABASE_FILE), &path).unwrap();
    let before = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = before
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3, "the fixture is a version 3 database");
    drop(before);

    let store = SqliteMetadataStore::open_file(&path).unwrap();
    let set = |ids: &[&String]| ids.iter().map(|s| (*s).clone()).collect::<HashSet<_>>();

    // meta.<key>: strings, numbers, booleans, from the index the migration filled.
    assert_eq!(
        found(&store, &[("meta.customer", "ACME")]).await,
        set(&[&acme])
    );
    assert_eq!(
        found(&store, &[("meta.customer", "ACME"), ("status", "deleted")]).await,
        set(&[&trashed]),
        "the trash, when asked for"
    );
    assert_eq!(
        found(&store, &[("meta.customer", "Umbrella")]).await,
        set(&[&changed]),
        "the value after the update"
    );
    assert!(
        found(&store, &[("meta.customer", "Initech")])
            .await
            .is_empty()
    );
    assert_eq!(
        found(&store, &[("meta.amount", "1200")]).await,
        set(&[&acme])
    );
    assert_eq!(
        found(&store, &[("meta.amount", "12.5")]).await,
        set(&[&globex])
    );
    assert_eq!(
        found(&store, &[("meta.paid", "false")]).await,
        set(&[&globex])
    );
    assert_eq!(
        found(&store, &[("meta.paid", "true"), ("meta.customer", "ACME")]).await,
        set(&[&acme])
    );
    assert!(
        found(&store, &[("meta.ref", "PO-7")]).await.is_empty(),
        "nested"
    );
    for sort in ["created_at", "-updated_at", "file_name", "-size"] {
        assert_eq!(
            found(&store, &[("meta.customer", "ACME"), ("sort", sort)]).await,
            set(&[&acme]),
            "sort={sort}"
        );
    }

    // q: the text index of release 3, kept.
    assert_eq!(found(&store, &[("q", "walrus")]).await, set(&[&globex]));
    assert_eq!(
        found(&store, &[("q", "walrus"), ("status", "deleted")]).await,
        set(&[&trashed])
    );
    assert_eq!(
        found(&store, &[("q", "widgets"), ("meta.customer", "ACME")]).await,
        set(&[&acme])
    );
    assert!(
        found(&store, &[("q", "widgets"), ("meta.customer", "Globex")])
            .await
            .is_empty()
    );
    let gone_id: DocumentId = gone.parse().unwrap();
    assert!(store.get(&gone_id).await.unwrap().is_none());

    // New writes keep the index: an update changes what meta. finds.
    let acme_id: DocumentId = acme.parse().unwrap();
    let mut document = store.get(&acme_id).await.unwrap().unwrap();
    let version = document.version;
    document.version += 1;
    document
        .metadata
        .insert("customer".into(), Value::String("Hooli".into()));
    store.update(&document, version).await.unwrap();
    assert!(found(&store, &[("meta.customer", "ACME")]).await.is_empty());
    assert_eq!(
        found(&store, &[("meta.customer", "Hooli")]).await,
        set(&[&acme])
    );
    store.delete(&acme_id, version + 1).await.unwrap();
    assert!(
        found(&store, &[("meta.customer", "Hooli")])
            .await
            .is_empty()
    );
    drop(store);

    let after = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = after
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert!(version > 3, "migrated");
    let rows: i64 = after
        .query_row("SELECT count(*) FROM document_metadata", [], |r| r.get(0))
        .unwrap();
    // globex 3 values, changed 2, trashed 2 (acme deleted above).
    assert_eq!(rows, 7);
}
