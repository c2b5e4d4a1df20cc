//! In-memory fixtures for the benchmarks: the core's in-memory adapters
//! (`kumocms_core::memory`), a fixed key set, a service over them, and a typical
//! active document.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use kumocms_core::auth::ApiKeys;
use kumocms_core::cursor::CursorCodec;
use kumocms_core::id::DocumentId;
pub use kumocms_core::memory::{MemoryBlobStore, MemoryMetadataStore};
use kumocms_core::ports::{BlobStore, KeySource, SecretsError, SystemClock};
use kumocms_core::service::{DocumentService, ServiceConfig};
use kumocms_core::{BlobLocation, ContentVersion, Document, DocumentStatus, StorageClass};

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
            text: None,
            index_text: None,
            text_error: None,
            title: None,
            author: None,
            created: None,
        }),
        revisions: kumocms_core::revision::History::empty(),
        trash: None,
    }
}

/// `document` as it is after `replaced` replacements: its current content is revision
/// `replaced + 1` and the record keeps every replaced revision (the default retention).
pub fn with_revisions(mut document: Document, replaced: u32) -> Document {
    let Some(current) = document.content.clone() else {
        return document;
    };
    let mut revisions = Vec::new();
    for n in 1..=replaced {
        let mut content = current.clone();
        content.revision = n;
        content.key = kumocms_core::blob_key::content_key(&document.id, n);
        revisions.insert(
            0,
            kumocms_core::revision::RetainedRevision {
                content,
                storage_class: StorageClass::Standard,
                extracted: document.extracted.clone(),
                superseded_at: current.arrived_at,
            },
        );
    }
    document.revisions = kumocms_core::revision::History::Loaded(revisions);
    if let Some(content) = document.content.as_mut() {
        content.revision = replaced + 1;
        content.key = kumocms_core::blob_key::content_key(&document.id, replaced + 1);
    }
    document
}
