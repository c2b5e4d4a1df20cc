//! The multipart upload routes: `/documents/{id}/uploads/{upload_id}…` (part links,
//! parts received, complete, abort). An upload is started by `POST /documents` or
//! `PUT /documents/{id}` (`upload.mode` = `multipart`).

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use kumocms_core::DocumentId;
use kumocms_core::ports::ReceivedPart;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiState;
use crate::body::{JsonBody, OptionalJsonBody};
use crate::documents::with_etag;
use crate::dto::{DocumentBody, DocumentIdParam};
use crate::error::ApiError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/documents/{id}/uploads/{upload_id}", delete(abort_upload))
        .route(
            "/documents/{id}/uploads/{upload_id}/parts",
            get(list_parts).post(sign_parts),
        )
        .route(
            "/documents/{id}/uploads/{upload_id}/complete",
            post(complete_upload),
        )
}

/// The `{id}` and `{upload_id}` path segments.
pub struct UploadPath(pub DocumentId, pub String);

/// Upload ids are short tokens of letters, digits and `-._~` (S3's are longer than
/// 64 characters, so the bound is generous).
fn valid_upload_id(upload_id: &str) -> bool {
    (1..=1024).contains(&upload_id.len())
        && upload_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

impl<S: Send + Sync> FromRequestParts<S> for UploadPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let (id, upload_id) = crate::body::document_id_and_segment(parts, state).await?;
        if !valid_upload_id(&upload_id) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "upload_not_found",
                "no multipart upload has this id; use the upload_id from the create or replace answer",
            ));
        }
        Ok(Self(id, upload_id))
    }
}

/// `POST /documents/{id}/uploads/{upload_id}/parts`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartLinksRequest {
    /// 1 to 1,000 part numbers, each from 1 to `part_count`; duplicates are signed once.
    #[schema(min_items = 1, max_items = 1000)]
    pub part_numbers: Vec<u32>,
}

/// One part's signed link.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartLinkBody {
    pub part_number: u32,
    /// Send exactly this many bytes.
    pub size: u64,
    pub method: String,
    pub url: String,
    /// Send exactly these headers (at least `Content-Length`).
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartLinksBody {
    pub upload_id: String,
    pub parts: Vec<PartLinkBody>,
}

/// The parts received whole so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartsBody {
    pub upload_id: String,
    pub part_size: u64,
    pub part_count: u32,
    /// Sorted by part number.
    pub parts: Vec<ReceivedPart>,
}

/// `POST …/complete`: the server lists the parts itself; the body is empty, `{}`,
/// or declares the whole file's SHA-256.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The whole file's SHA-256 (64 hexadecimal digits), for a client that hashes
    /// while it sends. Verified before the content becomes current, exactly like one
    /// declared at create; when one was declared there too, both must agree (400
    /// `checksum_conflict`).
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub checksum_sha256: Option<String>,
}

/// Sign part links
///
/// Short-lived links for the parts of a multipart upload, up to 1,000 at a time; a
/// part may be signed again at any time (a link that expired mid-transfer is no
/// problem).
#[utoipa::path(
    post, path = "/documents/{id}/uploads/{upload_id}/parts", tag = "uploads",
    params(
        DocumentIdParam,
        ("upload_id" = String, Path, pattern = r"^[A-Za-z0-9._~-]{1,1024}$", description = "The multipart upload's id"),
    ),
    request_body = PartLinksRequest,
    responses(
        (status = 200, description = "Signed links for the parts; ask again at any time for fresh ones", body = PartLinksBody),
    ),
    security(("api_key" = []))
)]
pub async fn sign_parts(
    State(state): State<ApiState>,
    UploadPath(id, upload_id): UploadPath,
    JsonBody(request): JsonBody<PartLinksRequest>,
) -> Result<Response, ApiError> {
    let links = state
        .service
        .part_links(&id, &upload_id, &request.part_numbers)
        .await?;
    let parts = links
        .into_iter()
        .map(|part| PartLinkBody {
            part_number: part.part_number,
            size: part.size,
            method: part.link.method,
            url: part.link.url,
            headers: part.link.headers,
            expires_at: part.link.expires_at,
        })
        .collect();
    Ok(Json(PartLinksBody { upload_id, parts }).into_response())
}

/// List the parts received
///
/// The parts stored so far, for a client that resumes after a crash: send the
/// others, then complete.
#[utoipa::path(
    get, path = "/documents/{id}/uploads/{upload_id}/parts", tag = "uploads",
    params(
        DocumentIdParam,
        ("upload_id" = String, Path, pattern = r"^[A-Za-z0-9._~-]{1,1024}$", description = "The multipart upload's id"),
    ),
    responses(
        (status = 200, description = "The parts received whole so far, for a client that resumes", body = PartsBody),
    ),
    security(("api_key" = []))
)]
pub async fn list_parts(
    State(state): State<ApiState>,
    UploadPath(id, upload_id): UploadPath,
) -> Result<Response, ApiError> {
    let received = state.service.parts_received(&id, &upload_id).await?;
    Ok(Json(PartsBody {
        upload_id: received.upload_id,
        part_size: received.part_size,
        part_count: received.part_count,
        parts: received.parts,
    })
    .into_response())
}

/// Complete a multipart upload
///
/// Checks that every part is there with its size (and the declared SHA-256), then
/// assembles them; the content becomes current once checked and extracted, like a
/// single upload (202).
#[utoipa::path(
    post, path = "/documents/{id}/uploads/{upload_id}/complete", tag = "uploads",
    params(
        DocumentIdParam,
        ("upload_id" = String, Path, pattern = r"^[A-Za-z0-9._~-]{1,1024}$", description = "The multipart upload's id"),
    ),
    request_body(content = Option<CompleteRequest>, description = "Empty, `{}`, or `{\"checksum_sha256\": \"<hex>\"}`"),
    responses(
        (status = 202, description = "The parts were joined; the content becomes current once checked (poll until `status` is `active`)", body = DocumentBody),
    ),
    security(("api_key" = []))
)]
pub async fn complete_upload(
    State(state): State<ApiState>,
    UploadPath(id, upload_id): UploadPath,
    OptionalJsonBody(complete): OptionalJsonBody<CompleteRequest>,
) -> Result<Response, ApiError> {
    let document = state
        .service
        .complete_upload(&id, &upload_id, complete.checksum_sha256.as_deref())
        .await?;
    Ok(with_etag(
        StatusCode::ACCEPTED,
        DocumentBody::new(document, None),
    ))
}

/// Abort a multipart upload
///
/// Drops the parts received; the document's current content is untouched.
#[utoipa::path(
    delete, path = "/documents/{id}/uploads/{upload_id}", tag = "uploads",
    params(
        DocumentIdParam,
        ("upload_id" = String, Path, pattern = r"^[A-Za-z0-9._~-]{1,1024}$", description = "The multipart upload's id"),
    ),
    responses(
        (status = 204, description = "Aborted: the parts are gone; the current content (if any) stays"),
    ),
    security(("api_key" = []))
)]
pub async fn abort_upload(
    State(state): State<ApiState>,
    UploadPath(id, upload_id): UploadPath,
) -> Result<Response, ApiError> {
    state.service.abort_upload(&id, &upload_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
