//! The JSON shapes of requests and responses, with their OpenAPI schemas.

use chrono::{DateTime, Utc};
use kumocms_core::document::{Extracted, RestoreState};
use kumocms_core::multipart::UploadMode;
use kumocms_core::ports::SignedLink;
use kumocms_core::service::{DocumentView, UploadInstructions};
use kumocms_core::{Document, DocumentStatus, RestoreTier, StorageClass};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

// The patterns below are what the schema promises; `kumocms_core::validate` enforces
// the same rules (the HTTP tests and schemathesis check that they agree).

/// Integers may arrive as `5` or `5.0` (both are JSON Schema integers).
fn whole_number<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    let value = serde_json::Number::deserialize(deserializer)?;
    // A whole number past u64 (`1e20`, 2^64) saturates to u64::MAX, so that it meets
    // the same "too large" check as any other number over the limit (413 for a
    // file_size) instead of a parse error (issue 16, item 15).
    let whole = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && f.fract() == 0.0 && *f >= 0.0)
            .map(|f| f as u64)
    });
    whole.and_then(|n| T::try_from(n).ok()).ok_or_else(|| {
        serde::de::Error::custom(format!("expected a whole number in range, got {value}"))
    })
}

fn optional_whole_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    #[derive(Deserialize)]
    struct Wrapper<T: TryFrom<u64>>(#[serde(deserialize_with = "whole_number")] T);
    Option::<Wrapper<T>>::deserialize(deserializer).map(|w| w.map(|Wrapper(n)| n))
}

/// The `{id}` path parameter, for the OpenAPI document only (the handlers parse it
/// with `DocumentIdPath`).
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DocumentIdParam {
    /// The document id: a ULID in upper case.
    #[param(
        pattern = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$",
        min_length = 26,
        max_length = 26
    )]
    pub id: String,
}

/// `POST /documents`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDocumentRequest {
    /// The name to download the content as: 1 to 255 bytes, no `/`, `\`, control characters, `.` or `..`.
    #[schema(
        example = "report.pdf",
        min_length = 1,
        max_length = 255,
        pattern = r"^(?!\.\.?$)(?!\s*$)[^/\\\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+$"
    )]
    pub file_name: String,
    /// The exact size of the content in bytes: 1 up to the server's maximum (5 TiB unless configured otherwise; over 5 GiB only in parts).
    #[serde(deserialize_with = "whole_number")]
    #[schema(example = 1048576, minimum = 1, maximum = 5497558138880_u64)]
    pub file_size: u64,
    /// A media type; `application/octet-stream` when absent. The upload must send it.
    #[schema(
        example = "application/pdf",
        max_length = 255,
        pattern = r#"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*( *; *[A-Za-z0-9!#$&^_.+-]+=([A-Za-z0-9!#$&^_.+-]+|"[ !#-\[\]-~]*"))* *$"#
    )]
    pub content_type: Option<String>,
    /// SHA-256 of the content as 64 hex digits; the upload is refused if the bytes differ.
    #[schema(pattern = r"^[0-9a-fA-F]{64}$")]
    pub checksum_sha256: Option<String>,
    /// A label to list documents by: 1 to 64 letters, digits, `-`, `_` or `.`; `default` when absent.
    #[schema(example = "invoice", pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub document_type: Option<String>,
    /// User metadata: a JSON object of at most 16 KiB. It cannot change system fields.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// `single` (one PUT, at most 5 GiB) or `multipart` (parts); when absent, `multipart` from the server's threshold (64 MiB unless configured otherwise) and `single` below it.
    pub upload_mode: Option<UploadMode>,
    /// The part size to use (multipart only): 5 MiB to 5 GiB, and at most 10,000 parts for `file_size`. The server chooses when absent.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 5242880, maximum = 5368709120_u64)]
    pub part_size: Option<u64>,
}

/// `PUT /documents/{id}`: an upload for the next content version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceContentRequest {
    /// Keeps the current name when absent.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^(?!\.\.?$)(?!\s*$)[^/\\\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+$"
    )]
    pub file_name: Option<String>,
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 5497558138880_u64)]
    pub file_size: u64,
    #[schema(
        max_length = 255,
        pattern = r#"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*( *; *[A-Za-z0-9!#$&^_.+-]+=([A-Za-z0-9!#$&^_.+-]+|"[ !#-\[\]-~]*"))* *$"#
    )]
    pub content_type: Option<String>,
    #[schema(pattern = r"^[0-9a-fA-F]{64}$")]
    pub checksum_sha256: Option<String>,
    /// `single` (one PUT, at most 5 GiB) or `multipart` (parts); when absent, `multipart` from the server's threshold (64 MiB unless configured otherwise) and `single` below it.
    pub upload_mode: Option<UploadMode>,
    /// The part size to use (multipart only): 5 MiB to 5 GiB, and at most 10,000 parts for `file_size`. The server chooses when absent.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 5242880, maximum = 5368709120_u64)]
    pub part_size: Option<u64>,
}

/// `PATCH /documents/{id}`: `metadata` is merged as a JSON merge patch (RFC 7396:
/// `null` removes a key).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchDocumentRequest {
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub document_type: Option<String>,
}

/// The storage classes a document can be archived to.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ArchiveClass {
    #[default]
    Glacier,
    DeepArchive,
}

impl From<ArchiveClass> for StorageClass {
    fn from(class: ArchiveClass) -> Self {
        match class {
            ArchiveClass::Glacier => StorageClass::Glacier,
            ArchiveClass::DeepArchive => StorageClass::DeepArchive,
        }
    }
}

/// `POST /documents/{id}/archive`; the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRequest {
    /// `GLACIER` when absent.
    pub storage_class: Option<ArchiveClass>,
}

/// `POST /documents/{id}/restore`; the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// How many days the restored copy stays readable: 1 to 365, default 1.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 1, maximum = 365)]
    pub days: Option<u32>,
    /// `Standard` when absent.
    pub tier: Option<RestoreTier>,
}

/// `GET /documents` query parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only documents of this `document_type`.
    #[serde(rename = "type")]
    #[param(rename = "type", pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub document_type: Option<String>,
    /// Only documents in this status.
    pub status: Option<DocumentStatus>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// `next_cursor` from the previous page, unchanged.
    #[param(pattern = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$", max_length = 4096)]
    pub cursor: Option<String>,
}

/// `DELETE /documents/{id}` query parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// `true` purges at once (record, every revision, sidecars) instead of moving the
    /// document to the trash: for erasure requests.
    pub permanent: Option<bool>,
}

/// A content upload that has not arrived yet.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingUploadBody {
    pub revision: u32,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// A document: system fields, user `metadata`, and what extraction found.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentBody {
    #[schema(example = "01JDQ7ZK3M9X8E4W2N5R6T7Y8V")]
    pub document_id: String,
    pub status: DocumentStatus,
    /// Bumped on every change; the `ETag` header is this number in quotes.
    pub version: u64,
    pub etag: String,
    pub document_type: String,
    /// The name of the current content (or of the pending first upload).
    pub file_name: String,
    pub content_type: String,
    /// Size of the current content in bytes, when it has arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
    /// Content revision being served: 1 for the first upload, 0 before it arrives.
    pub revision: u32,
    pub storage_class: StorageClass,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extracted: Option<Extracted>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_upload: Option<PendingUploadBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreState>,
    /// In the trash (status `deleted`): when it was deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// In the trash: when it is purged unless undeleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purge_at: Option<DateTime<Utc>>,
    /// A short-lived link to the content, when it can be read now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download: Option<SignedLink>,
}

impl DocumentBody {
    pub fn new(document: Document, download: Option<SignedLink>) -> Self {
        let (file_name, content_type) = match (&document.content, &document.pending_upload) {
            (Some(content), _) => (content.file_name.clone(), content.content_type.clone()),
            (None, Some(pending)) => (pending.file_name.clone(), pending.content_type.clone()),
            (None, None) => (String::new(), String::new()),
        };
        Self {
            document_id: document.id.to_string(),
            status: document.status,
            version: document.version,
            etag: document.etag(),
            document_type: document.document_type,
            file_name,
            content_type,
            size: document.content.as_ref().map(|c| c.size),
            checksum_sha256: document
                .content
                .as_ref()
                .and_then(|c| c.checksum_sha256.clone()),
            revision: document.content.as_ref().map_or(0, |c| c.revision),
            storage_class: document.storage_class,
            created_at: document.created_at,
            updated_at: document.updated_at,
            metadata: document.metadata,
            extracted: document.extracted,
            pending_upload: document.pending_upload.map(|p| PendingUploadBody {
                revision: p.revision,
                file_name: p.file_name,
                content_type: p.content_type,
                size: p.size,
                checksum_sha256: p.checksum_sha256,
                expires_at: p.expires_at,
            }),
            restore: document.restore,
            deleted_at: document.trash.as_ref().map(|t| t.deleted_at),
            purge_at: document.trash.as_ref().map(|t| t.purge_at),
            download,
        }
    }
}

impl From<DocumentView> for DocumentBody {
    fn from(view: DocumentView) -> Self {
        Self::new(view.document, view.download)
    }
}

/// A document with the link to upload its (next) content to.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadBody {
    #[serde(flatten)]
    pub document: DocumentBody,
    /// How to send the content: `single`: `method` to `url` with exactly `headers`, before `expires_at`; `multipart`: parts through `/documents/{id}/uploads/{upload_id}/parts`, then `…/complete`, before `expires_at`.
    pub upload: UploadInfo,
}

/// How the client sends the content (`upload` in a create or replace answer).
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadInfo {
    pub mode: UploadMode,
    /// single: the HTTP method to use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// single: the signed link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// single: headers to send exactly as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// multipart: the upload's id in the part, complete and abort routes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// multipart: every part but the last is exactly this many bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_size: Option<u64>,
    /// multipart: how many parts; the last holds `file_size - (part_count-1)*part_size` bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_count: Option<u32>,
    /// single: when the link expires; multipart: when the unfinished upload is abandoned.
    pub expires_at: DateTime<Utc>,
}

impl From<UploadInstructions> for UploadInfo {
    fn from(upload: UploadInstructions) -> Self {
        match upload {
            UploadInstructions::Single(link) => Self {
                mode: UploadMode::Single,
                method: Some(link.method),
                url: Some(link.url),
                headers: Some(link.headers),
                upload_id: None,
                part_size: None,
                part_count: None,
                expires_at: link.expires_at,
            },
            UploadInstructions::Multipart {
                upload_id,
                part_size,
                part_count,
                expires_at,
            } => Self {
                mode: UploadMode::Multipart,
                method: None,
                url: None,
                headers: None,
                upload_id: Some(upload_id),
                part_size: Some(part_size),
                part_count: Some(part_count),
                expires_at,
            },
        }
    }
}

/// A page of documents.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPage {
    pub documents: Vec<DocumentBody>,
    pub count: usize,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One dependency's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckBody {
    /// `healthy` or `unhealthy`.
    pub status: String,
}

/// `GET /healthcheck`
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// `healthy` when every check passed.
    pub status: String,
    pub checks: std::collections::BTreeMap<String, CheckBody>,
}
