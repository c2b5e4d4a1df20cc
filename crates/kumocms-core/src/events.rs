//! Storage events and the processor that applies them. The same code runs in-process
//! locally and in the `events` Lambda function on AWS.
//!
//! Every handler is idempotent: it reads the record, decides from its current state
//! whether the event still means anything, and writes conditionally. A duplicate, a
//! late or an out-of-order event leaves the record as it is.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use crate::blob_key::{self, ParsedKey};
use crate::document::{
    BlobLocation, BlobRef, ContentVersion, Document, DocumentStatus, StorageClass,
};
use crate::error::CoreError;
use crate::extract::Extractor;
use crate::lifecycle::{Transition, next_status};
use crate::ports::{BlobError, BlobStore, Clock, MetadataStore, StoreError};
use crate::revision::{self, Retention};
use crate::validate::{self, Limits};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageEvent {
    /// A blob was written (an upload, a sidecar, or an archive's copy in place).
    ObjectCreated { location: BlobLocation, key: String },
    /// A restored copy is readable until `available_until`.
    RestoreCompleted {
        location: BlobLocation,
        key: String,
        available_until: Option<DateTime<Utc>>,
    },
    /// The restored copy is gone.
    RestoreExpired { location: BlobLocation, key: String },
}

impl StorageEvent {
    pub fn key(&self) -> &str {
        match self {
            Self::ObjectCreated { key, .. }
            | Self::RestoreCompleted { key, .. }
            | Self::RestoreExpired { key, .. } => key,
        }
    }
}

/// What an event did, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied(&'static str),
    Ignored(&'static str),
}

const ATTEMPTS: usize = 5;

pub struct EventProcessor {
    metadata: Arc<dyn MetadataStore>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    retention: Retention,
}

impl EventProcessor {
    pub fn new(
        metadata: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Self {
            metadata,
            blobs,
            clock,
            limits,
            retention: Retention::default(),
        }
    }

    /// How many replaced revisions to keep, and for how long (default: all, for ever).
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Applies one event. An `Err` is transient (a store is down): the caller must
    /// let the platform retry the event.
    pub async fn handle(&self, event: &StorageEvent) -> Result<Outcome, CoreError> {
        let Some(parsed) = blob_key::parse(event.key()) else {
            return Ok(Outcome::Ignored("not_a_document_key"));
        };
        for _ in 0..ATTEMPTS {
            let result = match event {
                StorageEvent::ObjectCreated { location, key } => {
                    self.object_created(parsed, location, key).await
                }
                StorageEvent::RestoreCompleted {
                    key,
                    available_until,
                    ..
                } => self.restore_completed(parsed, key, *available_until).await,
                StorageEvent::RestoreExpired { key, .. } => self.restore_expired(parsed, key).await,
            };
            match result {
                Err(CoreError::Conflict) => continue,
                other => return other,
            }
        }
        Err(CoreError::Conflict)
    }

    async fn save(&self, mut document: Document) -> Result<(), CoreError> {
        let expected = document.version;
        document.version += 1;
        document.updated_at = self.clock.now();
        self.metadata
            .update(&document, expected)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => CoreError::Conflict,
                other => other.into(),
            })
    }

    async fn object_created(
        &self,
        parsed: ParsedKey,
        location: &BlobLocation,
        key: &str,
    ) -> Result<Outcome, CoreError> {
        let blob = BlobRef {
            key: key.to_owned(),
            location: location.clone(),
        };
        let Some(document) = self.metadata.get(&parsed.id()).await? else {
            // Content for a deleted or expired document: nothing may point at it.
            self.blobs.delete(&blob).await?;
            return Ok(Outcome::Applied("orphan_deleted"));
        };
        match parsed {
            ParsedKey::Content { revision, .. } => {
                self.content_arrived(document, revision, blob).await
            }
            ParsedKey::Sidecar { revision, .. } => {
                self.sidecar_arrived(document, revision, blob).await
            }
        }
    }

    async fn content_arrived(
        &self,
        mut document: Document,
        revision: u32,
        blob: BlobRef,
    ) -> Result<Outcome, CoreError> {
        if document.content_blob().as_ref() == Some(&blob) {
            // A duplicate delivery, or the copy in place that archiving makes.
            return Ok(Outcome::Ignored("already_current"));
        }
        if document.revisions.get()?.iter().any(|r| r.blob() == blob) {
            // A late duplicate for content that has since been replaced: it is kept
            // as a revision, never deleted as a stale upload.
            return Ok(Outcome::Ignored("retained_revision"));
        }
        if document.status == DocumentStatus::Deleted {
            // In the trash, a pending upload is dropped: this one can never be served.
            self.blobs.delete(&blob).await?;
            return Ok(Outcome::Applied("upload_to_deleted_document_deleted"));
        }
        let Some(pending) = document
            .pending_upload
            .clone()
            .filter(|p| p.revision == revision)
        else {
            let current = document.content.as_ref().map_or(0, |c| c.revision);
            let newest = document
                .pending_upload
                .as_ref()
                .map_or(current, |p| p.revision);
            if revision < newest {
                // An upload to a superseded link: it will never be served.
                self.blobs.delete(&blob).await?;
                return Ok(Outcome::Applied("stale_upload_deleted"));
            }
            return Ok(Outcome::Ignored("unexpected_revision"));
        };
        if pending.location != blob.location {
            return Ok(Outcome::Ignored("other_location"));
        }
        let mut extracted = self.extract_content(&blob, &pending.content_type).await?;
        if extracted.size != pending.size {
            // The store enforces the signed length; a mismatch means the object was
            // written some other way. Leave the upload pending rather than serve it.
            tracing::warn!(id = %document.id, expected = pending.size, actual = extracted.size, "content size differs from the declared size");
            return Ok(Outcome::Ignored("size_mismatch"));
        }
        if pending.multipart.is_some()
            && let Some(declared) = &pending.checksum_sha256
            && !declared.eq_ignore_ascii_case(&extracted.sha256)
        {
            // A single PUT's checksum is checked by the store as the bytes arrive;
            // parts are checked one by one, so the whole file is checked here. The
            // current content stays; the upload stays pending until replaced or swept.
            tracing::warn!(id = %document.id, declared = %declared, actual = %extracted.sha256, "multipart content differs from the declared checksum");
            return Ok(Outcome::Ignored("checksum_mismatch"));
        }
        if let Some(sidecar) = self.read_sidecar(&blob).await? {
            document.metadata = merge_sidecar(&document.metadata, sidecar, &self.limits);
            extracted.sidecar_applied = true;
        }
        let now = self.clock.now();
        document.status = next_status(document.status, Transition::ContentArrived)?;
        // The replaced content is kept as a revision, as long as the retention says.
        revision::retire_current(&mut document, now)?;
        document.content = Some(ContentVersion {
            revision: pending.revision,
            key: pending.key,
            location: pending.location,
            file_name: pending.file_name,
            content_type: pending.content_type,
            size: extracted.size,
            checksum_sha256: Some(extracted.sha256.clone()),
            arrived_at: now,
        });
        document.pending_upload = None;
        document.storage_class = StorageClass::Standard;
        document.restore = None;
        document.extracted = Some(extracted);
        // With the new content in place, so that it counts as one of the kept revisions.
        let expired = revision::drop_expired(&mut document, &self.retention, now)?;
        self.save(document).await?;
        // The record no longer names the expired revisions: their blobs can go.
        for old in expired.iter().flat_map(|r| r.blobs()) {
            if let Err(error) = self.blobs.delete(&old).await {
                tracing::warn!(%error, key = %old.key, "could not delete an expired revision");
            }
        }
        Ok(Outcome::Applied("content_activated"))
    }

    async fn sidecar_arrived(
        &self,
        mut document: Document,
        revision: u32,
        blob: BlobRef,
    ) -> Result<Outcome, CoreError> {
        let Some(content) = document.content.as_ref().filter(|c| c.revision == revision) else {
            // Before its content: merged when the content arrives.
            return Ok(Outcome::Ignored("content_not_current"));
        };
        if content.location != blob.location {
            return Ok(Outcome::Ignored("other_location"));
        }
        let Some(extracted) = document.extracted.as_mut() else {
            return Ok(Outcome::Ignored("not_extracted"));
        };
        if extracted.sidecar_applied {
            return Ok(Outcome::Ignored("sidecar_already_applied"));
        }
        let Some(sidecar) = self.read_object(&blob).await? else {
            return Ok(Outcome::Ignored("sidecar_gone"));
        };
        extracted.sidecar_applied = true;
        document.metadata = merge_sidecar(&document.metadata, sidecar, &self.limits);
        self.save(document).await?;
        Ok(Outcome::Applied("sidecar_merged"))
    }

    async fn extract(
        &self,
        blob: &BlobRef,
        declared: &str,
    ) -> Result<crate::document::Extracted, CoreError> {
        let mut stream = self.blobs.read(blob).await?;
        let mut extractor = Extractor::new();
        while let Some(chunk) = stream.next().await {
            extractor.update(&chunk?);
        }
        Ok(extractor.finish(declared, self.clock.now()))
    }

    /// Extraction that trusts the store's own SHA-256 when it has one
    /// ([`BlobStore::verified_content`]): then only the first bytes that sniffing and
    /// text extraction need are read (all of a PDF, for its pages), instead of the
    /// whole blob. Otherwise, and if the blob turns out shorter or longer than the
    /// store says, the whole blob is read and hashed as before.
    async fn extract_content(
        &self,
        blob: &BlobRef,
        declared: &str,
    ) -> Result<crate::document::Extracted, CoreError> {
        let Some(verified) = self.blobs.verified_content(blob).await? else {
            return self.extract(blob, declared).await;
        };
        let size = verified.size;
        let mut stream = self.blobs.read(blob).await?;
        let mut extractor = Extractor::with_verified(verified);
        let mut exhausted = false;
        while extractor.wants_more() {
            match stream.next().await {
                Some(chunk) => extractor.update(&chunk?),
                None => {
                    exhausted = true;
                    break;
                }
            }
        }
        drop(stream);
        let read = extractor.bytes_read();
        if read > size || (exhausted && read != size) {
            tracing::warn!(key = %blob.key, size, read, "the blob's length differs from what its store verified; reading it whole");
            return self.extract(blob, declared).await;
        }
        Ok(extractor.finish(declared, self.clock.now()))
    }

    async fn read_sidecar(
        &self,
        content: &BlobRef,
    ) -> Result<Option<Map<String, Value>>, CoreError> {
        let sidecar = BlobRef {
            key: blob_key::sidecar_key(&content.key),
            location: content.location.clone(),
        };
        self.read_object(&sidecar).await
    }

    /// Reads a sidecar as a JSON object. A malformed or oversized sidecar is a
    /// client's mistake: it is logged and skipped, never retried.
    async fn read_object(&self, blob: &BlobRef) -> Result<Option<Map<String, Value>>, CoreError> {
        let bytes = match self
            .blobs
            .read_small(blob, self.limits.max_metadata_bytes)
            .await
        {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(BlobError::TooLarge { .. }) => {
                tracing::warn!(key = %blob.key, "sidecar is over the metadata limit; skipped");
                return Ok(None);
            }
            Err(error) => return Err(error.into()),
        };
        match parse_sidecar(&bytes, &self.limits) {
            Some(map) => Ok(Some(map)),
            None => {
                tracing::warn!(key = %blob.key, "sidecar is not a JSON object within the metadata limit; skipped");
                Ok(None)
            }
        }
    }

    async fn restore_completed(
        &self,
        parsed: ParsedKey,
        key: &str,
        available_until: Option<DateTime<Utc>>,
    ) -> Result<Outcome, CoreError> {
        let Some(mut document) = self.current_content_owner(parsed, key).await? else {
            return Ok(Outcome::Ignored("not_current_content"));
        };
        if document.status != DocumentStatus::Restoring {
            return Ok(Outcome::Ignored("not_restoring"));
        }
        if available_until.is_some_and(|until| until <= self.clock.now()) {
            // Delivered after the copy already expired.
            document.status = next_status(document.status, Transition::RestoreExpired)?;
            document.restore = None;
            self.save(document).await?;
            return Ok(Outcome::Applied("restore_already_expired"));
        }
        document.status = next_status(document.status, Transition::RestoreCompleted)?;
        if let Some(restore) = document.restore.as_mut() {
            restore.available_until = available_until;
        }
        self.save(document).await?;
        Ok(Outcome::Applied("restore_completed"))
    }

    async fn restore_expired(&self, parsed: ParsedKey, key: &str) -> Result<Outcome, CoreError> {
        let Some(mut document) = self.current_content_owner(parsed, key).await? else {
            return Ok(Outcome::Ignored("not_current_content"));
        };
        if !matches!(
            document.status,
            DocumentStatus::Restored | DocumentStatus::Restoring
        ) {
            return Ok(Outcome::Ignored("not_restored"));
        }
        document.status = next_status(document.status, Transition::RestoreExpired)?;
        document.restore = None;
        self.save(document).await?;
        Ok(Outcome::Applied("restore_expired"))
    }

    async fn current_content_owner(
        &self,
        parsed: ParsedKey,
        key: &str,
    ) -> Result<Option<Document>, CoreError> {
        let ParsedKey::Content { id, .. } = parsed else {
            return Ok(None);
        };
        let document = self.metadata.get(&id).await?;
        Ok(document.filter(|d| d.content.as_ref().is_some_and(|c| c.key == key)))
    }
}

/// Parses sidecar bytes: a JSON object within the metadata limit.
pub fn parse_sidecar(bytes: &[u8], limits: &Limits) -> Option<Map<String, Value>> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    validate::metadata(Some(value), limits)
        .ok()
        .filter(|_| bytes.len() <= limits.max_metadata_bytes)
}

/// Sidecar values fill in user metadata; keys the user already set keep their value.
/// The result stays within the limit (sidecar keys that would overflow it are dropped).
fn merge_sidecar(
    current: &Map<String, Value>,
    sidecar: Map<String, Value>,
    limits: &Limits,
) -> Map<String, Value> {
    let mut merged = current.clone();
    for (key, value) in sidecar {
        if merged.contains_key(&key) {
            continue;
        }
        merged.insert(key.clone(), value);
        if validate::metadata(Some(Value::Object(merged.clone())), limits).is_err() {
            merged.remove(&key);
        }
    }
    merged
}
