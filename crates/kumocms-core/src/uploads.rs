//! `DocumentService` on multipart uploads: part links, the parts received,
//! completion and abort. Starting one is part of create/replace (`service`).

use std::collections::BTreeSet;

use crate::document::{BlobRef, Document, PendingUpload};
use crate::error::CoreError;
use crate::id::DocumentId;
use crate::multipart::{MAX_PART_LINKS_PER_REQUEST, MultipartState};
use crate::ports::{BlobError, PartSpec, ReceivedPart, SignedLink};
use crate::service::{DocumentService, multipart_spec};
use crate::validate::{self, ValidationError};

/// One part's link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartLink {
    pub part_number: u32,
    pub size: u64,
    pub link: SignedLink,
}

/// The parts of a multipart upload received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartsReceived {
    pub upload_id: String,
    pub part_size: u64,
    pub part_count: u32,
    pub parts: Vec<ReceivedPart>,
}

impl DocumentService {
    /// The record and its pending multipart upload `upload_id`; 404
    /// `upload_not_found` when the document waits for no such upload.
    async fn pending_parts(
        &self,
        id: &DocumentId,
        upload_id: &str,
    ) -> Result<(Document, PendingUpload, MultipartState), CoreError> {
        let document = self.load(id).await?;
        let found = document
            .pending_upload
            .clone()
            .and_then(|p| p.multipart.clone().map(|m| (p, m)))
            .filter(|(_, m)| m.upload_id == upload_id);
        let Some((pending, parts)) = found else {
            return Err(upload_not_found(id, upload_id));
        };
        Ok((document, pending, parts))
    }

    /// Signed links for `part_numbers` (1 to 1,000 of them, each within the plan;
    /// duplicates are signed once).
    pub async fn part_links(
        &self,
        id: &DocumentId,
        upload_id: &str,
        part_numbers: &[u32],
    ) -> Result<Vec<PartLink>, CoreError> {
        if part_numbers.is_empty() || part_numbers.len() > MAX_PART_LINKS_PER_REQUEST {
            return Err(ValidationError::invalid(
                "invalid_part_numbers",
                format!("part_numbers must list 1 to {MAX_PART_LINKS_PER_REQUEST} part numbers"),
            )
            .into());
        }
        let (_, pending, parts) = self.pending_parts(id, upload_id).await?;
        let plan = parts.plan();
        let numbers: BTreeSet<u32> = part_numbers.iter().copied().collect();
        let mut links = Vec::with_capacity(numbers.len());
        for number in numbers {
            let size = plan.part_len(pending.size, number).ok_or_else(|| {
                ValidationError::invalid(
                    "invalid_part_number",
                    format!(
                        "part number {number} is not part of this upload; part numbers go from 1 to {}",
                        plan.part_count
                    ),
                )
            })?;
            let spec = PartSpec {
                blob: blob_of(&pending),
                upload_id: upload_id.to_owned(),
                part_number: number,
                size,
                expires_in: self
                    .config
                    .upload_link_ttl
                    .min(self.config.pending_upload_ttl),
            };
            let link = self
                .blobs
                .part_link(&spec)
                .await
                .map_err(|e| with_id(e.into(), id, upload_id))?;
            links.push(PartLink {
                part_number: number,
                size,
                link,
            });
        }
        Ok(links)
    }

    /// The parts received whole so far, by part number.
    pub async fn parts_received(
        &self,
        id: &DocumentId,
        upload_id: &str,
    ) -> Result<PartsReceived, CoreError> {
        let (_, pending, parts) = self.pending_parts(id, upload_id).await?;
        let mut received = self
            .blobs
            .list_parts(&blob_of(&pending), upload_id)
            .await
            .map_err(|e| with_id(e.into(), id, upload_id))?;
        received.sort_by_key(|p| p.part_number);
        Ok(PartsReceived {
            upload_id: upload_id.to_owned(),
            part_size: parts.part_size,
            part_count: parts.part_count,
            parts: received,
        })
    }

    /// Joins the parts once every one arrived with its planned size; the content
    /// becomes current when the event processor has checked it, as for a single PUT.
    /// 409 `missing_parts` (naming them) or `part_size_mismatch` otherwise.
    ///
    /// `checksum_sha256` is the whole file's SHA-256 declared at completion (a
    /// client that hashes while it sends knows it only now). It must agree with one
    /// declared at create or replace (400 `checksum_conflict`); it is recorded in the
    /// pending upload before the store joins the parts, so it is verified exactly as
    /// one declared at create: by the store when it can (locally, 400
    /// `checksum_mismatch` and nothing joined), else by the event processor before
    /// promotion (S3).
    pub async fn complete_upload(
        &self,
        id: &DocumentId,
        upload_id: &str,
        checksum_sha256: Option<&str>,
    ) -> Result<Document, CoreError> {
        let declared = validate::checksum_sha256(checksum_sha256)?;
        let (mut document, mut pending, parts) = self.pending_parts(id, upload_id).await?;
        if let (Some(at_start), Some(at_complete)) = (&pending.checksum_sha256, &declared)
            && !at_start.eq_ignore_ascii_case(at_complete)
        {
            return Err(ValidationError::invalid(
                "checksum_conflict",
                format!(
                    "checksum_sha256 {at_complete} differs from the {at_start} declared when the upload started; nothing was made current. Complete with the same checksum (or none), or start a new upload"
                ),
            )
            .into());
        }
        let plan = parts.plan();
        let blob = blob_of(&pending);
        let mut received = self
            .blobs
            .list_parts(&blob, upload_id)
            .await
            .map_err(|e| with_id(e.into(), id, upload_id))?;
        received.sort_by_key(|p| p.part_number);
        received.dedup_by_key(|p| p.part_number);
        let have: BTreeSet<u32> = received.iter().map(|p| p.part_number).collect();
        let missing: Vec<u32> = (1..=plan.part_count)
            .filter(|n| !have.contains(n))
            .collect();
        if !missing.is_empty() {
            let shown: Vec<String> = missing.iter().take(100).map(u32::to_string).collect();
            return Err(CoreError::UploadIncomplete {
                code: "missing_parts",
                message: format!(
                    "{} part(s) have not arrived: {}{}; upload them, then complete again",
                    missing.len(),
                    shown.join(", "),
                    if missing.len() > shown.len() {
                        ", …"
                    } else {
                        ""
                    }
                ),
            });
        }
        for part in &received {
            let expected = plan.part_len(pending.size, part.part_number);
            if expected != Some(part.size) {
                return Err(CoreError::UploadIncomplete {
                    code: "part_size_mismatch",
                    message: format!(
                        "part {} holds {} bytes, not {}; upload it again through a new link",
                        part.part_number,
                        part.size,
                        expected.unwrap_or(0)
                    ),
                });
            }
        }
        received.retain(|p| p.part_number <= plan.part_count);
        // Recorded first: once the store has joined the parts, the event processor
        // may promote them at any moment, and it checks what the record declares.
        let recorded = declared.is_some() && pending.checksum_sha256.is_none();
        if recorded {
            pending.checksum_sha256 = declared;
            document.pending_upload = Some(pending.clone());
            self.save(document).await?;
        }
        let spec = multipart_spec(&pending, parts.part_size, parts.part_count);
        let joined = self
            .blobs
            .complete_multipart(&spec, upload_id, &received)
            .await;
        if let Err(error) = joined {
            if recorded && matches!(error, BlobError::Rejected { .. }) {
                // The store refused and joined nothing: the declaration goes with the
                // refusal, so that the client may complete again with another one.
                self.forget_declared_checksum(id, upload_id).await;
            }
            return Err(with_id(error.into(), id, upload_id));
        }
        self.load(id).await
    }

    /// Undoes the record of a checksum declared at a completion that was refused.
    async fn forget_declared_checksum(&self, id: &DocumentId, upload_id: &str) {
        for _ in 0..3 {
            let Ok((mut document, mut pending, _)) = self.pending_parts(id, upload_id).await else {
                return;
            };
            pending.checksum_sha256 = None;
            document.pending_upload = Some(pending);
            match self.save(document).await {
                Ok(_) => return,
                Err(CoreError::Conflict) => continue,
                Err(error) => {
                    tracing::warn!(%id, %error, "could not forget a refused completion's checksum");
                    return;
                }
            }
        }
    }

    /// Drops the upload and its parts. A replacement's record goes back to its
    /// current content at once; a document that never had content keeps its record
    /// until the pending-upload sweep removes it, as for any abandoned first upload.
    pub async fn abort_upload(&self, id: &DocumentId, upload_id: &str) -> Result<(), CoreError> {
        let (mut document, mut pending, _) = self.pending_parts(id, upload_id).await?;
        self.blobs
            .abort_multipart(&blob_of(&pending), upload_id)
            .await
            .map_err(|e| with_id(e.into(), id, upload_id))?;
        if document.content.is_some() {
            document.pending_upload = None;
        } else {
            pending.multipart = None;
            pending.expires_at = self.clock.now();
            document.pending_upload = Some(pending);
        }
        self.save(document).await?;
        Ok(())
    }
}

fn blob_of(pending: &PendingUpload) -> BlobRef {
    BlobRef {
        key: pending.key.clone(),
        location: pending.location.clone(),
    }
}

fn upload_not_found(id: &DocumentId, upload_id: &str) -> CoreError {
    CoreError::UploadNotFound {
        id: id.to_string(),
        upload_id: upload_id.to_owned(),
    }
}

/// The store knows upload ids, not documents: name the document in its 404.
fn with_id(error: CoreError, id: &DocumentId, upload_id: &str) -> CoreError {
    match error {
        CoreError::UploadNotFound { .. } => upload_not_found(id, upload_id),
        other => other,
    }
}
