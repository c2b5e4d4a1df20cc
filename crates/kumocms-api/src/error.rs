//! Every error the API returns: `{"error": "<stable_code>", "message": "<what to fix>"}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kumocms_core::CoreError;
use kumocms_core::validate::ValidationKind;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code, e.g. `invalid_file_name`.
    #[schema(example = "invalid_file_name")]
    pub error: String,
    /// What went wrong and what to do about it.
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a valid API key as \"Authorization: Bearer <key>\"",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::Invalid(invalid) => {
                let status = match invalid.kind {
                    ValidationKind::Invalid => StatusCode::BAD_REQUEST,
                    ValidationKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                };
                Self::new(status, invalid.code, invalid.message)
            }
            CoreError::NotFound(id) => Self::new(
                StatusCode::NOT_FOUND,
                "document_not_found",
                format!("no document has id {id}"),
            ),
            CoreError::RevisionNotFound { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "revision_not_found",
                error.to_string(),
            ),
            CoreError::UploadNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "upload_not_found", error.to_string())
            }
            CoreError::UploadIncomplete { code, message } => {
                Self::new(StatusCode::CONFLICT, code, message)
            }
            CoreError::State(refusal) => {
                Self::new(StatusCode::CONFLICT, refusal.code, refusal.message)
            }
            CoreError::Conflict => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                CoreError::Conflict.to_string(),
            ),
            CoreError::PreconditionFailed => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                CoreError::PreconditionFailed.to_string(),
            ),
            CoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "dependency unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "a storage service is unavailable; retry the request shortly",
                )
            }
            CoreError::HomeRegionUnavailable { region, detail } => {
                tracing::warn!(%region, %detail, "home region unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "home_region_unavailable",
                    format!(
                        "this document is written in its home region {region}, which cannot be \
                         reached from here; nothing was changed. Reads still work; retry the \
                         change later"
                    ),
                )
            }
            CoreError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "something went wrong on our side; the request changed nothing it did not report",
                )
            }
        }
    }
}

pub async fn route_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "no such route; see /openapi.json for the API",
    )
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /openapi.json for the API",
    )
}
