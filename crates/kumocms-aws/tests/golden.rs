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
    } else if let Some(ss) = value["SS"].as_array() {
        AttributeValue::Ss(ss.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
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
            document.revisions.get().unwrap().is_empty() && document.trash.is_none(),
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

fn fixture_d220d75(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/release-d220d75/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// DynamoDB items written by release d220d75 (each record keeping its replaced
/// revisions inside its `record` JSON, the trash) read under this code with every
/// revision: listed newest first with their checksums, each readable byte for byte
/// from the bucket the records name, the trashed document undeletable with its
/// history, and a permanent delete removing every revision's object.
/// `tests/fixtures/release-d220d75/make.sh` says how the items were made.
#[tokio::test]
async fn items_from_release_d220d75_read_with_every_revision() {
    let config = moto_config(REGION_A).await;
    let table = unique_name("golden");
    create_table(&config, &table).await;
    // The records name their bucket: the objects go back into one of that name.
    let objects = fixture_d220d75("objects.json");
    let bucket = objects["bucket"].as_str().unwrap().to_owned();
    create_bucket(&config, &bucket).await;
    let s3 = aws_sdk_s3::Client::new(&config);
    for (key, body) in objects["objects"].as_object().unwrap() {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(body.as_str().unwrap().as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let client = aws_sdk_dynamodb::Client::new(&config);
    for item in fixture_d220d75("items.json")["items"].as_array().unwrap() {
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
    let http = reqwest::Client::new();
    let manifest = fixture_d220d75("manifest.json");
    let documents = manifest["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 3);
    let mut downloaded = 0;
    for expected in documents {
        let name = expected["name"].as_str().unwrap();
        let id: DocumentId = expected["id"].as_str().unwrap().parse().unwrap();
        let document = metadata.get(&id).await.unwrap().expect(name);
        assert_eq!(
            document.status.as_str(),
            expected["status"].as_str().unwrap(),
            "{name}"
        );
        if document.status == DocumentStatus::Deleted {
            assert_eq!(
                document.trash.as_ref().unwrap().previous_status.as_str(),
                expected["previous_status"].as_str().unwrap(),
                "{name}"
            );
            let back = service.undelete(&id, None).await.unwrap();
            assert_eq!(back.status, DocumentStatus::Active, "{name}");
        }
        let page = service.revisions(&id, None, None).await.unwrap();
        let listed: Vec<(u32, bool, Option<String>)> = page
            .revisions
            .iter()
            .map(|r| (r.revision, r.current, r.checksum_sha256.clone()))
            .collect();
        let wanted = expected["revisions"].as_array().unwrap();
        let want: Vec<(u32, bool, Option<String>)> = wanted
            .iter()
            .enumerate()
            .map(|(n, r)| {
                (
                    r["revision"].as_u64().unwrap() as u32,
                    n == 0,
                    r["sha256"].as_str().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(listed, want, "{name}: every revision, newest first");
        for (info, revision) in page.revisions.iter().zip(wanted) {
            let link = service
                .revision_content_link(&id, &info.revision.to_string())
                .await
                .unwrap();
            let body = http
                .get(&link.url)
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(
                body,
                revision["content"].as_str().unwrap().as_bytes(),
                "{name} r{}",
                info.revision
            );
            downloaded += 1;
        }
    }
    assert_eq!(downloaded, 8);

    // A permanent delete purges every revision's object, as it did in d220d75.
    let history = documents.iter().find(|d| d["name"] == "history").unwrap();
    let id: DocumentId = history["id"].as_str().unwrap().parse().unwrap();
    service
        .delete_with(
            &id,
            kumocms_core::DeleteOptions {
                permanent: true,
                if_match: None,
            },
        )
        .await
        .unwrap();
    assert!(metadata.get(&id).await.unwrap().is_none());
    let left = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(format!("documents/{id}/"))
        .send()
        .await
        .unwrap();
    assert!(
        left.contents().is_empty(),
        "every revision's object is gone: {:?}",
        left.contents()
    );
}

/// The `record` (as JSON) and `history` attributes of `id`'s item, read raw.
async fn stored_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    id: &DocumentId,
) -> (Value, Option<Value>) {
    let item = client
        .get_item()
        .table_name(table)
        .key("PK", AttributeValue::S(format!("DOC#{id}")))
        .key("SK", AttributeValue::S("META".to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let text = |name: &str| {
        item.get(name)
            .map(|v| serde_json::from_str::<Value>(v.as_s().unwrap()).unwrap())
    };
    (text("record").unwrap(), text("history"))
}

/// Issue 11, fix 2: an item of release d220d75 (history inside `record`) reads with
/// its history, and once written again keeps it in the `history` attribute, whole:
/// `record` no longer carries `revisions`, and the revision listing still lists
/// every revision. Reads for display leave it out, and a write of such a read is
/// refused.
#[tokio::test]
async fn an_item_from_release_d220d75_keeps_history_apart_once_written_again() {
    let config = moto_config(REGION_A).await;
    let table = unique_name("golden");
    create_table(&config, &table).await;
    let objects = fixture_d220d75("objects.json");
    let bucket = objects["bucket"].as_str().unwrap().to_owned();
    create_bucket(&config, &bucket).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    for item in fixture_d220d75("items.json")["items"].as_array().unwrap() {
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
    let manifest = fixture_d220d75("manifest.json");
    let history = manifest["documents"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|d| d["revisions"].as_array().unwrap().len())
        .unwrap();
    let id: DocumentId = history["id"].as_str().unwrap().parse().unwrap();
    let want: Vec<u32> = history["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_u64().unwrap() as u32)
        .collect();
    assert!(want.len() > 1, "the fixture has a document with history");
    let numbers = |history: &Option<Value>| -> Vec<u32> {
        history
            .as_ref()
            .and_then(Value::as_array)
            .unwrap()
            .iter()
            .map(|r| r["revision"].as_u64().unwrap() as u32)
            .collect()
    };
    let (record, column) = stored_item(&client, &table, &id).await;
    assert!(column.is_none(), "the old shape has no history attribute");
    assert_eq!(
        numbers(&record.get("revisions").cloned()),
        want[1..],
        "the old shape keeps the history inside the record"
    );

    // Written again (a PATCH): the history moves to its attribute, whole.
    let patch = kumocms_core::service::Patch {
        metadata: Some(serde_json::from_value(serde_json::json!({"written": "again"})).unwrap()),
        document_type: None,
    };
    service.patch(&id, patch, None).await.unwrap();
    let (record, column) = stored_item(&client, &table, &id).await;
    assert_eq!(record["metadata"]["written"], "again");
    assert!(record.get("revisions").is_none(), "{record}");
    assert_eq!(record["schema_version"], SCHEMA_VERSION);
    assert_eq!(
        numbers(&column),
        want[1..],
        "moved into the history attribute"
    );
    let page = service.revisions(&id, None, None).await.unwrap();
    assert_eq!(
        page.revisions
            .iter()
            .map(|r| r.revision)
            .collect::<Vec<_>>(),
        want,
        "every revision is still listed, newest first"
    );

    // A read for display has no history, and cannot be written back.
    let mut shown = metadata.get_nearby(&id).await.unwrap().unwrap();
    assert!(!shown.revisions.is_loaded());
    let expected = shown.version;
    shown.version += 1;
    assert_eq!(
        metadata.update(&shown, expected).await,
        Err(kumocms_core::ports::StoreError::HistoryNotLoaded(
            kumocms_core::revision::HistoryNotLoaded
        ))
    );
    assert_eq!(
        numbers(&stored_item(&client, &table, &id).await.1),
        want[1..]
    );
}
