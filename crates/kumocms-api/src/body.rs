//! Extractors that turn every malformed request into a JSON 4xx instead of axum's
//! plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::Bytes;
use kumocms_core::DocumentId;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body. The `Content-Type` is not required (clients of the old API
/// often omit it) but must be JSON when given.
pub struct JsonBody<T>(pub T);

/// Like [`JsonBody`], but an empty body or `null` means `T::default()`.
pub struct OptionalJsonBody<T>(pub T);

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    if let Some(content_type) = req.headers().get(http::header::CONTENT_TYPE) {
        let is_json = content_type
            .to_str()
            .map(|value| {
                let essence = value
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the request body as JSON with \"Content-Type: application/json\"",
            ));
        }
    }
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body is over {} bytes", crate::MAX_JSON_BODY),
            )
        } else {
            ApiError::bad_request("invalid_body", "the request body could not be read")
        }
    })
}

/// Cuts `message` to at most `max` bytes, at a character boundary: the messages
/// quote the client's input, which may be multi-byte UTF-8 (`String::truncate`
/// inside a character panics).
fn shorten(message: &mut String, max: usize) {
    if message.len() > max {
        let mut end = max;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| {
        let mut message = format!("the request body is not valid: {error}");
        // serde's messages are about the client's own input; still, keep them short.
        shorten(&mut message, 300);
        ApiError::bad_request("invalid_body", message)
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "invalid_body",
                "a JSON request body is required",
            ));
        }
        parse(&bytes).map(JsonBody)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        // `null` means "no options" as much as an empty body does.
        parse::<Option<T>>(&bytes).map(|value| OptionalJsonBody(value.unwrap_or_default()))
    }
}

/// The `{id}` path segment, which must be a ULID.
pub struct DocumentIdPath(pub DocumentId);

impl<S: Send + Sync> FromRequestParts<S> for DocumentIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| malformed_path())?;
        parse_document_id(&raw).map(DocumentIdPath)
    }
}

/// `/documents/{id}/…/{second}`: the checked document id and the second path
/// parameter as given (each route checks its own).
pub async fn document_id_and_segment<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<(DocumentId, String), ApiError> {
    let axum::extract::Path((id, second)) =
        axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| malformed_path())?;
    Ok((parse_document_id(&id)?, second))
}

fn malformed_path() -> ApiError {
    ApiError::bad_request(
        "invalid_document_id",
        "the document id in the path is malformed",
    )
}

fn parse_document_id(raw: &str) -> Result<DocumentId, ApiError> {
    raw.parse()
        .map_err(|error: kumocms_core::id::InvalidDocumentId| {
            ApiError::bad_request("invalid_document_id", error.to_string())
        })
}

/// Query parameters, with a JSON 400 when they do not parse.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|rejection| {
                let mut message =
                    format!("the query string is not valid: {}", rejection.body_text());
                shorten(&mut message, 300);
                ApiError::bad_request("invalid_query", message)
            })
    }
}
