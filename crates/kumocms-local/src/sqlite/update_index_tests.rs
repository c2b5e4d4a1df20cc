//! The search index after `update`: the full-text row is written again only when
//! what it indexes changed (issue 14), and is then found by its new words.

use super::*;
use kumocms_core::DocumentStatus;
use kumocms_core::search::{Sort, SortField, TextQuery};
use serde_json::json;

fn text_query(q: &str) -> SearchQuery {
    SearchQuery {
        text: Some(TextQuery::parse(q).unwrap()),
        sort: Sort {
            field: SortField::Relevance,
            descending: false,
        },
        ..SearchQuery::default()
    }
}

async fn hits(store: &SqliteMetadataStore, query: SearchQuery) -> usize {
    store.search(&query).await.unwrap().hits.len()
}

/// A record as created: no extraction yet, metadata `team=ops`.
fn created() -> Document {
    let mut document = kumocms_core::conformance::sample_document("memo", DocumentStatus::Active);
    document.extracted = None;
    document.metadata = serde_json::Map::from_iter([("team".to_owned(), json!("ops"))]);
    document
}

/// `document` written again as the next version, changed by `change`.
async fn rewrite(
    store: &SqliteMetadataStore,
    document: &mut Document,
    change: impl FnOnce(&mut Document),
) -> u64 {
    let expected = document.version;
    change(document);
    document.version += 1;
    document.updated_at += chrono::Duration::seconds(10);
    let before = store.writer.lock().unwrap().total_changes();
    store.update(document, expected).await.unwrap();
    store.writer.lock().unwrap().total_changes() - before
}

#[tokio::test]
async fn an_update_that_keeps_the_indexed_text_writes_no_full_text_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadataStore::open(dir.path()).unwrap();
    let mut document = created();
    store.insert(&document).await.unwrap();
    let extracted = kumocms_core::conformance::sample_document("memo", DocumentStatus::Active)
        .extracted
        .unwrap();
    assert!(extracted.text.is_none() && extracted.title.is_none());
    // The upload checked: content with no text in it, the same name and metadata.
    let rows = rewrite(&store, &mut document, |d| d.extracted = Some(extracted)).await;
    // The record's row and its sort columns: no full-text delete and insert, no
    // metadata rows (writing the full-text row again changed 15 here).
    assert_eq!(rows, 2, "rows changed by the update");
    // Still found by its name and its metadata, and its columns are the new ones.
    assert_eq!(hits(&store, text_query("rapport")).await, 1);
    assert_eq!(hits(&store, text_query("ops")).await, 1);
    let filtered = SearchQuery {
        metadata: vec![("team".into(), "ops".into())],
        updated_after: Some(document.updated_at - chrono::Duration::seconds(1)),
        ..SearchQuery::default()
    };
    assert_eq!(hits(&store, filtered).await, 1, "updated_at column written");
    // A status change leaves the text alone too.
    let rows = rewrite(&store, &mut document, |d| {
        d.status = DocumentStatus::Archived;
    })
    .await;
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn an_update_that_changes_the_indexed_text_is_found_by_its_new_words() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadataStore::open(dir.path()).unwrap();
    let mut document = created();
    store.insert(&document).await.unwrap();
    let mut extracted = kumocms_core::conformance::sample_document("memo", DocumentStatus::Active)
        .extracted
        .unwrap();
    // Content with text.
    extracted.text = Some("the walrus memo".into());
    rewrite(&store, &mut document, |d| {
        d.extracted = Some(extracted.clone())
    })
    .await;
    assert_eq!(hits(&store, text_query("walrus")).await, 1);
    // New metadata: the new value is found, the old one is not.
    rewrite(&store, &mut document, |d| {
        d.metadata = serde_json::Map::from_iter([("team".to_owned(), json!("finance"))]);
    })
    .await;
    assert_eq!(hits(&store, text_query("finance")).await, 1);
    assert_eq!(hits(&store, text_query("ops")).await, 0);
    let by_metadata = |value: &str| SearchQuery {
        metadata: vec![("team".into(), value.into())],
        ..SearchQuery::default()
    };
    assert_eq!(hits(&store, by_metadata("finance")).await, 1);
    assert_eq!(hits(&store, by_metadata("ops")).await, 0);
    // New content (another SHA-256) with other text.
    rewrite(&store, &mut document, |d| {
        if let Some(e) = d.extracted.as_mut() {
            e.sha256 = "cd".repeat(32);
            e.text = Some("the narwhal memo".into());
        }
    })
    .await;
    assert_eq!(hits(&store, text_query("narwhal")).await, 1);
    assert_eq!(hits(&store, text_query("walrus")).await, 0);
    // A title found in the content is part of the name.
    rewrite(&store, &mut document, |d| {
        if let Some(e) = d.extracted.as_mut() {
            e.title = Some("Quarterly figures".into());
        }
    })
    .await;
    assert_eq!(hits(&store, text_query("quarterly")).await, 1);
    // No text any more (new content without text): the body is emptied.
    rewrite(&store, &mut document, |d| {
        if let Some(e) = d.extracted.as_mut() {
            e.sha256 = "ef".repeat(32);
            e.text = None;
        }
    })
    .await;
    assert_eq!(hits(&store, text_query("narwhal")).await, 0);
}
