//! In-memory adapters: a [`MetadataStore`] that does what the real stores do
//! (conditional writes on the version, listings in id order with a continuation
//! position, expired pending uploads) and a [`BlobStore`] with HMAC-signed links,
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

/// The records, keyed by id, for [`MemoryMetadataStore::snapshot`] and `restore`.
pub type Records = BTreeMap<String, Document>;

fn poisoned<T>(_: T) -> StoreError {
    StoreError::other("lock poisoned")
}

/// Records in a `BTreeMap` keyed by id, so listings come in id order as in the real
/// stores.
#[derive(Debug, Default)]
pub struct MemoryMetadataStore {
    records: RwLock<Records>,
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

    /// Stores a record as it is, replacing any with the same id (for seeding).
    pub fn put(&self, document: Document) {
        self.records
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(document.id.to_string(), document);
    }

    /// A copy of every record, to [`restore`](Self::restore) later.
    pub fn snapshot(&self) -> Records {
        self.records
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces every record with `records`.
    pub fn restore(&self, records: Records) {
        *self.records.write().unwrap_or_else(PoisonError::into_inner) = records;
    }
}

#[async_trait]
impl MetadataStore for MemoryMetadataStore {
    async fn insert(&self, document: &Document) -> Result<(), StoreError> {
        let mut records = self.records.write().map_err(poisoned)?;
        let id = document.id.to_string();
        if records.contains_key(&id) {
            return Err(StoreError::Conflict);
        }
        records.insert(id, document.clone());
        Ok(())
    }

    async fn get(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        let records = self.records.read().map_err(poisoned)?;
        Ok(records.get(&id.to_string()).cloned())
    }

    async fn update(&self, document: &Document, expected_version: u64) -> Result<(), StoreError> {
        let mut records = self.records.write().map_err(poisoned)?;
        match records.get_mut(&document.id.to_string()) {
            Some(stored) if stored.version == expected_version => {
                *stored = document.clone();
                stored.version = expected_version + 1;
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn delete(&self, id: &DocumentId, expected_version: u64) -> Result<(), StoreError> {
        let mut records = self.records.write().map_err(poisoned)?;
        let key = id.to_string();
        match records.get(&key) {
            Some(stored) if stored.version == expected_version => {
                records.remove(&key);
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
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
            .filter(|d| query.status.is_none_or(|s| d.status == s))
            .filter(|d| {
                query
                    .document_type
                    .as_deref()
                    .is_none_or(|t| d.document_type == t)
            })
        {
            if documents.len() == query.limit {
                more = true;
                break;
            }
            documents.push(document.clone());
        }
        let next = if more {
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
        let records = self.records.read().map_err(poisoned)?;
        Ok(records
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
