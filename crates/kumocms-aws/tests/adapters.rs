//! AWS-specific behaviour beyond the shared conformance suite, on moto server
//! (`scripts/with-moto.sh`): the DynamoDB item layout the Terraform module relies on,
//! the multipart archive copy, cross-region reads, download headers and the secret
//! cache.

// Tests: a failed expectation must panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use chrono::Utc;
use kumocms_aws::testing::{
    REGION_A, REGION_B, create_bucket, create_table, moto_config, raw_item, unique_name,
};
use kumocms_aws::{DynamoMetadataStore, S3BlobStore, SecretsKeySource};
use kumocms_core::auth::KeyMatch;
use kumocms_core::clock::ManualClock;
use kumocms_core::conformance::{sample_document, with_pending};
use kumocms_core::ports::{BlobStore, DownloadSpec, KeySource, MetadataStore, SecretsError};
use kumocms_core::{BlobRef, DocumentId, DocumentStatus, StorageClass, blob_key};

fn text<'a>(item: &'a std::collections::HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or_else(|| panic!("{name} is a string attribute"))
}

#[tokio::test]
async fn items_carry_the_attributes_the_module_relies_on() {
    let config = moto_config(REGION_A).await;
    let table = unique_name("items");
    create_table(&config, &table).await;
    let store = DynamoMetadataStore::new(&config, &table);

    // A first upload pending: TTL set as a backstop, 15 days after the upload's
    // expiry (issue 16, item 14: a late event must still find the record), location
    // of the upload recorded.
    let mut pending = with_pending(
        sample_document("invoice", DocumentStatus::PendingUpload),
        Utc::now() + chrono::Duration::hours(24),
    );
    pending.content = None;
    let expires = pending
        .pending_upload
        .as_ref()
        .unwrap()
        .expires_at
        .timestamp();
    store.insert(&pending).await.unwrap();
    let item = raw_item(&store, &pending.id).await;
    assert_eq!(text(&item, "documentType"), "invoice");
    assert_eq!(text(&item, "status"), "pending_upload");
    assert_eq!(text(&item, "contentBucket"), "conformance");
    assert_eq!(item.get("version"), Some(&AttributeValue::N("1".into())));
    assert_eq!(
        item.get("expiresAt"),
        Some(&AttributeValue::N(
            (expires + kumocms_aws::TTL_BACKSTOP.num_seconds()).to_string()
        ))
    );
    assert_eq!(
        item.get("pendingExpiresAt"),
        Some(&AttributeValue::N(expires.to_string()))
    );
    let uploaded_at = text(&item, "uploadedAt");
    assert!(
        chrono::DateTime::parse_from_rfc3339(uploaded_at).is_ok(),
        "uploadedAt must be RFC 3339: {uploaded_at}"
    );
    assert!(uploaded_at.ends_with('Z'));

    // Content arrived: the TTL goes, so the table never deletes a live document.
    let mut active = sample_document("invoice", DocumentStatus::Active);
    active.id = pending.id;
    active.created_at = pending.created_at;
    active.version = 2;
    store.update(&active, 1).await.unwrap();
    let item = raw_item(&store, &pending.id).await;
    assert!(
        !item.contains_key("expiresAt"),
        "no TTL once content is active"
    );
    assert!(!item.contains_key("pendingExpiresAt"));
    assert_eq!(text(&item, "contentRegion"), "eu-west-1");
    assert_eq!(
        text(&item, "uploadedAt"),
        uploaded_at,
        "the index key is stable"
    );

    // A pending replacement keeps the record (no TTL) but is swept.
    let replacing = with_pending(
        {
            let mut d = active.clone();
            d.version = 3;
            d
        },
        Utc::now() - chrono::Duration::minutes(1),
    );
    store.update(&replacing, 2).await.unwrap();
    let item = raw_item(&store, &pending.id).await;
    assert!(!item.contains_key("expiresAt"));
    assert!(item.contains_key("pendingExpiresAt"));
    let expired = store.expired_pending(Utc::now(), 10).await.unwrap();
    assert_eq!(
        expired.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![pending.id]
    );

    // A missing table is a transient failure (retry), not a bug.
    let missing = DynamoMetadataStore::new(&config, "no-such-table");
    assert!(matches!(
        missing.get(&pending.id).await,
        Err(kumocms_core::ports::StoreError::Unavailable(_))
    ));
}

async fn put(store: &S3BlobStore, blob: &BlobRef, body: Bytes, content_type: &str) {
    store
        .client()
        .put_object()
        .bucket(&blob.location.store)
        .key(&blob.key)
        .content_type(content_type)
        .metadata("origin", "test")
        .body(body.into())
        .send()
        .await
        .unwrap();
}

async fn versions(store: &S3BlobStore, key: &str) -> usize {
    store
        .client()
        .list_object_versions()
        .bucket(store.bucket())
        .prefix(key)
        .send()
        .await
        .unwrap()
        .versions()
        .len()
}

#[tokio::test]
async fn archive_copies_in_place_with_or_without_multipart() {
    let config = moto_config(REGION_A).await;
    let bucket = unique_name("archive");
    create_bucket(&config, &bucket).await;
    // S3 parts must be at least 5 MiB except the last: a 6 MiB object above a 1 MiB
    // threshold takes two UploadPartCopy calls.
    let multipart =
        S3BlobStore::new(&config, &bucket).with_multipart_copy(1024 * 1024, 5 * 1024 * 1024);
    let body: Bytes = (0..6 * 1024 * 1024u32)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    for (store, size) in [
        (&multipart, body.len()),
        (&S3BlobStore::new(&config, &bucket), 1000),
    ] {
        let blob = BlobRef {
            key: blob_key::content_key(&DocumentId::new(), 1),
            location: store.location(),
        };
        put(store, &blob, body.slice(..size), "application/pdf").await;
        store
            .archive(&blob, StorageClass::DeepArchive)
            .await
            .unwrap();
        let head = store
            .client()
            .head_object()
            .bucket(&bucket)
            .key(&blob.key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(size as i64));
        // A multipart object's ETag ends in -<parts>: proof of which branch ran.
        let etag = head.e_tag().unwrap_or_default();
        if size > 1024 * 1024 {
            assert!(etag.ends_with("-2\""), "two UploadPartCopy parts: {etag}");
        } else {
            assert!(!etag.contains('-'), "a single CopyObject: {etag}");
        }
        assert_eq!(
            head.storage_class().map(|c| c.as_str()),
            Some("DEEP_ARCHIVE")
        );
        assert_eq!(
            head.content_type(),
            Some("application/pdf"),
            "metadata is kept"
        );
        assert_eq!(
            head.metadata()
                .and_then(|m| m.get("origin"))
                .map(String::as_str),
            Some("test"),
            "user metadata is kept"
        );
        assert_eq!(
            versions(store, &blob.key).await,
            1,
            "the STANDARD original must not linger as a noncurrent version"
        );
        store
            .restore(&blob, 2, kumocms_core::RestoreTier::Bulk)
            .await
            .unwrap();
        // A repeated request while one is under way is not an error.
        store
            .restore(&blob, 2, kumocms_core::RestoreTier::Bulk)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn content_in_another_region_is_reached_through_that_region() {
    let config_a = moto_config(REGION_A).await;
    let config_b = moto_config(REGION_B).await;
    let bucket_b = unique_name("region-b");
    create_bucket(&config_b, &bucket_b).await;
    let in_b = S3BlobStore::new(&config_b, &bucket_b);
    let blob = BlobRef {
        key: blob_key::content_key(&DocumentId::new(), 1),
        location: in_b.location(),
    };
    assert_eq!(blob.location.region.as_deref(), Some(REGION_B));
    put(
        &in_b,
        &blob,
        Bytes::from_static(b"hello from B"),
        "text/plain",
    )
    .await;

    // A store in region A reads, links and deletes region B's content.
    let bucket_a = unique_name("region-a");
    create_bucket(&config_a, &bucket_a).await;
    let in_a = S3BlobStore::new(&config_a, &bucket_a);
    assert_eq!(
        in_a.read_small(&blob, 100).await.unwrap(),
        Some(Bytes::from_static(b"hello from B"))
    );
    let link = in_a
        .download_link(&DownloadSpec {
            blob: blob.clone(),
            file_name: "Grüße \"aus\" B.txt".into(),
            content_type: "text/plain".into(),
            expires_in: Duration::from_secs(60),
        })
        .await
        .unwrap();
    assert!(
        link.url.contains(REGION_B),
        "signed for region B: {}",
        link.url
    );
    let response = reqwest::get(&link.url).await.unwrap();
    assert!(response.status().is_success());
    assert_eq!(
        response
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some(
            "attachment; filename=\"Gr__e _aus_ B.txt\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%22aus%22%20B.txt"
        )
    );
    assert_eq!(
        response.bytes().await.unwrap(),
        Bytes::from_static(b"hello from B")
    );
    in_a.delete(&blob).await.unwrap();
    assert_eq!(in_b.head(&blob).await.unwrap(), None);
}

#[tokio::test]
async fn rotated_keys_take_effect_after_the_cache_ttl() {
    let config = moto_config(REGION_A).await;
    let client = kumocms_aws::SecretsClient::new(&config);
    let name = unique_name("api-keys");
    let arn = client
        .create_secret()
        .name(&name)
        .secret_string(r#"{"api_key": "key-one", "api_key_previous": ""}"#)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let source = SecretsKeySource::with_options(
        client.clone(),
        &arn,
        Duration::from_secs(300),
        clock.clone(),
    );
    let keys = source.api_keys().await.unwrap();
    assert_eq!(keys.verify("key-one"), Some(KeyMatch::Current));
    assert_eq!(
        keys.verify(""),
        None,
        "a blank previous key accepts nothing"
    );

    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(r#"{"api_key": "key-two", "api_key_previous": "key-one"}"#)
        .send()
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(299));
    let keys = source.api_keys().await.unwrap();
    assert_eq!(
        keys.verify("key-two"),
        None,
        "within the TTL the cached keys hold"
    );
    clock.advance(chrono::Duration::seconds(2));
    let keys = source.api_keys().await.unwrap();
    assert_eq!(keys.verify("key-two"), Some(KeyMatch::Current));
    assert_eq!(keys.verify("key-one"), Some(KeyMatch::Previous));

    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(r#"{"api_key": "key-three"}"#)
        .send()
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(301));
    let keys = source.api_keys().await.unwrap();
    assert_eq!(
        keys.verify("key-one"),
        None,
        "a rotated-out key stops working after the TTL"
    );

    // Malformed secrets and a missing secret are errors, never an empty key set.
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(r#"{"api_keys": ["seed-format"]}"#)
        .send()
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(301));
    assert!(matches!(
        source.api_keys().await,
        Err(SecretsError::Malformed(_))
    ));
    let missing =
        SecretsKeySource::with_options(client, "no-such-secret", Duration::from_secs(1), clock);
    assert!(matches!(
        missing.api_keys().await,
        Err(SecretsError::Unavailable(_))
    ));
}
