//! The signed-link routes over real HTTP: uploads that must be refused store nothing
//! and announce nothing; a good upload is stored and announced; downloads carry
//! safe headers.

// Test helpers panic on failure like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use kumocms_core::blob_key;
use kumocms_core::events::StorageEvent;
use kumocms_core::ports::{BlobStore, DownloadSpec, SignedLink, UploadSpec};
use kumocms_core::{BlobRef, DocumentId, StorageClass};
use serde_json::Value;
use sha2::{Digest, Sha256};

const BODY: &[u8] = b"%PDF-1.4 hello kumocms, this is the content";

fn blob(served: &common::Served) -> BlobRef {
    BlobRef {
        key: blob_key::content_key(&DocumentId::new(), 1),
        location: served.store.location(),
    }
}

async fn upload_link(served: &common::Served, blob: &BlobRef, checksum: bool) -> SignedLink {
    served
        .store
        .upload_link(&UploadSpec {
            blob: blob.clone(),
            content_type: "application/pdf".into(),
            size: BODY.len() as u64,
            checksum_sha256: checksum.then(|| hex::encode(Sha256::digest(BODY))),
            expires_in: Duration::from_secs(600),
        })
        .await
        .unwrap()
}

async fn put(
    link: &SignedLink,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().put(&link.url).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let json = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, json)
}

/// Nothing stored, nothing left in tmp/, nothing announced.
fn assert_nothing_stored(served: &common::Served) {
    let files: Vec<String> = common::files_under(served.dir.path())
        .into_iter()
        .filter(|f| f != "signing.key")
        .collect();
    assert!(files.is_empty(), "nothing may be stored: {files:?}");
    assert!(
        served.events.events().is_empty(),
        "nothing may be announced"
    );
}

#[tokio::test]
async fn a_good_upload_is_stored_then_announced() {
    let served = common::served_store(1 << 20).await;
    let blob = blob(&served);
    let link = upload_link(&served, &blob, true).await;
    assert_eq!(
        link.headers.get("Content-Type").map(String::as_str),
        Some("application/pdf")
    );
    let (status, json) = put(&link, Some("application/pdf"), BODY).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["key"], blob.key.as_str());
    assert_eq!(json["size"], BODY.len());
    assert_eq!(json["sha256"], hex::encode(Sha256::digest(BODY)));
    assert_eq!(
        std::fs::read(served.dir.path().join("blobs/hot").join(&blob.key)).unwrap(),
        BODY
    );
    assert_eq!(
        served.events.events(),
        vec![StorageEvent::ObjectCreated {
            location: served.store.location(),
            key: blob.key.clone()
        }]
    );
    assert!(common::files_under(&served.dir.path().join("tmp")).is_empty());

    // The same link cannot overwrite what it stored.
    let (status, json) = put(&link, Some("application/pdf"), BODY).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (409, Some("already_uploaded"))
    );
    assert_eq!(served.events.events().len(), 1);
}

#[tokio::test]
async fn wrong_size_checksum_or_type_is_400_and_stores_nothing() {
    let served = common::served_store(1 << 20).await;
    let blob = blob(&served);
    let link = upload_link(&served, &blob, true).await;

    let mut altered = BODY.to_vec();
    altered[3] = b'X';
    let short = &BODY[..BODY.len() - 1];
    // (what, Content-Type sent, body, expected status, expected code)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "checksum",
            Some("application/pdf"),
            altered,
            400,
            "checksum_mismatch",
        ),
        (
            "short body",
            Some("application/pdf"),
            short.to_vec(),
            400,
            "size_mismatch",
        ),
        (
            "content type",
            Some("text/html"),
            BODY.to_vec(),
            400,
            "content_type_mismatch",
        ),
        (
            "no content type",
            None,
            BODY.to_vec(),
            400,
            "content_type_mismatch",
        ),
        (
            "long body",
            Some("application/pdf"),
            [BODY, b"!"].concat(),
            413,
            "too_large",
        ),
    ];
    for (what, content_type, body, status, code) in cases {
        let (got, json) = put(&link, content_type, body).await;
        assert_eq!(
            (got, json["error"].as_str()),
            (status, Some(code)),
            "{what}: {json}"
        );
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
        assert_nothing_stored(&served);
    }
}

#[tokio::test]
async fn a_streamed_body_is_cut_off_past_the_signed_length() {
    let served = common::served_store(1 << 20).await;
    let blob = blob(&served);
    let link = upload_link(&served, &blob, false).await;
    // Chunked, without Content-Length: only counting can catch it.
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(BODY)),
        Ok(Bytes::from_static(b"and more")),
    ];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let (status, json) = put(&link, Some("application/pdf"), body).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (413, Some("too_large")),
        "{json}"
    );
    assert_nothing_stored(&served);

    // The same link, without a signed checksum, takes the right bytes streamed.
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(&BODY[..10])),
        Ok(Bytes::from_static(&BODY[10..])),
    ];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let (status, json) = put(&link, Some("application/pdf"), body).await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn tampered_expired_and_oversized_links_are_refused() {
    let served = common::served_store(16).await;
    let blob = blob(&served);
    let link = upload_link(&served, &blob, false).await;

    // Over the configured maximum file size, whatever the link says.
    let (status, json) = put(&link, Some("application/pdf"), BODY).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (413, Some("too_large")),
        "{json}"
    );

    let tampered = SignedLink {
        url: link
            .url
            .replace(&format!("length={}", BODY.len()), "length=10"),
        ..link.clone()
    };
    assert_ne!(tampered.url, link.url);
    let (status, json) = put(&tampered, Some("application/pdf"), &BODY[..10]).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (403, Some("invalid_signature")),
        "{json}"
    );

    let other_key = SignedLink {
        url: link.url.replace("/r1?", "/r2?"),
        ..link.clone()
    };
    let (status, json) = put(&other_key, Some("application/pdf"), BODY).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (403, Some("invalid_signature")),
        "{json}"
    );

    let unsigned = SignedLink {
        url: link.url.split("&sig=").next().unwrap().to_owned(),
        ..link.clone()
    };
    let (status, json) = put(&unsigned, Some("application/pdf"), BODY).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("malformed_link")),
        "{json}"
    );

    let traversal = SignedLink {
        url: link
            .url
            .replace("/blobs/documents/", "/blobs/documents/..%2F..%2F"),
        ..link.clone()
    };
    let (status, json) = put(&traversal, Some("application/pdf"), BODY).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_key")),
        "a crafted key must be refused before it touches the disk: {json}"
    );

    served.clock.advance(chrono::Duration::seconds(601));
    let (status, json) = put(&link, Some("application/pdf"), BODY).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (403, Some("link_expired")),
        "{json}"
    );
    assert_nothing_stored(&served);
}

#[tokio::test]
async fn downloads_are_served_with_safe_headers_only_while_readable() {
    let served = common::served_store(1 << 20).await;
    let blob = blob(&served);
    let link = upload_link(&served, &blob, true).await;
    assert_eq!(put(&link, Some("application/pdf"), BODY).await.0, 200);

    let download = served
        .store
        .download_link(&DownloadSpec {
            blob: blob.clone(),
            file_name: "Résumé \"final\".pdf".into(),
            content_type: "application/pdf".into(),
            expires_in: Duration::from_secs(60),
        })
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let response = client.get(&download.url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["content-length"], BODY.len().to_string().as_str());
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"R_sum_ _final_.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.pdf"
    );
    assert_eq!(response.bytes().await.unwrap(), BODY);

    let head = client.head(&download.url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        BODY.len().to_string().as_str()
    );

    // A download link cannot be used to upload, nor an upload link to download.
    let (status, _) = put(&download, Some("application/pdf"), BODY).await;
    assert_eq!(
        status, 400,
        "a download link has no length: malformed for PUT"
    );
    let response = client.get(&link.url).send().await.unwrap();
    assert_eq!(response.status(), 400);

    let renamed = download.url.replace("name=R", "name=X");
    let response = client.get(&renamed).send().await.unwrap();
    assert_eq!(response.status(), 403);

    // Archived content is not served, and its upload link cannot put new bytes there.
    served
        .store
        .archive(&blob, StorageClass::Glacier)
        .await
        .unwrap();
    let (status, json) = put(&link, Some("application/pdf"), BODY).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (409, Some("already_uploaded"))
    );
    assert!(!served.dir.path().join("blobs/hot").join(&blob.key).exists());
    let response = client.get(&download.url).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["error"], "not_found");

    served.clock.advance(chrono::Duration::seconds(61));
    let response = client.get(&download.url).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["error"], "link_expired");
}

#[tokio::test]
async fn restores_complete_after_the_delay_and_expire_after_their_days() {
    let served = common::served_store(1 << 20).await;
    let blob = blob(&served);
    let link = upload_link(&served, &blob, true).await;
    assert_eq!(put(&link, Some("application/pdf"), BODY).await.0, 200);
    served
        .store
        .archive(&blob, StorageClass::DeepArchive)
        .await
        .unwrap();
    assert!(
        served
            .dir
            .path()
            .join("blobs/cold/DEEP_ARCHIVE")
            .join(&blob.key)
            .is_file()
    );
    served
        .store
        .restore(&blob, 2, kumocms_core::RestoreTier::Standard)
        .await
        .unwrap();

    // Not yet: the restore delay is 5 s on the manual clock.
    assert_eq!(served.store.tick_restores().await.unwrap(), 0);
    served.clock.advance(chrono::Duration::seconds(5));
    assert_eq!(served.store.tick_restores().await.unwrap(), 1);
    let events = served.events.events();
    let Some(StorageEvent::RestoreCompleted {
        key,
        available_until,
        ..
    }) = events.last()
    else {
        panic!("RestoreCompleted expected: {events:?}");
    };
    assert_eq!(key, &blob.key);
    // Two "days" of 60 s each.
    assert_eq!(
        *available_until,
        Some(
            kumocms_core::ports::Clock::now(served.clock.as_ref()) + chrono::Duration::seconds(120)
        )
    );
    assert_eq!(
        served.store.read_small(&blob, 1024).await.unwrap().unwrap(),
        BODY
    );
    assert_eq!(
        served
            .store
            .head(&blob)
            .await
            .unwrap()
            .unwrap()
            .storage_class,
        StorageClass::DeepArchive,
        "a restored copy does not change the storage class"
    );
    assert_eq!(
        served.store.tick_restores().await.unwrap(),
        0,
        "completed once only"
    );

    served.clock.advance(chrono::Duration::seconds(120));
    assert_eq!(served.store.tick_restores().await.unwrap(), 1);
    assert!(matches!(
        served.events.events().last(),
        Some(StorageEvent::RestoreExpired { key, .. }) if key == &blob.key
    ));
    assert!(
        served.store.read_small(&blob, 1024).await.is_err(),
        "the copy is gone"
    );
    assert!(!served.store.has_restore_request(&blob.key).await.unwrap());
    assert!(
        served.store.head(&blob).await.unwrap().is_some(),
        "the archive stays"
    );
}
