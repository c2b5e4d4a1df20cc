//! In-memory adapters: a [`MetadataStore`] that does what the real stores do
//! (conditional writes on the version, listings in id order with a continuation
//! position, expired pending uploads, each record's history kept beside it and left
//! out of reads for display) and a [`BlobStore`] with HMAC-signed links,
//! minus the I/O. For the core's own tests, benchmarks and fuzzing, where a disk or a
//! network would measure or exercise something else; nothing persists. The metadata
//! store passes the same conformance suite as the SQLite and DynamoDB stores.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::document::{BlobLocation, BlobRef, Document, RestoreTier, StorageClass};
use crate::id::DocumentId;
use crate::ports::{
    BlobError, BlobHead, BlobStore, BlobStream, Clock, DownloadSpec, ListPage, ListQuery,
    MetadataStore, SignedLink, StoreError, SystemClock, UploadSpec,
};
use crate::revision::{History, RetainedRevision};

/// The records, keyed by id, each with its history loaded, for
/// [`MemoryMetadataStore::snapshot`] and `restore`.
pub type Records = BTreeMap<String, Document>;

/// A record as the store keeps it: without its history (`History::NotLoaded`), which
/// sits beside it, so that a read for display copies the record alone.
#[derive(Debug, Clone)]
struct Stored {
    record: Document,
    history: Vec<RetainedRevision>,
}

impl Stored {
    /// Splits `document`; refuses one whose history was not loaded.
    fn from_document(document: &Document) -> Result<Self, StoreError> {
        let history = document.revisions.get()?.to_vec();
        let mut record = Self::without_history(document);
        record.revisions = History::NotLoaded;
        Ok(Self { record, history })
    }

    /// A copy of `document` without copying its history.
    fn without_history(document: &Document) -> Document {
        let Document {
            schema_version,
            id,
            version,
            status,
            document_type,
            created_at,
            updated_at,
            storage_class,
            metadata,
            content,
            pending_upload,
            restore,
            extracted,
            revisions: _,
            trash,
        } = document;
        Document {
            schema_version: *schema_version,
            id: *id,
            version: *version,
            status: *status,
            document_type: document_type.clone(),
            created_at: *created_at,
            updated_at: *updated_at,
            storage_class: *storage_class,
            metadata: metadata.clone(),
            content: content.clone(),
            pending_upload: pending_upload.clone(),
            restore: restore.clone(),
            extracted: extracted.clone(),
            revisions: History::NotLoaded,
            trash: trash.clone(),
        }
    }

    /// The record for display: its history left out.
    fn display(&self) -> Document {
        self.record.clone()
    }

    /// The record with its history, for a change.
    fn whole(&self) -> Document {
        let mut document = self.record.clone();
        document.revisions = History::Loaded(self.history.clone());
        document
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::other("lock poisoned")
}

/// Records in a `BTreeMap` keyed by id, so listings come in id order as in the real
/// stores.
#[derive(Debug, Default)]
pub struct MemoryMetadataStore {
    records: RwLock<BTreeMap<String, Stored>>,
}

impl MemoryMetadataStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.records.read().map(|r| r.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores a record as it is, replacing any with the same id (for seeding). A
    /// record whose history was not loaded is stored with none.
    pub fn put(&self, mut document: Document) {
        if !document.revisions.is_loaded() {
            document.revisions = History::empty();
        }
        if let Ok(stored) = Stored::from_document(&document) {
            self.records
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(document.id.to_string(), stored);
        }
    }

    /// A copy of every record with its history, to [`restore`](Self::restore) later.
    pub fn snapshot(&self) -> Records {
        self.records
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(id, stored)| (id.clone(), stored.whole()))
            .collect()
    }

    /// Replaces every record with `records`.
    pub fn restore(&self, records: Records) {
        let records = records.into_values().collect::<Vec<_>>();
        self.records
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        for document in records {
            self.put(document);
        }
    }
}

#[async_trait]
impl MetadataStore for MemoryMetadataStore {
    async fn insert(&self, document: &Document) -> Result<(), StoreError> {
        let stored = Stored::from_document(document)?;
        let mut records = self.records.write().map_err(poisoned)?;
        let id = document.id.to_string();
        if records.contains_key(&id) {
            return Err(StoreError::Conflict);
        }
        records.insert(id, stored);
        Ok(())
    }

    async fn get(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        let records = self.records.read().map_err(poisoned)?;
        Ok(records.get(&id.to_string()).map(Stored::whole))
    }

    async fn get_nearby(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        let records = self.records.read().map_err(poisoned)?;
        Ok(records.get(&id.to_string()).map(Stored::display))
    }

    async fn update(&self, document: &Document, expected_version: u64) -> Result<(), StoreError> {
        let mut new = Stored::from_document(document)?;
        new.record.version = expected_version + 1;
        let mut records = self.records.write().map_err(poisoned)?;
        match records.get_mut(&document.id.to_string()) {
            Some(stored) if stored.record.version == expected_version => {
                *stored = new;
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn delete(&self, id: &DocumentId, expected_version: u64) -> Result<(), StoreError> {
        let mut records = self.records.write().map_err(poisoned)?;
        let key = id.to_string();
        match records.get(&key) {
            Some(stored) if stored.record.version == expected_version => {
                records.remove(&key);
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        self.page(query, Stored::display)
    }

    async fn list_with_history(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        self.page(query, Stored::whole)
    }

    async fn expired_pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Document>, StoreError> {
        // With the history: the sweeper changes what it reads.
        let records = self.records.read().map_err(poisoned)?;
        Ok(records
            .values()
            .filter(|d| {
                d.record
                    .pending_upload
                    .as_ref()
                    .is_some_and(|p| p.expires_at < now)
            })
            .take(limit)
            .map(Stored::whole)
            .collect())
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl MemoryMetadataStore {
    /// A listing's page, each record copied by `copy`.
    fn page(
        &self,
        query: &ListQuery,
        copy: fn(&Stored) -> Document,
    ) -> Result<ListPage, StoreError> {
        let records = self.records.read().map_err(poisoned)?;
        let start = match &query.after {
            Some(after) => std::ops::Bound::Excluded(after.clone()),
            None => std::ops::Bound::Unbounded,
        };
        let mut documents = Vec::with_capacity(query.limit.min(1000));
        let mut more = false;
        for document in records
            .range((start, std::ops::Bound::Unbounded))
            .map(|(_, d)| d)
            .filter(|d| query.status.is_none_or(|s| d.record.status == s))
            .filter(|d| {
                query
                    .document_type
                    .as_deref()
                    .is_none_or(|t| d.record.document_type == t)
            })
        {
            if documents.len() == query.limit {
                more = true;
                break;
            }
            documents.push(copy(document));
        }
        let next = if more {
            documents.last().map(|d| d.id.to_string())
        } else {
            None
        };
        Ok(ListPage { documents, next })
    }
}

#[cfg(all(test, feature = "conformance"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_search_conformance_suite() {
        crate::conformance::metadata_search(std::sync::Arc::new(MemoryMetadataStore::new())).await;
    }

    #[tokio::test]
    async fn passes_the_metadata_conformance_suite() {
        crate::conformance::metadata_store(&MemoryMetadataStore::new()).await;
    }

    #[tokio::test]
    async fn a_snapshot_restores_what_it_saw() {
        let store = MemoryMetadataStore::new();
        let document =
            crate::conformance::sample_document("report", crate::document::DocumentStatus::Active);
        store.put(document.clone());
        let saved = store.snapshot();
        store
            .delete(&document.id, document.version)
            .await
            .expect("deleted");
        assert!(store.is_empty());
        store.restore(saved);
        assert_eq!(store.get(&document.id).await.expect("read"), Some(document));
    }
}

type HmacSha256 = Hmac<Sha256>;

/// Blobs in a `HashMap`, and links signed with HMAC-SHA-256 as the local mode signs
/// them (a method, a key, an expiry and the bound headers).
pub struct MemoryBlobStore {
    blobs: RwLock<HashMap<String, Bytes>>,
    key: [u8; 32],
    base_url: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MemoryBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBlobStore")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryBlobStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBlobStore {
    pub fn new() -> Self {
        Self {
            blobs: RwLock::new(HashMap::new()),
            key: [7; 32],
            base_url: "http://127.0.0.1:8080".to_owned(),
            clock: Arc::new(SystemClock),
        }
    }

    pub fn put(&self, key: &str, bytes: Bytes) {
        if let Ok(mut blobs) = self.blobs.write() {
            blobs.insert(key.to_owned(), bytes);
        }
    }

    fn sign(
        &self,
        method: &str,
        key: &str,
        expires_in: Duration,
        headers: BTreeMap<String, String>,
    ) -> SignedLink {
        let expires_at = self.clock.now()
            + chrono::Duration::from_std(expires_in).unwrap_or(chrono::Duration::MAX);
        let expires = expires_at.timestamp();
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable_hmac(),
        };
        mac.update(method.as_bytes());
        mac.update(b"\n");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        for (name, value) in &headers {
            mac.update(b"\n");
            mac.update(name.as_bytes());
            mac.update(b":");
            mac.update(value.as_bytes());
        }
        let signature = hex::encode(mac.finalize().into_bytes());
        SignedLink {
            method: method.to_owned(),
            url: format!(
                "{}/blobs/{key}?expires={expires}&signature={signature}",
                self.base_url
            ),
            headers,
            expires_at,
        }
    }

    fn blobs(&self) -> Result<std::sync::RwLockReadGuard<'_, HashMap<String, Bytes>>, BlobError> {
        self.blobs
            .read()
            .map_err(|_| BlobError::other("lock poisoned"))
    }
}

/// HMAC accepts keys of any length; this is never reached.
fn unreachable_hmac() -> ! {
    panic!("HMAC-SHA-256 accepts any key length")
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    fn location(&self) -> BlobLocation {
        BlobLocation {
            store: "memory".to_owned(),
            region: None,
        }
    }

    async fn upload_link(&self, spec: &UploadSpec) -> Result<SignedLink, BlobError> {
        let mut headers = BTreeMap::new();
        headers.insert("content-type".to_owned(), spec.content_type.clone());
        headers.insert("content-length".to_owned(), spec.size.to_string());
        if let Some(checksum) = &spec.checksum_sha256 {
            headers.insert("x-kumocms-checksum-sha256".to_owned(), checksum.clone());
        }
        Ok(self.sign("PUT", &spec.blob.key, spec.expires_in, headers))
    }

    async fn download_link(&self, spec: &DownloadSpec) -> Result<SignedLink, BlobError> {
        Ok(self.sign("GET", &spec.blob.key, spec.expires_in, BTreeMap::new()))
    }

    async fn head(&self, blob: &BlobRef) -> Result<Option<BlobHead>, BlobError> {
        Ok(self.blobs()?.get(&blob.key).map(|bytes| BlobHead {
            size: bytes.len() as u64,
            storage_class: StorageClass::Standard,
        }))
    }

    async fn read(&self, blob: &BlobRef) -> Result<BlobStream, BlobError> {
        let bytes = self
            .blobs()?
            .get(&blob.key)
            .cloned()
            .ok_or_else(|| BlobError::NotFound(blob.key.clone()))?;
        Ok(Box::pin(stream::iter([Ok(bytes)])))
    }

    async fn read_small(&self, blob: &BlobRef, limit: usize) -> Result<Option<Bytes>, BlobError> {
        match self.blobs()?.get(&blob.key) {
            None => Ok(None),
            Some(bytes) if bytes.len() > limit => Err(BlobError::TooLarge {
                key: blob.key.clone(),
                limit,
            }),
            Some(bytes) => Ok(Some(bytes.clone())),
        }
    }

    async fn delete(&self, blob: &BlobRef) -> Result<(), BlobError> {
        if let Ok(mut blobs) = self.blobs.write() {
            blobs.remove(&blob.key);
        }
        Ok(())
    }

    async fn delete_document(
        &self,
        id: &DocumentId,
        _location: &BlobLocation,
    ) -> Result<(), BlobError> {
        let prefix = format!("documents/{id}/");
        if let Ok(mut blobs) = self.blobs.write() {
            blobs.retain(|key, _| !key.starts_with(&prefix));
        }
        Ok(())
    }

    /// Copies the bytes; nothing is announced (callers that run an event processor
    /// publish the event themselves).
    async fn copy(&self, from: &BlobRef, to: &BlobRef) -> Result<(), BlobError> {
        let mut blobs = self
            .blobs
            .write()
            .map_err(|_| BlobError::other("lock poisoned"))?;
        let bytes = blobs
            .get(&from.key)
            .cloned()
            .ok_or_else(|| BlobError::NotFound(from.key.clone()))?;
        blobs.insert(to.key.clone(), bytes);
        Ok(())
    }

    async fn archive(&self, _blob: &BlobRef, _class: StorageClass) -> Result<(), BlobError> {
        Ok(())
    }

    async fn restore(
        &self,
        _blob: &BlobRef,
        _days: u16,
        _tier: RestoreTier,
    ) -> Result<(), BlobError> {
        Ok(())
    }

    async fn health(&self) -> Result<(), BlobError> {
        Ok(())
    }
}
