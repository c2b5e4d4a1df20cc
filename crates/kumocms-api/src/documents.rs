//! The `/documents` routes.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kumocms_core::service::{NewContent, NewDocument, Patch};

use crate::ApiState;
use crate::body::{DocumentIdPath, JsonBody, OptionalJsonBody, QueryParams};
use crate::dto::{
    ArchiveRequest, CreateDocumentRequest, DeleteParams, DocumentBody, DocumentIdParam,
    DocumentPage, ListParams, PatchDocumentRequest, ReplaceContentRequest, RestoreRequest,
    SearchBody, UploadBody,
};
use crate::error::ApiError;

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

/// Create a document
///
/// Records the document (`pending_upload`) and answers with the signed link to upload
/// its content to. The content becomes current, and the status `active`, once the
/// upload has arrived and been checked and extracted.
#[utoipa::path(
    post, path = "/documents", tag = "documents",
    request_body = CreateDocumentRequest,
    responses(
        (status = 201, description = "Created; upload the content through `upload`", body = UploadBody),
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

/// List and search documents
///
/// One page at a time: pass `next_cursor` back as `cursor` for the next one, with
/// every other parameter unchanged (a cursor is bound to the whole query). Besides
/// the parameters below, `meta.<key>=<value>` keeps documents whose top-level
/// metadata value `<key>` equals `<value>` exactly (a string, or the number or
/// boolean it spells); repeat it for several keys (AND). Unknown parameters,
/// malformed values, repeated parameters (other than `meta.<key>`) and a cursor from
/// another query are refused with 400 and a code naming the parameter
/// (`unknown_parameter`, `invalid_<parameter>`, `duplicate_parameter`,
/// `invalid_cursor`).
#[utoipa::path(
    get, path = "/documents", tag = "documents",
    params(ListParams),
    responses(
        (status = 200, description = "A page of documents, sorted as `sort` says; with `q`, each carries `search`", body = DocumentPage),
    ),
    security(("api_key" = []))
)]
pub async fn list_documents(
    State(state): State<ApiState>,
    QueryParams(params): QueryParams<Vec<(String, String)>>,
) -> Result<Json<DocumentPage>, ApiError> {
    let page = state.service.query(&params).await?;
    let documents: Vec<DocumentBody> = page
        .hits
        .into_iter()
        .map(|hit| {
            let mut body = DocumentBody::new(hit.document, None);
            body.search = hit.search.map(|s| SearchBody {
                score: s.score,
                snippet: s.snippet,
            });
            body
        })
        .collect();
    Ok(Json(DocumentPage {
        count: documents.len(),
        documents,
        next_cursor: page.next_cursor,
    }))
}

/// Get a document
///
/// The record, its metadata and extracted fields, with a short-lived `download` link
/// when the content can be read now.
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

/// Download the current content
///
/// Redirects (307) to a short-lived signed link; 409 says why the content cannot be
/// read now (archived, restoring, upload pending, in the trash).
#[utoipa::path(
    get, path = "/documents/{id}/content", tag = "documents",
    params(DocumentIdParam),
    responses(
        (status = 307, description = "Redirect to a short-lived download link", headers(("Location" = String))),
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

/// Replace the content
///
/// Answers with a link to upload the next revision to; the current content stays
/// served, and is kept as a retained revision once the new one is promoted.
#[utoipa::path(
    put, path = "/documents/{id}", tag = "documents",
    params(
        DocumentIdParam,
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+")$"#, description = "Apply only if the document is still at this ETag"),
    ),
    request_body = ReplaceContentRequest,
    responses(
        (status = 200, description = "Upload the next version through `upload`; the current one is served until it arrives", body = UploadBody),
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

/// Change metadata or the document type
///
/// `metadata` is an RFC 7396 merge patch (`null` removes a key). Send `If-Match` with
/// the ETag read before, so a concurrent change is refused (412), not overwritten.
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

/// Delete a document (to the trash)
///
/// The document goes to the trash, from which `undelete` brings it back until its
/// `purge_at`; `?permanent=true` deletes it and every revision at once.
#[utoipa::path(
    delete, path = "/documents/{id}", tag = "documents",
    params(
        DocumentIdParam,
        DeleteParams,
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[0-9]+")$"#, description = "Delete only if the document is still at this ETag"),
    ),
    responses(
        (status = 204, description = "Moved to the trash (status `deleted`, purged at `purge_at`); or, with `permanent=true`, with a trash retention of 0, or for a document that never had content, purged at once: record, every revision, sidecars"),
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

/// Archive the content
///
/// Moves the current content to an archive storage class; it cannot be downloaded
/// until restored.
#[utoipa::path(
    post, path = "/documents/{id}/archive", tag = "documents",
    params(DocumentIdParam),
    request_body(content = Option<ArchiveRequest>, description = "May be empty"),
    responses(
        (status = 202, description = "Archived", body = DocumentBody),
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

/// Restore archived content
///
/// Starts a temporary restore of archived content for `days`; the status is
/// `restoring` until the copy is readable, then `restored`.
#[utoipa::path(
    post, path = "/documents/{id}/restore", tag = "documents",
    params(DocumentIdParam),
    request_body(content = Option<RestoreRequest>, description = "May be empty"),
    responses(
        (status = 202, description = "Restore started", body = DocumentBody),
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
