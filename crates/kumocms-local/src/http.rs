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

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures_util::StreamExt;
use kumocms_core::disposition::content_disposition;
use kumocms_core::events::StorageEvent;
use kumocms_core::ports::BlobStore;
use serde_json::json;
use sha2::{Digest, Sha256};

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
    let job = UploadJob {
        temp: store
            .tmp_dir()
            .join(format!("upload-{}", ulid::Ulid::new())),
        target: store.hot_path(&link.key),
        length,
        sha256: link.sha256.clone(),
    };
    let sha256 = receive(job, body).await?;
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

/// Batches of body chunks queued between the connection task and the upload's
/// writer thread (and from it to the hasher): enough to keep them busy while the
/// socket is read, bounded (about `UPLOAD_QUEUE × UPLOAD_BATCH` bytes) so that a
/// slow disk slows the client down instead of filling memory.
const UPLOAD_QUEUE: usize = 8;

/// Bytes of body chunks handed over at once. Chunks arrive as the socket yields
/// them (often tens of KiB); passing each alone costs a thread wake-up per chunk
/// on two queues, which at 256 MiB outweighed the copying. The chunks of a batch
/// are moved, not copied.
const UPLOAD_BATCH: usize = 1024 * 1024;

/// Bytes written between two requests for background writeback
/// ([`fsutil::BackgroundSync`]): small enough that the final sync waits for little,
/// large enough that the journal commits of the syncs stay few.
const SYNC_STEP: u64 = 16 * 1024 * 1024;

/// What the writer thread needs to store one upload.
struct UploadJob {
    temp: PathBuf,
    target: PathBuf,
    length: u64,
    /// The SHA-256 the link binds, if any (hex, any case).
    sha256: Option<String>,
}

/// What the connection task hands to the writer thread.
enum Piece {
    Data(Vec<Bytes>),
    /// The whole body arrived. Without it (the sender dropped) the upload was cut
    /// short, and nothing is stored.
    End,
}

/// Why the writer thread stored nothing.
#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error("the upload ended before the whole body arrived")]
    Interrupted,
    #[error("expected {expected} bytes, got {got}")]
    SizeMismatch { expected: u64, got: u64 },
    #[error("the body's SHA-256 is {got}, not {expected}")]
    ChecksumMismatch { expected: String, got: String },
    #[error("content is already stored under this key")]
    AlreadyUploaded,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<UploadError> for LinkResponseError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::Interrupted => interrupted(),
            UploadError::SizeMismatch { expected, got } => size_mismatch(expected, got),
            UploadError::ChecksumMismatch { expected, got } => LinkResponseError::bad_request(
                "checksum_mismatch",
                format!(
                    "the body's SHA-256 is {got}, not the {expected} the link was issued for; send the file you declared"
                ),
            ),
            UploadError::AlreadyUploaded => already_uploaded(),
            UploadError::Io(error) => LinkResponseError::storage(error),
        }
    }
}

fn interrupted() -> LinkResponseError {
    LinkResponseError::bad_request(
        "upload_interrupted",
        "the upload stopped before the whole body arrived; send it again",
    )
}

/// Stores `body` under `job.target`; returns its SHA-256 (hex).
///
/// The connection task only reads the socket, counts, and passes the chunks in
/// batches over a bounded channel; one blocking thread per upload writes them with
/// `writev` while a helper thread hashes them and another starts their writeback
/// to disk, then it checks size and checksum, syncs and links the file into place.
/// No trip to the blocking pool per chunk, and the hashing and the disk run beside
/// the socket reads (BENCHMARKS.md, row 4). A 2xx still means the bytes are synced
/// and linked; any failure, including the request being dropped mid-body, leaves
/// nothing behind: the writer thread removes the temporary file itself, so that
/// holds even if this future is cancelled.
async fn receive(job: UploadJob, body: Body) -> Result<String, LinkResponseError> {
    let length = job.length;
    let (sender, pieces) = tokio::sync::mpsc::channel(UPLOAD_QUEUE);
    let writer = tokio::task::spawn_blocking(move || store_upload(pieces, &job));
    let fed = feed(body, length, &sender).await;
    let ended = match fed {
        Ok(()) => sender.send(Piece::End).await.is_ok(),
        Err(_) => false,
    };
    drop(sender);
    // Awaited even after a failure, so that the temporary file is gone before the
    // client hears about it.
    let stored = writer
        .await
        .map_err(|e| LinkResponseError::storage(format!("upload writer failed: {e}")));
    // A client error seen here explains the writer's `Interrupted`.
    fed?;
    let sha256 = stored??;
    // The writer cannot finish without `End`; checked so that a future change
    // cannot turn an unfinished upload into a success.
    if !ended {
        return Err(interrupted());
    }
    Ok(sha256)
}

/// Passes the body's chunks to the writer; stops at the first byte past `length`.
/// Returns `Ok` also when the writer has gone away early (its result says why).
async fn feed(
    body: Body,
    length: u64,
    sender: &tokio::sync::mpsc::Sender<Piece>,
) -> Result<(), LinkResponseError> {
    let mut size: u64 = 0;
    let mut batch = Vec::new();
    let mut batched = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| interrupted())?;
        size = size.saturating_add(chunk.len() as u64);
        if size > length {
            return Err(too_large(length));
        }
        batched += chunk.len();
        batch.push(chunk);
        if batched >= UPLOAD_BATCH {
            batched = 0;
            if sender
                .send(Piece::Data(std::mem::take(&mut batch)))
                .await
                .is_err()
            {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        // A failed send is the writer gone early; its result says why.
        let _ = sender.send(Piece::Data(batch)).await;
    }
    Ok(())
}

/// The writer thread: everything of [`write_and_link`], then the temporary file
/// removed whatever happened (a hard link keeps the stored copy).
fn store_upload(
    pieces: tokio::sync::mpsc::Receiver<Piece>,
    job: &UploadJob,
) -> Result<String, UploadError> {
    let result = write_and_link(pieces, job);
    if let Err(error) = fsutil::remove_if_exists(&job.temp) {
        tracing::warn!(%error, "could not remove an upload's temporary file");
    }
    result
}

fn write_and_link(
    pieces: tokio::sync::mpsc::Receiver<Piece>,
    job: &UploadJob,
) -> Result<String, UploadError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&job.temp)?;
    let writeback = fsutil::BackgroundSync::start(&file)?;
    let mut out = file;
    // SHA-256 (about 1.7 GB/s with SHA-NI) costs more than the copy into the page
    // cache, so it runs on its own thread beside the writes instead of before each.
    let (size, sha256) = std::thread::scope(|scope| {
        let (to_hasher, batches) = std::sync::mpsc::sync_channel::<Vec<Bytes>>(UPLOAD_QUEUE);
        let hashing = std::thread::Builder::new()
            .name("kumocms-hash".into())
            .spawn_scoped(scope, move || {
                let mut hasher = Sha256::new();
                for chunk in batches.into_iter().flatten() {
                    hasher.update(&chunk);
                }
                hex::encode(hasher.finalize())
            })?;
        // On an error `to_hasher` is dropped on return, which ends the hasher.
        let size = write_pieces(pieces, &mut out, &writeback, to_hasher)?;
        let sha256 = hashing
            .join()
            .map_err(|_| std::io::Error::other("the upload's hash thread panicked"))?;
        Ok::<_, UploadError>((size, sha256))
    })?;
    // Checked before syncing: a wrong body is removed, so syncing it is wasted.
    if size != job.length {
        return Err(UploadError::SizeMismatch {
            expected: job.length,
            got: size,
        });
    }
    if let Some(expected) = &job.sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(UploadError::ChecksumMismatch {
            expected: expected.clone(),
            got: sha256,
        });
    }
    let file = out;
    writeback.finish()?;
    // The bytes are on disk before the client is told they are stored.
    file.sync_all()?;
    drop(file);
    if let Some(parent) = job.target.parent() {
        fsutil::create_dir_all_durable(parent)?;
    }
    // A hard link fails if the name is taken, so two racing uploads through the same
    // link cannot overwrite each other (a rename would).
    match std::fs::hard_link(&job.temp, &job.target) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(UploadError::AlreadyUploaded);
        }
        Err(error) => return Err(error.into()),
    }
    if let Some(parent) = job.target.parent() {
        fsutil::sync_dir(parent)?;
    }
    Ok(sha256)
}

/// Writes every piece to `out` and passes it to the hasher until `End`; returns the
/// number of bytes. `Interrupted` when the pieces stop without `End`.
fn write_pieces(
    mut pieces: tokio::sync::mpsc::Receiver<Piece>,
    out: &mut std::fs::File,
    writeback: &fsutil::BackgroundSync,
    to_hasher: std::sync::mpsc::SyncSender<Vec<Bytes>>,
) -> Result<u64, UploadError> {
    let mut size: u64 = 0;
    let mut unsynced: u64 = 0;
    loop {
        match pieces.blocking_recv() {
            Some(Piece::Data(batch)) => {
                // A clone of `Bytes` shares the buffer; nothing is copied.
                to_hasher
                    .send(batch.clone())
                    .map_err(|_| std::io::Error::other("the upload's hash thread stopped"))?;
                let len = write_batch(out, &batch)?;
                size = size.saturating_add(len);
                unsynced = unsynced.saturating_add(len);
                if unsynced >= SYNC_STEP {
                    writeback.nudge();
                    unsynced = 0;
                }
            }
            Some(Piece::End) => return Ok(size),
            None => return Err(UploadError::Interrupted),
        }
    }
}

/// Writes a batch of chunks with `writev` (one system call for the batch, no copy
/// into a staging buffer); returns its length.
fn write_batch(out: &mut std::fs::File, batch: &[Bytes]) -> std::io::Result<u64> {
    let mut slices: Vec<std::io::IoSlice<'_>> = batch
        .iter()
        .map(|chunk| std::io::IoSlice::new(chunk))
        .collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match out.write_vectored(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(written) => std::io::IoSlice::advance_slices(&mut rest, written),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(batch.iter().map(|chunk| chunk.len() as u64).sum())
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
    let (size, body) = if method == Method::HEAD {
        let readable = store
            .readable(&link.key)
            .await
            .map_err(LinkResponseError::storage)?
            .ok_or_else(not_found)?;
        (readable.size, Body::empty())
    } else {
        // Opened and read on one reader thread (see `FsBlobStore::open_readable`).
        let opened = store
            .open_readable(&link.key)
            .await
            .map_err(LinkResponseError::storage)?
            .ok_or_else(not_found)?;
        (opened.size, Body::from_stream(opened.stream))
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
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
    fn media_types_compare_like_media_types() {
        assert!(same_media_type("text/plain", "text/plain"));
        assert!(same_media_type("Text/Plain", "text/plain"));
        assert!(!same_media_type("text/html", "text/plain"));
        assert!(!same_media_type("", "text/plain"));
    }
}
