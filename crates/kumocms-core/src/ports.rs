//! The ports: what the core needs from the outside world. `kumocms-local` implements
//! them with SQLite and files, `kumocms-aws` with DynamoDB, S3 and Secrets Manager.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::Serialize;

use crate::auth::ApiKeys;
use crate::document::{BlobLocation, BlobRef, Document, DocumentStatus, RestoreTier, StorageClass};
use crate::events::StorageEvent;
use crate::id::DocumentId;
use crate::search::{SearchPage, SearchQuery};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The conditional write lost: the record's version was not the expected one,
    /// or (on insert) the record already exists, or (on update) it is gone.
    #[error("conditional write failed")]
    Conflict,
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
    /// The document's home region (see [`crate::home_region`]) cannot be reached, so
    /// its record cannot be changed from here until it is back.
    #[error("the home region {region} of the document is unreachable: {detail}")]
    HomeRegionUnavailable { region: String, detail: String },
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A write of a record read for display, without its history: refused, as it
    /// would drop every retained revision. A bug in the caller.
    #[error(transparent)]
    HistoryNotLoaded(#[from] crate::revision::HistoryNotLoaded),
    /// Anything else. `message` is complete on its own (a log line shows only it);
    /// `source` is the error underneath, when there is one, for `source()` chains
    /// and callers that inspect it.
    #[error("metadata store error: {message}")]
    Other {
        message: String,
        #[source]
        source: Option<ErrorSource>,
    },
}

impl StoreError {
    /// An [`Other`](Self::Other) error with no error underneath.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other {
            message: message.into(),
            source: None,
        }
    }

    /// An [`Other`](Self::Other) error caused by `source`.
    pub fn other_from(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Other {
            message: message.into(),
            source: Some(ErrorSource::new(source)),
        }
    }
}

/// The error underneath a [`StoreError::Other`] or [`BlobError::Other`] (a SQLite,
/// I/O, JSON or SDK error). Shared, so that those errors stay `Clone`; two are equal
/// when they say the same thing. Displays and chains exactly as the error it holds.
#[derive(Clone)]
pub struct ErrorSource(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl ErrorSource {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(error))
    }

    /// The error itself, e.g. to `downcast_ref` it.
    pub fn get(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl std::fmt::Debug for ErrorSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for ErrorSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for ErrorSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for ErrorSource {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for ErrorSource {}

/// A listing request. With a `document_type`, pages come in id order (oldest first,
/// as ids are ULIDs); without one, in the store's own order (a DynamoDB Scan), each
/// record exactly once across pages.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub document_type: Option<String>,
    pub status: Option<DocumentStatus>,
    /// 1..=1000, checked by the service.
    pub limit: usize,
    /// The store position to continue after, from a previous page.
    pub after: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub documents: Vec<Document>,
    /// Where the next page starts, when there may be one.
    pub next: Option<String>,
}

/// Document records, with conditional writes on `Document::version`.
#[async_trait]
pub trait MetadataStore: Send + Sync {
    /// Stores a new record; `Conflict` if one with the same id exists. Every write
    /// (`insert`, `update`) stores the record's history apart from it, and refuses
    /// `HistoryNotLoaded` a record whose history was not loaded.
    async fn insert(&self, document: &Document) -> Result<(), StoreError>;
    /// The latest record, with its history loaded: what a read-modify-write must
    /// start from.
    async fn get(&self, id: &DocumentId) -> Result<Option<Document>, StoreError>;
    /// A record for display, when no write depends on it: a store with replicas may
    /// answer from the nearest one, which can lag behind, and a store may leave the
    /// history out ([`History::NotLoaded`](crate::revision::History)), as listings and
    /// searches do. Defaults to [`get`](Self::get).
    async fn get_nearby(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        self.get(id).await
    }
    /// Replaces the record if its stored version is `expected_version`; the new
    /// record carries `expected_version + 1`. `Conflict` otherwise (also when gone).
    async fn update(&self, document: &Document, expected_version: u64) -> Result<(), StoreError>;
    /// Deletes the record if its stored version is `expected_version`.
    async fn delete(&self, id: &DocumentId, expected_version: u64) -> Result<(), StoreError>;
    /// A page of records for display: a store may leave their history out
    /// ([`History::NotLoaded`](crate::revision::History)).
    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError>;
    /// [`list`](Self::list) with each record's history loaded, for a caller that
    /// changes or purges what it reads (the sweeper). The default reads each listed
    /// record again with [`get`](Self::get) (skipping those gone since); a store that
    /// can read the history with the page overrides it.
    async fn list_with_history(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        let page = self.list(query).await?;
        let mut documents = Vec::with_capacity(page.documents.len());
        for listed in page.documents {
            if let Some(document) = self.get(&listed.id).await? {
                documents.push(document);
            }
        }
        Ok(ListPage {
            documents,
            next: page.next,
        })
    }
    /// Answers a query of `GET /documents` (filters, `q`, sort), a page after
    /// `query.after`. The default evaluates it in the core over [`list`](Self::list)
    /// ([`crate::search::scan_search`]); a store with an index of its own, or a
    /// dedicated search engine, overrides it and must answer the same.
    async fn search(&self, query: &SearchQuery) -> Result<SearchPage, StoreError> {
        crate::search::scan_search(self, query).await
    }
    /// Records whose pending upload expired before `now` (for stores without a TTL of
    /// their own; DynamoDB's TTL makes this unnecessary there).
    async fn expired_pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Document>, StoreError>;
    async fn health(&self) -> Result<(), StoreError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} not found")]
    NotFound(String),
    #[error("blob {key} is larger than {limit} bytes")]
    TooLarge { key: String, limit: usize },
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
    /// The store has no multipart upload with this id (never started, completed or
    /// aborted).
    #[error("no multipart upload {0}")]
    UploadNotFound(String),
    /// The store refused what the client sent (a multipart upload whose bytes do
    /// not match what was declared); `code` names the problem.
    #[error("{message}")]
    Rejected { code: &'static str, message: String },
    /// Anything else; as [`StoreError::Other`].
    #[error("blob store error: {message}")]
    Other {
        message: String,
        #[source]
        source: Option<ErrorSource>,
    },
}

impl BlobError {
    /// An [`Other`](Self::Other) error with no error underneath.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other {
            message: message.into(),
            source: None,
        }
    }

    /// An [`Other`](Self::Other) error caused by `source`.
    pub fn other_from(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Other {
            message: message.into(),
            source: Some(ErrorSource::new(source)),
        }
    }
}

/// A link a client uses directly, without the API: a presigned S3 URL, or a local
/// HMAC-signed URL served by `kumocms serve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SignedLink {
    /// The HTTP method to use.
    pub method: String,
    pub url: String,
    /// Headers the client must send exactly as given.
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// What an upload link binds: the client must send exactly this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSpec {
    pub blob: BlobRef,
    pub content_type: String,
    pub size: u64,
    pub checksum_sha256: Option<String>,
    pub expires_in: Duration,
}

/// What a multipart upload binds: the whole file's size, type and checksum, and how
/// it is cut into parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartSpec {
    pub blob: BlobRef,
    pub content_type: String,
    pub size: u64,
    pub checksum_sha256: Option<String>,
    pub part_size: u64,
    pub part_count: u32,
}

/// One part's link: the client must send exactly `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSpec {
    pub blob: BlobRef,
    pub upload_id: String,
    pub part_number: u32,
    pub size: u64,
    pub expires_in: Duration,
}

/// A part the store has received whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReceivedPart {
    pub part_number: u32,
    pub size: u64,
    /// The store's tag of the part's bytes (S3's ETag; locally a CRC-32 of them).
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadSpec {
    pub blob: BlobRef,
    pub file_name: String,
    pub content_type: String,
    pub expires_in: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHead {
    pub size: u64,
    pub storage_class: StorageClass,
}

/// The size and SHA-256 of a stored blob as the store itself established them: it
/// hashed the bytes as it wrote them, or checked them against a checksum before
/// storing anything. Never a value a client declared that nobody checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedContent {
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Bytes, BlobError>> + Send>>;

/// Content storage.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Where this store puts new content.
    fn location(&self) -> BlobLocation;
    async fn upload_link(&self, spec: &UploadSpec) -> Result<SignedLink, BlobError>;
    async fn download_link(&self, spec: &DownloadSpec) -> Result<SignedLink, BlobError>;
    async fn head(&self, blob: &BlobRef) -> Result<Option<BlobHead>, BlobError>;
    /// Streams the whole blob.
    async fn read(&self, blob: &BlobRef) -> Result<BlobStream, BlobError>;
    /// Reads a small blob whole; `None` when absent, `TooLarge` past `limit` bytes.
    async fn read_small(&self, blob: &BlobRef, limit: usize) -> Result<Option<Bytes>, BlobError>;
    async fn delete(&self, blob: &BlobRef) -> Result<(), BlobError>;
    /// Deletes every blob under `documents/<id>/` at `location`.
    async fn delete_document(
        &self,
        id: &DocumentId,
        location: &BlobLocation,
    ) -> Result<(), BlobError>;
    /// Copies the bytes of a readable blob to `to`, in the standard class, inside the
    /// store (nothing goes through the caller), and announces `to` with an
    /// `ObjectCreated` event like an upload (S3 does so itself for a CopyObject).
    async fn copy(&self, from: &BlobRef, to: &BlobRef) -> Result<(), BlobError>;
    /// Moves the blob to an archive storage class, keeping its bytes and metadata.
    async fn archive(&self, blob: &BlobRef, class: StorageClass) -> Result<(), BlobError>;
    /// Asks for a temporary readable copy of an archived blob for `days` days.
    async fn restore(&self, blob: &BlobRef, days: u16, tier: RestoreTier) -> Result<(), BlobError>;
    async fn health(&self) -> Result<(), BlobError>;

    /// The blob's size and SHA-256 when the store itself verified them (see
    /// [`VerifiedContent`]), so that the event processor need not read and hash the
    /// whole blob again; `None` when it did not (the default), and then the processor
    /// does.
    async fn verified_content(&self, blob: &BlobRef) -> Result<Option<VerifiedContent>, BlobError> {
        let _ = blob;
        Ok(None)
    }

    /// Starts a multipart upload to `spec.blob`; returns its upload id.
    async fn start_multipart(&self, spec: &MultipartSpec) -> Result<String, BlobError> {
        let _ = spec;
        Err(BlobError::other(
            "this blob store takes no multipart uploads",
        ))
    }
    /// A link to upload one part; may be asked for again at any time.
    async fn part_link(&self, spec: &PartSpec) -> Result<SignedLink, BlobError> {
        let _ = spec;
        Err(BlobError::other(
            "this blob store takes no multipart uploads",
        ))
    }
    /// The parts received whole so far, by part number; `UploadNotFound` when the
    /// upload is unknown, completed or aborted.
    async fn list_parts(
        &self,
        blob: &BlobRef,
        upload_id: &str,
    ) -> Result<Vec<ReceivedPart>, BlobError> {
        let _ = (blob, upload_id);
        Err(BlobError::other(
            "this blob store takes no multipart uploads",
        ))
    }
    /// Joins `parts` (every part, in order) into the blob and announces it with an
    /// `ObjectCreated` event like an upload. A store that can check the whole file
    /// against `spec` (size, checksum) does so and answers `Rejected` on a mismatch,
    /// storing nothing; otherwise the event processor checks it before promotion.
    async fn complete_multipart(
        &self,
        spec: &MultipartSpec,
        upload_id: &str,
        parts: &[ReceivedPart],
    ) -> Result<(), BlobError> {
        let _ = (spec, upload_id, parts);
        Err(BlobError::other(
            "this blob store takes no multipart uploads",
        ))
    }
    /// Drops a multipart upload and every part received; unknown ids are no error.
    async fn abort_multipart(&self, blob: &BlobRef, upload_id: &str) -> Result<(), BlobError> {
        let _ = (blob, upload_id);
        Err(BlobError::other(
            "this blob store takes no multipart uploads",
        ))
    }
}

/// Delivery of storage events (content arrived, restore completed or expired) to
/// the event processor. On AWS, S3 and EventBridge play this part.
#[async_trait]
pub trait EventSink: Send + Sync {
    async fn publish(&self, event: StorageEvent);
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("the API key secret is unavailable: {0}")]
    Unavailable(String),
    #[error("the API key secret is malformed: {0}")]
    Malformed(String),
}

/// Where the accepted API keys come from.
#[async_trait]
pub trait KeySource: Send + Sync {
    async fn api_keys(&self) -> Result<ApiKeys, SecretsError>;
}

/// The time, as a port so that expiry and TTL logic can be tested.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
