//! Content history: the revisions a document keeps, the trash, and how long each is
//! kept. Pure functions over the record; `service` and `events` apply them with
//! conditional writes.
//!
//! A record holds its current content in `Document::content` and the content it
//! replaced in `Document::revisions` (newest first), a [`History`] that the stores
//! keep apart from the record (a column in SQLite, an attribute in DynamoDB, beside
//! the record in memory) so that a read for display does not load it; every write
//! refuses a record whose history was not loaded ([`HistoryNotLoaded`]), so history
//! cannot be dropped by writing back a record read for display. Each revision keeps its blob
//! (`documents/<id>/r<n>`) until it expires by [`Retention`]; revision numbers are
//! never reused or rewritten, so a restored revision comes back as a new one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::blob_key;
use crate::document::{BlobRef, ContentVersion, Document, DocumentStatus, Extracted, StorageClass};

/// How long replaced content and deleted documents are kept. `0` keeps for ever
/// (revisions) or purges at once (trash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Revisions to keep per document, the current one included; 0 keeps all.
    pub revision_count: u32,
    /// Days a replaced revision is kept after it stopped being current; 0 keeps all.
    pub revision_days: u32,
    /// Days a deleted document stays in the trash; 0 purges on `DELETE`.
    pub trash_days: u32,
}

/// The trash retention when none is configured.
pub const DEFAULT_TRASH_DAYS: u32 = 30;

/// Replaced revisions a record holds at most, whatever the retention says: the record
/// is one DynamoDB item (400 KB) and each revision takes about 600 bytes of it.
pub const MAX_RETAINED_REVISIONS: usize = 400;

impl Default for Retention {
    fn default() -> Self {
        Self {
            revision_count: 0,
            revision_days: 0,
            trash_days: DEFAULT_TRASH_DAYS,
        }
    }
}

impl Retention {
    /// When a revision that stopped being current at `superseded_at` expires.
    pub fn revision_expires_at(&self, superseded_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (self.revision_days > 0)
            .then(|| superseded_at + chrono::Duration::days(i64::from(self.revision_days)))
    }

    /// When a document deleted at `deleted_at` is purged; `None` when it is purged at once.
    pub fn purge_at(&self, deleted_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (self.trash_days > 0)
            .then(|| deleted_at + chrono::Duration::days(i64::from(self.trash_days)))
    }
}

/// Content that was current once and has been replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainedRevision {
    #[serde(flatten)]
    pub content: ContentVersion,
    /// The storage class the content was in when it was replaced.
    pub storage_class: StorageClass,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extracted: Option<Extracted>,
    /// When the next revision became current.
    pub superseded_at: DateTime<Utc>,
}

impl RetainedRevision {
    pub fn blob(&self) -> BlobRef {
        BlobRef {
            key: self.content.key.clone(),
            location: self.content.location.clone(),
        }
    }

    /// The content blob and its sidecar: what goes when the revision expires.
    pub fn blobs(&self) -> [BlobRef; 2] {
        let blob = self.blob();
        let sidecar = BlobRef {
            key: blob_key::sidecar_key(&blob.key),
            location: blob.location.clone(),
        };
        [blob, sidecar]
    }
}

/// Why a record's history cannot be used: the record was read for display
/// (`MetadataStore::get_nearby`, a listing, a search), which leaves the history in
/// the store. A write of such a record would drop every retained revision, so every
/// store refuses it, and the functions of this module that need the history refuse
/// it too. Read the record with `MetadataStore::get` before changing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the record's revision history was not loaded with it (it was read for display); read it with `get` before changing it"
)]
pub struct HistoryNotLoaded;

/// The content a record replaced and still keeps, newest first, or the mark that a
/// read for display left it in the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum History {
    /// Left in the store: the record was read for display. The default, so that a
    /// record decoded without its history can never pass for one with none.
    #[default]
    NotLoaded,
    /// Read with the record (or made with it): the whole history.
    Loaded(Vec<RetainedRevision>),
}

impl History {
    /// A loaded history with no revision: a new record's.
    pub fn empty() -> Self {
        Self::Loaded(Vec::new())
    }

    pub fn is_loaded(&self) -> bool {
        matches!(self, Self::Loaded(_))
    }

    /// The retained revisions, newest first.
    pub fn get(&self) -> Result<&[RetainedRevision], HistoryNotLoaded> {
        match self {
            Self::Loaded(revisions) => Ok(revisions),
            Self::NotLoaded => Err(HistoryNotLoaded),
        }
    }

    pub fn get_mut(&mut self) -> Result<&mut Vec<RetainedRevision>, HistoryNotLoaded> {
        match self {
            Self::Loaded(revisions) => Ok(revisions),
            Self::NotLoaded => Err(HistoryNotLoaded),
        }
    }

    /// The history as a store writes it apart from the record: a JSON array, newest
    /// first (the shape `revisions` had inside records of schema version 2).
    pub fn to_json(&self) -> Result<String, HistoryNotLoaded> {
        // A Vec of plain structs always serialises.
        Ok(serde_json::to_string(self.get()?).unwrap_or_else(|_| "[]".to_owned()))
    }

    /// Reads what [`to_json`](Self::to_json) wrote.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        Ok(Self::Loaded(serde_json::from_str(json)?))
    }

    /// The `revisions` array inside a record of schema version 2 (serde
    /// `deserialize_with`): the history, loaded.
    pub(crate) fn deserialize_inline<'de, D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        Ok(Self::Loaded(Vec::<RetainedRevision>::deserialize(
            deserializer,
        )?))
    }
}

/// A deleted document in the trash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrashState {
    /// The status `POST /documents/{id}/undelete` returns the document to.
    pub previous_status: DocumentStatus,
    pub deleted_at: DateTime<Utc>,
    /// When the document, every revision and its sidecars are purged.
    pub purge_at: DateTime<Utc>,
}

/// One revision as the API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct RevisionInfo {
    pub revision: u32,
    pub size: u64,
    pub checksum_sha256: Option<String>,
    pub content_type: String,
    pub file_name: String,
    /// When it became current.
    pub created_at: DateTime<Utc>,
    pub current: bool,
    pub storage_class: StorageClass,
    pub extracted: Option<Extracted>,
    /// When it expires by the revision retention, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    pub blob: BlobRef,
}

impl RevisionInfo {
    fn current(document: &Document, content: &ContentVersion) -> Self {
        Self {
            revision: content.revision,
            size: content.size,
            checksum_sha256: content.checksum_sha256.clone(),
            content_type: content.content_type.clone(),
            file_name: content.file_name.clone(),
            created_at: content.arrived_at,
            current: true,
            storage_class: document.storage_class,
            extracted: document.extracted.clone(),
            expires_at: None,
            blob: BlobRef {
                key: content.key.clone(),
                location: content.location.clone(),
            },
        }
    }

    fn retained(revision: &RetainedRevision, retention: &Retention) -> Self {
        Self {
            revision: revision.content.revision,
            size: revision.content.size,
            checksum_sha256: revision.content.checksum_sha256.clone(),
            content_type: revision.content.content_type.clone(),
            file_name: revision.content.file_name.clone(),
            created_at: revision.content.arrived_at,
            current: false,
            storage_class: revision.storage_class,
            extracted: revision.extracted.clone(),
            expires_at: retention.revision_expires_at(revision.superseded_at),
            blob: revision.blob(),
        }
    }
}

/// Every revision a client can still see, newest first: the current content, then
/// the retained ones that have not expired at `now`.
pub fn visible(
    document: &Document,
    retention: &Retention,
    now: DateTime<Utc>,
) -> Result<Vec<RevisionInfo>, HistoryNotLoaded> {
    let mut all = Vec::with_capacity(document.revisions.get()?.len() + 1);
    if let Some(content) = &document.content {
        all.push(RevisionInfo::current(document, content));
    }
    let (kept, _) = split_expired(document, retention, now)?;
    all.extend(kept.iter().map(|r| RevisionInfo::retained(r, retention)));
    Ok(all)
}

/// The retained revisions split into those kept and those expired at `now` (by age,
/// by count, or past [`MAX_RETAINED_REVISIONS`]). Both newest first.
pub fn split_expired(
    document: &Document,
    retention: &Retention,
    now: DateTime<Utc>,
) -> Result<(Vec<RetainedRevision>, Vec<RetainedRevision>), HistoryNotLoaded> {
    let mut limit = MAX_RETAINED_REVISIONS;
    if retention.revision_count > 0 {
        // The current content counts as one of the kept revisions.
        let current = usize::from(document.content.is_some());
        limit = limit.min((retention.revision_count as usize).saturating_sub(current));
    }
    let mut kept = Vec::new();
    let mut expired = Vec::new();
    for revision in document.revisions.get()? {
        let too_old = retention
            .revision_expires_at(revision.superseded_at)
            .is_some_and(|at| at <= now);
        if too_old || kept.len() >= limit {
            expired.push(revision.clone());
        } else {
            kept.push(revision.clone());
        }
    }
    Ok((kept, expired))
}

/// Drops the expired revisions from `document`; returns them, for their blobs to be
/// deleted once the record no longer names them.
pub fn drop_expired(
    document: &mut Document,
    retention: &Retention,
    now: DateTime<Utc>,
) -> Result<Vec<RetainedRevision>, HistoryNotLoaded> {
    let (kept, expired) = split_expired(document, retention, now)?;
    *document.revisions.get_mut()? = kept;
    Ok(expired)
}

/// Moves the current content into the retained revisions, as a replacement arrives.
/// Refuses (changing nothing) when the history was not loaded.
pub fn retire_current(document: &mut Document, now: DateTime<Utc>) -> Result<(), HistoryNotLoaded> {
    let revisions = document.revisions.get_mut()?;
    if let Some(content) = document.content.take() {
        revisions.insert(
            0,
            RetainedRevision {
                content,
                storage_class: document.storage_class,
                extracted: document.extracted.clone(),
                superseded_at: now,
            },
        );
    }
    Ok(())
}

/// The highest revision number the record names (current, pending or retained).
/// Refuses when the history was not loaded: a number taken without it could be one a
/// retained revision already has.
pub fn latest_number(document: &Document) -> Result<u32, HistoryNotLoaded> {
    let current = document.content.as_ref().map_or(0, |c| c.revision);
    let pending = document.pending_upload.as_ref().map_or(0, |p| p.revision);
    let retained = document
        .revisions
        .get()?
        .iter()
        .map(|r| r.content.revision)
        .max()
        .unwrap_or(0);
    Ok(current.max(pending).max(retained))
}

#[cfg(all(test, feature = "conformance"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::Duration;

    use super::*;
    use crate::conformance::sample_document;

    /// A document whose current content is revision `current`, having replaced
    /// revisions current-1 … 1, each superseded a day after the one before.
    fn with_history(current: u32, now: DateTime<Utc>) -> Document {
        let mut document = sample_document("t", DocumentStatus::Active);
        let base = document.content.clone().unwrap();
        for n in 1..current {
            let mut content = base.clone();
            content.revision = n;
            content.key = blob_key::content_key(&document.id, n);
            document.revisions.get_mut().unwrap().insert(
                0,
                RetainedRevision {
                    content,
                    storage_class: StorageClass::Standard,
                    extracted: None,
                    superseded_at: now - Duration::days(i64::from(current - n)),
                },
            );
        }
        let content = document.content.as_mut().unwrap();
        content.revision = current;
        content.key = blob_key::content_key(&document.id, current);
        document
    }

    fn numbers(revisions: &[RetainedRevision]) -> Vec<u32> {
        revisions.iter().map(|r| r.content.revision).collect()
    }

    #[test]
    fn by_default_every_revision_is_kept() {
        let now = Utc::now();
        let document = with_history(5, now);
        let (kept, expired) = split_expired(&document, &Retention::default(), now).unwrap();
        assert_eq!(numbers(&kept), vec![4, 3, 2, 1]);
        assert!(expired.is_empty());
        let visible: Vec<(u32, bool)> = visible(&document, &Retention::default(), now)
            .unwrap()
            .iter()
            .map(|r| (r.revision, r.current))
            .collect();
        assert_eq!(
            visible,
            vec![(5, true), (4, false), (3, false), (2, false), (1, false)]
        );
    }

    #[test]
    fn the_count_includes_the_current_revision() {
        let now = Utc::now();
        let mut document = with_history(5, now);
        let retention = Retention {
            revision_count: 3,
            ..Retention::default()
        };
        let expired = drop_expired(&mut document, &retention, now).unwrap();
        assert_eq!(numbers(document.revisions.get().unwrap()), vec![4, 3]);
        assert_eq!(numbers(&expired), vec![2, 1]);
        let retention = Retention {
            revision_count: 1,
            ..Retention::default()
        };
        let expired = drop_expired(&mut document, &retention, now).unwrap();
        assert_eq!(numbers(&expired), vec![4, 3]);
        assert!(
            document.revisions.get().unwrap().is_empty(),
            "1 keeps only the current one"
        );
    }

    #[test]
    fn days_count_from_when_a_revision_stopped_being_current() {
        let now = Utc::now();
        let document = with_history(5, now);
        // Revision n was superseded 5-n days ago: 4 one day ago, 1 four days ago.
        let retention = Retention {
            revision_days: 2,
            ..Retention::default()
        };
        let (kept, expired) = split_expired(&document, &retention, now).unwrap();
        assert_eq!(numbers(&kept), vec![4]);
        assert_eq!(
            numbers(&expired),
            vec![3, 2, 1],
            "expired at exactly the limit too"
        );
        let info = visible(&document, &retention, now).unwrap();
        assert_eq!(
            info[1].expires_at,
            Some(now - Duration::days(1) + Duration::days(2))
        );
    }

    #[test]
    fn a_record_read_without_its_history_is_refused_by_every_change_to_it() {
        let now = Utc::now();
        let mut document = with_history(3, now);
        document.revisions = History::NotLoaded;
        let before = document.clone();
        assert_eq!(retire_current(&mut document, now), Err(HistoryNotLoaded));
        assert_eq!(
            drop_expired(&mut document, &Retention::default(), now),
            Err(HistoryNotLoaded)
        );
        assert_eq!(latest_number(&document), Err(HistoryNotLoaded));
        assert_eq!(
            visible(&document, &Retention::default(), now).map(|v| v.len()),
            Err(HistoryNotLoaded)
        );
        assert_eq!(document, before, "a refusal changes nothing");
    }

    #[test]
    fn a_record_never_holds_more_than_the_cap() {
        let now = Utc::now();
        let document = with_history(MAX_RETAINED_REVISIONS as u32 + 10, now);
        let (kept, expired) = split_expired(&document, &Retention::default(), now).unwrap();
        assert_eq!(kept.len(), MAX_RETAINED_REVISIONS);
        assert_eq!(numbers(&expired), (1..=9).rev().collect::<Vec<_>>());
    }

    #[test]
    fn retiring_moves_the_current_content_to_the_front() {
        let now = Utc::now();
        let mut document = with_history(2, now);
        document.storage_class = StorageClass::Glacier;
        retire_current(&mut document, now).unwrap();
        assert!(document.content.is_none());
        assert_eq!(numbers(document.revisions.get().unwrap()), vec![2, 1]);
        assert_eq!(
            document.revisions.get().unwrap()[0].storage_class,
            StorageClass::Glacier
        );
        assert_eq!(document.revisions.get().unwrap()[0].superseded_at, now);
        assert_eq!(latest_number(&document).unwrap(), 2);
    }

    #[test]
    fn a_version_1_record_reads_with_no_history() {
        let mut record =
            serde_json::to_value(sample_document("t", DocumentStatus::Active)).unwrap();
        let object = record.as_object_mut().unwrap();
        object.remove("schema_version");
        object.remove("revisions");
        object.remove("trash");
        let document = Document::from_record(&record.to_string()).unwrap();
        assert_eq!(document.schema_version, crate::document::SCHEMA_VERSION);
        assert!(document.revisions.get().unwrap().is_empty() && document.trash.is_none());
        assert_eq!(
            visible(&document, &Retention::default(), Utc::now())
                .unwrap()
                .len(),
            1
        );
    }
}
