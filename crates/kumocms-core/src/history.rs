//! The service operations on content history and the trash: listing and reading
//! revisions, restoring one as a new revision, deleting into the trash, undeleting,
//! purging, and the sweep that applies the retention.

use crate::cursor::ListFilter;
use crate::document::{BlobRef, Document, DocumentStatus, PendingUpload, StorageClass};
use crate::error::CoreError;
use crate::id::DocumentId;
use crate::lifecycle::{InvalidTransition, Transition, content_unreadable, next_status};
use crate::ports::{BlobError, DownloadSpec, ListQuery, SignedLink, StoreError};
use crate::revision::{self, RevisionInfo, TrashState};
use crate::service::{DEFAULT_PAGE_SIZE, DocumentService, MAX_PAGE_SIZE, MERGE_ATTEMPTS, Sweep};
use crate::validate::ValidationError;
use crate::{blob_key, service::chrono_duration};

/// Pages of each walk one `purge_expired` call reads at most: with the sweepers'
/// batch of 100, 2,000 records per walk and call.
pub const SWEEP_PAGES: usize = 20;

/// A page of revisions, newest first.
#[derive(Debug, Clone)]
pub struct RevisionPage {
    pub revisions: Vec<RevisionInfo>,
    pub next_cursor: Option<String>,
}

/// One revision, with a download link when its bytes can be read now.
#[derive(Debug, Clone)]
pub struct RevisionView {
    pub revision: RevisionInfo,
    pub download: Option<SignedLink>,
}

/// How `DELETE /documents/{id}` was asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeleteOptions {
    /// Purge at once (record, every revision, sidecars) instead of moving to the trash.
    pub permanent: bool,
    /// Only if the record is still at this version (412 otherwise).
    pub if_match: Option<u64>,
}

/// A revision number from a path: a positive decimal integer, nothing else.
pub fn parse_revision(text: &str) -> Result<u32, ValidationError> {
    let number = text
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| text.parse::<u32>().ok())
        .flatten()
        .filter(|n| *n > 0);
    number.ok_or_else(|| {
        ValidationError::invalid(
            "invalid_revision",
            "a revision number is a positive integer, such as 1 for the first upload",
        )
    })
}

/// The blob and upload id of `document`'s unfinished multipart upload, if any.
fn pending_multipart(document: &Document) -> Option<(BlobRef, String)> {
    let upload_id = document
        .pending_upload
        .as_ref()?
        .multipart
        .as_ref()?
        .upload_id
        .clone();
    Some((document.pending_blob()?, upload_id))
}

fn deleted_refusal() -> InvalidTransition {
    content_unreadable(DocumentStatus::Deleted)
        .unwrap_or_else(|| unreachable!("deleted content is never readable"))
}

fn check_if_match(document: &Document, if_match: Option<u64>) -> Result<(), CoreError> {
    if if_match.is_some_and(|version| version != document.version) {
        return Err(CoreError::PreconditionFailed);
    }
    Ok(())
}

impl DocumentService {
    fn revision_filter(id: &DocumentId) -> ListFilter {
        ListFilter {
            document_type: Some(format!("revisions:{id}")),
            status: None,
            query: None,
        }
    }

    /// `GET /documents/{id}/revisions`: newest first, paginated by revision number.
    pub async fn revisions(
        &self,
        id: &DocumentId,
        limit: Option<usize>,
        cursor: Option<String>,
    ) -> Result<RevisionPage, CoreError> {
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ValidationError::invalid(
                "invalid_limit",
                "limit must be between 1 and 1000",
            )
            .into());
        }
        let filter = Self::revision_filter(id);
        let before = match cursor.as_deref() {
            None => None,
            Some(cursor) => {
                let position = self.cursors.decode(cursor, &filter)?;
                Some(position.parse::<u32>().map_err(|_| {
                    CoreError::Internal("revision cursor holds no number".to_owned())
                })?)
            }
        };
        let document = self.load(id).await?;
        let retention = self.config.retention;
        let mut all: Vec<RevisionInfo> =
            revision::visible(&document, &retention, self.clock.now())?
                .into_iter()
                .filter(|r| before.is_none_or(|b| r.revision < b))
                .collect();
        let more = all.len() > limit;
        all.truncate(limit);
        let next_cursor = match (more, all.last()) {
            (true, Some(last)) => Some(self.cursors.encode(&last.revision.to_string(), &filter)),
            _ => None,
        };
        Ok(RevisionPage {
            revisions: all,
            next_cursor,
        })
    }

    async fn find_revision(
        &self,
        id: &DocumentId,
        number: &str,
    ) -> Result<(Document, RevisionInfo), CoreError> {
        let number = parse_revision(number)?;
        let document = self.load(id).await?;
        let found = revision::visible(&document, &self.config.retention, self.clock.now())?
            .into_iter()
            .find(|r| r.revision == number);
        match found {
            Some(info) => Ok((document, info)),
            None => Err(CoreError::RevisionNotFound {
                id: id.to_string(),
                revision: number,
            }),
        }
    }

    /// Why the bytes of `info` cannot be read now, if they cannot. A retained
    /// revision is asked of the store itself: what it holds, and in which class.
    async fn revision_unreadable(
        &self,
        document: &Document,
        info: &mut RevisionInfo,
    ) -> Result<Option<InvalidTransition>, CoreError> {
        if document.status == DocumentStatus::Deleted {
            return Ok(Some(deleted_refusal()));
        }
        if info.current {
            return Ok(content_unreadable(document.status));
        }
        match self.blobs.head(&info.blob).await? {
            None => Err(CoreError::RevisionNotFound {
                id: document.id.to_string(),
                revision: info.revision,
            }),
            Some(head) => {
                info.storage_class = head.storage_class;
                Ok((head.storage_class != StorageClass::Standard)
                    .then(|| content_unreadable(DocumentStatus::Archived))
                    .flatten())
            }
        }
    }

    async fn revision_link(&self, info: &RevisionInfo) -> Result<SignedLink, CoreError> {
        let spec = DownloadSpec {
            blob: info.blob.clone(),
            file_name: info.file_name.clone(),
            content_type: info.content_type.clone(),
            expires_in: self.config.download_link_ttl,
        };
        Ok(self.blobs.download_link(&spec).await?)
    }

    /// `GET /documents/{id}/revisions/{n}`.
    pub async fn revision(&self, id: &DocumentId, number: &str) -> Result<RevisionView, CoreError> {
        let (document, mut info) = self.find_revision(id, number).await?;
        let download = match self.revision_unreadable(&document, &mut info).await? {
            None => Some(self.revision_link(&info).await?),
            Some(_) => None,
        };
        Ok(RevisionView {
            revision: info,
            download,
        })
    }

    /// The link `GET /documents/{id}/revisions/{n}/content` redirects to.
    pub async fn revision_content_link(
        &self,
        id: &DocumentId,
        number: &str,
    ) -> Result<SignedLink, CoreError> {
        let (document, mut info) = self.find_revision(id, number).await?;
        if let Some(refusal) = self.revision_unreadable(&document, &mut info).await? {
            return Err(refusal.into());
        }
        self.revision_link(&info).await
    }

    /// `POST /documents/{id}/revisions/{n}/restore`: the revision's bytes are copied by
    /// the store (no re-upload) into the next revision number, announced as a pending
    /// upload; the event processor checks, extracts and promotes the copy as it does
    /// an upload. History is never rewritten.
    pub async fn restore_revision(
        &self,
        id: &DocumentId,
        number: &str,
        if_match: Option<u64>,
    ) -> Result<Document, CoreError> {
        let (mut document, mut info) = self.find_revision(id, number).await?;
        check_if_match(&document, if_match)?;
        if let Some(refusal) = self.revision_unreadable(&document, &mut info).await? {
            return Err(refusal.into());
        }
        next_status(document.status, Transition::Replace)?;
        let next = revision::latest_number(&document)? + 1;
        let pending = PendingUpload {
            revision: next,
            key: blob_key::content_key(id, next),
            location: self.blobs.location(),
            file_name: info.file_name.clone(),
            content_type: info.content_type.clone(),
            size: info.size,
            checksum_sha256: info.checksum_sha256.clone(),
            expires_at: self.clock.now() + chrono_duration(self.config.pending_upload_ttl),
            multipart: None,
        };
        let target = BlobRef {
            key: pending.key.clone(),
            location: pending.location.clone(),
        };
        let superseded = document.pending_blob();
        document.pending_upload = Some(pending);
        let saved = match self.save(document).await {
            Err(CoreError::Conflict) if if_match.is_some() => {
                return Err(CoreError::PreconditionFailed);
            }
            other => other?,
        };
        if let Some(blob) = superseded
            && let Err(error) = self.blobs.delete(&blob).await
        {
            tracing::warn!(%error, key = %blob.key, "could not delete a superseded upload");
        }
        if let Err(error) = self.blobs.copy(&info.blob, &target).await {
            // Undo the announcement, so no pending upload waits for a copy that failed.
            let mut undo = saved.clone();
            undo.pending_upload = None;
            if let Err(undo_error) = self.save(undo).await {
                tracing::warn!(%id, %undo_error, "could not withdraw a failed revision restore; the sweeper will");
            }
            return Err(error.into());
        }
        Ok(saved)
    }

    /// `DELETE /documents/{id}`: into the trash, or purged at once when asked
    /// (`permanent`), when the trash retention is 0, or when the document never had
    /// content (nothing to lose). Deleting a document already in the trash changes
    /// nothing unless `permanent`.
    pub async fn delete_with(
        &self,
        id: &DocumentId,
        options: DeleteOptions,
    ) -> Result<(), CoreError> {
        for _ in 0..MERGE_ATTEMPTS {
            let Some(mut document) = self.metadata.get(id).await? else {
                // A retry after a partial failure: finish the blob clean-up.
                self.blobs
                    .delete_document(id, &self.blobs.location())
                    .await?;
                return Err(CoreError::NotFound(id.to_string()));
            };
            check_if_match(&document, options.if_match)?;
            let now = self.clock.now();
            let purge_at = self.config.retention.purge_at(now);
            let outcome = match purge_at {
                Some(purge_at)
                    if !options.permanent
                        && document.content.is_some()
                        && document.status != DocumentStatus::Deleted =>
                {
                    let dropped = document.pending_blob();
                    let dropped_parts = pending_multipart(&document);
                    document.trash = Some(TrashState {
                        previous_status: document.status,
                        deleted_at: now,
                        purge_at,
                    });
                    document.status = DocumentStatus::Deleted;
                    document.pending_upload = None;
                    let saved = self.save(document).await.map(|_| ());
                    if saved.is_ok()
                        && let Some((blob, upload_id)) = dropped_parts
                    {
                        self.abort_dropped_multipart(&blob, &upload_id).await;
                    }
                    if saved.is_ok()
                        && let Some(blob) = dropped
                        && let Err(error) = self.blobs.delete(&blob).await
                    {
                        tracing::warn!(%error, key = %blob.key, "could not delete a dropped upload");
                    }
                    saved
                }
                _ if !options.permanent && document.status == DocumentStatus::Deleted => {
                    return Ok(());
                }
                _ => self.purge(&document).await,
            };
            match outcome {
                Err(CoreError::Conflict) if options.if_match.is_some() => {
                    return Err(CoreError::PreconditionFailed);
                }
                Err(CoreError::Conflict) => continue,
                other => return other,
            }
        }
        Err(CoreError::Conflict)
    }

    /// Deletes the record (conditionally on the version read), then every blob of
    /// the document wherever it is stored. The record must have been read with its
    /// history, whose blobs may be stored elsewhere: refused before anything is
    /// deleted otherwise.
    async fn purge(&self, document: &Document) -> Result<(), CoreError> {
        let retained: Vec<BlobRef> = document.revisions.get()?.iter().map(|r| r.blob()).collect();
        match self.metadata.delete(&document.id, document.version).await {
            Err(StoreError::Conflict) => return Err(CoreError::Conflict),
            Err(other) => return Err(other.into()),
            Ok(()) => {}
        }
        // An unfinished multipart upload keeps its parts in the store (locally a
        // directory, on S3 billed parts) until aborted: abort it now rather than leave
        // it to the sweep of orphans.
        if let Some((blob, upload_id)) = pending_multipart(document) {
            self.abort_dropped_multipart(&blob, &upload_id).await;
        }
        let mut locations = vec![self.blobs.location()];
        for blob in [document.content_blob(), document.pending_blob()]
            .into_iter()
            .flatten()
            .chain(retained)
        {
            if !locations.contains(&blob.location) {
                locations.push(blob.location);
            }
        }
        for location in locations {
            self.blobs.delete_document(&document.id, &location).await?;
        }
        Ok(())
    }

    /// Aborts the multipart upload of a pending upload that was just dropped (the
    /// document went to the trash or was purged). A failure is logged: the sweep of
    /// orphaned uploads (and S3's lifecycle rule) removes it later.
    async fn abort_dropped_multipart(&self, blob: &BlobRef, upload_id: &str) {
        match self.blobs.abort_multipart(blob, upload_id).await {
            Ok(()) | Err(BlobError::UploadNotFound(_)) => {}
            Err(error) => {
                tracing::warn!(%error, key = %blob.key, "could not abort the multipart upload of a deleted document; the sweep will");
            }
        }
    }

    /// `POST /documents/{id}/undelete`: back to the status it had. A restore from an
    /// archive class that was under way is not resumed (its events were ignored in
    /// the trash): the document comes back `archived`, to be restored again.
    pub async fn undelete(
        &self,
        id: &DocumentId,
        if_match: Option<u64>,
    ) -> Result<Document, CoreError> {
        let mut document = self.load(id).await?;
        check_if_match(&document, if_match)?;
        let Some(trash) = document
            .trash
            .take()
            .filter(|_| document.status == DocumentStatus::Deleted)
        else {
            return Err(InvalidTransition {
                code: "not_deleted",
                message: format!(
                    "the document is not in the trash (document status: {})",
                    document.status.as_str()
                ),
                status: document.status,
            }
            .into());
        };
        document.status = match trash.previous_status {
            DocumentStatus::Restoring | DocumentStatus::Restored => {
                document.restore = None;
                DocumentStatus::Archived
            }
            other => other,
        };
        match self.save(document).await {
            Err(CoreError::Conflict) if if_match.is_some() => Err(CoreError::PreconditionFailed),
            other => other,
        }
    }

    /// Purges the documents whose time in the trash is over, and drops revisions
    /// past the revision retention. Each call reads up to [`SWEEP_PAGES`] pages of
    /// `batch` records for each of the two, continuing where the previous call
    /// stopped, so that every record is reached however many there are (the first
    /// page of the trash may well hold only documents that are not due yet), and a
    /// call's cost stays bounded. Returns how many records it changed or purged.
    pub async fn purge_expired(&self, batch: usize) -> Result<usize, CoreError> {
        let now = self.clock.now();
        let mut changed = 0;
        for trashed in self.sweep_pages(Sweep::Trash, batch).await? {
            if trashed.trash.as_ref().is_some_and(|t| t.purge_at <= now) {
                match self.purge(&trashed).await {
                    Ok(()) => changed += 1,
                    Err(CoreError::Conflict) => continue,
                    Err(error) => return Err(error),
                }
            }
        }
        let retention = self.config.retention;
        if retention.revision_days == 0 && retention.revision_count == 0 {
            return Ok(changed);
        }
        for mut document in self.sweep_pages(Sweep::Revisions, batch).await? {
            let expired = revision::drop_expired(&mut document, &retention, now)?;
            if expired.is_empty() {
                continue;
            }
            match self.save(document).await {
                Ok(_) => changed += 1,
                Err(CoreError::Conflict) => continue,
                Err(error) => return Err(error),
            }
            self.delete_revision_blobs(&expired).await;
        }
        Ok(changed)
    }

    /// The next pages of one sweep: up to [`SWEEP_PAGES`] pages of `batch`, from
    /// where the sweep stopped; after its last page the sweep starts over.
    async fn sweep_pages(&self, sweep: Sweep, batch: usize) -> Result<Vec<Document>, CoreError> {
        let status = match sweep {
            Sweep::Trash => Some(DocumentStatus::Deleted),
            Sweep::Revisions => None,
        };
        let mut documents = Vec::new();
        let mut after = self.sweep_position(sweep);
        for _ in 0..SWEEP_PAGES {
            // Both sweeps may change or purge what they read.
            let page = self
                .metadata
                .list_with_history(&ListQuery {
                    document_type: None,
                    status,
                    limit: batch,
                    after,
                })
                .await?;
            documents.extend(page.documents);
            after = page.next;
            if after.is_none() {
                break;
            }
        }
        self.set_sweep_position(sweep, after);
        Ok(documents)
    }

    async fn delete_revision_blobs(&self, expired: &[revision::RetainedRevision]) {
        for blob in expired.iter().flat_map(|r| r.blobs()) {
            if let Err(error) = self.blobs.delete(&blob).await {
                tracing::warn!(%error, key = %blob.key, "could not delete an expired revision");
            }
        }
    }
}
