//! The document operations behind every API route. Each state change reads the
//! record, checks the lifecycle, and writes conditionally on the version it read.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::blob_key;
use crate::cursor::{CursorCodec, ListFilter};
use crate::document::{
    BlobRef, Document, DocumentStatus, PendingUpload, RestoreState, RestoreTier, StorageClass,
};
use crate::error::CoreError;
use crate::id::DocumentId;
use crate::lifecycle::{Transition, content_unreadable, next_status};
use crate::multipart::{self, MultipartState, UploadMode};
use crate::ports::{
    BlobStore, Clock, DownloadSpec, ListQuery, MetadataStore, SignedLink, UploadSpec,
};
use crate::revision::{self, Retention};
use crate::validate::{self, Limits, ValidationError};

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub limits: Limits,
    /// How long an upload link stays valid.
    pub upload_link_ttl: Duration,
    /// How long a download link stays valid.
    pub download_link_ttl: Duration,
    /// How long a pending upload may wait for its content before it is discarded.
    pub pending_upload_ttl: Duration,
    /// How long replaced revisions and deleted documents are kept.
    pub retention: Retention,
    /// The most a listing page's records may weigh as JSON (`page_budget`).
    pub max_page_bytes: usize,
    /// From this size on, an upload is multipart unless the client asks for a
    /// single PUT ([`crate::multipart`]).
    pub multipart_threshold: u64,
}

/// The default of [`ServiceConfig::pending_upload_ttl`] (a day).
pub const DEFAULT_PENDING_UPLOAD_TTL: Duration = Duration::from_secs(24 * 3600);

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            upload_link_ttl: Duration::from_secs(3600),
            download_link_ttl: Duration::from_secs(300),
            pending_upload_ttl: DEFAULT_PENDING_UPLOAD_TTL,
            retention: Retention::default(),
            max_page_bytes: crate::page_budget::DEFAULT_MAX_PAGE_BYTES,
            multipart_threshold: crate::multipart::DEFAULT_MULTIPART_THRESHOLD,
        }
    }
}

/// What `POST /documents` receives.
#[derive(Debug, Clone, Default)]
pub struct NewDocument {
    pub file_name: String,
    pub file_size: u64,
    pub content_type: Option<String>,
    pub checksum_sha256: Option<String>,
    pub document_type: Option<String>,
    pub metadata: Option<Value>,
    /// Single PUT or parts; chosen by size when absent.
    pub upload_mode: Option<UploadMode>,
    /// The part size the client proposes (multipart only).
    pub part_size: Option<u64>,
}

/// What `PUT /documents/{id}` receives: the next content version.
#[derive(Debug, Clone, Default)]
pub struct NewContent {
    /// Keeps the current name when absent.
    pub file_name: Option<String>,
    pub file_size: u64,
    pub content_type: Option<String>,
    pub checksum_sha256: Option<String>,
    /// Single PUT or parts; chosen by size when absent.
    pub upload_mode: Option<UploadMode>,
    /// The part size the client proposes (multipart only).
    pub part_size: Option<u64>,
}

/// How the client sends the content it announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadInstructions {
    /// One PUT through this link.
    Single(SignedLink),
    /// Parts through links from `POST /documents/{id}/uploads/{upload_id}/parts`,
    /// then `…/complete`; abandoned (and cleaned up) at `expires_at`.
    Multipart {
        upload_id: String,
        part_size: u64,
        part_count: u32,
        expires_at: chrono::DateTime<chrono::Utc>,
    },
}

impl UploadInstructions {
    /// The link of a single-PUT upload.
    pub fn single_link(&self) -> Option<&SignedLink> {
        match self {
            Self::Single(link) => Some(link),
            Self::Multipart { .. } => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Upload {
    pub document: Document,
    pub upload: UploadInstructions,
}

#[derive(Debug, Clone)]
pub struct DocumentView {
    pub document: Document,
    pub download: Option<SignedLink>,
}

#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub metadata: Option<Map<String, Value>>,
    pub document_type: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub document_type: Option<String>,
    pub status: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub documents: Vec<Document>,
    pub next_cursor: Option<String>,
}

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;
/// How often an operation that merges into the latest record retries a lost race.
pub(crate) const MERGE_ATTEMPTS: usize = 5;

pub struct DocumentService {
    pub(crate) metadata: Arc<dyn MetadataStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cursors: CursorCodec,
    pub(crate) config: ServiceConfig,
    /// Where each sweep of `purge_expired` continues (listing positions).
    sweep_positions: std::sync::Mutex<SweepPositions>,
}

/// The two walks of `purge_expired`, each resumed by the next call where this one
/// stopped, and started again from the beginning after the last page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sweep {
    /// Records in the trash, for purging.
    Trash,
    /// Every record, for the revision retention.
    Revisions,
}

#[derive(Debug, Default)]
struct SweepPositions {
    trash: Option<String>,
    revisions: Option<String>,
}

pub(crate) fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// A configured duration as a `chrono` one (saturating), for adapters' sweeps.
pub fn chrono_duration_of(duration: Duration) -> chrono::Duration {
    chrono_duration(duration)
}

impl DocumentService {
    pub fn new(
        metadata: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
        clock: Arc<dyn Clock>,
        cursors: CursorCodec,
        config: ServiceConfig,
    ) -> Self {
        Self {
            metadata,
            blobs,
            clock,
            cursors,
            config,
            sweep_positions: std::sync::Mutex::default(),
        }
    }

    pub(crate) fn sweep_position(&self, sweep: Sweep) -> Option<String> {
        self.sweep_positions
            .lock()
            .map(|p| match sweep {
                Sweep::Trash => p.trash.clone(),
                Sweep::Revisions => p.revisions.clone(),
            })
            .unwrap_or_default()
    }

    pub(crate) fn set_sweep_position(&self, sweep: Sweep, position: Option<String>) {
        if let Ok(mut current) = self.sweep_positions.lock() {
            match sweep {
                Sweep::Trash => current.trash = position,
                Sweep::Revisions => current.revisions = position,
            }
        }
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    pub fn metadata_store(&self) -> &Arc<dyn MetadataStore> {
        &self.metadata
    }

    pub fn blob_store(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub(crate) async fn load(&self, id: &DocumentId) -> Result<Document, CoreError> {
        self.metadata
            .get(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(id.to_string()))
    }

    /// [`load`](Self::load) for a read that no write depends on: may be served by a
    /// nearby replica (multi-region), so it keeps working when the home region is down.
    async fn load_nearby(&self, id: &DocumentId) -> Result<Document, CoreError> {
        self.metadata
            .get_nearby(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(id.to_string()))
    }

    /// Writes `document` if the stored version is still the one it was read at.
    pub(crate) async fn save(&self, mut document: Document) -> Result<Document, CoreError> {
        let expected = document.version;
        document.version += 1;
        document.updated_at = self.clock.now();
        self.metadata.update(&document, expected).await?;
        Ok(document)
    }

    fn pending_upload(
        &self,
        id: &DocumentId,
        revision: u32,
        file_name: String,
        file_size: u64,
        content_type: Option<&str>,
        checksum: Option<&str>,
    ) -> Result<PendingUpload, ValidationError> {
        let limits = &self.config.limits;
        Ok(PendingUpload {
            revision,
            key: blob_key::content_key(id, revision),
            location: self.blobs.location(),
            file_name: validate::file_name(&file_name)?,
            content_type: validate::content_type(content_type)?,
            size: validate::file_size(file_size, limits)?,
            checksum_sha256: validate::checksum_sha256(checksum)?,
            expires_at: self.clock.now() + chrono_duration(self.config.pending_upload_ttl),
            multipart: None,
        })
    }

    /// Whether `size` bytes go in parts, and how they are cut: the client's choice
    /// when it made one (`single` is refused past S3's single-PUT limit), otherwise
    /// parts from the configured threshold on.
    fn part_plan(
        &self,
        size: u64,
        mode: Option<UploadMode>,
        part_size: Option<u64>,
    ) -> Result<Option<multipart::PartPlan>, ValidationError> {
        let wants_parts = match mode {
            Some(UploadMode::Multipart) => true,
            Some(UploadMode::Single) => {
                if size > multipart::MAX_SINGLE_UPLOAD_SIZE {
                    return Err(ValidationError::invalid(
                        "invalid_upload_mode",
                        format!(
                            "upload_mode \"single\" takes at most {} bytes; send \"multipart\" (or leave upload_mode out) for larger files",
                            multipart::MAX_SINGLE_UPLOAD_SIZE
                        ),
                    ));
                }
                if part_size.is_some() {
                    return Err(ValidationError::invalid(
                        "invalid_part_size",
                        "part_size is only for upload_mode \"multipart\"; leave it out for a single upload",
                    ));
                }
                false
            }
            None => {
                part_size.is_some()
                    || size >= self.config.multipart_threshold
                    || size > multipart::MAX_SINGLE_UPLOAD_SIZE
            }
        };
        if !wants_parts {
            return Ok(None);
        }
        Ok(Some(multipart::plan(size, part_size)?))
    }

    /// Issues what the client uploads `pending` with: a signed PUT, or a multipart
    /// upload started in the store (recorded in `pending.multipart`).
    async fn begin_upload(
        &self,
        pending: &mut PendingUpload,
        plan: Option<multipart::PartPlan>,
    ) -> Result<UploadInstructions, CoreError> {
        let Some(plan) = plan else {
            return Ok(UploadInstructions::Single(self.upload_link(pending).await?));
        };
        let spec = multipart_spec(pending, plan.part_size, plan.part_count);
        let upload_id = self.blobs.start_multipart(&spec).await?;
        pending.multipart = Some(MultipartState {
            upload_id: upload_id.clone(),
            part_size: plan.part_size,
            part_count: plan.part_count,
        });
        Ok(UploadInstructions::Multipart {
            upload_id,
            part_size: plan.part_size,
            part_count: plan.part_count,
            expires_at: pending.expires_at,
        })
    }

    async fn upload_link(&self, pending: &PendingUpload) -> Result<SignedLink, CoreError> {
        let spec = UploadSpec {
            blob: BlobRef {
                key: pending.key.clone(),
                location: pending.location.clone(),
            },
            content_type: pending.content_type.clone(),
            size: pending.size,
            checksum_sha256: pending.checksum_sha256.clone(),
            expires_in: self
                .config
                .upload_link_ttl
                .min(self.config.pending_upload_ttl),
        };
        Ok(self.blobs.upload_link(&spec).await?)
    }

    pub async fn create(&self, request: NewDocument) -> Result<Upload, CoreError> {
        let id = DocumentId::new();
        let mut pending = self.pending_upload(
            &id,
            1,
            request.file_name,
            request.file_size,
            request.content_type.as_deref(),
            request.checksum_sha256.as_deref(),
        )?;
        let document_type = validate::document_type(request.document_type.as_deref())?;
        let metadata = validate::metadata(request.metadata, &self.config.limits)?;
        let plan = self.part_plan(pending.size, request.upload_mode, request.part_size)?;
        let upload = self.begin_upload(&mut pending, plan).await?;
        let now = self.clock.now();
        let document = Document {
            schema_version: crate::document::SCHEMA_VERSION,
            id,
            version: 1,
            status: DocumentStatus::PendingUpload,
            document_type,
            created_at: now,
            updated_at: now,
            storage_class: StorageClass::Standard,
            metadata,
            content: None,
            pending_upload: Some(pending),
            restore: None,
            extracted: None,
            revisions: crate::revision::History::empty(),
            trash: None,
        };
        self.metadata.insert(&document).await?;
        Ok(Upload { document, upload })
    }

    pub async fn replace(&self, id: &DocumentId, request: NewContent) -> Result<Upload, CoreError> {
        self.replace_if(id, request, None).await
    }

    /// `PUT /documents/{id}`, only if the record is still at `if_match` when given.
    pub async fn replace_if(
        &self,
        id: &DocumentId,
        request: NewContent,
        if_match: Option<u64>,
    ) -> Result<Upload, CoreError> {
        let mut document = self.load(id).await?;
        if if_match.is_some_and(|version| version != document.version) {
            return Err(CoreError::PreconditionFailed);
        }
        next_status(document.status, Transition::Replace)?;
        // Numbers are never reused while a revision with it is kept.
        let revision = revision::latest_number(&document)? + 1;
        let file_name = request
            .file_name
            .or_else(|| document.content.as_ref().map(|c| c.file_name.clone()))
            .or_else(|| {
                document
                    .pending_upload
                    .as_ref()
                    .map(|p| p.file_name.clone())
            })
            .unwrap_or_default();
        let mut pending = self.pending_upload(
            id,
            revision,
            file_name,
            request.file_size,
            request.content_type.as_deref(),
            request.checksum_sha256.as_deref(),
        )?;
        if let Some(home) = document.home_location() {
            // Every upload goes to the bucket of the first, whichever region the
            // request came to: its region stays the document's home, and that
            // region's events function promotes the content.
            pending.location = home.clone();
        }
        let plan = self.part_plan(pending.size, request.upload_mode, request.part_size)?;
        let upload = self.begin_upload(&mut pending, plan).await?;
        let superseded = document.pending_blob();
        let superseded_parts = document
            .pending_upload
            .as_ref()
            .and_then(|p| p.multipart.as_ref())
            .map(|m| m.upload_id.clone());
        document.pending_upload = Some(pending);
        let document = match self.save(document).await {
            Err(CoreError::Conflict) if if_match.is_some() => {
                return Err(CoreError::PreconditionFailed);
            }
            other => other?,
        };
        if let (Some(blob), Some(upload_id)) = (&superseded, &superseded_parts)
            && let Err(error) = self.blobs.abort_multipart(blob, upload_id).await
        {
            tracing::warn!(%error, key = %blob.key, "could not abort a superseded multipart upload");
        }
        if let Some(blob) = superseded {
            // An upload to the superseded link may already have landed; it is
            // never promoted, so drop it now rather than wait for its event.
            if let Err(error) = self.blobs.delete(&blob).await {
                tracing::warn!(%error, key = %blob.key, "could not delete a superseded upload");
            }
        }
        Ok(Upload { document, upload })
    }

    pub async fn get(&self, id: &DocumentId) -> Result<DocumentView, CoreError> {
        let document = self.load_nearby(id).await?;
        let download = match content_unreadable(document.status) {
            None => Some(self.download_link(&document).await?),
            Some(_) => None,
        };
        Ok(DocumentView { document, download })
    }

    async fn download_link(&self, document: &Document) -> Result<SignedLink, CoreError> {
        let content = document.content.as_ref().ok_or_else(|| {
            CoreError::Internal(format!("{} is readable but has no content", document.id))
        })?;
        let spec = DownloadSpec {
            blob: BlobRef {
                key: content.key.clone(),
                location: content.location.clone(),
            },
            file_name: content.file_name.clone(),
            content_type: content.content_type.clone(),
            expires_in: self.config.download_link_ttl,
        };
        Ok(self.blobs.download_link(&spec).await?)
    }

    /// The link `GET /documents/{id}/content` redirects to.
    pub async fn content_link(&self, id: &DocumentId) -> Result<SignedLink, CoreError> {
        let document = self.load_nearby(id).await?;
        if let Some(refusal) = content_unreadable(document.status) {
            return Err(refusal.into());
        }
        self.download_link(&document).await
    }

    pub async fn list(&self, request: ListRequest) -> Result<Page, CoreError> {
        let limit = request.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ValidationError::invalid(
                "invalid_limit",
                "limit must be between 1 and 1000",
            )
            .into());
        }
        let status = match request.status.as_deref() {
            None => None,
            Some(text) => Some(DocumentStatus::parse(text).ok_or_else(|| {
                ValidationError::invalid(
                    "invalid_status",
                    "status must be one of pending_upload, active, archived, restoring, restored, deleted",
                )
            })?),
        };
        let document_type = match request.document_type.as_deref() {
            None => None,
            Some(text) => Some(validate::document_type(Some(text))?),
        };
        let filter = ListFilter {
            document_type: document_type.clone(),
            status: status.map(|s| s.as_str().to_owned()),
            query: None,
        };
        let after = match request.cursor.as_deref() {
            None => None,
            Some(cursor) => Some(self.cursors.decode(cursor, &filter)?),
        };
        let query = ListQuery {
            document_type,
            status,
            limit,
            after,
        };
        let page = crate::page_budget::list_within(
            self.metadata.as_ref(),
            query,
            self.config.max_page_bytes,
        )
        .await?;
        // Documents in the trash are listed only when asked for (`status=deleted`);
        // a page may come back shorter than `limit`, with a cursor, because of it.
        let mut documents = page.documents;
        if status.is_none() {
            documents.retain(|d| d.status != DocumentStatus::Deleted);
        }
        Ok(Page {
            documents,
            next_cursor: page
                .next
                .map(|position| self.cursors.encode(&position, &filter)),
        })
    }

    /// Merges `patch` into the record. With `if_match`, the write happens only if the
    /// record is still at that version (412 otherwise); without it, a lost race is
    /// retried on the latest record, since a merge does not depend on what it replaced.
    pub async fn patch(
        &self,
        id: &DocumentId,
        patch: Patch,
        if_match: Option<u64>,
    ) -> Result<Document, CoreError> {
        let document_type = patch
            .document_type
            .as_deref()
            .map(|t| validate::document_type(Some(t)))
            .transpose()?;
        for _ in 0..MERGE_ATTEMPTS {
            let mut document = self.load(id).await?;
            if if_match.is_some_and(|version| version != document.version) {
                return Err(CoreError::PreconditionFailed);
            }
            if document.status == DocumentStatus::Deleted
                && let Some(refusal) = content_unreadable(document.status)
            {
                return Err(refusal.into());
            }
            let unchanged = document.clone();
            if let Some(metadata) = patch.metadata.clone() {
                document.metadata =
                    validate::merge_metadata(&document.metadata, metadata, &self.config.limits)?;
            }
            if let Some(document_type) = &document_type {
                document.document_type = document_type.clone();
            }
            if document == unchanged {
                // Nothing to change (`{}`, or values it already has): no write, no new version.
                return Ok(document);
            }
            match self.save(document).await {
                Err(CoreError::Conflict) if if_match.is_some() => {
                    return Err(CoreError::PreconditionFailed);
                }
                Err(CoreError::Conflict) => continue,
                other => return other,
            }
        }
        Err(CoreError::Conflict)
    }

    /// `DELETE /documents/{id}` with no options: into the trash (see
    /// [`DocumentService::delete_with`]).
    pub async fn delete(&self, id: &DocumentId) -> Result<(), CoreError> {
        self.delete_with(id, crate::history::DeleteOptions::default())
            .await
    }

    /// Claims the archived status with a conditional write, then moves the content;
    /// if the move fails the claim is undone (re-read and retried if other changes
    /// landed meanwhile), so the record never says archived for content that is not.
    pub async fn archive(
        &self,
        id: &DocumentId,
        class: StorageClass,
    ) -> Result<Document, CoreError> {
        if class == StorageClass::Standard {
            return Err(ValidationError::invalid(
                "invalid_storage_class",
                "storage_class must be GLACIER or DEEP_ARCHIVE",
            )
            .into());
        }
        let mut document = self.load(id).await?;
        document.status = next_status(document.status, Transition::Archive)?;
        let blob = document
            .content_blob()
            .ok_or_else(|| CoreError::Internal(format!("{id} is active but has no content")))?;
        let previous_class = document.storage_class;
        document.storage_class = class;
        let archived = self.save(document).await?;
        if let Err(error) = self.blobs.archive(&blob, class).await {
            self.undo_claim(id, DocumentStatus::Archived, "archive", |undo| {
                undo.status = DocumentStatus::Active;
                undo.storage_class = previous_class;
            })
            .await;
            return Err(error.into());
        }
        Ok(archived)
    }

    /// Claims the restoring status, then asks the store for a restore (undone on
    /// failure, as for archive).
    pub async fn restore(
        &self,
        id: &DocumentId,
        days: u32,
        tier: RestoreTier,
    ) -> Result<Document, CoreError> {
        let days = validate::restore_days(days)?;
        let mut document = self.load(id).await?;
        let previous_status = document.status;
        document.status = next_status(document.status, Transition::RequestRestore)?;
        let blob = document
            .content_blob()
            .ok_or_else(|| CoreError::Internal(format!("{id} is archived but has no content")))?;
        document.restore = Some(RestoreState {
            days,
            tier,
            requested_at: self.clock.now(),
            available_until: None,
        });
        let restoring = self.save(document).await?;
        if let Err(error) = self.blobs.restore(&blob, days, tier).await {
            self.undo_claim(id, DocumentStatus::Restoring, "restore", |undo| {
                undo.status = previous_status;
                undo.restore = None;
            })
            .await;
            return Err(error.into());
        }
        Ok(restoring)
    }

    /// Undoes a status claim whose storage call failed. Other changes may have
    /// landed since the claim (a PATCH of metadata bumps the version while the blob
    /// moves), so the undo re-reads the record and applies itself to what is stored
    /// now, retrying lost races, for as long as the record still has the claimed
    /// status. A record that has left that status (deleted, or moved on by someone
    /// else) is not touched: there is no claim of ours left to undo.
    async fn undo_claim(
        &self,
        id: &DocumentId,
        claimed: DocumentStatus,
        operation: &'static str,
        undo: impl Fn(&mut Document),
    ) {
        for _ in 0..MERGE_ATTEMPTS {
            let mut current = match self.metadata.get(id).await {
                Ok(Some(current)) if current.status == claimed => current,
                Ok(_) => return,
                Err(read_error) => {
                    tracing::error!(%id, %read_error, operation, "could not read the record to undo a failed claim");
                    return;
                }
            };
            undo(&mut current);
            match self.save(current).await {
                Ok(_) => return,
                Err(CoreError::Conflict) => continue,
                Err(undo_error) => {
                    tracing::error!(%id, %undo_error, operation, "could not undo the claimed status after a failed storage call");
                    return;
                }
            }
        }
        tracing::error!(%id, operation, "could not undo the claimed status: every attempt lost a race");
    }

    /// Discards uploads whose link expired without content arriving: a document
    /// that never had content goes entirely; a pending replacement is dropped and the
    /// current content stays. Uploads whose content is stored are left to the event
    /// processor. Returns how many records were changed.
    pub async fn expire_pending_uploads(&self, batch: usize) -> Result<usize, CoreError> {
        let now = self.clock.now();
        let mut changed = 0;
        for document in self.metadata.expired_pending(now, batch).await? {
            let id = document.id;
            let pending_blob = document.pending_blob();
            // Content that is already stored arrived while its link was valid; only
            // its event is late (lost with a crash and re-published at start-up, or
            // still queued). The event processor promotes it: discarding it here
            // would lose an upload the client was told had succeeded.
            if let Some(blob) = &pending_blob
                && self.blobs.head(blob).await?.is_some()
            {
                continue;
            }
            if let (Some(blob), Some(parts)) = (
                &pending_blob,
                document
                    .pending_upload
                    .as_ref()
                    .and_then(|p| p.multipart.as_ref()),
            ) {
                // Parts that arrived are dropped with the upload.
                self.blobs.abort_multipart(blob, &parts.upload_id).await?;
            }
            let outcome = if document.content.is_none() {
                self.metadata
                    .delete(&id, document.version)
                    .await
                    .map_err(CoreError::from)
            } else {
                let mut kept = document;
                kept.pending_upload = None;
                self.save(kept).await.map(|_| ())
            };
            match outcome {
                Ok(()) => changed += 1,
                // Content arrived (or someone else cleaned up) in the meantime.
                Err(CoreError::Conflict) => continue,
                Err(error) => return Err(error),
            }
            if let Some(blob) = pending_blob {
                self.blobs.delete(&blob).await?;
            }
        }
        Ok(changed)
    }
}

/// What the store binds a multipart upload of `pending` to.
pub(crate) fn multipart_spec(
    pending: &PendingUpload,
    part_size: u64,
    part_count: u32,
) -> crate::ports::MultipartSpec {
    crate::ports::MultipartSpec {
        blob: BlobRef {
            key: pending.key.clone(),
            location: pending.location.clone(),
        },
        content_type: pending.content_type.clone(),
        size: pending.size,
        checksum_sha256: pending.checksum_sha256.clone(),
        part_size,
        part_count,
    }
}
