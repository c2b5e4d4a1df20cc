//! `DocumentService` and `EventProcessor` on their own: the in-memory metadata store
//! and an in-memory blob store that fails on demand, so the core's failure paths
//! (undo of a claim, transient errors, clean-up after a partial failure) are tested
//! without any adapter.

// Tests: a failed expectation must panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use kumocms_core::cursor::CursorCodec;
use kumocms_core::events::{EventProcessor, Outcome, StorageEvent};
use kumocms_core::memory::{MemoryBlobStore, MemoryMetadataStore};
use kumocms_core::ports::{
    BlobError, BlobHead, BlobStore, BlobStream, DownloadSpec, MetadataStore, SignedLink,
    SystemClock, UploadSpec,
};

use kumocms_core::service::{DocumentService, NewDocument, ServiceConfig};
use kumocms_core::{
    BlobLocation, BlobRef, CoreError, DeleteOptions, DocumentId, DocumentStatus, RestoreTier,
    StorageClass,
};
use serde_json::json;

/// What another request does to the record while a storage call is in flight.
#[derive(Debug, Clone, Copy)]
enum Meanwhile {
    /// A PATCH of user metadata lands (bumps the version, keeps the status).
    PatchMetadata,
    /// The document is deleted.
    Delete,
}

/// The in-memory blob store, with operations that fail with `Unavailable` while
/// their name is in `failing`, and an optional concurrent change applied just
/// before a failing archive or restore returns.
struct FlakyBlobs {
    inner: MemoryBlobStore,
    failing: Mutex<HashSet<&'static str>>,
    meanwhile: Mutex<Option<(Arc<MemoryMetadataStore>, Meanwhile)>>,
    calls: Mutex<Vec<&'static str>>,
}

impl FlakyBlobs {
    fn new() -> Self {
        Self {
            inner: MemoryBlobStore::new(),
            failing: Mutex::new(HashSet::new()),
            meanwhile: Mutex::new(None),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn fail(&self, operation: &'static str) {
        self.failing.lock().unwrap().insert(operation);
    }

    fn heal(&self) {
        self.failing.lock().unwrap().clear();
    }

    fn meanwhile(&self, store: &Arc<MemoryMetadataStore>, change: Meanwhile) {
        *self.meanwhile.lock().unwrap() = Some((store.clone(), change));
    }

    fn calls(&self, operation: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| **c == operation)
            .count()
    }

    async fn check(&self, operation: &'static str) -> Result<(), BlobError> {
        self.calls.lock().unwrap().push(operation);
        if !self.failing.lock().unwrap().contains(operation) {
            return Ok(());
        }
        let meanwhile = self.meanwhile.lock().unwrap().take();
        if let Some((store, change)) = meanwhile {
            interfere(&store, change).await;
        }
        Err(BlobError::Unavailable(format!("{operation} failed (test)")))
    }
}

/// Applies `change` to the one record in `store`, as another request would.
async fn interfere(store: &MemoryMetadataStore, change: Meanwhile) {
    let snapshot = store.snapshot();
    let mut document = snapshot.values().next().cloned().expect("one record");
    match change {
        Meanwhile::PatchMetadata => {
            document
                .metadata
                .insert("edited".to_owned(), json!("meanwhile"));
            let expected = document.version;
            document.version += 1;
            store.update(&document, expected).await.expect("patch");
        }
        Meanwhile::Delete => store
            .delete(&document.id, document.version)
            .await
            .expect("delete"),
    }
}

#[async_trait]
impl BlobStore for FlakyBlobs {
    fn location(&self) -> BlobLocation {
        self.inner.location()
    }
    async fn upload_link(&self, spec: &UploadSpec) -> Result<SignedLink, BlobError> {
        self.check("upload_link").await?;
        self.inner.upload_link(spec).await
    }
    async fn download_link(&self, spec: &DownloadSpec) -> Result<SignedLink, BlobError> {
        self.check("download_link").await?;
        self.inner.download_link(spec).await
    }
    async fn head(&self, blob: &BlobRef) -> Result<Option<BlobHead>, BlobError> {
        self.check("head").await?;
        self.inner.head(blob).await
    }
    async fn read(&self, blob: &BlobRef) -> Result<BlobStream, BlobError> {
        self.check("read").await?;
        self.inner.read(blob).await
    }
    async fn read_small(&self, blob: &BlobRef, limit: usize) -> Result<Option<Bytes>, BlobError> {
        self.check("read_small").await?;
        self.inner.read_small(blob, limit).await
    }
    async fn delete(&self, blob: &BlobRef) -> Result<(), BlobError> {
        self.check("delete").await?;
        self.inner.delete(blob).await
    }
    async fn delete_document(
        &self,
        id: &DocumentId,
        location: &BlobLocation,
    ) -> Result<(), BlobError> {
        self.check("delete_document").await?;
        self.inner.delete_document(id, location).await
    }
    async fn copy(&self, from: &BlobRef, to: &BlobRef) -> Result<(), BlobError> {
        self.check("copy").await?;
        self.inner.copy(from, to).await
    }
    async fn archive(&self, blob: &BlobRef, class: StorageClass) -> Result<(), BlobError> {
        self.check("archive").await?;
        self.inner.archive(blob, class).await
    }
    async fn restore(&self, blob: &BlobRef, days: u16, tier: RestoreTier) -> Result<(), BlobError> {
        self.check("restore").await?;
        self.inner.restore(blob, days, tier).await
    }
    async fn health(&self) -> Result<(), BlobError> {
        self.check("health").await?;
        self.inner.health().await
    }
}

struct Fixture {
    metadata: Arc<MemoryMetadataStore>,
    blobs: Arc<FlakyBlobs>,
    service: DocumentService,
    events: EventProcessor,
}

impl Fixture {
    fn new() -> Self {
        let metadata = Arc::new(MemoryMetadataStore::new());
        let blobs = Arc::new(FlakyBlobs::new());
        let config = ServiceConfig::default();
        let service = DocumentService::new(
            metadata.clone(),
            blobs.clone(),
            Arc::new(SystemClock),
            CursorCodec::new(b"core service tests"),
            config.clone(),
        );
        let events = EventProcessor::new(
            metadata.clone(),
            blobs.clone(),
            Arc::new(SystemClock),
            config.limits,
        );
        Self {
            metadata,
            blobs,
            service,
            events,
        }
    }

    /// Creates a document and returns its id and the event its upload makes.
    async fn create(&self, bytes: &'static [u8]) -> (DocumentId, StorageEvent) {
        let upload = self
            .service
            .create(NewDocument {
                file_name: "notes.txt".to_owned(),
                file_size: bytes.len() as u64,
                content_type: Some("text/plain".to_owned()),
                metadata: Some(json!({"author": "Ada"})),
                ..NewDocument::default()
            })
            .await
            .expect("create");
        let pending = upload.document.pending_upload.expect("pending upload");
        self.blobs
            .inner
            .put(&pending.key, Bytes::from_static(bytes));
        let event = StorageEvent::ObjectCreated {
            location: pending.location,
            key: pending.key,
        };
        (upload.document.id, event)
    }

    /// Creates a document whose content has arrived: status active.
    async fn active(&self) -> DocumentId {
        let (id, event) = self.create(b"hello world\n").await;
        let outcome = self.events.handle(&event).await.expect("content event");
        assert_eq!(outcome, Outcome::Applied("content_activated"));
        id
    }

    async fn record(&self, id: &DocumentId) -> Option<kumocms_core::Document> {
        self.metadata.get(id).await.expect("get")
    }
}

#[tokio::test]
async fn a_failed_archive_undoes_its_claim() {
    let f = Fixture::new();
    let id = f.active().await;
    f.blobs.fail("archive");
    let error = f
        .service
        .archive(&id, StorageClass::Glacier)
        .await
        .expect_err("archive must fail");
    assert!(matches!(error, CoreError::Unavailable(_)), "{error:?}");
    let record = f.record(&id).await.expect("record");
    assert_eq!(record.status, DocumentStatus::Active);
    assert_eq!(record.storage_class, StorageClass::Standard);
    assert!(f.service.content_link(&id).await.is_ok(), "still readable");
}

#[tokio::test]
async fn a_failed_archive_undoes_its_claim_after_a_concurrent_patch() {
    let f = Fixture::new();
    let id = f.active().await;
    f.blobs.fail("archive");
    f.blobs.meanwhile(&f.metadata, Meanwhile::PatchMetadata);
    f.service
        .archive(&id, StorageClass::DeepArchive)
        .await
        .expect_err("archive must fail");
    let record = f.record(&id).await.expect("record");
    // The single conditional undo lost to the PATCH and left `archived` for content
    // that never moved; the undo now re-reads and applies itself to the latest record.
    assert_eq!(record.status, DocumentStatus::Active);
    assert_eq!(record.storage_class, StorageClass::Standard);
    assert_eq!(record.metadata["edited"], "meanwhile", "the PATCH is kept");
}

#[tokio::test]
async fn a_failed_restore_undoes_its_claim_after_a_concurrent_patch() {
    let f = Fixture::new();
    let id = f.active().await;
    f.service
        .archive(&id, StorageClass::Glacier)
        .await
        .expect("archive");
    f.blobs.fail("restore");
    f.blobs.meanwhile(&f.metadata, Meanwhile::PatchMetadata);
    let error = f
        .service
        .restore(&id, 3, RestoreTier::Standard)
        .await
        .expect_err("restore must fail");
    assert!(matches!(error, CoreError::Unavailable(_)), "{error:?}");
    let record = f.record(&id).await.expect("record");
    assert_eq!(record.status, DocumentStatus::Archived);
    assert_eq!(record.restore, None);
    assert_eq!(record.metadata["edited"], "meanwhile");
}

#[tokio::test]
async fn a_failed_archive_leaves_a_document_deleted_meanwhile_deleted() {
    let f = Fixture::new();
    let id = f.active().await;
    f.blobs.fail("archive");
    f.blobs.meanwhile(&f.metadata, Meanwhile::Delete);
    f.service
        .archive(&id, StorageClass::Glacier)
        .await
        .expect_err("archive must fail");
    assert_eq!(f.record(&id).await, None, "the undo must not resurrect it");
}

#[tokio::test]
async fn create_stores_nothing_when_the_link_cannot_be_signed() {
    let f = Fixture::new();
    f.blobs.fail("upload_link");
    let error = f
        .service
        .create(NewDocument {
            file_name: "a.txt".to_owned(),
            file_size: 1,
            ..NewDocument::default()
        })
        .await
        .expect_err("create must fail");
    assert!(matches!(error, CoreError::Unavailable(_)), "{error:?}");
    assert!(f.metadata.is_empty());
}

#[tokio::test]
async fn a_permanent_delete_whose_blob_clean_up_fails_is_finished_by_a_retry() {
    let f = Fixture::new();
    let id = f.active().await;
    f.blobs.fail("delete_document");
    // Into the trash first: no blob is touched, so the failing clean-up is not hit.
    f.service.delete(&id).await.expect("delete into the trash");
    let trashed = f.record(&id).await.expect("kept in the trash");
    assert_eq!(trashed.status, DocumentStatus::Deleted);
    let permanent = DeleteOptions {
        permanent: true,
        if_match: None,
    };
    let error = f
        .service
        .delete_with(&id, permanent)
        .await
        .expect_err("clean-up fails");
    assert!(matches!(error, CoreError::Unavailable(_)), "{error:?}");
    assert_eq!(f.record(&id).await, None, "the record goes first");
    f.blobs.heal();
    let before = f.blobs.calls("delete_document");
    let retry = f
        .service
        .delete_with(&id, permanent)
        .await
        .expect_err("already gone");
    assert!(matches!(retry, CoreError::NotFound(_)), "{retry:?}");
    assert_eq!(
        f.blobs.calls("delete_document"),
        before + 1,
        "retry cleans up"
    );
    let key = kumocms_core::blob_key::content_key(&id, 1);
    let blob = BlobRef {
        key,
        location: f.blobs.location(),
    };
    assert_eq!(f.blobs.inner.head(&blob).await.expect("head"), None);
}

#[tokio::test]
async fn a_content_event_during_a_blob_outage_fails_transiently_and_applies_later() {
    let f = Fixture::new();
    let (id, event) = f.create(b"hello world\n").await;
    f.blobs.fail("read");
    let error = f.events.handle(&event).await.expect_err("outage");
    assert!(error.is_transient(), "the platform must retry: {error:?}");
    let record = f.record(&id).await.expect("record");
    assert_eq!(record.status, DocumentStatus::PendingUpload);
    f.blobs.heal();
    assert_eq!(
        f.events.handle(&event).await.expect("retry"),
        Outcome::Applied("content_activated")
    );
    let record = f.record(&id).await.expect("record");
    assert_eq!(record.status, DocumentStatus::Active);
    let content = record.content.expect("content");
    assert_eq!(content.size, 12);
    assert_eq!(
        content.checksum_sha256.as_deref(),
        Some("a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447")
    );
    // A second delivery of the same event changes nothing.
    let version = f.record(&id).await.expect("record").version;
    assert_eq!(
        f.events.handle(&event).await.expect("duplicate"),
        Outcome::Ignored("already_current")
    );
    assert_eq!(f.record(&id).await.expect("record").version, version);
}

#[tokio::test]
async fn content_for_a_document_that_is_gone_is_deleted() {
    let f = Fixture::new();
    let (id, event) = f.create(b"orphan").await;
    let record = f.record(&id).await.expect("record");
    f.metadata
        .delete(&id, record.version)
        .await
        .expect("delete");
    assert_eq!(
        f.events.handle(&event).await.expect("event"),
        Outcome::Applied("orphan_deleted")
    );
    let StorageEvent::ObjectCreated { location, key } = event else {
        unreachable!()
    };
    let blob = BlobRef { key, location };
    assert_eq!(f.blobs.inner.head(&blob).await.expect("head"), None);
}

#[tokio::test]
async fn a_sidecar_fills_in_metadata_without_overwriting_the_users() {
    let f = Fixture::new();
    let (id, event) = f.create(b"with sidecar").await;
    let StorageEvent::ObjectCreated { key, .. } = &event else {
        unreachable!()
    };
    f.blobs.inner.put(
        &kumocms_core::blob_key::sidecar_key(key),
        Bytes::from_static(br#"{"author": "Sidecar", "project": "Apollo"}"#),
    );
    f.events.handle(&event).await.expect("event");
    let record = f.record(&id).await.expect("record");
    assert_eq!(record.metadata["author"], "Ada");
    assert_eq!(record.metadata["project"], "Apollo");
    assert!(record.extracted.expect("extracted").sidecar_applied);
}

#[tokio::test]
async fn multipart_content_whose_checksum_differs_is_not_promoted() {
    // S3 cannot check a multipart upload's whole-object SHA-256; the event
    // processor does, and leaves the upload pending (and the content as it was).
    let f = Fixture::new();
    let (id, event) = f.create(b"joined parts!").await;
    let mut record = f.record(&id).await.expect("record");
    let pending = record.pending_upload.as_mut().expect("pending");
    pending.checksum_sha256 = Some("0".repeat(64));
    pending.multipart = Some(kumocms_core::multipart::MultipartState {
        upload_id: "upload-1".into(),
        part_size: 5 * 1024 * 1024,
        part_count: 1,
    });
    let version = record.version;
    f.metadata.update(&record, version).await.expect("update");
    assert_eq!(
        f.events.handle(&event).await.expect("event"),
        Outcome::Ignored("checksum_mismatch")
    );
    let after = f.record(&id).await.expect("record");
    assert_eq!(after.status, kumocms_core::DocumentStatus::PendingUpload);
    assert!(after.content.is_none(), "nothing was made current");
    assert!(after.pending_upload.is_some());
}

#[tokio::test]
async fn multipart_content_whose_checksum_matches_is_promoted() {
    let f = Fixture::new();
    let bytes = b"joined parts!";
    let (id, event) = f.create(bytes).await;
    let mut record = f.record(&id).await.expect("record");
    let pending = record.pending_upload.as_mut().expect("pending");
    pending.checksum_sha256 = Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)));
    pending.multipart = Some(kumocms_core::multipart::MultipartState {
        upload_id: "upload-1".into(),
        part_size: 5 * 1024 * 1024,
        part_count: 1,
    });
    let version = record.version;
    f.metadata.update(&record, version).await.expect("update");
    assert_eq!(
        f.events.handle(&event).await.expect("event"),
        Outcome::Applied("content_activated")
    );
}
