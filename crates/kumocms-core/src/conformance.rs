//! The adapter conformance suite: what every `MetadataStore` and `BlobStore` must do,
//! run by `kumocms-local`'s tests against SQLite and files, and by `kumocms-aws`'s
//! against DynamoDB and S3 (moto). Each check panics with a message naming the
//! behaviour that broke.
//!
//! The checks share the store with whatever else is in it: they create their own
//! records (with a document type of their own for listings) and delete them again.

// A test suite: a failed expectation must panic, with the message saying why.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{Duration, Utc};
use futures_util::StreamExt;
use futures_util::future::join_all;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::blob_key;

mod multipart;
mod search;
mod verified;
use crate::document::{
    BlobRef, ContentVersion, Document, DocumentStatus, Extracted, PendingUpload, RestoreState,
    RestoreTier, StorageClass,
};
use crate::id::DocumentId;
use crate::ports::{
    BlobError, BlobStore, DownloadSpec, ListPage, ListQuery, MetadataStore, MultipartSpec,
    PartSpec, SignedLink, StoreError, UploadSpec,
};
pub use multipart::service_multipart_checksum;
pub use search::{NoBlobs, metadata_search};
pub use verified::service_single_put_extraction;

/// Puts bytes through signed links the way a client would. Core has no HTTP client;
/// the caller supplies one.
#[async_trait]
pub trait ConformanceUploader: Send + Sync {
    /// Sends `body` to an upload link with the method and headers it names. `Ok`
    /// only when the store accepted the upload.
    async fn upload(&self, link: &SignedLink, body: Bytes) -> Result<(), String>;
    /// Fetches a download link's body. `Ok` only on success.
    async fn download(&self, link: &SignedLink) -> Result<Bytes, String>;
    /// Whether the server behind the links itself refuses bytes that differ from
    /// what the link signed (a wrong SHA-256, a short body). `kumocms serve` does, and
    /// so does S3; moto 5 does not, so the suite run on moto cannot show it and leaves
    /// those two checks out rather than pass them by refusing in the test itself.
    fn server_refuses_unsigned_bytes(&self) -> bool {
        true
    }
}

/// A fresh record as the service would create it, with every optional part set so
/// that a lossy round trip shows.
pub fn sample_document(document_type: &str, status: DocumentStatus) -> Document {
    let id = DocumentId::new();
    let now = Utc::now();
    let location = crate::document::BlobLocation {
        store: "conformance".into(),
        region: Some("eu-west-1".into()),
    };
    let mut metadata = Map::new();
    metadata.insert(
        "customer".into(),
        json!({"name": "Åsa", "tags": ["a", "b"]}),
    );
    metadata.insert("amount".into(), json!(12.5));
    Document {
        schema_version: crate::document::SCHEMA_VERSION,
        id,
        version: 1,
        status,
        document_type: document_type.to_owned(),
        created_at: now,
        updated_at: now,
        storage_class: StorageClass::Standard,
        metadata,
        content: Some(ContentVersion {
            revision: 1,
            key: blob_key::content_key(&id, 1),
            location: location.clone(),
            file_name: "Rapport d'été.pdf".into(),
            content_type: "application/pdf".into(),
            size: 1234,
            checksum_sha256: Some("ab".repeat(32)),
            arrived_at: now,
        }),
        pending_upload: None,
        restore: Some(RestoreState {
            days: 3,
            tier: RestoreTier::Bulk,
            requested_at: now,
            available_until: None,
        }),
        extracted: Some(Extracted {
            size: 1234,
            sha256: "ab".repeat(32),
            sniffed_content_type: Some("application/pdf".into()),
            content_type_mismatch: false,
            page_count: Some(3),
            width: None,
            height: None,
            extracted_at: now,
            sidecar_applied: true,
            text: None,
            index_text: None,
            text_error: None,
            title: None,
            author: None,
            created: None,
        }),
        revisions: crate::revision::History::empty(),
        trash: None,
    }
}

/// Gives `document` a pending upload that expires at `expires_at`.
pub fn with_pending(mut document: Document, expires_at: chrono::DateTime<Utc>) -> Document {
    let location = crate::document::BlobLocation {
        store: "conformance".into(),
        region: None,
    };
    document.pending_upload = Some(PendingUpload {
        revision: 2,
        key: blob_key::content_key(&document.id, 2),
        location,
        file_name: "next.pdf".into(),
        content_type: "application/pdf".into(),
        size: 99,
        checksum_sha256: None,
        expires_at,
        multipart: None,
    });
    document
}

/// The next version of `document`, as a writer would save it.
fn bumped(document: &Document, note: &str) -> Document {
    let mut next = document.clone();
    next.version += 1;
    next.updated_at = Utc::now();
    next.metadata
        .insert("note".into(), Value::String(note.into()));
    next
}

fn unique_type(label: &str) -> String {
    format!("conformance-{label}-{}", DocumentId::new())
}

async fn cleanup(store: &dyn MetadataStore, ids: &[DocumentId]) {
    for id in ids {
        if let Ok(Some(document)) = store.get(id).await {
            let _ = store.delete(id, document.version).await;
        }
    }
}

/// Runs every metadata check.
pub async fn metadata_store(store: &dyn MetadataStore) {
    metadata_crud(store).await;
    metadata_races(store).await;
    metadata_listing(store).await;
    metadata_expired_pending(store).await;
    metadata_history(store).await;
}

/// Insert, get, conditional update and conditional delete.
pub async fn metadata_crud(store: &dyn MetadataStore) {
    store
        .health()
        .await
        .expect("health must succeed on a working store");
    let document = sample_document(&unique_type("crud"), DocumentStatus::Active);
    let id = document.id;
    assert_eq!(
        store
            .get(&id)
            .await
            .expect("get of a missing id must not fail"),
        None,
        "get of an id never inserted must be None"
    );
    store
        .insert(&document)
        .await
        .expect("insert of a new record");
    assert_eq!(
        store.get(&id).await.expect("get after insert"),
        Some(document.clone()),
        "the record must round-trip unchanged (all system fields, metadata, nested parts)"
    );
    assert_eq!(
        store.insert(&document).await,
        Err(StoreError::Conflict),
        "inserting an id that exists must be a Conflict"
    );

    let second = bumped(&document, "second");
    store
        .update(&second, 1)
        .await
        .expect("update from the stored version must succeed");
    assert_eq!(
        store.get(&id).await.expect("get after update"),
        Some(second.clone()),
        "get must return the updated record"
    );
    assert_eq!(
        store.update(&bumped(&document, "stale"), 1).await,
        Err(StoreError::Conflict),
        "update from a stale version must be a Conflict"
    );
    assert_eq!(
        store.get(&id).await.expect("get after a refused update"),
        Some(second.clone()),
        "a refused update must change nothing"
    );
    let ghost = sample_document("ghost", DocumentStatus::Active);
    assert_eq!(
        store.update(&bumped(&ghost, "x"), 1).await,
        Err(StoreError::Conflict),
        "update of a record that does not exist must be a Conflict (never an upsert)"
    );
    assert_eq!(
        store.get(&ghost.id).await.expect("get of the ghost"),
        None,
        "a refused update must not create the record"
    );

    assert_eq!(
        store.delete(&id, 1).await,
        Err(StoreError::Conflict),
        "delete with a stale version must be a Conflict"
    );
    assert!(
        store.get(&id).await.expect("get").is_some(),
        "a refused delete must keep the record"
    );
    store
        .delete(&id, 2)
        .await
        .expect("delete with the stored version must succeed");
    assert_eq!(
        store.get(&id).await.expect("get after delete"),
        None,
        "a deleted record must be gone"
    );
    assert_eq!(
        store.delete(&id, 2).await,
        Err(StoreError::Conflict),
        "deleting a record that is gone must be a Conflict"
    );
}

/// Racing writes from the same version: exactly one wins, the rest get Conflict.
pub async fn metadata_races(store: &dyn MetadataStore) {
    let document = sample_document(&unique_type("race"), DocumentStatus::Active);
    let id = document.id;
    store.insert(&document).await.expect("insert");

    let candidates: Vec<Document> = (0..8)
        .map(|i| bumped(&document, &format!("writer-{i}")))
        .collect();
    let results = join_all(candidates.iter().map(|c| store.update(c, 1))).await;
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one of 8 racing updates from the same version must win: {results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(StoreError::Conflict)),
        "the losers of a race must get Conflict: {results:?}"
    );
    assert_eq!(
        store.get(&id).await.expect("get after the race"),
        Some(candidates[winners[0]].clone()),
        "the stored record must be the winner's, not a mix or a loser's"
    );

    let inserts = join_all((0..4).map(|_| store.insert(&document))).await;
    assert!(
        inserts.iter().all(|r| *r == Err(StoreError::Conflict)),
        "inserting an existing id must always conflict: {inserts:?}"
    );

    let deletes = join_all((0..4).map(|_| store.delete(&id, 2))).await;
    assert_eq!(
        deletes.iter().filter(|r| r.is_ok()).count(),
        1,
        "exactly one of racing deletes must win: {deletes:?}"
    );

    let fresh = sample_document(&unique_type("race"), DocumentStatus::Active);
    let inserts = join_all((0..4).map(|_| store.insert(&fresh))).await;
    assert_eq!(
        inserts.iter().filter(|r| r.is_ok()).count(),
        1,
        "exactly one of racing inserts of a new id must win: {inserts:?}"
    );
    cleanup(store, &[id, fresh.id]).await;
}

async fn list_all(store: &dyn MetadataStore, mut query: ListQuery) -> Vec<ListPage> {
    let mut pages = Vec::new();
    for _ in 0..10_000 {
        let page = store.list(&query).await.expect("list must succeed");
        let next = page.next.clone();
        pages.push(page);
        match next {
            Some(next) => query.after = Some(next),
            None => return pages,
        }
    }
    panic!("listing did not end after 10000 pages: `next` must be None on the last page");
}

fn ids(pages: &[ListPage]) -> Vec<DocumentId> {
    pages
        .iter()
        .flat_map(|p| p.documents.iter().map(|d| d.id))
        .collect()
}

/// Listing: id order, filters, limits, pagination, and `next` only when more exist.
pub async fn metadata_listing(store: &dyn MetadataStore) {
    let kind = unique_type("list");
    let other_kind = unique_type("list-other");
    let mut documents = Vec::new();
    for status in [
        DocumentStatus::Active,
        DocumentStatus::Archived,
        DocumentStatus::Active,
        DocumentStatus::Archived,
        DocumentStatus::Active,
        DocumentStatus::Archived,
        DocumentStatus::Active,
    ] {
        documents.push(sample_document(&kind, status));
    }
    let others = [
        sample_document(&other_kind, DocumentStatus::Active),
        sample_document(&other_kind, DocumentStatus::Active),
    ];
    // Inserted out of id order, so that insertion order cannot pass for id order.
    for document in documents.iter().rev().chain(others.iter()) {
        store.insert(document).await.expect("insert for listing");
    }
    let mut expected: Vec<DocumentId> = documents.iter().map(|d| d.id).collect();
    expected.sort_by_key(|id| id.to_string());

    let query = |limit: usize, status: Option<DocumentStatus>| ListQuery {
        document_type: Some(kind.clone()),
        status,
        limit,
        after: None,
    };

    let whole = store.list(&query(1000, None)).await.expect("list");
    assert_eq!(
        whole.documents.iter().map(|d| d.id).collect::<Vec<_>>(),
        expected,
        "a type filter must return exactly that type's records, in id order"
    );
    assert_eq!(whole.next, None, "`next` must be None when everything fit");
    let mut shown = documents[0].clone();
    shown.revisions = crate::revision::History::NotLoaded;
    assert_eq!(
        whole.documents.iter().find(|d| d.id == documents[0].id),
        Some(&shown),
        "listed records must be whole, their history left in the store"
    );

    let exact = store.list(&query(7, None)).await.expect("list");
    assert_eq!(exact.documents.len(), 7, "limit 7 of 7 returns all 7");
    assert_eq!(
        exact.next, None,
        "`next` must be None when the page holds exactly the last record"
    );

    let pages = list_all(store, query(3, None)).await;
    assert_eq!(
        pages.iter().map(|p| p.documents.len()).collect::<Vec<_>>(),
        vec![3, 3, 1],
        "7 records by 3 must come as pages of 3, 3 and 1"
    );
    assert_eq!(
        ids(&pages),
        expected,
        "pages must continue where the previous one stopped, in id order, without repeats"
    );

    let one = store.list(&query(1, None)).await.expect("list");
    assert_eq!(one.documents.len(), 1, "limit 1 returns one record");
    assert!(
        one.next.is_some(),
        "`next` must be set when more records exist"
    );

    let archived = list_all(store, query(2, Some(DocumentStatus::Archived))).await;
    let expected_archived: Vec<DocumentId> = expected
        .iter()
        .filter(|id| {
            documents
                .iter()
                .any(|d| d.id == **id && d.status == DocumentStatus::Archived)
        })
        .copied()
        .collect();
    assert_eq!(
        ids(&archived),
        expected_archived,
        "type and status filters must combine, also across pages"
    );

    let none = store
        .list(&ListQuery {
            document_type: Some(other_kind.clone()),
            status: Some(DocumentStatus::Archived),
            limit: 10,
            after: None,
        })
        .await
        .expect("list");
    assert!(
        none.documents.is_empty() && none.next.is_none(),
        "a filter nothing matches gives an empty page without `next`"
    );

    let everything = list_all(
        store,
        ListQuery {
            document_type: None,
            status: None,
            limit: 500,
            after: None,
        },
    )
    .await;
    // Without a type filter, DynamoDB answers with a Scan, whose order across pages is
    // the table's own: the contract is "each record exactly once", not id order.
    let all_ids: Vec<String> = ids(&everything).iter().map(|id| id.to_string()).collect();
    let unique: std::collections::BTreeSet<&String> = all_ids.iter().collect();
    assert_eq!(
        unique.len(),
        all_ids.len(),
        "an unfiltered listing must return each record exactly once"
    );
    for document in documents.iter().chain(others.iter()) {
        assert!(
            all_ids.contains(&document.id.to_string()),
            "an unfiltered listing must include every record"
        );
    }

    let all: Vec<DocumentId> = documents
        .iter()
        .chain(others.iter())
        .map(|d| d.id)
        .collect();
    cleanup(store, &all).await;
}

/// `expired_pending`: records whose pending upload expired before `now`, and only those.
pub async fn metadata_expired_pending(store: &dyn MetadataStore) {
    let kind = unique_type("expiry");
    let now = Utc::now();
    let long_ago = with_pending(
        sample_document(&kind, DocumentStatus::PendingUpload),
        now - Duration::hours(1),
    );
    let just_now = with_pending(
        sample_document(&kind, DocumentStatus::Active),
        now - Duration::seconds(2),
    );
    let future = with_pending(
        sample_document(&kind, DocumentStatus::PendingUpload),
        now + Duration::hours(1),
    );
    let no_pending = sample_document(&kind, DocumentStatus::Active);
    for document in [&long_ago, &just_now, &future, &no_pending] {
        store.insert(document).await.expect("insert for expiry");
    }
    let expired: Vec<DocumentId> = store
        .expired_pending(now, 1000)
        .await
        .expect("expired_pending must succeed")
        .iter()
        .map(|d| d.id)
        .collect();
    assert!(
        expired.contains(&long_ago.id) && expired.contains(&just_now.id),
        "uploads that expired before now must be returned"
    );
    assert!(
        !expired.contains(&future.id),
        "an upload that expires later must not be returned"
    );
    assert!(
        !expired.contains(&no_pending.id),
        "a record without a pending upload must not be returned"
    );
    assert!(
        store
            .expired_pending(now, 1)
            .await
            .expect("expired_pending")
            .len()
            <= 1,
        "expired_pending must honour its limit"
    );

    // Once the pending upload is dropped, the record is no longer expired.
    let mut settled = bumped(&just_now, "settled");
    settled.pending_upload = None;
    store.update(&settled, 1).await.expect("update");
    let expired = store
        .expired_pending(now, 1000)
        .await
        .expect("expired_pending");
    assert!(
        !expired.iter().any(|d| d.id == just_now.id),
        "a record whose pending upload was cleared must not be returned"
    );
    let later = store
        .expired_pending(now + Duration::hours(2), 1000)
        .await
        .expect("expired_pending");
    assert!(
        later.iter().any(|d| d.id == future.id),
        "an upload must be returned once `now` passes its expiry"
    );
    cleanup(store, &[long_ago.id, just_now.id, future.id, no_pending.id]).await;
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Test content: spans several read chunks, and is not all one byte.
fn sample_bytes() -> Bytes {
    let mut body = Vec::with_capacity(200_000);
    let mut n: u32 = 1;
    while body.len() < 200_000 {
        body.extend_from_slice(format!("KumoCMS conformance line {n}\n").as_bytes());
        n += 1;
    }
    Bytes::from(body)
}

async fn read_all(store: &dyn BlobStore, blob: &BlobRef) -> Result<Vec<u8>, BlobError> {
    let mut stream = store.read(blob).await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

async fn upload(
    store: &dyn BlobStore,
    uploader: &dyn ConformanceUploader,
    blob: &BlobRef,
    content_type: &str,
    body: Bytes,
    checksum: bool,
) {
    let link = store
        .upload_link(&UploadSpec {
            blob: blob.clone(),
            content_type: content_type.into(),
            size: body.len() as u64,
            checksum_sha256: checksum.then(|| sha256_hex(&body)),
            expires_in: std::time::Duration::from_secs(300),
        })
        .await
        .expect("upload_link");
    uploader
        .upload(&link, body)
        .await
        .unwrap_or_else(|e| panic!("a correct upload through a link must succeed: {e}"));
}

/// Blob storage through links: upload (and refusal of wrong bytes), head, read,
/// read_small, download, archive, restore, delete and delete_document.
pub async fn blob_store(store: &dyn BlobStore, uploader: &dyn ConformanceUploader) {
    store
        .health()
        .await
        .expect("health must succeed on a working store");
    let location = store.location();
    assert_eq!(
        store.location(),
        location,
        "location() must be stable between calls"
    );
    let id = DocumentId::new();
    let content = BlobRef {
        key: blob_key::content_key(&id, 1),
        location: location.clone(),
    };
    let body = sample_bytes();

    assert_eq!(
        store.head(&content).await.expect("head of a missing blob"),
        None,
        "head of a blob never written must be None"
    );
    assert_eq!(
        store.read_small(&content, 1024).await,
        Ok(None),
        "read_small of a missing blob must be None"
    );
    assert!(
        read_all(store, &content).await.is_err(),
        "read of a missing blob must fail"
    );

    let spec = UploadSpec {
        blob: content.clone(),
        content_type: "text/plain".into(),
        size: body.len() as u64,
        checksum_sha256: Some(sha256_hex(&body)),
        expires_in: std::time::Duration::from_secs(300),
    };
    let link = store.upload_link(&spec).await.expect("upload_link");
    assert_eq!(link.method, "PUT", "upload links are PUT");
    assert!(
        link.expires_at > Utc::now(),
        "an upload link must not be expired when issued"
    );

    if uploader.server_refuses_unsigned_bytes() {
        let mut altered = body.to_vec();
        altered[100] ^= 1;
        assert!(
            uploader.upload(&link, Bytes::from(altered)).await.is_err(),
            "an upload whose bytes do not match the signed SHA-256 must be refused"
        );
        assert!(
            uploader
                .upload(&link, body.slice(..body.len() - 1))
                .await
                .is_err(),
            "an upload shorter than the signed length must be refused"
        );
        assert_eq!(
            store.head(&content).await.expect("head"),
            None,
            "a refused upload must store nothing"
        );
    }

    uploader
        .upload(&link, body.clone())
        .await
        .unwrap_or_else(|e| panic!("a correct upload through its link must succeed: {e}"));
    let head = store.head(&content).await.expect("head after upload");
    assert_eq!(
        head.as_ref().map(|h| (h.size, h.storage_class)),
        Some((body.len() as u64, StorageClass::Standard)),
        "head after an upload must report its size and STANDARD"
    );
    assert_eq!(
        read_all(store, &content).await.expect("read"),
        body.to_vec(),
        "read must stream back exactly the uploaded bytes"
    );
    assert!(
        uploader.upload(&link, body.clone()).await.is_err(),
        "a second upload through a used link must be refused"
    );
    // Without a checksum, a link binds only type and length: a reused link must still
    // not replace what its first use stored (S3: the signed `If-None-Match: *`).
    let once = BlobRef {
        key: blob_key::content_key(&DocumentId::new(), 1),
        location: location.clone(),
    };
    let once_link = store
        .upload_link(&UploadSpec {
            blob: once.clone(),
            content_type: "text/plain".into(),
            size: 5,
            checksum_sha256: None,
            expires_in: std::time::Duration::from_secs(300),
        })
        .await
        .expect("upload_link without a checksum");
    uploader
        .upload(&once_link, Bytes::from_static(b"first"))
        .await
        .unwrap_or_else(|e| panic!("the first upload through a link must succeed: {e}"));
    assert!(
        uploader
            .upload(&once_link, Bytes::from_static(b"other"))
            .await
            .is_err(),
        "an upload link reused with other bytes must be refused"
    );
    assert_eq!(
        read_all(store, &once).await.expect("read"),
        b"first".to_vec(),
        "a reused upload link must not replace the stored bytes"
    );
    store.delete(&once).await.expect("delete");
    assert_eq!(
        store.read_small(&content, body.len()).await,
        Ok(Some(body.clone())),
        "read_small at the exact size must return the bytes"
    );
    assert!(
        matches!(
            store.read_small(&content, body.len() - 1).await,
            Err(BlobError::TooLarge { .. })
        ),
        "read_small past its limit must be TooLarge"
    );

    let download = store
        .download_link(&DownloadSpec {
            blob: content.clone(),
            file_name: "Rapport d'été.txt".into(),
            content_type: "text/plain".into(),
            expires_in: std::time::Duration::from_secs(60),
        })
        .await
        .expect("download_link");
    assert_eq!(download.method, "GET", "download links are GET");
    assert_eq!(
        uploader
            .download(&download)
            .await
            .unwrap_or_else(|e| panic!("a download link must work: {e}")),
        body,
        "a download link must serve exactly the stored bytes"
    );

    // A sidecar beside the content, and another document's content.
    let sidecar = BlobRef {
        key: blob_key::sidecar_key(&content.key),
        location: location.clone(),
    };
    upload(
        store,
        uploader,
        &sidecar,
        "application/json",
        Bytes::from_static(br#"{"from":"sidecar"}"#),
        false,
    )
    .await;
    let other_id = DocumentId::new();
    let other = BlobRef {
        key: blob_key::content_key(&other_id, 1),
        location: location.clone(),
    };
    upload(
        store,
        uploader,
        &other,
        "application/octet-stream",
        Bytes::from_static(b"other document"),
        true,
    )
    .await;

    store
        .archive(&content, StorageClass::Glacier)
        .await
        .expect("archive of stored content");
    let head = store.head(&content).await.expect("head after archive");
    assert_eq!(
        head.as_ref().map(|h| (h.size, h.storage_class)),
        Some((body.len() as u64, StorageClass::Glacier)),
        "head after archive must report the archive class and the same size"
    );
    assert!(
        read_all(store, &content).await.is_err(),
        "archived content must not be readable before a restore"
    );
    store
        .restore(&content, 1, RestoreTier::Standard)
        .await
        .expect("a restore of archived content must be accepted");

    store.delete(&content).await.expect("delete");
    assert_eq!(
        store.head(&content).await.expect("head after delete"),
        None,
        "a deleted blob must be gone, archived or not"
    );
    store
        .delete(&content)
        .await
        .expect("deleting a blob that is gone must succeed (idempotent)");

    assert!(
        store.head(&sidecar).await.expect("head").is_some(),
        "deleting one blob must leave its neighbours"
    );
    store
        .delete_document(&id, &location)
        .await
        .expect("delete_document");
    assert_eq!(
        store.head(&sidecar).await.expect("head"),
        None,
        "delete_document must remove every blob under documents/<id>/"
    );
    assert!(
        store.head(&other).await.expect("head").is_some(),
        "delete_document must not touch another document's blobs"
    );
    store
        .delete_document(&id, &location)
        .await
        .expect("delete_document of a document without blobs must succeed");
    store
        .delete_document(&other_id, &location)
        .await
        .expect("delete_document");
    assert_eq!(
        store.head(&other).await.expect("head"),
        None,
        "delete_document must remove the content"
    );
}

/// A record with history and in the trash round-trips unchanged, and a listing by
/// status `deleted` finds it.
pub async fn metadata_history(store: &dyn MetadataStore) {
    let document_type = unique_type("history");
    let mut document = sample_document(&document_type, DocumentStatus::Deleted);
    let mut older = document.content.clone().expect("sample content");
    older.revision = 1;
    older.key = blob_key::content_key(&document.id, 1);
    if let Some(content) = document.content.as_mut() {
        content.revision = 2;
        content.key = blob_key::content_key(&document.id, 2);
    }
    document.revisions =
        crate::revision::History::Loaded(vec![crate::revision::RetainedRevision {
            content: older,
            storage_class: StorageClass::Glacier,
            extracted: document.extracted.clone(),
            superseded_at: Utc::now(),
        }]);
    document.trash = Some(crate::revision::TrashState {
        previous_status: DocumentStatus::Archived,
        deleted_at: Utc::now(),
        purge_at: Utc::now() + Duration::days(30),
    });
    let active = sample_document(&document_type, DocumentStatus::Active);
    store.insert(&document).await.expect("insert");
    store.insert(&active).await.expect("insert");
    assert_eq!(
        store.get(&document.id).await.expect("get"),
        Some(document.clone()),
        "retained revisions, the trash state and status deleted must round-trip unchanged"
    );
    let page = store
        .list(&ListQuery {
            document_type: Some(document_type.clone()),
            status: Some(DocumentStatus::Deleted),
            limit: 10,
            after: None,
        })
        .await
        .expect("list");
    let ids: Vec<DocumentId> = page.documents.iter().map(|d| d.id).collect();
    assert_eq!(
        ids,
        vec![document.id],
        "a listing by status deleted must find the deleted record only"
    );
    metadata_history_apart(store, &document, &page.documents[0]).await;
    cleanup(store, &[document.id, active.id]).await;
}

/// Reads for display leave the history in the store; a write of a record read so is
/// refused and changes nothing; a write of a record read with `get` replaces the
/// history with the record's (`document` is stored, with one retained revision, and
/// `listed` is it as a listing returned it).
async fn metadata_history_apart(store: &dyn MetadataStore, document: &Document, listed: &Document) {
    use crate::revision::History;
    let without = |d: &Document| {
        let mut d = d.clone();
        d.revisions = History::NotLoaded;
        d
    };
    assert_eq!(
        listed,
        &without(document),
        "a listing must answer the record without its history"
    );
    let nearby = store
        .get_nearby(&document.id)
        .await
        .expect("get_nearby")
        .expect("stored");
    assert_eq!(
        nearby,
        without(document),
        "a read for display must answer the record without its history"
    );
    let mut changed = nearby.clone();
    changed
        .metadata
        .insert("edited".to_owned(), Value::Bool(true));
    changed.version += 1;
    assert_eq!(
        store.update(&changed, document.version).await,
        Err(StoreError::HistoryNotLoaded(
            crate::revision::HistoryNotLoaded
        )),
        "a write of a record read without its history must be refused"
    );
    let mut fresh = without(document);
    fresh.id = DocumentId::new();
    assert_eq!(
        store.insert(&fresh).await,
        Err(StoreError::HistoryNotLoaded(
            crate::revision::HistoryNotLoaded
        )),
        "an insert without a loaded history must be refused"
    );
    assert_eq!(store.get(&fresh.id).await.expect("get"), None);
    assert_eq!(
        store.get(&document.id).await.expect("get").as_ref(),
        Some(document),
        "a refused write must leave the record and its history as they were"
    );
    let swept = store
        .list_with_history(&ListQuery {
            document_type: Some(document.document_type.clone()),
            status: Some(DocumentStatus::Deleted),
            limit: 10,
            after: None,
        })
        .await
        .expect("list_with_history");
    assert_eq!(
        swept.documents,
        vec![document.clone()],
        "list_with_history must answer the record with its history"
    );
    // A write through `get` keeps, adds and drops revisions as the record says.
    let mut loaded = store.get(&document.id).await.expect("get").expect("stored");
    let mut added = document.revisions.get().expect("loaded")[0].clone();
    added.content.revision = 3;
    added.content.key = blob_key::content_key(&document.id, 3);
    loaded
        .revisions
        .get_mut()
        .expect("loaded")
        .insert(0, added.clone());
    loaded.version += 1;
    store
        .update(&loaded, document.version)
        .await
        .expect("update");
    let read = store.get(&document.id).await.expect("get").expect("stored");
    assert_eq!(read.version, document.version + 1);
    assert_eq!(
        read.revisions, loaded.revisions,
        "the history written is the history read"
    );
    let mut trimmed = read.clone();
    trimmed.revisions = History::Loaded(vec![added]);
    trimmed.version += 1;
    store.update(&trimmed, read.version).await.expect("update");
    let read = store.get(&document.id).await.expect("get").expect("stored");
    assert_eq!(
        read.revisions, trimmed.revisions,
        "a dropped revision stays dropped"
    );
    // Leave it as it was, for the caller's clean-up.
    let mut back = document.clone();
    back.version = read.version + 1;
    store.update(&back, read.version).await.expect("update");
}

/// `copy`: the copy is readable at its key, in STANDARD, with the same bytes; the
/// source stays; a missing source fails.
pub async fn blob_copy(store: &dyn BlobStore, uploader: &dyn ConformanceUploader) {
    let location = store.location();
    let id = DocumentId::new();
    let source = BlobRef {
        key: blob_key::content_key(&id, 1),
        location: location.clone(),
    };
    let target = BlobRef {
        key: blob_key::content_key(&id, 2),
        location: location.clone(),
    };
    let body = sample_bytes();
    upload(store, uploader, &source, "text/plain", body.clone(), true).await;
    store
        .copy(&source, &target)
        .await
        .expect("copy of a readable blob");
    assert_eq!(
        store
            .head(&target)
            .await
            .expect("head")
            .map(|h| (h.size, h.storage_class)),
        Some((body.len() as u64, StorageClass::Standard)),
        "a copy must be stored in STANDARD with the source's size"
    );
    assert_eq!(
        read_all(store, &target).await.expect("read the copy"),
        body.to_vec(),
        "a copy must hold exactly the source's bytes"
    );
    assert!(
        store.head(&source).await.expect("head").is_some(),
        "copying must keep the source"
    );
    let missing = BlobRef {
        key: blob_key::content_key(&id, 9),
        location: location.clone(),
    };
    assert!(
        store
            .copy(
                &missing,
                &BlobRef {
                    key: blob_key::content_key(&id, 10),
                    location: location.clone(),
                }
            )
            .await
            .is_err(),
        "copying a blob that does not exist must fail"
    );
    store
        .delete_document(&id, &location)
        .await
        .expect("delete_document");
}

/// Delivers what the store announces. Local stores publish to their own sink; here
/// the suite hands the event to the processor itself, as EventBridge would on AWS
/// (a duplicate delivery is ignored by the processor).
async fn deliver(processor: &crate::events::EventProcessor, blob: &BlobRef) {
    processor
        .handle(&crate::events::StorageEvent::ObjectCreated {
            location: blob.location.clone(),
            key: blob.key.clone(),
        })
        .await
        .expect("the event must be processed");
}

/// Revisions, retention and the trash through the service and the event processor,
/// over the adapters: replace keeps the old content, revisions list newest first and
/// download, a restore comes back as a new revision by a server-side copy, bad
/// revision numbers are refused, the count retention removes the oldest from the
/// record and the store together, and delete → trash → undelete → purge.
pub async fn service_history(
    metadata: std::sync::Arc<dyn MetadataStore>,
    blobs: std::sync::Arc<dyn BlobStore>,
    uploader: &dyn ConformanceUploader,
) {
    use crate::clock::ManualClock;
    use crate::error::CoreError;
    use crate::events::EventProcessor;
    use crate::history::DeleteOptions;
    use crate::ports::Clock;
    use crate::revision::Retention;
    use crate::service::{DocumentService, NewContent, NewDocument, ServiceConfig};

    let clock = std::sync::Arc::new(ManualClock::new(Utc::now()));
    let retention = Retention {
        revision_count: 3,
        revision_days: 0,
        trash_days: 30,
    };
    let config = ServiceConfig {
        retention,
        ..ServiceConfig::default()
    };
    let service = DocumentService::new(
        metadata.clone(),
        blobs.clone(),
        clock.clone(),
        crate::cursor::CursorCodec::new(b"conformance cursors"),
        config.clone(),
    );
    let processor = EventProcessor::new(
        metadata.clone(),
        blobs.clone(),
        clock.clone(),
        config.limits,
    )
    .with_retention(retention);
    let bodies: Vec<Bytes> = (1..=4)
        .map(|n| Bytes::from(format!("revision {n} of the conformance document\n").repeat(n)))
        .collect();

    // r1
    let created = service
        .create(NewDocument {
            file_name: "history.txt".into(),
            file_size: bodies[0].len() as u64,
            content_type: Some("text/plain".into()),
            document_type: Some(unique_type("service-history")),
            ..NewDocument::default()
        })
        .await
        .expect("create");
    let id = created.document.id;
    uploader
        .upload(
            created
                .upload
                .single_link()
                .expect("a small file is one PUT"),
            bodies[0].clone(),
        )
        .await
        .expect("upload r1");
    deliver(
        &processor,
        &created.document.pending_blob().expect("pending r1"),
    )
    .await;
    // r2: the replaced r1 stays.
    let replaced = service
        .replace(
            &id,
            NewContent {
                file_size: bodies[1].len() as u64,
                content_type: Some("text/plain".into()),
                ..NewContent::default()
            },
        )
        .await
        .expect("replace");
    uploader
        .upload(
            replaced
                .upload
                .single_link()
                .expect("a small file is one PUT"),
            bodies[1].clone(),
        )
        .await
        .expect("upload r2");
    deliver(
        &processor,
        &replaced.document.pending_blob().expect("pending r2"),
    )
    .await;

    let page = service.revisions(&id, None, None).await.expect("revisions");
    let numbers: Vec<(u32, bool)> = page
        .revisions
        .iter()
        .map(|r| (r.revision, r.current))
        .collect();
    assert_eq!(
        numbers,
        vec![(2, true), (1, false)],
        "revisions are listed newest first, the current one first"
    );
    assert_eq!(
        page.revisions[1].checksum_sha256,
        Some(sha256_hex(&bodies[0])),
        "a revision keeps its checksum"
    );
    let first = service.revisions(&id, Some(1), None).await.expect("page 1");
    assert_eq!(first.revisions.len(), 1);
    let second = service
        .revisions(&id, Some(1), first.next_cursor.clone())
        .await
        .expect("page 2");
    assert_eq!(
        second
            .revisions
            .iter()
            .map(|r| r.revision)
            .collect::<Vec<_>>(),
        vec![1],
        "the cursor continues after the last revision"
    );
    assert!(second.next_cursor.is_none(), "the last page has no cursor");

    let old = service.revision(&id, "1").await.expect("revision 1");
    let link = old
        .download
        .expect("a retained standard revision is readable");
    assert_eq!(
        uploader.download(&link).await.expect("download r1"),
        bodies[0],
        "revision 1 serves the replaced bytes"
    );
    let link = service
        .revision_content_link(&id, "1")
        .await
        .expect("content link r1");
    assert_eq!(
        uploader.download(&link).await.expect("download r1"),
        bodies[0]
    );

    for bad in ["0", "-1", "abc", "1.5", "+1", "", "99999999999"] {
        assert!(
            matches!(service.revision(&id, bad).await, Err(CoreError::Invalid(ref e)) if e.code == "invalid_revision"),
            "revision {bad:?} must be refused as invalid_revision"
        );
    }
    assert!(
        matches!(
            service.revision(&id, "3").await,
            Err(CoreError::RevisionNotFound { revision: 3, .. })
        ),
        "a revision beyond the latest must be revision_not_found"
    );

    // Restore r1: a new revision r3 with r1's bytes, by a server-side copy.
    let restoring = service
        .restore_revision(&id, "1", None)
        .await
        .expect("restore r1");
    let pending = restoring
        .pending_upload
        .clone()
        .expect("the copy is announced as a pending upload");
    assert_eq!(
        pending.revision, 3,
        "a restore makes the next revision, never rewrites one"
    );
    deliver(&processor, &restoring.pending_blob().expect("pending r3")).await;
    let view = service.get(&id).await.expect("get");
    assert_eq!(view.document.content.as_ref().map(|c| c.revision), Some(3));
    assert_eq!(
        uploader
            .download(&view.download.expect("readable"))
            .await
            .expect("download r3"),
        bodies[0],
        "the restored revision serves the bytes of the revision it restored"
    );
    assert_eq!(
        view.document.extracted.as_ref().map(|e| e.sha256.clone()),
        Some(sha256_hex(&bodies[0])),
        "a restored revision is extracted like an upload"
    );
    assert!(
        matches!(
            service.restore_revision(&id, "1", Some(1)).await,
            Err(CoreError::PreconditionFailed)
        ),
        "a restore with a stale If-Match must be 412"
    );

    // r4: the count retention (3) drops r1, from the record and the store together.
    let replaced = service
        .replace(
            &id,
            NewContent {
                file_size: bodies[3].len() as u64,
                content_type: Some("text/plain".into()),
                ..NewContent::default()
            },
        )
        .await
        .expect("replace");
    uploader
        .upload(
            replaced
                .upload
                .single_link()
                .expect("a small file is one PUT"),
            bodies[3].clone(),
        )
        .await
        .expect("upload r4");
    deliver(
        &processor,
        &replaced.document.pending_blob().expect("pending r4"),
    )
    .await;
    let numbers: Vec<u32> = service
        .revisions(&id, None, None)
        .await
        .expect("revisions")
        .revisions
        .iter()
        .map(|r| r.revision)
        .collect();
    assert_eq!(
        numbers,
        vec![4, 3, 2],
        "the count retention keeps the newest revisions"
    );
    let r1 = BlobRef {
        key: blob_key::content_key(&id, 1),
        location: blobs.location(),
    };
    assert_eq!(
        blobs.head(&r1).await.expect("head r1"),
        None,
        "an expired revision is gone from the store too"
    );
    assert!(
        matches!(
            service.restore_revision(&id, "1", None).await,
            Err(CoreError::RevisionNotFound { .. })
        ),
        "restoring an expired revision must be revision_not_found"
    );
    // A late duplicate event for a retained revision must not delete it.
    deliver(
        &processor,
        &BlobRef {
            key: blob_key::content_key(&id, 2),
            location: blobs.location(),
        },
    )
    .await;
    assert!(
        service
            .revision(&id, "2")
            .await
            .expect("revision 2")
            .download
            .is_some(),
        "a duplicate event leaves a retained revision"
    );

    // The trash.
    let version = service.get(&id).await.expect("get").document.version;
    assert!(
        matches!(
            service
                .delete_with(
                    &id,
                    DeleteOptions {
                        permanent: false,
                        if_match: Some(version - 1)
                    }
                )
                .await,
            Err(CoreError::PreconditionFailed)
        ),
        "a delete with a stale If-Match must be 412"
    );
    service.delete(&id).await.expect("delete into the trash");
    let trashed = service
        .get(&id)
        .await
        .expect("a deleted document still answers");
    assert_eq!(trashed.document.status, DocumentStatus::Deleted);
    assert!(
        trashed.download.is_none(),
        "a deleted document offers no download"
    );
    let purge_at = trashed.document.trash.as_ref().map(|t| t.purge_at);
    assert_eq!(
        purge_at,
        Some(clock.now() + Duration::days(30)),
        "purge_at follows the trash retention"
    );
    assert!(
        matches!(service.content_link(&id).await, Err(CoreError::State(ref e)) if e.code == "document_deleted"),
        "the content of a deleted document is refused with document_deleted"
    );
    assert!(
        matches!(service.revision_content_link(&id, "2").await, Err(CoreError::State(ref e)) if e.code == "document_deleted"),
        "every revision of a deleted document is refused with document_deleted"
    );
    let undeleted = service.undelete(&id, None).await.expect("undelete");
    assert_eq!(
        undeleted.status,
        DocumentStatus::Active,
        "undelete returns the status it had"
    );
    assert!(undeleted.trash.is_none());
    assert!(
        matches!(service.undelete(&id, None).await, Err(CoreError::State(ref e)) if e.code == "not_deleted"),
        "undelete of a document not in the trash must be not_deleted"
    );
    // Purged by the sweep once the retention is over.
    service.delete(&id).await.expect("delete again");
    clock.advance(Duration::days(29));
    service.purge_expired(100).await.expect("sweep");
    assert!(
        service.get(&id).await.is_ok(),
        "a document stays in the trash until purge_at"
    );
    clock.advance(Duration::days(2));
    service.purge_expired(100).await.expect("sweep");
    assert!(
        matches!(service.get(&id).await, Err(CoreError::NotFound(_))),
        "past purge_at the sweep purges the record"
    );
    for n in 1..=4 {
        let blob = BlobRef {
            key: blob_key::content_key(&id, n),
            location: blobs.location(),
        };
        assert_eq!(
            blobs.head(&blob).await.expect("head"),
            None,
            "the purge removes every revision (r{n})"
        );
    }

    // Permanent delete: at once.
    let created = service
        .create(NewDocument {
            file_name: "erase.txt".into(),
            file_size: bodies[0].len() as u64,
            content_type: Some("text/plain".into()),
            ..NewDocument::default()
        })
        .await
        .expect("create");
    let erase = created.document.id;
    uploader
        .upload(
            created
                .upload
                .single_link()
                .expect("a small file is one PUT"),
            bodies[0].clone(),
        )
        .await
        .expect("upload");
    deliver(
        &processor,
        &created.document.pending_blob().expect("pending"),
    )
    .await;
    service
        .delete_with(
            &erase,
            DeleteOptions {
                permanent: true,
                if_match: None,
            },
        )
        .await
        .expect("permanent delete");
    assert!(
        matches!(service.get(&erase).await, Err(CoreError::NotFound(_))),
        "a permanent delete purges at once"
    );
    let blob = BlobRef {
        key: blob_key::content_key(&erase, 1),
        location: blobs.location(),
    };
    assert_eq!(
        blobs.head(&blob).await.expect("head"),
        None,
        "a permanent delete removes the content"
    );
}

/// Multipart uploads through the port: parts sent in any order through their own
/// links, listed for a resume, completed into the blob (announced like an upload),
/// and aborted. Leaves the completed blob deleted.
pub async fn blob_multipart(store: &dyn BlobStore, uploader: &dyn ConformanceUploader) {
    const PART: u64 = crate::multipart::MIN_PART_SIZE;
    let location = store.location();
    let id = DocumentId::new();
    let blob = BlobRef {
        key: blob_key::content_key(&id, 1),
        location: location.clone(),
    };
    let size = 2 * PART + 1234;
    let bytes: Bytes = (0..size)
        .map(|i| (i.wrapping_mul(7) ^ (i >> 11)) as u8)
        .collect::<Vec<u8>>()
        .into();
    let spec = MultipartSpec {
        blob: blob.clone(),
        content_type: "application/octet-stream".into(),
        size,
        checksum_sha256: Some(sha256_hex(&bytes)),
        part_size: PART,
        part_count: 3,
    };
    let part = |n: u32| {
        let start = (u64::from(n) - 1) * PART;
        bytes.slice(start as usize..(start + PART).min(size) as usize)
    };
    let upload_id = store.start_multipart(&spec).await.expect("start_multipart");
    assert!(!upload_id.is_empty(), "an upload id is returned");
    assert_eq!(
        store.list_parts(&blob, &upload_id).await,
        Ok(Vec::new()),
        "a new upload has no parts"
    );
    let link = |n: u32| PartSpec {
        blob: blob.clone(),
        upload_id: upload_id.clone(),
        part_number: n,
        size: part(n).len() as u64,
        expires_in: std::time::Duration::from_secs(300),
    };
    // Out of order: the last part first.
    for n in [3, 1] {
        let signed = store.part_link(&link(n)).await.expect("part_link");
        assert_eq!(signed.method, "PUT", "part links are PUT");
        uploader
            .upload(&signed, part(n))
            .await
            .unwrap_or_else(|e| panic!("part {n} must be accepted: {e}"));
    }
    let listed = store
        .list_parts(&blob, &upload_id)
        .await
        .expect("list_parts");
    let numbers: Vec<(u32, u64)> = listed.iter().map(|p| (p.part_number, p.size)).collect();
    assert_eq!(
        numbers,
        vec![(1, PART), (3, 1234)],
        "list_parts names the parts received whole, by number"
    );
    assert!(
        listed.iter().all(|p| !p.etag.is_empty()),
        "every part has an etag"
    );
    assert_eq!(
        store.head(&blob).await.expect("head"),
        None,
        "nothing is readable before completion"
    );
    // A fresh link for the same part may be asked for at any time.
    let signed = store.part_link(&link(2)).await.expect("part_link again");
    uploader.upload(&signed, part(2)).await.expect("part 2");
    let parts = store
        .list_parts(&blob, &upload_id)
        .await
        .expect("list_parts");
    assert_eq!(parts.len(), 3);
    store
        .complete_multipart(&spec, &upload_id, &parts)
        .await
        .expect("complete_multipart");
    let head = store
        .head(&blob)
        .await
        .expect("head")
        .expect("the blob exists");
    assert_eq!(head.size, size, "the joined blob has every byte");
    let read = read_all(store, &blob).await.expect("read");
    assert_eq!(
        sha256_hex(&read),
        sha256_hex(&bytes),
        "parts are joined in order"
    );
    assert!(
        matches!(
            store.list_parts(&blob, &upload_id).await,
            Err(BlobError::UploadNotFound(_))
        ),
        "a completed upload is gone"
    );
    store.delete(&blob).await.expect("delete");

    // Abort: the parts go, and the id is unknown afterwards.
    let other = BlobRef {
        key: blob_key::content_key(&id, 2),
        location,
    };
    let spec = MultipartSpec {
        blob: other.clone(),
        checksum_sha256: None,
        ..spec
    };
    let upload_id = store.start_multipart(&spec).await.expect("start_multipart");
    let signed = store
        .part_link(&PartSpec {
            blob: other.clone(),
            upload_id: upload_id.clone(),
            part_number: 1,
            size: PART,
            expires_in: std::time::Duration::from_secs(300),
        })
        .await
        .expect("part_link");
    uploader.upload(&signed, part(1)).await.expect("part 1");
    store
        .abort_multipart(&other, &upload_id)
        .await
        .expect("abort_multipart");
    assert!(
        matches!(
            store.list_parts(&other, &upload_id).await,
            Err(BlobError::UploadNotFound(_))
        ),
        "an aborted upload is gone"
    );
    assert_eq!(store.head(&other).await.expect("head"), None);
}
