//! In-memory stores for fuzzing the API router without I/O (the core's
//! `MemoryMetadataStore` and a blob store that stores nothing): each iteration starts
//! from the same three documents (pending, active, archived), so that a crash
//! reproduces from its input alone.
#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use kumocms_core::cursor::CursorCodec;
use kumocms_core::document::{BlobLocation, BlobRef, ContentVersion, StorageClass};
use kumocms_core::memory::{MemoryMetadataStore, Records};
use kumocms_core::ports::{
    BlobError, BlobHead, BlobStore, BlobStream, Clock, DownloadSpec, SignedLink, UploadSpec,
};
use kumocms_core::service::{DocumentService, NewDocument, ServiceConfig};
use kumocms_core::{DocumentId, DocumentStatus, RestoreTier};

/// A blob store that signs nothing and stores nothing: links are fixed strings.
pub struct NullBlobs;

fn link(method: &str, key: &str) -> SignedLink {
    SignedLink {
        method: method.to_owned(),
        url: format!("http://fuzz.invalid/blobs/{key}"),
        headers: Default::default(),
        expires_at: DateTime::<Utc>::from_timestamp(4_000_000_000, 0).unwrap_or_default(),
    }
}

#[async_trait]
impl BlobStore for NullBlobs {
    fn location(&self) -> BlobLocation {
        BlobLocation {
            store: "local".to_owned(),
            region: None,
        }
    }
    async fn upload_link(&self, spec: &UploadSpec) -> Result<SignedLink, BlobError> {
        Ok(link("PUT", &spec.blob.key))
    }
    async fn download_link(&self, spec: &DownloadSpec) -> Result<SignedLink, BlobError> {
        Ok(link("GET", &spec.blob.key))
    }
    async fn head(&self, _blob: &BlobRef) -> Result<Option<BlobHead>, BlobError> {
        Ok(Some(BlobHead {
            size: 4,
            storage_class: StorageClass::Standard,
        }))
    }
    async fn read(&self, blob: &BlobRef) -> Result<BlobStream, BlobError> {
        Err(BlobError::NotFound(blob.key.clone()))
    }
    async fn read_small(&self, _blob: &BlobRef, _limit: usize) -> Result<Option<Bytes>, BlobError> {
        Ok(None)
    }
    async fn delete(&self, _blob: &BlobRef) -> Result<(), BlobError> {
        Ok(())
    }
    async fn delete_document(
        &self,
        _id: &DocumentId,
        _location: &BlobLocation,
    ) -> Result<(), BlobError> {
        Ok(())
    }
    async fn copy(&self, _from: &BlobRef, _to: &BlobRef) -> Result<(), BlobError> {
        Ok(())
    }
    async fn archive(&self, _blob: &BlobRef, _class: StorageClass) -> Result<(), BlobError> {
        Ok(())
    }
    async fn restore(&self, _b: &BlobRef, _d: u16, _t: RestoreTier) -> Result<(), BlobError> {
        Ok(())
    }
    async fn health(&self) -> Result<(), BlobError> {
        Ok(())
    }
}

pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }
}

/// The service over in-memory stores, with three documents (ids in `ids`:
/// pending, active, archived) and a snapshot to reset to before each input.
pub struct Fixture {
    pub service: Arc<DocumentService>,
    pub metadata: Arc<MemoryMetadataStore>,
    pub ids: [String; 3],
    pub cursor: String,
    initial: Records,
}

impl Fixture {
    pub fn new(rt: &tokio::runtime::Runtime) -> Self {
        let metadata = Arc::new(MemoryMetadataStore::new());
        let service = Arc::new(DocumentService::new(
            metadata.clone(),
            Arc::new(NullBlobs),
            Arc::new(FixedClock),
            CursorCodec::new(b"fuzz cursor key"),
            ServiceConfig::default(),
        ));
        let mut ids = Vec::new();
        for (n, status) in [
            DocumentStatus::PendingUpload,
            DocumentStatus::Active,
            DocumentStatus::Archived,
        ]
        .into_iter()
        .enumerate()
        {
            let upload = rt
                .block_on(service.create(NewDocument {
                    file_name: format!("doc{n}.txt"),
                    file_size: 4,
                    content_type: Some("text/plain".to_owned()),
                    document_type: Some("invoice".to_owned()),
                    metadata: Some(serde_json::json!({"author": "Ada", "n": n})),
                    ..NewDocument::default()
                }))
                .unwrap_or_else(|e| panic!("fixture: {e}"));
            let mut document = upload.document;
            if status != DocumentStatus::PendingUpload {
                let pending = document
                    .pending_upload
                    .take()
                    .unwrap_or_else(|| panic!("pending"));
                document.content = Some(ContentVersion {
                    revision: pending.revision,
                    key: pending.key,
                    location: pending.location,
                    file_name: pending.file_name,
                    content_type: pending.content_type,
                    size: pending.size,
                    checksum_sha256: None,
                    arrived_at: FixedClock.now(),
                });
                document.status = status;
                if status == DocumentStatus::Archived {
                    document.storage_class = StorageClass::Glacier;
                }
            }
            ids.push(document.id.to_string());
            metadata.put(document);
        }
        let page = rt
            .block_on(service.list(kumocms_core::service::ListRequest {
                limit: Some(1),
                ..Default::default()
            }))
            .unwrap_or_else(|e| panic!("fixture list: {e}"));
        let cursor = page.next_cursor.unwrap_or_default();
        let initial = metadata.snapshot();
        Self {
            service,
            metadata,
            ids: [ids[0].clone(), ids[1].clone(), ids[2].clone()],
            cursor,
            initial,
        }
    }

    pub fn reset(&self) {
        self.metadata.restore(self.initial.clone());
    }
}
