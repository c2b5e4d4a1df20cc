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
//! 404 `not_found`, 409 `already_uploaded` | `upload_superseded`, 410 `document_gone`,
//! 413 `too_large`, 500 `storage_error`.
//!
//! With the records ([`blob_router_with_records`], what `kumocms serve` uses), an
//! upload is refused unless its key is the document's pending upload, checked before
//! the body is read and again, under the lock that archive and deletion take, just
//! before the bytes are linked into `hot/`; a download is served only while the
//! record's current content is this key and readable.

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
use kumocms_core::DocumentStatus;
use kumocms_core::blob_key::{self, ParsedKey};
use kumocms_core::disposition::content_disposition;
use kumocms_core::events::StorageEvent;
use kumocms_core::lifecycle::content_unreadable;
use kumocms_core::ports::{BlobStore, MetadataStore};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::blobs::FsBlobStore;
use crate::fsutil;
use crate::multipart::{PartRefusal, PartTarget, mark_part_received};
use crate::signer::{LinkError, LinkMethod, LinkQuery, VerifiedLink};

mod small;

/// A JSON error response.
#[derive(Debug)]
pub struct LinkResponseError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (503s).
    pub retry_after: Option<u32>,
}

impl LinkResponseError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
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
        let mut response = (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
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

/// What the link routes work with: the files, and (when served beside the API) the
/// records, so that a link outliving what it was issued for stores or serves nothing.
#[derive(Clone)]
struct LinkServer {
    store: Arc<FsBlobStore>,
    records: Option<Arc<dyn MetadataStore>>,
    uploads: Arc<UploadSlots>,
}

/// The default cap on uploads received at once ([`LinkLimits`]).
pub use crate::defaults::MAX_CONCURRENT_UPLOADS as DEFAULT_MAX_CONCURRENT_UPLOADS;

/// Limits of the link routes.
#[derive(Debug, Clone, Copy)]
pub struct LinkLimits {
    /// Uploads received at once, over all links; one more gets 503 with
    /// `Retry-After`. Each upload holds three threads (writer, hasher, writeback)
    /// from tokio's blocking pool (512 threads) or beside it; the cap keeps the pool
    /// free for the API's own file work, so API requests never queue behind uploads.
    pub max_concurrent_uploads: usize,
    /// Longest wait for the next bytes of an upload's body: a client that stalls
    /// gets 408 and the upload stores nothing, instead of holding its threads.
    pub body_timeout: std::time::Duration,
}

/// The default of [`LinkLimits::body_timeout`].
pub use crate::defaults::BODY_TIMEOUT as DEFAULT_BODY_TIMEOUT;

impl Default for LinkLimits {
    fn default() -> Self {
        Self {
            max_concurrent_uploads: DEFAULT_MAX_CONCURRENT_UPLOADS,
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }
}

/// The uploads being received: at most one per key (a link), and at most
/// `max_concurrent_uploads` in all.
struct UploadSlots {
    keys: std::sync::Mutex<std::collections::HashSet<String>>,
    total: Arc<tokio::sync::Semaphore>,
    body_timeout: std::time::Duration,
}

/// One upload's claim; released when dropped (the request finished or went away).
struct UploadSlot {
    slots: Arc<UploadSlots>,
    key: String,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        self.slots
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&self.key);
    }
}

impl UploadSlots {
    fn new(limits: LinkLimits) -> Self {
        Self {
            keys: std::sync::Mutex::new(std::collections::HashSet::new()),
            total: Arc::new(tokio::sync::Semaphore::new(
                limits.max_concurrent_uploads.max(1),
            )),
            body_timeout: limits.body_timeout,
        }
    }

    /// Claims `key` at once, or refuses: 409 while another upload to the same link
    /// is in progress, 503 with `Retry-After` when the server is at its cap.
    fn claim(self: &Arc<Self>, key: &str) -> Result<UploadSlot, LinkResponseError> {
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if keys.contains(key) {
            return Err(LinkResponseError::new(
                StatusCode::CONFLICT,
                "upload_in_progress",
                "another upload through this link is in progress; wait for its answer instead of sending the file twice",
            ));
        }
        let permit = self.total.clone().try_acquire_owned().map_err(|_| {
            let mut error = LinkResponseError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_uploads",
                "the server is receiving as many uploads as it accepts at once; retry after the time in Retry-After",
            );
            error.retry_after = Some(UPLOAD_RETRY_AFTER_SECONDS);
            error
        })?;
        keys.insert(key.to_owned());
        Ok(UploadSlot {
            slots: self.clone(),
            key: key.to_owned(),
            _permit: permit,
        })
    }
}

/// What a refused upload is told to wait, in seconds.
const UPLOAD_RETRY_AFTER_SECONDS: u32 = 5;

/// The router for local signed links. Large bodies are streamed, never buffered, and
/// axum's default body limit is lifted here: the signed length (capped by the
/// configured maximum file size) is the limit. Do not wrap these routes in a
/// global `RequestBodyLimitLayer`.
///
/// Without the records, only the files are checked (for tests of the links alone);
/// a server uses [`blob_router_with_records`].
pub fn blob_router(store: Arc<FsBlobStore>) -> Router {
    link_routes(LinkServer {
        store,
        records: None,
        uploads: Arc::new(UploadSlots::new(LinkLimits::default())),
    })
}

/// [`blob_router`] that also checks each link against its document's record: an
/// upload only while its key is the pending upload (410 once the document is gone,
/// 409 once another revision is pending or the content arrived), a download only
/// while its key is the readable current content or a retained revision.
pub fn blob_router_with_records(
    store: Arc<FsBlobStore>,
    records: Arc<dyn MetadataStore>,
    limits: LinkLimits,
) -> Router {
    link_routes(LinkServer {
        store,
        records: Some(records),
        uploads: Arc::new(UploadSlots::new(limits)),
    })
}

fn link_routes(server: LinkServer) -> Router {
    Router::new()
        .route(
            "/blobs/{*key}",
            get(download).put(upload).fallback(link_method_not_allowed),
        )
        .layer(DefaultBodyLimit::disable())
        .with_state(server)
}

/// Any other method on a link: a JSON 405 like the API's, naming the methods.
async fn link_method_not_allowed() -> Response {
    let mut response = LinkResponseError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "a link takes the method it was issued for: PUT for an upload, GET or HEAD for a download",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET,HEAD,PUT"));
    response
}

/// Whether `key` is still the upload its document waits for. Sidecar keys (never
/// issued as links) and keys that are not document keys are left to the signature.
async fn check_upload_target(
    records: &dyn MetadataStore,
    key: &str,
) -> Result<(), LinkResponseError> {
    let Some(ParsedKey::Content { id, revision }) = blob_key::parse(key) else {
        return Ok(());
    };
    let Some(document) = records.get(&id).await.map_err(LinkResponseError::storage)? else {
        return Err(LinkResponseError::new(
            StatusCode::GONE,
            "document_gone",
            "the document this link uploads to was deleted, or its upload expired; nothing was stored. Create the document again",
        ));
    };
    if document
        .pending_upload
        .as_ref()
        .is_some_and(|p| p.key == key)
    {
        return Ok(());
    }
    if document.content.as_ref().is_some_and(|c| c.key == key) {
        return Err(already_uploaded());
    }
    Err(LinkResponseError::new(
        StatusCode::CONFLICT,
        "upload_superseded",
        format!(
            "this link uploads revision {revision}, which the document no longer waits for; nothing was stored. Ask the API for a new upload (PUT /documents/{id})"
        ),
    ))
}

/// Whether `key` may be served: the readable current content of its document, or
/// one of its retained revisions while the document is not in the trash (whether
/// that revision's bytes are readable, hot or archived, is then the store's answer).
async fn check_download_target(
    records: &dyn MetadataStore,
    key: &str,
) -> Result<bool, LinkResponseError> {
    let Some(ParsedKey::Content { id, .. }) = blob_key::parse(key) else {
        return Ok(false);
    };
    let document = records.get(&id).await.map_err(LinkResponseError::storage)?;
    Ok(document.is_some_and(|d| {
        let current = d.content.as_ref().is_some_and(|c| c.key == key)
            && content_unreadable(d.status).is_none();
        let retained = d.status != DocumentStatus::Deleted
            && d.revisions
                .get()
                .is_ok_and(|revisions| revisions.iter().any(|r| r.content.key == key));
        current || retained
    }))
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
    State(server): State<LinkServer>,
    UrlPath(key): UrlPath<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, LinkResponseError> {
    if uri.query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.starts_with("upload_id=") || pair.starts_with("part="))
    }) {
        return upload_part(server, key, uri, headers, body).await;
    }
    let store = &server.store;
    let link = verify(store, LinkMethod::Upload, &key, &uri)?;
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
    // One upload per link at a time, and a cap on all of them, claimed before
    // anything else is done for the request (held until the answer is sent).
    let slot = server.uploads.claim(&link.key)?;
    // Checked before reading the body to answer early, and again under the
    // lifecycle lock before the bytes are linked into place (see `place`).
    if let Some(records) = &server.records {
        check_upload_target(records.as_ref(), &link.key).await?;
    }
    if length <= small::SMALL_UPLOAD {
        let sha256 = small::upload_small(&server, &link, length, slot, body).await?;
        tracing::info!(key = %link.key, size = length, "upload stored");
        return Ok(
            Json(json!({"key": link.key, "size": length, "sha256": sha256})).into_response(),
        );
    }
    let _slot = slot;
    if store
        .has_content(&link.key)
        .await
        .map_err(LinkResponseError::storage)?
    {
        return Err(already_uploaded());
    }
    let temp = TempUpload(
        store
            .tmp_dir()
            .join(format!("upload-{}", ulid::Ulid::new())),
    );
    let job = UploadJob {
        temp: temp.0.clone(),
        length,
        sha256: link.sha256.clone(),
    };
    let sha256 = receive(job, body, server.uploads.body_timeout).await?;
    place(&server, &link.key, &temp).await?;
    drop(temp);
    // Every byte was hashed on the way in: the event processor takes this hash.
    store.verified_hashes.record(&link.key, length, &sha256);
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

/// `PUT` to a part link: the part's bytes are written at their offset in the
/// upload's file (see [`crate::multipart`]), checked against the signed length,
/// synced, and only then recorded as received. Parts may come in any order and in
/// parallel; sending a part again replaces it.
async fn upload_part(
    server: LinkServer,
    key: String,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, LinkResponseError> {
    let store = &server.store;
    let link = verify(store, LinkMethod::UploadPart, &key, &uri)?;
    let (Some(length), Some(upload_id), Some(number)) =
        (link.length, link.upload_id.clone(), link.part_number)
    else {
        return Err(LinkResponseError::bad_request(
            "malformed_link",
            "the part link lacks its length, upload or part number",
        ));
    };
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
            return Err(part_size_mismatch(number, length, declared));
        }
    }
    let _slot = server
        .uploads
        .claim(&format!("{}#{upload_id}#{number}", link.key))?;
    if let Some(records) = &server.records {
        check_part_target(records.as_ref(), &link.key, &upload_id).await?;
    }
    let target = {
        let (store, key, upload_id) = (store.clone(), link.key.clone(), upload_id.clone());
        tokio::task::spawn_blocking(move || store.part_target(&key, &upload_id, number, length))
            .await
            .map_err(|e| LinkResponseError::storage(format!("part lookup failed: {e}")))?
    }
    .map_err(|refusal| match refusal {
        PartRefusal::UnknownUpload => upload_not_found(),
        PartRefusal::NoSuchPart { .. } => {
            LinkResponseError::bad_request("invalid_part_number", refusal.to_string())
        }
        PartRefusal::WrongLength { .. } => {
            LinkResponseError::bad_request("size_mismatch", refusal.to_string())
        }
        PartRefusal::Io(error) => LinkResponseError::storage(error),
    })?;
    let etag = receive_part(target, body, server.uploads.body_timeout)
        .await
        .map_err(|error| match error {
            PartError::Upload(UploadError::SizeMismatch { expected, got }) => {
                part_size_mismatch(number, expected, got)
            }
            PartError::Upload(error) => error.into(),
            PartError::Gone => upload_not_found(),
            PartError::Response(response) => response,
        })?;
    tracing::info!(key = %link.key, part = number, size = length, "part stored");
    let mut response =
        Json(json!({"part_number": number, "size": length, "etag": etag})).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

fn upload_not_found() -> LinkResponseError {
    LinkResponseError::new(
        StatusCode::NOT_FOUND,
        "upload_not_found",
        "this part link's multipart upload was completed, aborted or superseded; nothing was stored",
    )
}

fn part_size_mismatch(number: u32, expected: u64, got: u64) -> LinkResponseError {
    LinkResponseError::bad_request(
        "size_mismatch",
        format!(
            "part {number} is exactly {expected} bytes but {got} were sent; send the part's bytes (offset (n-1)*part_size) and nothing else"
        ),
    )
}

/// Whether the document still waits for the multipart upload `upload_id` to `key`.
async fn check_part_target(
    records: &dyn MetadataStore,
    key: &str,
    upload_id: &str,
) -> Result<(), LinkResponseError> {
    let Some(ParsedKey::Content { id, .. }) = blob_key::parse(key) else {
        return Err(upload_not_found());
    };
    let Some(document) = records.get(&id).await.map_err(LinkResponseError::storage)? else {
        return Err(LinkResponseError::new(
            StatusCode::GONE,
            "document_gone",
            "the document this part uploads to was deleted, or its upload expired; nothing was stored",
        ));
    };
    let waits = document.pending_upload.as_ref().is_some_and(|p| {
        p.key == key
            && p.multipart
                .as_ref()
                .is_some_and(|m| m.upload_id == upload_id)
    });
    if waits {
        Ok(())
    } else {
        Err(upload_not_found())
    }
}

/// Why a part was not stored.
enum PartError {
    Upload(UploadError),
    /// The upload was aborted or completed while the part arrived.
    Gone,
    Response(LinkResponseError),
}

/// Writes `body` at the part's offset, checked and synced, then marks the part
/// received; returns its ETag (a CRC-32 of its bytes). Memory stays bounded by
/// the queue between the connection task and the writer thread.
async fn receive_part(
    target: PartTarget,
    body: Body,
    body_timeout: std::time::Duration,
) -> Result<String, PartError> {
    let length = target.length;
    let (sender, pieces) = tokio::sync::mpsc::channel(UPLOAD_QUEUE);
    let writer = tokio::task::spawn_blocking(move || write_part(pieces, &target));
    let fed = feed(body, length, &sender, body_timeout).await;
    let ended = match fed {
        Ok(()) => sender.send(Piece::End).await.is_ok(),
        Err(_) => false,
    };
    drop(sender);
    let stored = writer.await.map_err(|e| {
        PartError::Response(LinkResponseError::storage(format!(
            "part writer failed: {e}"
        )))
    })?;
    fed.map_err(PartError::Response)?;
    let etag = stored?;
    if !ended {
        return Err(PartError::Upload(UploadError::Interrupted));
    }
    Ok(etag)
}

/// The part's writer thread: positioned writes into the upload's file (no copy of
/// other parts, no temporary file), with a CRC-32 as it goes; once the part is
/// whole, the upload's running SHA-256 takes every part now contiguous.
fn write_part(
    mut pieces: tokio::sync::mpsc::Receiver<Piece>,
    target: &PartTarget,
) -> Result<String, PartError> {
    let file = match std::fs::OpenOptions::new().write(true).open(&target.data) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(PartError::Gone);
        }
        Err(error) => return Err(PartError::Upload(error.into())),
    };
    // The upload's running SHA-256 must not count this part's old bytes.
    target.hash.part_started(target.number);
    // The next part the running hash needs is hashed as it arrives, not read back.
    let mut inline = target.hash.take_inline(target.number);
    // The part's ETag: a CRC-32 of its bytes (cheap; the whole file's SHA-256 is
    // kept apart, in the running hash).
    let mut crc = crc32fast::Hasher::new();
    let mut written: u64 = 0;
    loop {
        match pieces.blocking_recv() {
            Some(Piece::Data(batch)) => {
                let at = target.offset.saturating_add(written);
                let len = {
                    let _turn = target.hash.write_turn();
                    write_batch_at(&file, &batch, at).map_err(|e| PartError::Upload(e.into()))?
                };
                for chunk in &batch {
                    crc.update(chunk);
                    if let Some(inline) = inline.as_mut() {
                        inline.update(chunk);
                    }
                }
                written = written.saturating_add(len);
            }
            Some(Piece::End) => break,
            None => return Err(PartError::Upload(UploadError::Interrupted)),
        }
    }
    if written != target.length {
        return Err(PartError::Upload(UploadError::SizeMismatch {
            expected: target.length,
            got: written,
        }));
    }
    // The bytes are on disk before the part counts as received.
    file.sync_data().map_err(|e| PartError::Upload(e.into()))?;
    let etag = format!("crc32-{:08x}", crc.finalize());
    match mark_part_received(target, &etag) {
        Ok(()) => {
            match inline {
                Some(inline) => inline.finish(target.layout()),
                None => target.hash.part_finished(target.number, target.layout()),
            }
            Ok(etag)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(PartError::Gone),
        Err(error) => Err(PartError::Upload(error.into())),
    }
}

impl From<UploadError> for PartError {
    fn from(error: UploadError) -> Self {
        Self::Upload(error)
    }
}

/// An upload's temporary file, removed when this is dropped: after the bytes were
/// linked into place, after a refusal, or when the request is dropped mid-way.
struct TempUpload(PathBuf);

impl Drop for TempUpload {
    fn drop(&mut self) {
        if let Err(error) = fsutil::remove_if_exists(&self.0) {
            tracing::warn!(%error, "could not remove an upload's temporary file");
        }
    }
}

/// Links a checked, synced upload into `hot/<key>` under the lifecycle lock, after
/// checking again that the record waits for it and that the key holds no content
/// (hot or archived). Without the lock, an upload finishing after the content of
/// the same revision arrived and was archived would put its bytes back in `hot/`,
/// beside the archived ones, and old download links would serve them.
///
/// The lock is held for the checks and the link only: the directory sync that makes
/// the new name durable runs after it is released (still before the answer), so
/// that other uploads do not wait for this one's disk (issue 14).
async fn place(server: &LinkServer, key: &str, temp: &TempUpload) -> Result<(), LinkResponseError> {
    let store = &server.store;
    let target = store.hot_path(key);
    {
        let _lifecycle = store.lock_lifecycle().await;
        if let Some(records) = &server.records {
            check_upload_target(records.as_ref(), key).await?;
        }
        let paths = store
            .content_paths(crate::blobs::checked_key(key).map_err(LinkResponseError::storage)?);
        let source = temp.0.clone();
        let target = target.clone();
        // The key's places checked and the bytes linked in one blocking step.
        let linked = tokio::task::spawn_blocking(move || {
            if crate::blobs::has_content_at(&paths)? {
                return Err(UploadError::AlreadyUploaded);
            }
            link_into_place(&source, &target)
        })
        .await
        .map_err(|e| LinkResponseError::storage(format!("upload link step failed: {e}")))?;
        linked?;
    }
    let Some(folder) = target.parent().map(std::path::Path::to_path_buf) else {
        return Ok(());
    };
    let synced = tokio::task::spawn_blocking(move || fsutil::sync_dir(&folder))
        .await
        .map_err(|e| LinkResponseError::storage(format!("upload sync step failed: {e}")))?;
    synced.map_err(|e| UploadError::from(e).into())
}

/// Hard-links the synced temporary file to `target`, creating (durably) the
/// document's folder if needed. The new name is durable once the caller has synced
/// that folder ([`fsutil::sync_dir`]).
fn link_into_place(temp: &std::path::Path, target: &std::path::Path) -> Result<(), UploadError> {
    let Some(parent) = target.parent() else {
        return Err(std::io::Error::other("an upload's target has no folder").into());
    };
    // A hard link fails if the name is taken, so two racing uploads through the same
    // link cannot overwrite each other (a rename would). Tried before creating the
    // folder: a later revision of a document finds it there.
    let mut linked = std::fs::hard_link(temp, target);
    if linked
        .as_ref()
        .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    {
        fsutil::create_dir_all_durable(parent)?;
        linked = std::fs::hard_link(temp, target);
    }
    match linked {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(UploadError::AlreadyUploaded)
        }
        Err(error) => Err(error.into()),
    }
}

/// 408: the body stopped arriving for `body_timeout`.
fn stalled(body_timeout: std::time::Duration) -> LinkResponseError {
    LinkResponseError::new(
        StatusCode::REQUEST_TIMEOUT,
        "upload_stalled",
        format!(
            "no bytes of the upload arrived for {} s; nothing was stored, send it again",
            body_timeout.as_secs()
        ),
    )
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

/// Stores `body` in `job.temp`, checked and synced; returns its SHA-256 (hex).
/// [`place`] then links it into `hot/`.
///
/// The connection task only reads the socket, counts, and passes the chunks in
/// batches over a bounded channel; one blocking thread per upload writes them with
/// `writev` while a helper thread hashes them and another starts their writeback
/// to disk, then it checks size and checksum and syncs the file.
/// No trip to the blocking pool per chunk, and the hashing and the disk run beside
/// the socket reads (BENCHMARKS.md, row 4). A 2xx still means the bytes are synced
/// and linked; any failure, including the request being dropped mid-body, leaves
/// nothing behind: the writer thread removes the temporary file itself on a
/// failure, and the caller's [`TempUpload`] otherwise, even if this future is
/// cancelled.
async fn receive(
    job: UploadJob,
    body: Body,
    body_timeout: std::time::Duration,
) -> Result<String, LinkResponseError> {
    let length = job.length;
    let (sender, pieces) = tokio::sync::mpsc::channel(UPLOAD_QUEUE);
    let writer = tokio::task::spawn_blocking(move || store_upload(pieces, &job));
    let fed = feed(body, length, &sender, body_timeout).await;
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

/// The body's next chunk, counted into `size`: 408 when it stalls for
/// `body_timeout`, 400 when the connection breaks, 413 past `length`.
async fn next_chunk(
    stream: &mut axum::body::BodyDataStream,
    size: &mut u64,
    length: u64,
    body_timeout: std::time::Duration,
) -> Result<Option<Bytes>, LinkResponseError> {
    let Some(chunk) = tokio::time::timeout(body_timeout, stream.next())
        .await
        .map_err(|_| stalled(body_timeout))?
    else {
        return Ok(None);
    };
    let chunk = chunk.map_err(|_| interrupted())?;
    *size = size.saturating_add(chunk.len() as u64);
    if *size > length {
        return Err(too_large(length));
    }
    Ok(Some(chunk))
}

/// Passes the body's chunks to the writer; stops at the first byte past `length`.
/// Returns `Ok` also when the writer has gone away early (its result says why).
async fn feed(
    body: Body,
    length: u64,
    sender: &tokio::sync::mpsc::Sender<Piece>,
    body_timeout: std::time::Duration,
) -> Result<(), LinkResponseError> {
    let mut size: u64 = 0;
    let mut batch = Vec::new();
    let mut batched = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = next_chunk(&mut stream, &mut size, length, body_timeout).await? {
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

/// The writer thread: everything of [`write_and_check`]; on a failure the temporary
/// file is removed here, so that holds even if the request was dropped. A checked
/// file is left for [`place`] (its [`TempUpload`] removes it).
fn store_upload(
    pieces: tokio::sync::mpsc::Receiver<Piece>,
    job: &UploadJob,
) -> Result<String, UploadError> {
    let result = write_and_check(pieces, job);
    if result.is_err()
        && let Err(error) = fsutil::remove_if_exists(&job.temp)
    {
        tracing::warn!(%error, "could not remove an upload's temporary file");
    }
    result
}

fn write_and_check(
    pieces: tokio::sync::mpsc::Receiver<Piece>,
    job: &UploadJob,
) -> Result<String, UploadError> {
    let file = std::os::unix::fs::OpenOptionsExt::mode(
        std::fs::OpenOptions::new().write(true).create_new(true),
        fsutil::PRIVATE_FILE_MODE,
    )
    .open(&job.temp)?;
    let mut out = file;
    let (size, sha256, writeback) = if job.length <= SYNC_STEP {
        // A small body (the common case: documents of a few KiB): hashed on this
        // thread as it is written. Starting a hash thread and a writeback thread
        // would cost more than the hashing, and no writeback is ever asked for
        // below one `SYNC_STEP`.
        let mut hasher = Sha256::new();
        let size = write_pieces(pieces, &mut out, None, |batch| {
            for chunk in batch {
                hasher.update(chunk);
            }
            Ok(())
        })?;
        (size, hex::encode(hasher.finalize()), None)
    } else {
        let writeback = fsutil::BackgroundSync::start(&out)?;
        // SHA-256 (about 1.7 GB/s with SHA-NI) costs more than the copy into the
        // page cache, so it runs on its own thread beside the writes instead of
        // before each.
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
            // `to_hasher` moves into the closure, which `write_pieces` drops when it
            // returns: that ends the hasher, on success and on an error alike.
            let size = write_pieces(pieces, &mut out, Some(&writeback), move |batch| {
                // A clone of `Bytes` shares the buffer; nothing is copied.
                to_hasher
                    .send(batch.to_vec())
                    .map_err(|_| std::io::Error::other("the upload's hash thread stopped"))
            })?;
            let sha256 = hashing
                .join()
                .map_err(|_| std::io::Error::other("the upload's hash thread panicked"))?;
            Ok::<_, UploadError>((size, sha256))
        })?;
        (size, sha256, Some(writeback))
    };
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
    if let Some(writeback) = writeback {
        writeback.finish()?;
    }
    // The bytes are on disk before the client is told they are stored.
    file.sync_all()?;
    drop(file);
    Ok(sha256)
}

/// Writes every piece to `out` and passes it to `hash` until `End`; returns the
/// number of bytes. `Interrupted` when the pieces stop without `End`. With a
/// `writeback`, asks it for a background sync every `SYNC_STEP` bytes.
fn write_pieces(
    mut pieces: tokio::sync::mpsc::Receiver<Piece>,
    out: &mut std::fs::File,
    writeback: Option<&fsutil::BackgroundSync>,
    mut hash: impl FnMut(&[Bytes]) -> std::io::Result<()>,
) -> Result<u64, UploadError> {
    let mut size: u64 = 0;
    let mut unsynced: u64 = 0;
    loop {
        match pieces.blocking_recv() {
            Some(Piece::Data(batch)) => {
                hash(&batch)?;
                let len = write_batch(out, &batch)?;
                size = size.saturating_add(len);
                unsynced = unsynced.saturating_add(len);
                if unsynced >= SYNC_STEP
                    && let Some(writeback) = writeback
                {
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

/// Writes a batch of chunks at `offset` with `pwritev` (one system call, and one
/// turn of the file's lock, for the batch instead of one per chunk); returns its
/// length.
fn write_batch_at(file: &std::fs::File, batch: &[Bytes], offset: u64) -> std::io::Result<u64> {
    let mut slices: Vec<std::io::IoSlice<'_>> = batch
        .iter()
        .map(|chunk| std::io::IoSlice::new(chunk))
        .collect();
    let mut rest = &mut slices[..];
    let mut at = offset;
    while !rest.is_empty() {
        match rustix::io::pwritev(file, rest, at) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(written) => {
                at = at.saturating_add(written as u64);
                std::io::IoSlice::advance_slices(&mut rest, written);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(at.saturating_sub(offset))
}

async fn download(
    State(server): State<LinkServer>,
    UrlPath(key): UrlPath<String>,
    method: Method,
    uri: Uri,
    request_headers: HeaderMap,
) -> Result<Response, LinkResponseError> {
    let store = &server.store;
    let link = verify(store, LinkMethod::Download, &key, &uri)?;
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
    // The record decides whether the content is readable; files in hot/ never
    // override an archived, restoring or deleted record.
    if let Some(records) = &server.records
        && !check_download_target(records.as_ref(), &link.key).await?
    {
        return Err(not_found());
    }
    // A key's bytes never change once stored (a new revision is a new key), so the
    // key makes a strong validator for `If-Range`.
    let etag = format!(
        "\"{}\"",
        &hex::encode(Sha256::digest(link.key.as_bytes()))[..32]
    );
    // With an `If-Range` naming other bytes, the client gets the whole content.
    let range =
        requested_range(&request_headers).filter(|_| if_range_holds(&request_headers, &etag));
    let (size, body, picked) = if method == Method::HEAD {
        let readable = store
            .readable(&link.key)
            .await
            .map_err(LinkResponseError::storage)?
            .ok_or_else(not_found)?;
        (readable.size, Body::empty(), None)
    } else {
        // Opened and read on one reader thread (see `FsBlobStore::open_readable`).
        let opened = store
            .open_readable_range(&link.key, range)
            .await
            .map_err(LinkResponseError::storage)?
            .ok_or_else(not_found)?;
        let size = opened.size;
        let picked = match range {
            None => None,
            Some(range) => match range.resolve(size) {
                Some(picked) => Some(picked),
                None => return Ok(range_not_satisfiable(size)),
            },
        };
        (size, Body::from_stream(opened.stream), picked)
    };
    let status = if picked.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    Ok(download_response(
        status,
        size,
        body,
        picked,
        DownloadHeaders {
            content_type,
            disposition,
            etag,
        },
    ))
}

/// The headers every download answer carries.
struct DownloadHeaders {
    content_type: HeaderValue,
    disposition: HeaderValue,
    etag: String,
}

/// A single `Range` the client asked for, when it asked for exactly one.
fn requested_range(headers: &HeaderMap) -> Option<crate::range::ByteRange> {
    let value = headers.get(header::RANGE)?.to_str().ok()?;
    crate::range::ByteRange::parse(value)
}

/// `If-Range`: the range is served only if the client's validator is this content's
/// ETag; a date or another ETag means its partial copy is of other bytes.
fn if_range_holds(headers: &HeaderMap, etag: &str) -> bool {
    match headers.get(header::IF_RANGE) {
        None => true,
        Some(value) => value.to_str().is_ok_and(|v| v.trim() == etag),
    }
}

/// 416, with the size in `Content-Range: bytes */<size>` as RFC 9110 asks.
fn range_not_satisfiable(size: u64) -> Response {
    let mut response = LinkResponseError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
        format!("the content has {size} bytes; ask for a range that starts before its end"),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    response
}

fn download_response(
    status: StatusCode,
    size: u64,
    body: Body,
    picked: Option<(u64, u64)>,
    fixed: DownloadHeaders,
) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, fixed.content_type);
    match picked {
        Some((first, last)) => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(last - first + 1));
            if let Ok(value) = HeaderValue::from_str(&format!("bytes {first}-{last}/{size}")) {
                headers.insert(header::CONTENT_RANGE, value);
            }
        }
        None => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        }
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&fixed.etag) {
        headers.insert(header::ETAG, value);
    }
    let disposition = fixed.disposition;
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
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
