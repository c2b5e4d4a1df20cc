//! Two regional deployments sharing one DynamoDB global table: a document uploaded
//! through region A's API is served by region B's API, from region A's bucket.
//!
//! moto keeps regions apart and has no global tables, so the replica is modelled the
//! way it behaves: region B's API reads and writes the one table (created in region A)
//! through a DynamoDB client configured for region A, while its S3 client, bucket and
//! events are region B's own. What is under test is that the record carries the
//! bucket and region of its content and that B's blob store then reaches region A's
//! bucket with a region-A client and signature.

// Tests: a failed expectation must panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use common::{PDF, body, invoke_api, s3_event, settings, status, upload};
use kumocms_aws::testing::{
    REGION_A, REGION_B, create_bucket, create_table, moto_config, unique_name,
};
use kumocms_aws::{DynamoMetadataStore, S3BlobStore};
use kumocms_lambda::api::Core;
use kumocms_lambda::events::EventsHandler;
use serde_json::{Value, json};

struct Region {
    name: &'static str,
    bucket: String,
    core: Core,
}

async fn create(core: &Core, bytes: &'static [u8]) -> Value {
    let created = invoke_api(
        core,
        "POST",
        "/documents",
        Some(json!({"file_name": "shared.pdf", "file_size": bytes.len(), "content_type": "application/pdf", "document_type": "contract"})),
    )
    .await;
    assert_eq!(status(&created), 201, "{created}");
    let created = body(&created);
    upload(&created["upload"], Bytes::from_static(bytes)).await;
    created
}

/// The Object Created event S3 sends through the uploading region's EventBridge.
async fn deliver(region: &Region, key: &str) {
    let event = s3_event(
        "eventbridge-s3-object-created.json",
        &region.bucket,
        region.name,
        key,
    );
    let outcome = EventsHandler::new(region.core.processor.clone())
        .handle(event)
        .await
        .unwrap();
    assert_eq!(outcome.outcome, "applied", "{outcome:?}");
}

/// Reads a document through `region`'s API and fetches its content by the link.
async fn read_through(region: &Region, id: &str) -> (Value, Bytes) {
    let got = invoke_api(&region.core, "GET", &format!("/documents/{id}"), None).await;
    assert_eq!(status(&got), 200, "{got}");
    let document = body(&got);
    let url = document["download"]["url"].as_str().unwrap().to_owned();
    let content = reqwest::get(&url).await.unwrap();
    assert!(content.status().is_success(), "{url}");
    (document, content.bytes().await.unwrap())
}

#[tokio::test]
async fn a_document_uploaded_in_one_region_is_served_by_the_other() {
    let config_a = moto_config(REGION_A).await;
    let config_b = moto_config(REGION_B).await;
    let table = unique_name("global");
    create_table(&config_a, &table).await;
    let bucket_a = unique_name("region-a");
    let bucket_b = unique_name("region-b");
    create_bucket(&config_a, &bucket_a).await;
    create_bucket(&config_b, &bucket_b).await;
    let replica = || Arc::new(DynamoMetadataStore::new(&config_a, &table));
    let a = Region {
        name: REGION_A,
        bucket: bucket_a.clone(),
        core: Core::new(
            replica(),
            Arc::new(S3BlobStore::new(&config_a, &bucket_a)),
            &settings(&bucket_a, &table),
        ),
    };
    let b = Region {
        name: REGION_B,
        bucket: bucket_b.clone(),
        core: Core::new(
            replica(),
            Arc::new(S3BlobStore::new(&config_b, &bucket_b)),
            &settings(&bucket_b, &table),
        ),
    };

    // Uploaded through A: the bytes land in A's bucket, A's events activate it.
    let created = create(&a.core, PDF).await;
    let id = created["document_id"].as_str().unwrap().to_owned();
    assert!(
        created["upload"]["url"]
            .as_str()
            .unwrap()
            .contains(&bucket_a)
    );
    deliver(&a, &format!("documents/{id}/r1")).await;

    // The item names where the content is.
    let item = DynamoMetadataStore::new(&config_a, &table)
        .client()
        .get_item()
        .table_name(&table)
        .key("PK", AttributeValue::S(format!("DOC#{id}")))
        .key("SK", AttributeValue::S("META".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["contentBucket"], AttributeValue::S(bucket_a.clone()));
    assert_eq!(item["contentRegion"], AttributeValue::S(REGION_A.into()));

    // Served by B: the link is for A's bucket, signed for A's region.
    let (document, bytes) = read_through(&b, &id).await;
    assert_eq!(document["status"], "active");
    let url = document["download"]["url"].as_str().unwrap();
    assert!(
        url.contains(&format!("/{bucket_a}/documents/{id}/r1")),
        "{url}"
    );
    assert!(
        url.contains("%2Fus-east-1%2Fs3%2Faws4_request"),
        "signed for us-east-1: {url}"
    );
    assert_eq!(bytes.as_ref(), PDF);
    let redirect = invoke_api(&b.core, "GET", &format!("/documents/{id}/content"), None).await;
    assert_eq!(status(&redirect), 307, "{redirect}");
    let listed = invoke_api(&b.core, "GET", "/documents?type=contract", None).await;
    assert_eq!(body(&listed)["documents"][0]["document_id"], json!(id));

    // And the other way round, in the same table.
    let created = create(&b.core, b"%PDF-1.4 from B").await;
    let id_b = created["document_id"].as_str().unwrap().to_owned();
    deliver(&b, &format!("documents/{id_b}/r1")).await;
    let (document, bytes) = read_through(&a, &id_b).await;
    assert!(
        document["download"]["url"]
            .as_str()
            .unwrap()
            .contains(&bucket_b)
    );
    assert_eq!(bytes.as_ref(), b"%PDF-1.4 from B");

    // Deleting through B removes the bytes from A's bucket too.
    let deleted = invoke_api(
        &b.core,
        "DELETE",
        &format!("/documents/{id}?permanent=true"),
        None,
    )
    .await;
    assert_eq!(status(&deleted), 204, "{deleted}");
    let left = S3BlobStore::new(&config_a, &bucket_a)
        .client()
        .list_object_versions()
        .bucket(&bucket_a)
        .prefix(format!("documents/{id}/"))
        .send()
        .await
        .unwrap();
    assert!(left.versions().is_empty() && left.delete_markers().is_empty());
}
