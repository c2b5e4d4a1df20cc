//! In-memory adapters for the core's ports. They do what the real adapters do
//! minus the I/O: conditional writes on the version, listings in id order with a
//! continuation position, HMAC-signed links. Benchmarks only; nothing persists.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use futures_util::stream;
use hmac::{Hmac, Mac};
use kumocms_core::auth::ApiKeys;
use kumocms_core::cursor::CursorCodec;
use kumocms_core::id::DocumentId;
pub use kumocms_core::memory::MemoryMetadataStore;
use kumocms_core::ports::{
    BlobError, BlobHead, BlobStore, BlobStream, Clock, DownloadSpec, KeySource, SecretsError,
    SignedLink, SystemClock, UploadSpec,
};
use kumocms_core::service::{DocumentService, ServiceConfig};
use kumocms_core::{
    BlobLocation, BlobRef, ContentVersion, Document, DocumentStatus, RestoreTier, StorageClass,
};
use sha2::Sha256;

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
            .map_err(|_| BlobError::Other("lock poisoned".to_owned()))
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

    /// Copies the bytes; benchmarks run no event processor, so nothing is announced.
    async fn copy(&self, from: &BlobRef, to: &BlobRef) -> Result<(), BlobError> {
        let mut blobs = self
            .blobs
            .write()
            .map_err(|_| BlobError::Other("lock poisoned".to_owned()))?;
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

/// A fixed key set.
#[derive(Debug, Clone)]
pub struct StaticKeys(pub ApiKeys);

#[async_trait]
impl KeySource for StaticKeys {
    async fn api_keys(&self) -> Result<ApiKeys, SecretsError> {
        Ok(self.0.clone())
    }
}

/// A service over in-memory metadata and the given blob store.
pub fn service(metadata: Arc<MemoryMetadataStore>, blobs: Arc<dyn BlobStore>) -> DocumentService {
    DocumentService::new(
        metadata,
        blobs,
        Arc::new(SystemClock),
        CursorCodec::new(b"kumocms bench cursor key"),
        ServiceConfig::default(),
    )
}

/// An active document as the event processor leaves it: content arrived, metadata
/// extracted, a few user metadata fields.
pub fn active_document(location: &BlobLocation, n: usize) -> Document {
    let id = DocumentId::new();
    let now = Utc::now();
    let mut metadata = serde_json::Map::new();
    metadata.insert("author".to_owned(), serde_json::json!("Ada Lovelace"));
    metadata.insert("department".to_owned(), serde_json::json!("engineering"));
    metadata.insert("tags".to_owned(), serde_json::json!(["bench", "report"]));
    metadata.insert("sequence".to_owned(), serde_json::json!(n));
    Document {
        schema_version: kumocms_core::SCHEMA_VERSION,
        id,
        version: 2,
        status: DocumentStatus::Active,
        document_type: "report".to_owned(),
        created_at: now,
        updated_at: now,
        storage_class: StorageClass::Standard,
        metadata,
        content: Some(ContentVersion {
            revision: 1,
            key: kumocms_core::blob_key::content_key(&id, 1),
            location: location.clone(),
            file_name: format!("quarterly-report-{n}.pdf"),
            content_type: "application/pdf".to_owned(),
            size: 482_133,
            checksum_sha256: Some(
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
            ),
            arrived_at: now,
        }),
        pending_upload: None,
        restore: None,
        extracted: Some(kumocms_core::Extracted {
            size: 482_133,
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
            sniffed_content_type: Some("application/pdf".to_owned()),
            content_type_mismatch: false,
            page_count: Some(12),
            width: None,
            height: None,
            extracted_at: now,
            sidecar_applied: false,
        }),
        revisions: Vec::new(),
        trash: None,
    }
}

/// `document` as it is after `replaced` replacements: its current content is revision
/// `replaced + 1` and the record keeps every replaced revision (the default retention).
pub fn with_revisions(mut document: Document, replaced: u32) -> Document {
    let Some(current) = document.content.clone() else {
        return document;
    };
    for n in 1..=replaced {
        let mut content = current.clone();
        content.revision = n;
        content.key = kumocms_core::blob_key::content_key(&document.id, n);
        document.revisions.insert(
            0,
            kumocms_core::revision::RetainedRevision {
                content,
                storage_class: StorageClass::Standard,
                extracted: document.extracted.clone(),
                superseded_at: current.arrived_at,
            },
        );
    }
    if let Some(content) = document.content.as_mut() {
        content.revision = replaced + 1;
        content.key = kumocms_core::blob_key::content_key(&document.id, replaced + 1);
    }
    document
}
