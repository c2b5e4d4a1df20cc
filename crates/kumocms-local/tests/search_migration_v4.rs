//! A metadata database written by the release that stored SQLite schema version 4
//! (`tests/fixtures/release-v4-search/make_fixture.rs` says how) opens under this
//! code: migrated (the per-word score table filled from its text index), and
//! searched by `q` in the core's relevance order, with the core's scores; writes
//! afterwards keep the table exact (what a reindex would write).

// Test helpers panic on failure like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use kumocms_core::DocumentId;
use kumocms_core::ports::MetadataStore;
use kumocms_core::query::parse_query;
use kumocms_core::search::{self, SearchHit};
use kumocms_local::SqliteMetadataStore;
use kumocms_local::sqlite::DATABASE_FILE;
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-v4-search")
}

/// The hits of `params` (one page), checking each score is the core's.
async fn hits(store: &SqliteMetadataStore, params: &[(&str, &str)]) -> Vec<SearchHit> {
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let (query, _) = parse_query(&pairs).unwrap();
    let page = store.search(&query).await.unwrap();
    assert!(page.next.is_none(), "{params:?}: one page");
    if let Some(text) = &query.text {
        for hit in &page.hits {
            assert_eq!(
                hit.score,
                search::score(&hit.document, text),
                "{params:?}: the core's score of {}",
                hit.document.id
            );
        }
    }
    page.hits
}

async fn ids(store: &SqliteMetadataStore, params: &[(&str, &str)]) -> Vec<String> {
    hits(store, params)
        .await
        .into_iter()
        .map(|h| h.document.id.to_string())
        .collect()
}

fn term_rows(path: &Path) -> Vec<(String, i64, f64)> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT term, row, score FROM search_terms ORDER BY term, row")
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test]
async fn a_version_4_database_is_migrated_and_ranked_from_its_word_scores() {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["schema_version"], 4);
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
    let (acme, globex, trashed, named, deep) = (
        id("Invoice ACME 2026.pdf"),
        id("meeting notes.txt"),
        id("trashed.pdf"),
        id("walrus survey.txt"),
        id("field log.txt"),
    );
    // A copy: the committed fixture stays at version 4.
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join(DATABASE_FILE);
    std::fs::copy(fixture().join(DATABASE_FILE), &path).unwrap();
    let before = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = before
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 4, "the fixture is a version 4 database");
    drop(before);

    let store = SqliteMetadataStore::open_file(&path).unwrap();
    // The file name first, then early in the text, then deep in it; the trash
    // and the deleted document never.
    assert_eq!(
        ids(&store, &[("q", "walrus")]).await,
        vec![named.clone(), globex.clone(), deep.clone()]
    );
    assert_eq!(
        ids(&store, &[("q", "walrus"), ("status", "deleted")]).await,
        vec![trashed.clone()]
    );
    assert_eq!(
        ids(&store, &[("q", "walrus budget")]).await,
        vec![globex.clone()]
    );
    assert_eq!(
        ids(&store, &[("q", "\"walrus project\"")]).await,
        vec![globex.clone()]
    );
    assert_eq!(
        ids(&store, &[("q", "walrus -budget")]).await,
        vec![named.clone(), deep.clone()]
    );
    assert_eq!(
        ids(&store, &[("q", "ACME widgets")]).await,
        vec![acme.clone()],
        "a metadata value and a word of the text"
    );
    assert_eq!(
        ids(&store, &[("q", "globex")]).await,
        vec![named.clone(), globex.clone()],
        "metadata values (the first value of one, the third of the other)"
    );
    // The page's order, when a small page is asked for, is the same.
    let (mut query, _) = parse_query(&[("q".to_owned(), "walrus".to_owned())]).unwrap();
    query.limit = 1;
    let mut paged = Vec::new();
    loop {
        let page = store.search(&query).await.unwrap();
        paged.extend(page.hits.into_iter().map(|h| h.document.id.to_string()));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, vec![named.clone(), globex.clone(), deep.clone()]);

    // Writes keep the table: a renamed file loses its word, a deleted document
    // its rows.
    let named_id: DocumentId = named.parse().unwrap();
    let mut document = store.get(&named_id).await.unwrap().unwrap();
    let version = document.version;
    document.version += 1;
    if let Some(content) = document.content.as_mut() {
        content.file_name = "ice count.txt".into();
    }
    store.update(&document, version).await.unwrap();
    assert_eq!(
        ids(&store, &[("q", "walrus")]).await,
        vec![globex.clone(), deep.clone()]
    );
    assert_eq!(ids(&store, &[("q", "ice")]).await, vec![named.clone()]);
    let deep_id: DocumentId = deep.parse().unwrap();
    store.delete(&deep_id, 1).await.unwrap();
    assert_eq!(ids(&store, &[("q", "walrus")]).await, vec![globex.clone()]);
    let migrated_and_written = term_rows(&path);
    assert!(!migrated_and_written.is_empty());
    // What the writes and the migration left is what a rebuild writes.
    store.reindex().await.unwrap();
    assert_eq!(term_rows(&path), migrated_and_written);
    drop(store);

    let after = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = after
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert!(version > 4, "migrated");
}
