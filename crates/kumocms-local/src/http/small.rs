//! A small upload (issue 14: many files of a few KiB per second): the body is read
//! into memory on the connection's task, then ONE blocking step checks, writes,
//! syncs and links it, and publishes `ObjectCreated`. The streaming path
//! ([`super::receive`]) costs a writer thread fed over a channel and several trips
//! to the blocking pool per upload, which at 10 KiB cost more than the bytes.
//!
//! The guarantees are those of the streaming path: the size, type and checksum are
//! checked (here before anything touches the disk), the bytes are synced before
//! they are linked into `hot/<key>`, the record is checked again under the
//! lifecycle lock just before the link, and the new name is synced before the 2xx.
//! Memory is bounded by [`SMALL_UPLOAD`] per upload, and uploads are capped
//! ([`super::LinkLimits::max_concurrent_uploads`]).

use super::*;

/// Uploads of at most this many bytes take this path; larger ones are streamed.
pub(super) const SMALL_UPLOAD: u64 = 1024 * 1024;

/// Stores a small upload through `link` (its length is `length`); returns its
/// SHA-256 (hex). `slot` is held until the bytes are stored or refused, even if
/// the request goes away meanwhile: the blocking step then still finishes,
/// publishes its event, and removes its temporary file.
pub(super) async fn upload_small(
    server: &LinkServer,
    link: &VerifiedLink,
    length: u64,
    slot: UploadSlot,
    body: Body,
) -> Result<String, LinkResponseError> {
    let chunks = read_body(body, length, server.uploads.body_timeout).await?;
    let server = server.clone();
    let key = link.key.clone();
    let expected = link.sha256.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        store_small(
            &server,
            &runtime,
            &key,
            length,
            expected.as_deref(),
            &chunks,
        )
    })
    .await
    .map_err(|e| LinkResponseError::storage(format!("upload step failed: {e}")))?
}

/// The whole body, as the chunks it arrived in; 413 past `length`, 408 when it
/// stalls, 400 when the connection breaks.
async fn read_body(
    body: Body,
    length: u64,
    body_timeout: std::time::Duration,
) -> Result<Vec<Bytes>, LinkResponseError> {
    let mut chunks = Vec::new();
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = next_chunk(&mut stream, &mut size, length, body_timeout).await? {
        chunks.push(chunk);
    }
    Ok(chunks)
}

/// The blocking step: on a blocking-pool thread, never on an async worker (it
/// waits for the lifecycle lock and the record with `runtime`).
fn store_small(
    server: &LinkServer,
    runtime: &tokio::runtime::Handle,
    key: &str,
    length: u64,
    expected: Option<&str>,
    chunks: &[Bytes],
) -> Result<String, LinkResponseError> {
    let store = &server.store;
    let key = crate::blobs::checked_key(key).map_err(LinkResponseError::storage)?;
    let paths = store.content_paths(key);
    let io = |error: std::io::Error| LinkResponseError::from(UploadError::from(error));
    if crate::blobs::has_content_at(&paths).map_err(io)? {
        return Err(already_uploaded());
    }
    // Checked before anything is written: a wrong body never reaches the disk.
    let size: u64 = chunks.iter().map(|chunk| chunk.len() as u64).sum();
    if size != length {
        return Err(size_mismatch(length, size));
    }
    let mut hasher = Sha256::new();
    for chunk in chunks {
        hasher.update(chunk);
    }
    let sha256 = hex::encode(hasher.finalize());
    if let Some(expected) = expected
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(UploadError::ChecksumMismatch {
            expected: expected.to_owned(),
            got: sha256,
        }
        .into());
    }
    let temp = TempUpload(
        store
            .tmp_dir()
            .join(format!("upload-{}", ulid::Ulid::new())),
    );
    write_synced(&temp.0, chunks).map_err(io)?;
    let target = store.hot_path(key);
    let folder = target
        .parent()
        .ok_or_else(|| io(std::io::Error::other("an upload's target has no folder")))?;
    // The document's folder (and its entry in `hot/documents/`) is made durable
    // before the lock: a new document's folder costs a sync of its parent, which
    // other uploads need not wait for. Should the document be gone by the time the
    // lock is held, the folder is removed again under it.
    fsutil::create_dir_all_durable(folder).map_err(io)?;
    {
        let _lifecycle = store.lock_lifecycle_blocking();
        if let Some(records) = &server.records
            && let Err(refusal) = runtime.block_on(check_upload_target(records.as_ref(), key))
        {
            if refusal.status == StatusCode::GONE {
                // Empty unless something else is wrong; then it stays.
                let _ = std::fs::remove_dir(folder);
            }
            return Err(refusal);
        }
        if crate::blobs::has_content_at(&paths).map_err(io)? {
            return Err(already_uploaded());
        }
        link_into_place(&temp.0, &target)?;
    }
    // After the lock: the new name is durable before the client hears of it.
    fsutil::sync_dir(folder).map_err(io)?;
    drop(temp);
    // Every byte was hashed on the way in: the event processor takes this hash.
    store.verified_hashes.record(key, length, &sha256);
    runtime.block_on(store.events().publish(StorageEvent::ObjectCreated {
        location: store.location(),
        key: key.to_owned(),
    }));
    Ok(sha256)
}

/// Writes `chunks` to a new private file at `path` and syncs it.
fn write_synced(path: &std::path::Path, chunks: &[Bytes]) -> std::io::Result<()> {
    let mut file = std::os::unix::fs::OpenOptionsExt::mode(
        std::fs::OpenOptions::new().write(true).create_new(true),
        fsutil::PRIVATE_FILE_MODE,
    )
    .open(path)?;
    write_batch(&mut file, chunks)?;
    file.sync_all()
}
