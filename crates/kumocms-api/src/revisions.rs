//! The content history and trash routes: `/documents/{id}/revisions…` and
//! `/documents/{id}/undelete`.

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use kumocms_core::revision::RevisionInfo;
use kumocms_core::{DocumentId, Extracted, StorageClass};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ApiState;
use crate::body::{DocumentIdPath, QueryParams};
use crate::documents::{if_match_version, redirect_to, with_etag};
use crate::dto::{DocumentBody, DocumentIdParam};
use crate::error::ApiError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/documents/{id}/revisions", get(list_revisions))
        .route("/documents/{id}/revisions/{n}", get(get_revision))
        .route(
            "/documents/{id}/revisions/{n}/content",
            get(revision_content),
        )
        .route(
            "/documents/{id}/revisions/{n}/restore",
            post(restore_revision),
        )
        .route("/documents/{id}/undelete", post(undelete_document))
}

/// The `{id}` and `{n}` path segments. The revision number is parsed by the core
/// (`parse_revision`), which answers 400 `invalid_revision` for anything but a
/// positive integer.
pub struct RevisionPath(pub DocumentId, pub String);

impl<S: Send + Sync> FromRequestParts<S> for RevisionPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let (id, n) = crate::body::document_id_and_segment(parts, state).await?;
        Ok(RevisionPath(id, n))
    }
}

/// The `{n}` path parameter, for the OpenAPI document only.
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RevisionParam {
    /// The revision number, a positive integer: 1 for the first upload. Anything else
    /// answers 400 `invalid_revision`; a number the document does not keep (never
    /// made, or expired) answers 404 `revision_not_found`.
    #[param(pattern = r"^[1-9][0-9]{0,8}$")]
    pub n: String,
}

/// One revision of a document's content.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionBody {
    pub revision: u32,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
    pub content_type: String,
    pub file_name: String,
    /// When this revision became the current content.
    pub created_at: DateTime<Utc>,
    /// True for the content `GET /documents/{id}/content` serves.
    pub current: bool,
    pub storage_class: StorageClass,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extracted: Option<Extracted>,
    /// When the revision retention removes it, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// A short-lived link to the bytes, when they can be read now (single revision only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download: Option<kumocms_core::ports::SignedLink>,
}

impl RevisionBody {
    fn new(info: RevisionInfo, download: Option<kumocms_core::ports::SignedLink>) -> Self {
        Self {
            revision: info.revision,
            size: info.size,
            checksum_sha256: info.checksum_sha256,
            content_type: info.content_type,
            file_name: info.file_name,
            created_at: info.created_at,
            current: info.current,
            storage_class: info.storage_class,
            extracted: info.extracted,
            expires_at: info.expires_at,
            download,
        }
    }
}

/// A page of revisions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionPage {
    pub revisions: Vec<RevisionBody>,
    pub count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevisionListParams {
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// `next_cursor` from the previous page, unchanged.
    #[param(pattern = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$", max_length = 4096)]
    pub cursor: Option<String>,
}

/// List a document's revisions
///
/// Newest first, the current one included, one page at a time.
#[utoipa::path(
    get, path = "/documents/{id}/revisions", tag = "revisions",
    params(DocumentIdParam, RevisionListParams),
    responses(
        (status = 200, description = "The revisions still kept, newest first: the current one, then those it replaced", body = RevisionPage),
    ),
    security(("api_key" = []))
)]
pub async fn list_revisions(
    State(state): State<ApiState>,
    DocumentIdPath(id): DocumentIdPath,
    QueryParams(params): QueryParams<RevisionListParams>,
) -> Result<Json<RevisionPage>, ApiError> {
    let page = state
        .service
        .revisions(&id, params.limit, params.cursor)
        .await?;
    let revisions: Vec<RevisionBody> = page
        .revisions
        .into_iter()
        .map(|r| RevisionBody::new(r, None))
        .collect();
    Ok(Json(RevisionPage {
        count: revisions.len(),
        revisions,
        next_cursor: page.next_cursor,
    }))
}

/// Get one revision
///
/// With a short-lived `download` link when its bytes can be read now.
#[utoipa::path(
    get, path = "/documents/{id}/revisions/{n}", tag = "revisions",
    params(DocumentIdParam, RevisionParam),
    responses(
        (status = 200, description = "The revision, with a `download` link when its bytes can be read now", body = RevisionBody),
    ),
    security(("api_key" = []))
)]
pub async fn get_revision(
    State(state): State<ApiState>,
    RevisionPath(id, n): RevisionPath,
) -> Result<Json<RevisionBody>, ApiError> {
    let view = state.service.revision(&id, &n).await?;
    Ok(Json(RevisionBody::new(view.revision, view.download)))
}

/// Download a revision's content
///
/// Redirects (307) to a short-lived signed link, with the same 409 codes as the
/// current content's download.
#[utoipa::path(
    get, path = "/documents/{id}/revisions/{n}/content", tag = "revisions",
    params(DocumentIdParam, RevisionParam),
    responses(
        (status = 307, description = "Redirect to a short-lived download link", headers(("Location" = String))),
    ),
    security(("api_key" = []))
)]
pub async fn revision_content(
    State(state): State<ApiState>,
    RevisionPath(id, n): RevisionPath,
) -> Result<Response, ApiError> {
    let link = state.service.revision_content_link(&id, &n).await?;
    redirect_to(&link)
}

/// Make a revision current again
///
/// Copies its bytes inside the store as a new revision (n+1): history is never
/// rewritten. Checked and extracted like an upload, so the answer is 202.
#[utoipa::path(
    post, path = "/documents/{id}/revisions/{n}/restore", tag = "revisions",
    params(
        DocumentIdParam, RevisionParam,
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+")$"#, description = "Apply only if the document is still at this ETag"),
    ),
    responses(
        (status = 202, description = "The revision's bytes are being copied into a new revision (the next number); it becomes current when the copy has been checked and extracted, like an upload (see `pending_upload`)", body = DocumentBody),
    ),
    security(("api_key" = []))
)]
pub async fn restore_revision(
    State(state): State<ApiState>,
    RevisionPath(id, n): RevisionPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let if_match = if_match_version(&state, &id, &headers).await?;
    let document = state.service.restore_revision(&id, &n, if_match).await?;
    Ok(with_etag(
        StatusCode::ACCEPTED,
        DocumentBody::new(document, None),
    ))
}

/// Bring a document back from the trash
///
/// It returns to the status it had before the delete.
#[utoipa::path(
    post, path = "/documents/{id}/undelete", tag = "documents",
    params(
        DocumentIdParam,
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+")$"#, description = "Apply only if the document is still at this ETag"),
    ),
    responses(
        (status = 200, description = "Back from the trash, in the status it had (an archive restore that was under way is not: the document is `archived`)", body = DocumentBody),
    ),
    security(("api_key" = []))
)]
pub async fn undelete_document(
    State(state): State<ApiState>,
    DocumentIdPath(id): DocumentIdPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let if_match = if_match_version(&state, &id, &headers).await?;
    let document = state.service.undelete(&id, if_match).await?;
    Ok(with_etag(StatusCode::OK, DocumentBody::new(document, None)))
}
