//! The document record: system fields owned by KumoCMS, user metadata in its own
//! namespace, and what extraction found in the content.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::id::DocumentId;
use crate::revision::{History, TrashState};

/// Where a document is in its lifecycle. See [`crate::lifecycle`] for the transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Created; its first content has not arrived yet.
    PendingUpload,
    /// Content is stored in a standard (readable) storage class.
    Active,
    /// Content sits in an archive storage class and cannot be read until restored.
    Archived,
    /// A restore was requested and has not completed.
    Restoring,
    /// A temporary restored copy can be read until it expires.
    Restored,
    /// In the trash: hidden from the default listing, content unreadable, purged
    /// after the trash retention unless undeleted.
    Deleted,
}

impl DocumentStatus {
    pub const ALL: [DocumentStatus; 6] = [
        Self::PendingUpload,
        Self::Active,
        Self::Archived,
        Self::Restoring,
        Self::Restored,
        Self::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingUpload => "pending_upload",
            Self::Active => "active",
            Self::Archived => "archived",
            Self::Restoring => "restoring",
            Self::Restored => "restored",
            Self::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

/// The storage class a document's content is kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageClass {
    #[default]
    Standard,
    Glacier,
    DeepArchive,
}

impl StorageClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::Glacier => "GLACIER",
            Self::DeepArchive => "DEEP_ARCHIVE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Standard, Self::Glacier, Self::DeepArchive]
            .into_iter()
            .find(|class| class.as_str() == s)
    }
}

/// How fast a restore should be (and how much it costs), as S3 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
pub enum RestoreTier {
    #[default]
    Standard,
    Bulk,
    Expedited,
}

impl RestoreTier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "Standard",
            Self::Bulk => "Bulk",
            Self::Expedited => "Expedited",
        }
    }
}

/// Which blob store holds a piece of content. With a DynamoDB global table, another
/// region's API reads the record and must still find the bucket that holds the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobLocation {
    /// The bucket (on AWS) or `local`.
    pub store: String,
    /// The region of the bucket, when the store has regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// One blob: its key and where it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    pub key: String,
    pub location: BlobLocation,
}

/// Content that has arrived and is being served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentVersion {
    /// Counts content replacements: 1 for the first upload.
    pub revision: u32,
    pub key: String,
    pub location: BlobLocation,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
    pub arrived_at: DateTime<Utc>,
}

/// Content that a client was given a link to upload and that has not arrived yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpload {
    pub revision: u32,
    pub key: String,
    pub location: BlobLocation,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
    /// After this instant the upload is abandoned and cleaned up.
    pub expires_at: DateTime<Utc>,
    /// Set when the content comes in parts (absent in records of single-PUT uploads
    /// and of releases before multipart uploads, which read as single-PUT ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<crate::multipart::MultipartState>,
}

/// A restore that was asked for, and when its readable copy goes away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RestoreState {
    pub days: u16,
    pub tier: RestoreTier,
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_until: Option<DateTime<Utc>>,
}

/// What the event processor learnt from the bytes themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Extracted {
    pub size: u64,
    pub sha256: String,
    /// The media type recognised from the first bytes, when recognisable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sniffed_content_type: Option<String>,
    /// True when the sniffed type contradicts the declared one.
    pub content_type_mismatch: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    pub extracted_at: DateTime<Utc>,
    /// True once a `.meta.json` sidecar has been merged into user metadata, so that
    /// a duplicate or late sidecar event cannot undo later edits.
    #[serde(default)]
    pub sidecar_applied: bool,
    /// The text of the content, for search: at most [`crate::search::MAX_RECORD_TEXT`]
    /// bytes are kept in the record (the API does not return it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub text: Option<String>,
    /// The whole text read (at most [`crate::search::MAX_INDEXED_TEXT`]) when it is
    /// longer than `text`: never stored in the record, but handed with the write
    /// that records the extraction to a store that indexes text itself (SQLite FTS5
    /// indexes up to 1 MiB of text per revision; DynamoDB's search attribute keeps
    /// the record's first 32 KiB).
    #[serde(skip)]
    #[schema(ignore)]
    pub index_text: Option<String>,
    /// Why the text of a text format could not be read (the upload still succeeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_error: Option<String>,
    /// A PDF's Info dictionary: its title, author and creation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// The version of the stored record's shape that this code writes. Records without
/// a `schema_version` were written by releases before it existed (version 1: no
/// revision history, no trash); [`Document::from_record`] reads every version up to
/// this one, and refuses newer ones rather than lose what it does not know.
///
/// | version | release | change |
/// |---|---|---|
/// | 1 | up to fc2895e | (implicit) |
/// | 2 | revisions and trash | `schema_version`, `revisions`, `trash`, status `deleted` |
/// | 3 | history apart | `revisions` no longer in the record: each store keeps it beside it |
pub const SCHEMA_VERSION: u32 = 3;

/// The first schema version whose records never carry their history inside.
const HISTORY_APART: u32 = 3;

fn schema_v1() -> u32 {
    1
}

/// Why a stored record cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("unreadable record: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error(
        "record schema version {0} is newer than this release reads ({SCHEMA_VERSION}); upgrade KumoCMS"
    )]
    TooNew(u32),
}

/// A document record, in the form adapters persist. System fields are struct fields;
/// user metadata is the `metadata` map and can never shadow them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The shape of this record; see [`SCHEMA_VERSION`].
    #[serde(default = "schema_v1")]
    pub schema_version: u32,
    pub id: DocumentId,
    /// Bumped on every write; conditional writes compare it.
    pub version: u64,
    pub status: DocumentStatus,
    pub document_type: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub storage_class: StorageClass,
    pub metadata: Map<String, Value>,
    pub content: Option<ContentVersion>,
    pub pending_upload: Option<PendingUpload>,
    pub restore: Option<RestoreState>,
    pub extracted: Option<Extracted>,
    /// Content this record replaced and still keeps, newest first (the current
    /// content is `content`), when it was loaded with the record. See
    /// [`crate::revision`]. Never serialised with the record: each store keeps it
    /// apart, so that reads for display do not load it; records of schema version 2
    /// carry it inside, and are read with it.
    #[serde(
        default,
        skip_serializing,
        deserialize_with = "History::deserialize_inline"
    )]
    pub revisions: History,
    /// Set while the document is in the trash (status `deleted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trash: Option<TrashState>,
}

impl Document {
    /// Reads a stored record of any schema version up to [`SCHEMA_VERSION`] and
    /// upgrades it in memory; it is written back in the current shape at its next
    /// change. Version 1 records have no history: their current content is their
    /// one revision. Version 2 records carry their history inside (read as
    /// loaded). Version 3 records never do: their history is
    /// [`History::NotLoaded`] until the store attaches what it keeps apart.
    pub fn from_record(json: &str) -> Result<Self, RecordError> {
        let mut document: Document = serde_json::from_str(json)?;
        if document.schema_version > SCHEMA_VERSION {
            return Err(RecordError::TooNew(document.schema_version));
        }
        // 1 → 2: the new fields default to "no history, not in the trash".
        // 2 → 3: a record from before the history moved out holds all of it.
        if document.schema_version < HISTORY_APART && !document.revisions.is_loaded() {
            document.revisions = History::empty();
        }
        document.schema_version = SCHEMA_VERSION;
        Ok(document)
    }

    /// The strong ETag of this version of the record.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    /// The content blob being served, if any.
    pub fn content_blob(&self) -> Option<BlobRef> {
        self.content.as_ref().map(|c| BlobRef {
            key: c.key.clone(),
            location: c.location.clone(),
        })
    }

    /// The blob a pending upload will land in, if any.
    pub fn pending_blob(&self) -> Option<BlobRef> {
        self.pending_upload.as_ref().map(|p| BlobRef {
            key: p.key.clone(),
            location: p.location.clone(),
        })
    }

    /// Where the document lives: the bucket (and region) that received its first
    /// upload and receives every later one. In a multi-region deployment its region
    /// is the document's home, where every change to the record is written.
    pub fn home_location(&self) -> Option<&BlobLocation> {
        self.content
            .as_ref()
            .map(|c| &c.location)
            .or(self.pending_upload.as_ref().map(|p| &p.location))
    }

    /// The region of [`home_location`](Self::home_location), when the store has regions.
    pub fn home_region(&self) -> Option<&str> {
        self.home_location().and_then(|l| l.region.as_deref())
    }
}
