//! The `/documents` routes.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kumocms_core::service::{ListRequest, NewContent, NewDocument, Patch};

use crate::ApiState;
use crate::body::{DocumentIdPath, JsonBody, OptionalJsonBody, QueryParams};
use crate::dto::{
    ArchiveRequest, CreateDocumentRequest, DeleteParams, DocumentBody, DocumentIdParam,
    DocumentPage, ListParams, PatchDocumentRequest, ReplaceContentRequest, RestoreRequest,
    UploadBody,
};
use crate::error::{ApiError, ErrorBody};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/documents", get(list_documents).post(create_document))
        .route(
            "/documents/{id}",
            get(get_document)
                .put(replace_content)
                .patch(patch_document)
                .delete(delete_document),
        )
        .route("/documents/{id}/content", get(download_content))
        .route("/documents/{id}/archive", post(archive_document))
        .route("/documents/{id}/restore", post(restore_document))
}

pub(crate) fn with_etag(status: StatusCode, body: DocumentBody) -> Response {
    let etag = HeaderValue::from_str(&body.etag).ok();
    let mut response = (status, Json(body)).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

#[utoipa::path(
    post, path = "/documents", tag = "documents",
    request_body = CreateDocumentRequest,
    responses(
        (status = 201, description = "Created; upload the content through `upload`", body = UploadBody),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 413, description = "file_size or metadata over the limit", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 503, description = "Storage unavailable; retry", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create_document(
    State(state): State<ApiState>,
    JsonBody(request): JsonBody<CreateDocumentRequest>,
) -> Result<Response, ApiError> {
    let created = state
        .service
        .create(NewDocument {
            file_name: request.file_name,
            file_size: request.file_size,
            content_type: request.content_type,
            checksum_sha256: request.checksum_sha256,
            document_type: request.document_type,
            metadata: request.metadata,
            upload_mode: request.upload_mode,
            part_size: request.part_size,
        })
        .await?;
    let body = UploadBody {
        document: DocumentBody::new(created.document, None),
        upload: created.upload.into(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(
    get, path = "/documents", tag = "documents",
    params(ListParams),
    responses(
        (status = 200, description = "A page of documents: oldest first when filtered by `type`, in storage order otherwise", body = DocumentPage),
        (status = 400, description = "Invalid filter, limit or cursor", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 503, description = "Storage unavailable; retry", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn list_documents(
    State(state): State<ApiState>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<DocumentPage>, ApiError> {
    let page = state
        .service
        .list(ListRequest {
            document_type: params.document_type,
            status: params.status.map(|s| s.as_str().to_owned()),
            limit: params.limit,
            cursor: params.cursor,
        })
        .await?;
    let documents: Vec<DocumentBody> = page
        .documents
        .into_iter()
        .map(|d| DocumentBody::new(d, None))
        .collect();
    Ok(Json(DocumentPage {
        count: documents.len(),
        documents,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(
    get, path = "/documents/{id}", tag = "documents",
    params(
        DocumentIdParam,
        ("If-None-Match" = Option<String>, Header, description = "Answer 304 if the document is still at this ETag (or any of a list of them, or `*`)"),
    ),
    responses(
        (status = 200, description = "The document, with a `download` link when its content can be read now; a deleted one has status `deleted` and `purge_at`", body = DocumentBody,
            headers(("ETag" = String, description = "The record version, for If-Match"))),
        (status = 304, description = "Not modified: the record is still at the ETag sent in If-None-Match",
            headers(("ETag" = String, description = "The record version"))),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 503, description = "Storage unavailable; retry", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn get_document(
    State(state): State<ApiState>,
    DocumentIdPath(id): DocumentIdPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = state.service.get(&id).await?;
    let etag = view.document.etag();
    if none_match(&headers, &etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(value) = HeaderValue::from_str(&etag) {
            response.headers_mut().insert(header::ETAG, value);
        }
        return Ok(response);
    }
    Ok(with_etag(StatusCode::OK, view.into()))
}

/// True when `If-None-Match` names `etag` (weakly: `W/"3"` matches `"3"`) or is `*`.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[utoipa::path(
    get, path = "/documents/{id}/content", tag = "documents",
    params(DocumentIdParam),
    responses(
        (status = 307, description = "Redirect to a short-lived download link", headers(("Location" = String))),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 409, description = "Content not readable now: `upload_pending`, `document_archived` or `restore_in_progress`", body = ErrorBody),
        (status = 503, description = "Storage unavailable; retry", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn download_content(
    State(state): State<ApiState>,
    DocumentIdPath(id): DocumentIdPath,
) -> Result<Response, ApiError> {
    let link = state.service.content_link(&id).await?;
    redirect_to(&link)
}

/// 307 to a signed download link (the `/content` routes).
pub(crate) fn redirect_to(link: &kumocms_core::ports::SignedLink) -> Result<Response, ApiError> {
    let location = HeaderValue::from_str(&link.url).map_err(|_| {
        ApiError::from(kumocms_core::CoreError::Internal(
            "download URL is not a header value".into(),
        ))
    })?;
    Ok((
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response())
}

#[utoipa::path(
    put, path = "/documents/{id}", tag = "documents",
    params(
        DocumentIdParam,
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+")$"#, description = "Apply only if the document is still at this ETag"),
    ),
    request_body = ReplaceContentRequest,
    responses(
        (status = 200, description = "Upload the next version through `upload`; the current one is served until it arrives", body = UploadBody),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 409, description = "A restore is in progress (`restore_in_progress`), the document is in the trash (`document_deleted`), or a concurrent change won", body = ErrorBody),
        (status = 412, description = "The ETag in If-Match is stale", body = ErrorBody),
        (status = 413, description = "file_size over the limit", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 503, description = "Storage unavailable; retry", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn replace_content(
    State(state): State<ApiState>,
    DocumentIdPath(id): DocumentIdPath,
    headers: HeaderMap,
    JsonBody(request): JsonBody<ReplaceContentRequest>,
) -> Result<Response, ApiError> {
    let if_match = if_match_version(&state, &id, &headers).await?;
    let upload = state
        .service
        .replace_if(
            &id,
            NewContent {
                file_name: request.file_name,
                file_size: request.file_size,
                content_type: request.content_type,
                checksum_sha256: request.checksum_sha256,
                upload_mode: request.upload_mode,
                part_size: request.part_size,
            },
            if_match,
        )
        .await?;
    let body = UploadBody {
        document: DocumentBody::new(upload.document, None),
        upload: upload.upload.into(),
    };
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// The versions an `If-Match` header names: `"3"`, `W/"3"`, a list of them
/// (`"8", "13"`, RFC 9110: any may match), or `*` (any, `None`).
fn if_match_versions(headers: &HeaderMap) -> Result<Option<Vec<u64>>, ApiError> {
    let stale = || {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "If-Match must be an ETag this API returned, such as \"3\", or a list of them",
        )
    };
    let mut versions = Vec::new();
    for value in headers.get_all(header::IF_MATCH) {
        let text = value.to_str().map_err(|_| stale())?;
        for tag in text.split(',').map(str::trim) {
            if tag == "*" {
                return Ok(None);
            }
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            let version = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|t| t.parse::<u64>().ok())
                .ok_or_else(stale)?;
            versions.push(version);
        }
    }
    Ok((!versions.is_empty()).then_some(versions))
}

/// The one version a conditional write must find: the listed version the record is
/// at now, if any (the write itself is still conditional on it, so a change in
/// between gives 412), else the first listed, which fails as stale.
pub(crate) async fn if_match_version(
    state: &ApiState,
    id: &kumocms_core::DocumentId,
    headers: &HeaderMap,
) -> Result<Option<u64>, ApiError> {
    let Some(versions) = if_match_versions(headers)? else {
        return Ok(None);
    };
    if let [only] = versions[..] {
        return Ok(Some(only));
    }
    let current = state
        .service
        .metadata_store()
        .get(id)
        .await
        .map_err(kumocms_core::CoreError::from)?
        .map(|document| document.version);
    Ok(current
        .filter(|version| versions.contains(version))
        .or(versions.first().copied()))
}

#[utoipa::path(
    patch, path = "/documents/{id}", tag = "documents",
    params(
        DocumentIdParam,
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+"( *, *(W/)?"[0-9]+")*)$"#, description = "Apply only if the document is still at this ETag (or at one of a list)"),
    ),
    request_body = PatchDocumentRequest,
    responses(
        (status = 200, description = "The updated document", body = DocumentBody,
            headers(("ETag" = String, description = "The new record version"))),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 409, description = "Concurrent changes kept winning; retry", body = ErrorBody),
        (status = 412, description = "The ETag in If-Match is stale", body = ErrorBody),
        (status = 413, description = "Merged metadata over 16 KiB", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 503, description = "Storage unavailable; retry", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn patch_document(
    State(state): State<ApiState>,
    DocumentIdPath(id): DocumentIdPath,
    headers: HeaderMap,
    JsonBody(request): JsonBody<PatchDocumentRequest>,
) -> Result<Response, ApiError> {
    let if_match = if_match_version(&state, &id, &headers).await?;
    let document = state
        .service
        .patch(
            &id,
            Patch {
                metadata: request.metadata,
                document_type: request.document_type,
            },
            if_match,
        )
        .await?;
    Ok(with_etag(StatusCode::OK, DocumentBody::new(document, None)))
}

#[utoipa::path(
    delete, path = "/documents/{id}", tag = "documents",
    params(
        DocumentIdParam,
        DeleteParams,
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+")$"#, description = "Delete only if the document is still at this ETag"),
    ),
    responses(
        (status = 204, description = "Moved to the trash (status `deleted`, purged at `purge_at`); or, with `permanent=true`, with a trash retention of 0, or for a document that never had content, purged at once: record, every revision, sidecars"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 409, description = "Concurrent changes kept winning; retry", body = ErrorBody),
        (status = 412, description = "The ETag in If-Match is stale", body = ErrorBody),
        (status = 503, description = "Storage unavailable; retry", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn delete_document(
    State(state): State<ApiState>,
    DocumentIdPath(id): DocumentIdPath,
    headers: HeaderMap,
    QueryParams(params): QueryParams<DeleteParams>,
) -> Result<StatusCode, ApiError> {
    let if_match = if_match_version(&state, &id, &headers).await?;
    state
        .service
        .delete_with(
            &id,
            kumocms_core::DeleteOptions {
                permanent: params.permanent.unwrap_or(false),
                if_match,
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/documents/{id}/archive", tag = "documents",
    params(DocumentIdParam),
    request_body(content = Option<ArchiveRequest>, description = "May be empty"),
    responses(
        (status = 202, description = "Archived", body = DocumentBody),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 409, description = "Not archivable from its status (`upload_pending`, `already_archived`) or a concurrent change won", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 503, description = "Storage unavailable; retry", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn archive_document(
    State(state): State<ApiState>,
    DocumentIdPath(id): DocumentIdPath,
    OptionalJsonBody(request): OptionalJsonBody<ArchiveRequest>,
) -> Result<Response, ApiError> {
    let class = request.storage_class.unwrap_or_default().into();
    let document = state.service.archive(&id, class).await?;
    Ok(with_etag(
        StatusCode::ACCEPTED,
        DocumentBody::new(document, None),
    ))
}

#[utoipa::path(
    post, path = "/documents/{id}/restore", tag = "documents",
    params(DocumentIdParam),
    request_body(content = Option<RestoreRequest>, description = "May be empty"),
    responses(
        (status = 202, description = "Restore started", body = DocumentBody),
        (status = 400, description = "Invalid request (days outside 1..365, unknown tier)", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 409, description = "Not restorable from its status (`not_archived`, `restore_in_progress`, `already_restored`) or a concurrent change won", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 503, description = "Storage unavailable; retry", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn restore_document(
    State(state): State<ApiState>,
    DocumentIdPath(id): DocumentIdPath,
    OptionalJsonBody(request): OptionalJsonBody<RestoreRequest>,
) -> Result<Response, ApiError> {
    let document = state
        .service
        .restore(
            &id,
            request.days.unwrap_or(1),
            request.tier.unwrap_or_default(),
        )
        .await?;
    Ok(with_etag(
        StatusCode::ACCEPTED,
        DocumentBody::new(document, None),
    ))
}
