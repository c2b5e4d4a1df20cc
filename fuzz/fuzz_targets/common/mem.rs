//! In-memory stores for fuzzing the API router without I/O: each iteration starts
//! from the same three documents (pending, active, archived), so that a crash
//! reproduces from its input alone.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use kumocms_core::cursor::CursorCodec;
use kumocms_core::document::{BlobLocation, BlobRef, ContentVersion, StorageClass};
use kumocms_core::ports::{
    BlobError, BlobHead, BlobStore, BlobStream, Clock, DownloadSpec, ListPage, ListQuery,
    MetadataStore, SignedLink, StoreError, UploadSpec,
};
use kumocms_core::service::{DocumentService, NewDocument, ServiceConfig};
use kumocms_core::{Document, DocumentId, DocumentStatus, RestoreTier};

#[derive(Default)]
pub struct MemMetadata {
    records: Mutex<BTreeMap<DocumentId, Document>>,
}

impl MemMetadata {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<DocumentId, Document>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> BTreeMap<DocumentId, Document> {
        self.lock().clone()
    }

    pub fn restore(&self, records: BTreeMap<DocumentId, Document>) {
        *self.lock() = records;
    }

    pub fn put(&self, document: Document) {
        self.lock().insert(document.id, document);
    }
}

#[async_trait]
impl MetadataStore for MemMetadata {
    async fn insert(&self, document: &Document) -> Result<(), StoreError> {
        let mut records = self.lock();
        if records.contains_key(&document.id) {
            return Err(StoreError::Conflict);
        }
        records.insert(document.id, document.clone());
        Ok(())
    }

    async fn get(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        Ok(self.lock().get(id).cloned())
    }

    async fn update(&self, document: &Document, expected: u64) -> Result<(), StoreError> {
        let mut records = self.lock();
        match records.get(&document.id) {
            Some(stored) if stored.version == expected => {
                records.insert(document.id, document.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn delete(&self, id: &DocumentId, expected: u64) -> Result<(), StoreError> {
        let mut records = self.lock();
        match records.get(id) {
            Some(stored) if stored.version == expected => {
                records.remove(id);
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        let records = self.lock();
        let mut documents: Vec<Document> = records
            .values()
            .filter(|d| {
                query
                    .after
                    .as_deref()
                    .is_none_or(|a| d.id.to_string().as_str() > a)
            })
            .filter(|d| {
                query
                    .document_type
                    .as_deref()
                    .is_none_or(|t| d.document_type == t)
            })
            .filter(|d| query.status.is_none_or(|s| d.status == s))
            .take(query.limit + 1)
            .cloned()
            .collect();
        let next = if documents.len() > query.limit {
            documents.truncate(query.limit);
            documents.last().map(|d| d.id.to_string())
        } else {
            None
        };
        Ok(ListPage { documents, next })
    }

    async fn expired_pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Document>, StoreError> {
        Ok(self
            .lock()
            .values()
            .filter(|d| {
                d.pending_upload
                    .as_ref()
                    .is_some_and(|p| p.expires_at < now)
            })
            .take(limit)
            .cloned()
            .collect())
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

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
    pub metadata: Arc<MemMetadata>,
    pub ids: [String; 3],
    pub cursor: String,
    initial: BTreeMap<DocumentId, Document>,
}

impl Fixture {
    pub fn new(rt: &tokio::runtime::Runtime) -> Self {
        let metadata = Arc::new(MemMetadata::default());
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
