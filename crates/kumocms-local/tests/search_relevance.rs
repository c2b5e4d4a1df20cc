//! Relevance on SQLite is FTS5's `bm25()`, which depends on the whole index: pages
//! of a relevance search must neither repeat nor skip a document while others are
//! added between them (which moves every score), and a match in the file name
//! ranks above one in the body.

// Test helpers panic on failure like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use kumocms_core::conformance::sample_document;
use kumocms_core::ports::MetadataStore;
use kumocms_core::query::parse_query;
use kumocms_core::{Document, DocumentStatus};
use kumocms_local::SqliteMetadataStore;

fn with_text(file_name: &str, text: &str) -> Document {
    let mut document = sample_document("relevance", DocumentStatus::Active);
    document.restore = None;
    document.metadata = serde_json::Map::new();
    if let Some(content) = document.content.as_mut() {
        content.file_name = file_name.into();
    }
    if let Some(extracted) = document.extracted.as_mut() {
        extracted.text = Some(text.into());
    }
    document
}

#[tokio::test]
async fn relevance_pages_neither_repeat_nor_skip_while_scores_move() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadataStore::open(dir.path()).unwrap();
    let mut present = HashSet::new();
    // Different lengths and counts of the word: every score differs.
    for i in 0..40 {
        let text = format!(
            "{} walrus {}",
            "filler ".repeat(i * 7 % 50),
            "walrus ".repeat(i % 4)
        );
        let name = if i % 10 == 0 {
            "walrus.pdf"
        } else {
            "notes.txt"
        };
        let document = with_text(name, &text);
        present.insert(document.id);
        store.insert(&document).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for round in 0..100 {
        let (mut query, _) = parse_query(&[("q".to_owned(), "walrus".to_owned())]).unwrap();
        query.limit = 3;
        query.after = cursor.clone();
        let page = store.search(&query).await.unwrap();
        for hit in &page.hits {
            let score = hit.score.unwrap();
            assert!(score > 0.0);
            seen.push(hit.document.id);
        }
        // Between pages: documents with the word (fewer rows hold it, so it weighs
        // more) and many without (more rows, longer mean length) change every score.
        for n in 0..5 {
            store
                .insert(&with_text("other.txt", &"lorem ipsum ".repeat(n * 20 + 1)))
                .await
                .unwrap();
        }
        store
            .insert(&with_text(
                "late.txt",
                &format!("{} walrus", "x ".repeat(round)),
            ))
            .await
            .unwrap();
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let unique: HashSet<_> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a document came twice");
    assert!(
        present.is_subset(&unique),
        "{} documents present from the start were skipped",
        present.difference(&unique).count()
    );
}

#[tokio::test]
async fn a_file_name_match_ranks_above_body_matches() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadataStore::open(dir.path()).unwrap();
    let named = with_text("zebra.pdf", "nothing to see");
    store.insert(&named).await.unwrap();
    for _ in 0..20 {
        store
            .insert(&with_text("plain.txt", "zebra zebra zebra, a short body"))
            .await
            .unwrap();
    }
    let (query, _) = parse_query(&[("q".to_owned(), "zebra".to_owned())]).unwrap();
    let page = store.search(&query).await.unwrap();
    assert_eq!(page.hits.len(), 21);
    assert_eq!(page.hits[0].document.id, named.id, "the file name first");
    assert!(page.hits[0].score > page.hits[1].score);
    assert!(
        page.hits[0]
            .snippet
            .as_deref()
            .is_some_and(|s| s.contains("<mark>zebra</mark>"))
    );
}

/// SQLite scores in SQL from FTS5's token positions exactly what the core's
/// reference score gives (the memory store's and DynamoDB's), phrases included.
#[tokio::test]
async fn scores_are_the_core_scores() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadataStore::open(dir.path()).unwrap();
    let mut deep = with_text(
        "Due date.txt",
        &format!("{} the due date is near, due date", "word ".repeat(1500)),
    );
    deep.metadata
        .insert("note".into(), serde_json::json!("Été: due soon"));
    store.insert(&deep).await.unwrap();
    store
        .insert(&with_text("memo.txt", "Due DATE of the été report"))
        .await
        .unwrap();
    store
        .insert(&with_text("x.txt", "date due, not the phrase"))
        .await
        .unwrap();
    for q in [
        "due",
        "\"due date\"",
        "due ete",
        "date -phrase",
        "\"due date\" ete",
    ] {
        let (query, _) = parse_query(&[("q".to_owned(), q.to_owned())]).unwrap();
        let text = query.text.clone().unwrap();
        let page = store.search(&query).await.unwrap();
        assert!(!page.hits.is_empty(), "{q}");
        for hit in &page.hits {
            assert_eq!(
                hit.score,
                kumocms_core::search::score(&hit.document, &text),
                "{q}: {}",
                hit.document.content.as_ref().unwrap().file_name
            );
        }
        let scores: Vec<f64> = page.hits.iter().map(|h| h.score.unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{q}: {scores:?}");
    }
}
