//! Search on DynamoDB beyond the conformance suite (which fits in one window): the
//! bounded read per request over a table larger than a window, the search
//! attributes kept current by every write, and the filter going down to DynamoDB
//! while items written before the attributes existed are still found. On moto
//! (`scripts/with-moto.sh`).

// Tests: a failed expectation must panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use kumocms_aws::testing::{REGION_A, create_table, moto_config, raw_item, unique_name};
use kumocms_aws::{DynamoMetadataStore, WINDOW_ITEMS};
use kumocms_core::conformance::{NoBlobs, sample_document};
use kumocms_core::cursor::CursorCodec;
use kumocms_core::ports::{MetadataStore, SystemClock};
use kumocms_core::service::{DocumentService, ServiceConfig};
use kumocms_core::{Document, DocumentId, DocumentStatus};
use serde_json::json;

fn service(store: Arc<DynamoMetadataStore>) -> DocumentService {
    DocumentService::new(
        store,
        Arc::new(NoBlobs),
        Arc::new(SystemClock),
        CursorCodec::new(b"dynamo search"),
        ServiceConfig::default(),
    )
}

fn named(document_type: &str, file_name: &str) -> Document {
    let mut document = sample_document(document_type, DocumentStatus::Active);
    document.metadata = serde_json::Map::new();
    if let Some(content) = document.content.as_mut() {
        content.file_name = file_name.into();
    }
    if let Some(extracted) = document.extracted.as_mut() {
        extracted.text = None;
        extracted.title = None;
    }
    document
}

fn pairs(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Every page of a query: the ids found and the page sizes, in order.
async fn walk(service: &DocumentService, params: &[(&str, &str)]) -> (Vec<DocumentId>, Vec<usize>) {
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let mut with = pairs(params);
        if let Some(c) = &cursor {
            with.push(("cursor".into(), c.clone()));
        }
        let page = service.query(&with).await.unwrap();
        sizes.push(page.hits.len());
        ids.extend(page.hits.iter().map(|h| h.document.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (ids, sizes),
        }
    }
    panic!("{params:?} did not end within 50 pages");
}

#[tokio::test]
async fn a_request_reads_one_bounded_window_and_answers_a_cursor_even_without_hits() {
    let config = moto_config(REGION_A).await;
    let table = unique_name("search-bulk");
    create_table(&config, &table).await;
    let store = Arc::new(DynamoMetadataStore::new(&config, &table));
    let service = service(store.clone());
    let document_type = "bulk";
    // More items than one window; ids (and so the index order) in insertion order.
    let total = WINDOW_ITEMS as usize + 150;
    let needles = [WINDOW_ITEMS as usize + 20, WINDOW_ITEMS as usize + 120];
    let mut wanted = HashSet::new();
    for i in 0..total {
        let name = if needles.contains(&i) {
            format!("needle {i}.txt")
        } else {
            format!("filler {i}.txt")
        };
        let document = named(document_type, &name);
        if needles.contains(&i) {
            wanted.insert(document.id);
        }
        store.insert(&document).await.unwrap();
    }

    // Through the index: the first window (the first 1,000 items) has no hit, and
    // the request still ends, with a cursor to the rest.
    let first = service
        .query(&pairs(&[("type", document_type), ("q", "needle")]))
        .await
        .unwrap();
    assert!(first.hits.is_empty(), "no needle in the first window");
    assert!(
        first.next_cursor.is_some(),
        "a cursor after a window without hits"
    );
    let (found, sizes) = walk(
        &service,
        &[("type", document_type), ("q", "needle"), ("limit", "1")],
    )
    .await;
    assert_eq!(found.iter().copied().collect::<HashSet<_>>(), wanted);
    assert_eq!(found.len(), 2, "each hit once: {sizes:?}");

    // A Scan (no type) is bounded the same way and finds each hit once.
    let (found, sizes) = walk(&service, &[("q", "needle"), ("limit", "1")]).await;
    assert_eq!(found.iter().copied().collect::<HashSet<_>>(), wanted);
    assert_eq!(found.len(), 2, "each hit once: {sizes:?}");
    assert!(sizes.len() >= 2, "more than one window: {sizes:?}");

    // Structured filters and a sort over more than one window: every match once,
    // sorted within each window.
    let (found, _) = walk(
        &service,
        &[
            ("type", document_type),
            ("file_name", "filler 10"),
            ("sort", "-file_name"),
            ("limit", "7"),
        ],
    )
    .await;
    // filler 10, filler 100..109, filler 1000..1099 but the needle 1020.
    let expected = 1 + 10 + 99;
    assert_eq!(found.len(), expected);
    assert_eq!(found.iter().collect::<HashSet<_>>().len(), expected);
}

async fn put_raw(store: &DynamoMetadataStore, item: HashMap<String, AttributeValue>) {
    store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn every_write_keeps_the_search_attributes_current_and_old_items_are_still_found() {
    let config = moto_config(REGION_A).await;
    let table = unique_name("search-attrs");
    create_table(&config, &table).await;
    let store = Arc::new(DynamoMetadataStore::new(&config, &table));
    let service = service(store.clone());
    let found = |params: &'static [(&'static str, &'static str)]| {
        let service = &service;
        async move {
            walk(service, params)
                .await
                .0
                .into_iter()
                .collect::<HashSet<_>>()
        }
    };

    let mut document = named("attrs", "Contract.pdf");
    document.metadata = json!({"customer": "Alpha"}).as_object().cloned().unwrap();
    store.insert(&document).await.unwrap();
    let item = raw_item(&store, &document.id).await;
    let search_text = item.get("searchText").unwrap().as_s().unwrap();
    assert!(search_text.contains("contract") && search_text.contains("alpha"));
    assert_eq!(
        item.get("metaPairs"),
        Some(&AttributeValue::Ss(vec!["customer\u{1f}Alpha".into()]))
    );
    assert_eq!(found(&[("q", "alpha")]).await, HashSet::from([document.id]));

    // A PATCH (metadata) and then extraction (text) write the item again.
    let version = document.version;
    document.metadata = json!({"customer": "Beta"}).as_object().cloned().unwrap();
    if let Some(extracted) = document.extracted.as_mut() {
        extracted.text = Some("Signed in Genève".into());
    }
    document.version += 1;
    store.update(&document, version).await.unwrap();
    assert!(
        found(&[("q", "alpha")]).await.is_empty(),
        "no stale metadata"
    );
    assert!(found(&[("meta.customer", "Alpha")]).await.is_empty());
    assert_eq!(
        found(&[("q", "beta geneve")]).await,
        HashSet::from([document.id])
    );
    assert_eq!(
        found(&[("meta.customer", "Beta")]).await,
        HashSet::from([document.id])
    );

    // The filter is applied by DynamoDB on the attributes: an item whose attribute
    // lacks the word does not come back, though its record has it...
    let mut item = raw_item(&store, &document.id).await;
    item.insert("searchText".into(), AttributeValue::S("contract".into()));
    put_raw(&store, item.clone()).await;
    assert!(
        found(&[("q", "beta")]).await.is_empty(),
        "filtered in DynamoDB"
    );
    // ...while an item without the attributes (an earlier release wrote it) is
    // judged on its record in the core.
    for name in [
        "searchVersion",
        "searchText",
        "fileName",
        "contentType",
        "size",
        "createdAt",
        "updatedAt",
        "metaPairs",
    ] {
        item.remove(name);
    }
    put_raw(&store, item).await;
    assert_eq!(found(&[("q", "beta")]).await, HashSet::from([document.id]));
    assert_eq!(
        found(&[
            ("meta.customer", "Beta"),
            ("content_type", "application/pdf")
        ])
        .await,
        HashSet::from([document.id])
    );
    assert!(found(&[("q", "alpha")]).await.is_empty());
}
