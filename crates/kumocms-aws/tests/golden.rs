//! DynamoDB items written by the previous release (fc2895e, before revisions and
//! the trash) read under this code: each document shows one revision. The items
//! were written by that release's unmodified AWS adapter on moto;
//! `tests/fixtures/release-fc2895e/make.sh` says how.

// Tests: a failed expectation must panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use kumocms_aws::testing::{REGION_A, create_bucket, create_table, moto_config, unique_name};
use kumocms_aws::{DynamoMetadataStore, S3BlobStore};
use kumocms_core::cursor::CursorCodec;
use kumocms_core::ports::{MetadataStore, SystemClock};
use kumocms_core::service::{DocumentService, ServiceConfig};
use kumocms_core::{DocumentId, DocumentStatus, SCHEMA_VERSION};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/release-fc2895e/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn attribute(value: &Value) -> AttributeValue {
    if let Some(s) = value["S"].as_str() {
        AttributeValue::S(s.to_owned())
    } else if let Some(n) = value["N"].as_str() {
        AttributeValue::N(n.to_owned())
    } else if let Some(b) = value["BOOL"].as_bool() {
        AttributeValue::Bool(b)
    } else {
        panic!("unexpected attribute {value}")
    }
}

#[tokio::test]
async fn items_from_release_fc2895e_read_with_one_revision_per_document() {
    let config = moto_config(REGION_A).await;
    let table = unique_name("golden");
    let bucket = unique_name("golden");
    create_table(&config, &table).await;
    create_bucket(&config, &bucket).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    for item in fixture("items.json")["items"].as_array().unwrap() {
        let item: HashMap<String, AttributeValue> = item
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect();
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let metadata = Arc::new(DynamoMetadataStore::new(&config, &table));
    let service = DocumentService::new(
        metadata.clone(),
        Arc::new(S3BlobStore::new(&config, &bucket)),
        Arc::new(SystemClock),
        CursorCodec::new(b"golden"),
        ServiceConfig::default(),
    );
    let manifest = fixture("manifest.json");
    let documents = manifest["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 4);
    for expected in documents {
        let name = expected["name"].as_str().unwrap();
        let id: DocumentId = expected["id"].as_str().unwrap().parse().unwrap();
        let document = metadata.get(&id).await.unwrap().expect(name);
        assert_eq!(
            document.schema_version, SCHEMA_VERSION,
            "{name}: upgraded on read"
        );
        assert_eq!(
            document.status.as_str(),
            expected["status"].as_str().unwrap(),
            "{name}"
        );
        assert!(
            document.revisions.is_empty() && document.trash.is_none(),
            "{name}"
        );
        let page = service.revisions(&id, None, None).await.unwrap();
        let numbers: Vec<(u32, bool)> = page
            .revisions
            .iter()
            .map(|r| (r.revision, r.current))
            .collect();
        let revision = expected["revision"].as_u64().unwrap() as u32;
        if revision == 0 {
            assert!(numbers.is_empty(), "{name}: no content, no revision");
        } else {
            assert_eq!(
                numbers,
                vec![(revision, true)],
                "{name}: exactly one revision"
            );
        }
    }

    // Found by search as they are (no attribute to backfill: a search on DynamoDB
    // evaluates each record in the core, whatever release wrote it).
    let found = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let service = &service;
        async move {
            let page = service.query(&pairs).await.unwrap();
            page.hits
                .iter()
                .map(|h| h.document.id.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found(&[("q", "archived")]).await,
        ["01M8N4S44D36BDHM73SSNK8QNN"]
    );
    assert_eq!(
        found(&[
            ("meta.source", "golden"),
            ("type", "invoice"),
            ("sort", "-file_name")
        ])
        .await,
        ["01M8N4S4DE2K2HG45BJ2W9HJ5J", "01M8N4S3TSYW22TRF2DVTBG0BB"]
    );
    assert_eq!(
        found(&[("q", "pending"), ("status", "pending_upload")]).await,
        ["01M8N4S4CRWY1KH9DWV0PNENQ6"]
    );

    // Written back in the new shape at the next change; the trash works on it.
    let active = documents.iter().find(|d| d["name"] == "active").unwrap();
    let id: DocumentId = active["id"].as_str().unwrap().parse().unwrap();
    service.delete(&id).await.unwrap();
    let item = client
        .get_item()
        .table_name(&table)
        .key("PK", AttributeValue::S(format!("DOC#{id}")))
        .key("SK", AttributeValue::S("META".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        item.get("status"),
        Some(&AttributeValue::S("deleted".into()))
    );
    let record: Value = serde_json::from_str(item.get("record").unwrap().as_s().unwrap()).unwrap();
    assert_eq!(record["schema_version"], SCHEMA_VERSION);
    assert_eq!(
        service.undelete(&id, None).await.unwrap().status,
        DocumentStatus::Active
    );
}
