//! The routes behind local signed links: `PUT /blobs/{*key}` receives an upload,
//! `GET`/`HEAD /blobs/{*key}` serves a download.
//!
//! An upload streams to `<data_dir>/tmp/` while it is hashed and counted, is checked
//! against the signed length, type and checksum, synced, and only then linked into
//! `hot/<key>`; `ObjectCreated` is published after that. Any mismatch answers 400
//! (413 past the signed length) and leaves nothing stored.
//!
//! Success: `200 {"key": "...", "size": 123, "sha256": "<hex>"}`.
//! Errors: `{"error": "<code>", "message": "<what to fix>"}` with
//! 400 `malformed_link` | `invalid_key` | `content_type_mismatch` | `size_mismatch` |
//! `checksum_mismatch` | `upload_interrupted`, 403 `invalid_signature` | `link_expired`,
//! 404 `not_found`, 409 `already_uploaded`, 413 `too_large`, 500 `storage_error`.

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use kumocms_core::events::StorageEvent;
use kumocms_core::ports::BlobStore;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::blobs::FsBlobStore;
use crate::fsutil;
use crate::signer::{LinkError, LinkMethod, LinkQuery, VerifiedLink};

/// A JSON error response.
#[derive(Debug)]
pub struct LinkResponseError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl LinkResponseError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn storage(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "blob storage failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage_error",
            "the server could not store or read the content; retry later",
        )
    }
}

impl IntoResponse for LinkResponseError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response()
    }
}

impl From<LinkError> for LinkResponseError {
    fn from(error: LinkError) -> Self {
        let status = match error {
            LinkError::Malformed(_) => StatusCode::BAD_REQUEST,
            LinkError::BadSignature | LinkError::Expired(_) => StatusCode::FORBIDDEN,
        };
        Self::new(status, error.code(), error.to_string())
    }
}

/// The router for local signed links. Large bodies are streamed, never buffered, and
/// axum's default body limit is lifted here: the signed length (capped by the
/// configured maximum file size) is the limit. Do not wrap these routes in a
/// global `RequestBodyLimitLayer`.
pub fn blob_router(store: Arc<FsBlobStore>) -> Router {
    Router::new()
        .route("/blobs/{*key}", get(download).put(upload))
        .layer(DefaultBodyLimit::disable())
        .with_state(store)
}

fn verify(
    store: &FsBlobStore,
    method: LinkMethod,
    key: &str,
    uri: &Uri,
) -> Result<VerifiedLink, LinkResponseError> {
    if !kumocms_core::blob_key::is_safe(key) {
        return Err(LinkResponseError::bad_request(
            "invalid_key",
            "the blob key in the path is not valid; use the link exactly as it was issued",
        ));
    }
    let query = Query::<LinkQuery>::try_from_uri(uri)
        .map_err(|_| {
            LinkResponseError::bad_request(
                "malformed_link",
                "the link's query string could not be read; use the link exactly as it was issued",
            )
        })?
        .0;
    Ok(store
        .signer()
        .verify(method, key, &query, store.clock().now())?)
}

/// Whether the type the client sent is the one the link was signed for. Media
/// types compare case-insensitively in their type, subtype and parameter names.
fn same_media_type(sent: &str, signed: &str) -> bool {
    if sent == signed {
        return true;
    }
    match (
        sent.trim().parse::<mime::Mime>(),
        signed.parse::<mime::Mime>(),
    ) {
        (Ok(sent), Ok(signed)) => sent == signed,
        _ => false,
    }
}

async fn upload(
    State(store): State<Arc<FsBlobStore>>,
    UrlPath(key): UrlPath<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, LinkResponseError> {
    let link = verify(&store, LinkMethod::Upload, &key, &uri)?;
    let length = link.length.ok_or_else(|| {
        LinkResponseError::bad_request("malformed_link", "the link has no length")
    })?;
    if length > store.max_file_size() {
        return Err(LinkResponseError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "this server accepts at most {} bytes per file",
                store.max_file_size()
            ),
        ));
    }
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !same_media_type(sent_type, &link.content_type) {
        return Err(LinkResponseError::bad_request(
            "content_type_mismatch",
            format!(
                "send the header Content-Type: {} exactly as the upload link's headers say",
                link.content_type
            ),
        ));
    }
    if let Some(declared) = headers.get(header::CONTENT_LENGTH) {
        let declared: u64 = declared
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| {
                LinkResponseError::bad_request("size_mismatch", "Content-Length is not a number")
            })?;
        if declared > length {
            return Err(too_large(length));
        }
        if declared != length {
            return Err(size_mismatch(length, declared));
        }
    }
    // Checked before reading the body to answer early; the hard link below is what
    // makes it race-free for hot/. Archived content (cold/) has no later check, but
    // only a client reusing an old link could race an archive move.
    if store
        .has_content(&link.key)
        .await
        .map_err(LinkResponseError::storage)?
    {
        return Err(already_uploaded());
    }
    let target = store.hot_path(&link.key);

    let temp = store
        .tmp_dir()
        .join(format!("upload-{}", ulid::Ulid::new()));
    let received = receive(&temp, body, length).await;
    let result = match received {
        Ok((size, sha256)) => check_and_store(&link, length, size, sha256, &temp, &target).await,
        Err(error) => Err(error),
    };
    // Whatever happened, nothing is left in tmp/ (a hard link keeps the stored copy).
    if let Err(error) = fsutil::remove_if_exists(&temp) {
        tracing::warn!(%error, "could not remove an upload's temporary file");
    }
    let sha256 = result?;
    store
        .events()
        .publish(StorageEvent::ObjectCreated {
            location: store.location(),
            key: link.key.clone(),
        })
        .await;
    tracing::info!(key = %link.key, size = length, "upload stored");
    Ok(Json(json!({"key": link.key, "size": length, "sha256": sha256})).into_response())
}

fn too_large(length: u64) -> LinkResponseError {
    LinkResponseError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the upload is larger than the {length} bytes this link was issued for"),
    )
}

fn size_mismatch(expected: u64, got: u64) -> LinkResponseError {
    LinkResponseError::bad_request(
        "size_mismatch",
        format!(
            "the link was issued for exactly {expected} bytes but {got} were sent; send the whole file, or create a new upload with the right file_size"
        ),
    )
}

fn already_uploaded() -> LinkResponseError {
    LinkResponseError::new(
        StatusCode::CONFLICT,
        "already_uploaded",
        "content was already uploaded through this link; ask the API for a new upload to replace it",
    )
}

/// Streams `body` into `temp`, hashing and counting; stops as soon as more than
/// `length` bytes arrive.
async fn receive(temp: &Path, body: Body, length: u64) -> Result<(u64, String), LinkResponseError> {
    // Buffered: each tokio file write is a trip to the blocking pool, and body
    // chunks are small.
    let mut file = tokio::io::BufWriter::with_capacity(
        1 << 20,
        tokio::fs::File::create(temp)
            .await
            .map_err(LinkResponseError::storage)?,
    );
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            LinkResponseError::bad_request(
                "upload_interrupted",
                "the upload stopped before the whole body arrived; send it again",
            )
        })?;
        size = size.saturating_add(chunk.len() as u64);
        if size > length {
            return Err(too_large(length));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(LinkResponseError::storage)?;
    }
    file.flush().await.map_err(LinkResponseError::storage)?;
    // The bytes are on disk before the client is told they are stored.
    file.get_ref()
        .sync_all()
        .await
        .map_err(LinkResponseError::storage)?;
    Ok((size, hex::encode(hasher.finalize())))
}

async fn check_and_store(
    link: &VerifiedLink,
    length: u64,
    size: u64,
    sha256: String,
    temp: &Path,
    target: &Path,
) -> Result<String, LinkResponseError> {
    if size != length {
        return Err(size_mismatch(length, size));
    }
    if let Some(expected) = &link.sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(LinkResponseError::bad_request(
            "checksum_mismatch",
            format!(
                "the body's SHA-256 is {sha256}, not the {expected} the link was issued for; send the file you declared"
            ),
        ));
    }
    let temp = temp.to_owned();
    let target = target.to_owned();
    let linked = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
        if let Some(parent) = target.parent() {
            fsutil::create_dir_all_durable(parent)?;
        }
        // A hard link fails if the name is taken, so two racing uploads through the
        // same link cannot overwrite each other (a rename would).
        match std::fs::hard_link(&temp, &target) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
            Err(error) => return Err(error),
        }
        if let Some(parent) = target.parent() {
            fsutil::sync_dir(parent)?;
        }
        Ok(true)
    })
    .await
    .map_err(LinkResponseError::storage)?
    .map_err(LinkResponseError::storage)?;
    if !linked {
        return Err(already_uploaded());
    }
    Ok(sha256)
}

/// Bytes read per step of a download. Every read of a `tokio::fs::File` is a hop to
/// the blocking pool; at 64 KiB the hops, not the disk, set the pace (BENCHMARKS.md,
/// row 4), so a download reads 1 MiB at a time.
const DOWNLOAD_CHUNK: usize = 1024 * 1024;

/// Characters left as they are in an RFC 5987 `filename*` value (`attr-char`).
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266).
/// The fallback drops anything a quoted string or an old browser could misread.
pub fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && !matches!(c, '"' | '\\' | '%' | ';') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(file_name, ATTR_CHAR)
    )
}

async fn download(
    State(store): State<Arc<FsBlobStore>>,
    UrlPath(key): UrlPath<String>,
    method: Method,
    uri: Uri,
) -> Result<Response, LinkResponseError> {
    let link = verify(&store, LinkMethod::Download, &key, &uri)?;
    let header_value = |value: &str| {
        HeaderValue::from_str(value).map_err(|_| {
            LinkResponseError::bad_request("malformed_link", "the link's type or name is not valid")
        })
    };
    let content_type = header_value(&link.content_type)?;
    let disposition = header_value(&content_disposition(
        link.file_name.as_deref().unwrap_or("download"),
    ))?;
    let not_found = || {
        LinkResponseError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no readable content at this link: it was deleted, replaced or archived; ask the API for the document again",
        )
    };
    let readable = store
        .readable(&link.key)
        .await
        .map_err(LinkResponseError::storage)?
        .ok_or_else(not_found)?;
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        let file = match tokio::fs::File::open(&readable.path).await {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(not_found());
            }
            Err(error) => return Err(LinkResponseError::storage(error)),
        };
        Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
            file,
            DOWNLOAD_CHUNK,
        ))
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(readable.size));
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_has_a_safe_fallback_and_the_exact_name() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            content_disposition("Été \"x\";100%.pdf"),
            "attachment; filename=\"_t_ _x__100_.pdf\"; filename*=UTF-8''%C3%89t%C3%A9%20%22x%22%3B100%25.pdf"
        );
    }

    #[test]
    fn media_types_compare_like_media_types() {
        assert!(same_media_type("text/plain", "text/plain"));
        assert!(same_media_type("Text/Plain", "text/plain"));
        assert!(!same_media_type("text/html", "text/plain"));
        assert!(!same_media_type("", "text/plain"));
    }
}
