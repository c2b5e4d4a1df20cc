use crate::lifecycle::InvalidTransition;
use crate::ports::{BlobError, StoreError};
use crate::validate::ValidationError;

/// What a document operation can fail with. Each variant maps to one HTTP status in
/// the API; `code` strings are stable and documented.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("no document has id {0}")]
    NotFound(String),
    /// The document exists but keeps no such revision (never made, or expired).
    #[error("document {id} has no revision {revision} (it never existed or has expired)")]
    RevisionNotFound { id: String, revision: u32 },
    #[error("{0}")]
    State(#[from] InvalidTransition),
    /// The document has no multipart upload with this id (never started, completed,
    /// aborted or superseded).
    #[error(
        "document {id} has no multipart upload {upload_id} (it was completed, aborted, superseded or never started)"
    )]
    UploadNotFound { id: String, upload_id: String },
    /// A multipart upload cannot be completed as it is (e.g. parts are missing);
    /// `code` names the problem, `message` says what to send.
    #[error("{message}")]
    UploadIncomplete { code: &'static str, message: String },
    /// Another change to the same record won the race.
    #[error("the document was changed by another request; read it again and retry")]
    Conflict,
    /// The client's `If-Match` named an older version.
    #[error("the document has changed since the ETag you sent; read it again and retry")]
    PreconditionFailed,
    /// A dependency is down or refused for now; retrying later may succeed.
    #[error("a storage service is unavailable; retry later")]
    Unavailable(String),
    /// The document's home region, where every change to it is written, is
    /// unreachable (multi-region deployments). Reads still work.
    #[error("the document's home region {region} is unreachable; retry later")]
    HomeRegionUnavailable { region: String, detail: String },
    /// A bug or corrupt data. The detail is for logs, never for clients.
    #[error("internal error")]
    Internal(String),
}

impl From<crate::revision::HistoryNotLoaded> for CoreError {
    fn from(error: crate::revision::HistoryNotLoaded) -> Self {
        Self::Internal(error.to_string())
    }
}

impl From<StoreError> for CoreError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => Self::Conflict,
            StoreError::Unavailable(detail) => Self::Unavailable(detail),
            StoreError::HomeRegionUnavailable { region, detail } => {
                Self::HomeRegionUnavailable { region, detail }
            }
            StoreError::HistoryNotLoaded(error) => Self::Internal(error.to_string()),
            StoreError::Corrupt(detail)
            | StoreError::Other {
                message: detail, ..
            } => Self::Internal(detail),
        }
    }
}

impl From<BlobError> for CoreError {
    fn from(error: BlobError) -> Self {
        match error {
            BlobError::Unavailable(detail) => Self::Unavailable(detail),
            BlobError::NotFound(key) => Self::Internal(format!("blob {key} is missing")),
            BlobError::UploadNotFound(upload_id) => Self::UploadNotFound {
                id: String::new(),
                upload_id,
            },
            BlobError::Rejected { code, message } => {
                Self::Invalid(ValidationError::invalid(code, message))
            }
            BlobError::TooLarge { .. } | BlobError::Other { .. } => {
                Self::Internal(error.to_string())
            }
        }
    }
}

impl CoreError {
    /// True when the same call may succeed if retried (used by event processors to
    /// decide whether to fail the invocation so the platform retries it).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::HomeRegionUnavailable { .. } | Self::Conflict
        )
    }
}
