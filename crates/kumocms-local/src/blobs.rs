//! Content as files under `<data_dir>/blobs/`:
//!
//! ```text
//! blobs/hot/<key>               readable content (STANDARD)
//! blobs/cold/<CLASS>/<key>      archived content (GLACIER, DEEP_ARCHIVE): not readable
//! blobs/restored/<key>          a temporary readable copy of archived content
//! blobs/restores/<sha>.json     restore requests, so restores survive a restart
//! tmp/                          uploads in flight (same file system: renames are atomic)
//! multipart/<upload_id>/        multipart uploads in progress (see `crate::multipart`)
//! ```
//!
//! Every key is checked with `blob_key::is_safe` before it becomes a path.
//!
//! [`layout`] says where each file lives, [`reader`] streams content out on reader
//! threads, [`restore`] emulates restores; this module is the store itself.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use kumocms_core::blob_key;
use kumocms_core::events::StorageEvent;
use kumocms_core::ports::{
    BlobError, BlobHead, BlobStore, BlobStream, Clock, DownloadSpec, EventSink, MultipartSpec,
    PartSpec, ReceivedPart, SignedLink, UploadSpec, VerifiedContent,
};
use kumocms_core::{BlobLocation, BlobRef, DocumentId, RestoreTier, StorageClass};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsutil;
use crate::signer::LinkSigner;

mod layout;
mod reader;
mod restore;

pub(crate) use layout::checked_key;
use layout::size_of;
use restore::RestoreRequest;

pub const LOCAL_STORE: &str = "local";
const ARCHIVE_CLASSES: [StorageClass; 2] = [StorageClass::Glacier, StorageClass::DeepArchive];

/// Settings of the file blob store.
#[derive(Debug, Clone)]
pub struct FsBlobConfig {
    pub data_dir: PathBuf,
    /// How long a restore takes to complete.
    pub restore_delay: Duration,
    /// How long one "day" of a restored copy lasts (shortened in tests).
    pub restore_day_length: Duration,
    /// The largest upload the link handler accepts, whatever a link says.
    pub max_file_size: u64,
}

pub struct FsBlobStore {
    data_dir: PathBuf,
    blobs: PathBuf,
    signer: LinkSigner,
    base_url: RwLock<Option<String>>,
    events: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    config: FsBlobConfig,
    /// Serialises archive, restore, deletion and the restore ticker, so that a tick
    /// never copies content that a concurrent delete is removing.
    lifecycle: tokio::sync::Mutex<()>,
    /// The running SHA-256 of each multipart upload receiving parts.
    pub(crate) running_hashes: crate::multipart_hash::RunningHashes,
    /// The SHA-256 of content the upload paths hashed as they stored it.
    pub(crate) verified_hashes: crate::verified::VerifiedHashes,
}

impl std::fmt::Debug for FsBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsBlobStore")
            .field("blobs", &self.blobs)
            .finish_non_exhaustive()
    }
}

pub(crate) fn io_error(error: std::io::Error) -> BlobError {
    BlobError::other_from(error.to_string(), error)
}

/// Runs blocking file-system work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| BlobError::Unavailable(format!("file worker failed: {e}")))?
        .map_err(io_error)
}

pub(crate) fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

impl FsBlobStore {
    pub fn new(
        config: FsBlobConfig,
        signer: LinkSigner,
        events: Arc<dyn EventSink>,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<Self> {
        let blobs = config.data_dir.join("blobs");
        for dir in [
            blobs.join("hot"),
            blobs.join("restored"),
            blobs.join("restores"),
            config.data_dir.join("tmp"),
            config.data_dir.join("multipart"),
        ]
        .into_iter()
        .chain(
            ARCHIVE_CLASSES
                .iter()
                .map(|c| blobs.join("cold").join(c.as_str())),
        ) {
            fsutil::create_dir_all_durable(&dir)?;
        }
        Ok(Self {
            data_dir: config.data_dir.clone(),
            blobs,
            signer,
            base_url: RwLock::new(None),
            events,
            clock,
            config,
            lifecycle: tokio::sync::Mutex::new(()),
            running_hashes: crate::multipart_hash::RunningHashes::default(),
            verified_hashes: crate::verified::VerifiedHashes::default(),
        })
    }

    /// Sets the URL links point at (`http://127.0.0.1:8080`), once the server is bound.
    pub fn set_base_url(&self, url: &str) {
        let mut base = self
            .base_url
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *base = Some(url.trim_end_matches('/').to_owned());
    }

    pub fn base_url(&self) -> Option<String> {
        self.base_url
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn signer(&self) -> &LinkSigner {
        &self.signer
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub(crate) fn events(&self) -> &Arc<dyn EventSink> {
        &self.events
    }

    pub fn max_file_size(&self) -> u64 {
        self.config.max_file_size
    }

    /// The archive class `key` sits in, if archived.
    async fn cold_class(&self, key: &str) -> Result<Option<(StorageClass, u64)>, BlobError> {
        let paths: Vec<_> = ARCHIVE_CLASSES
            .iter()
            .map(|class| (*class, self.cold_path(*class, key)))
            .collect();
        blocking(move || {
            for (class, path) in paths {
                if let Some(size) = size_of(&path)? {
                    return Ok(Some((class, size)));
                }
            }
            Ok(None)
        })
        .await
    }

    async fn unreadable_error(&self, key: &str) -> BlobError {
        match self.cold_class(key).await {
            Ok(Some((class, _))) => archived_error(key, class),
            Ok(None) => BlobError::NotFound(key.to_owned()),
            Err(error) => error,
        }
    }

    /// Holds the lock that archive, restore and deletion take, so that an upload can
    /// check the record and the key and link its bytes into `hot/` with no archive
    /// move in between (a late upload must never land beside archived content).
    pub(crate) async fn lock_lifecycle(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lifecycle.lock().await
    }

    /// [`Self::lock_lifecycle`] from a blocking thread (never from async code).
    pub(crate) fn lock_lifecycle_blocking(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lifecycle.blocking_lock()
    }

    /// Whether `key` holds content, readable or archived. An upload link must not
    /// put new bytes under a key that already has some.
    pub(crate) async fn has_content(&self, key: &str) -> Result<bool, BlobError> {
        let paths = self.content_paths(checked_key(key)?);
        // One trip to the blocking pool for all the places (issue 14).
        blocking(move || has_content_at(&paths)).await
    }

    /// Where content of `key` can be: `hot/` first, then each archive class.
    pub(crate) fn content_paths(&self, key: &str) -> Vec<PathBuf> {
        std::iter::once(self.hot_path(key))
            .chain(ARCHIVE_CLASSES.iter().map(|c| self.cold_path(*c, key)))
            .collect()
    }

    /// Whether the content of `key` is still in `hot/` (for crash recovery).
    pub async fn is_hot(&self, key: &str) -> Result<bool, BlobError> {
        let path = self.hot_path(checked_key(key)?);
        blocking(move || Ok(size_of(&path)?.is_some())).await
    }

    /// Removes every file left in `tmp/`: uploads or copies a crash interrupted.
    pub async fn clean_tmp(&self) -> Result<usize, BlobError> {
        let dir = self.tmp_dir();
        blocking(move || {
            let mut removed = 0;
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    std::fs::remove_dir_all(entry.path())?;
                } else {
                    std::fs::remove_file(entry.path())?;
                }
                removed += 1;
            }
            Ok(removed)
        })
        .await
    }

    pub(crate) fn link_base(&self) -> Result<String, BlobError> {
        self.base_url().ok_or_else(|| {
            BlobError::Unavailable(
                "the local server's base URL is not set yet (FsBlobStore::set_base_url)".into(),
            )
        })
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    fn location(&self) -> BlobLocation {
        BlobLocation {
            store: LOCAL_STORE.to_owned(),
            region: None,
        }
    }

    async fn upload_link(&self, spec: &UploadSpec) -> Result<SignedLink, BlobError> {
        let key = self.checked(&spec.blob)?;
        let base = self.link_base()?;
        let expires_at = self.clock.now() + chrono_duration(spec.expires_in);
        let url = self.signer.sign_upload(
            &base,
            key,
            expires_at,
            spec.size,
            &spec.content_type,
            spec.checksum_sha256.as_deref(),
        );
        let mut headers = std::collections::BTreeMap::new();
        headers.insert("Content-Type".to_owned(), spec.content_type.clone());
        Ok(SignedLink {
            method: "PUT".into(),
            url,
            headers,
            expires_at: truncate_to_seconds(expires_at),
        })
    }

    async fn download_link(&self, spec: &DownloadSpec) -> Result<SignedLink, BlobError> {
        let key = self.checked(&spec.blob)?;
        let base = self.link_base()?;
        let expires_at = self.clock.now() + chrono_duration(spec.expires_in);
        let url =
            self.signer
                .sign_download(&base, key, expires_at, &spec.content_type, &spec.file_name);
        Ok(SignedLink {
            method: "GET".into(),
            url,
            headers: Default::default(),
            expires_at: truncate_to_seconds(expires_at),
        })
    }

    async fn head(&self, blob: &BlobRef) -> Result<Option<BlobHead>, BlobError> {
        let key = self.checked(blob)?;
        let hot = self.hot_path(key);
        if let Some(size) = blocking(move || size_of(&hot)).await? {
            return Ok(Some(BlobHead {
                size,
                storage_class: StorageClass::Standard,
            }));
        }
        Ok(self
            .cold_class(key)
            .await?
            .map(|(storage_class, size)| BlobHead {
                size,
                storage_class,
            }))
    }

    /// What an upload path hashed as it stored this content (see [`crate::verified`]),
    /// while the hot file still has that size.
    async fn verified_content(&self, blob: &BlobRef) -> Result<Option<VerifiedContent>, BlobError> {
        let key = self.checked(blob)?;
        let hot = self.hot_path(key);
        let size = blocking(move || size_of(&hot)).await?;
        Ok(self.verified_hashes.get(key, size))
    }

    async fn read(&self, blob: &BlobRef) -> Result<BlobStream, BlobError> {
        let key = self.checked(blob)?;
        match self.open_readable(key).await? {
            Some(opened) => Ok(opened.stream),
            None => Err(self.unreadable_error(key).await),
        }
    }

    async fn read_small(&self, blob: &BlobRef, limit: usize) -> Result<Option<Bytes>, BlobError> {
        let key = self.checked(blob)?;
        let readable = [self.hot_path(key), self.restored_path(key)];
        let cold: Vec<_> = ARCHIVE_CLASSES
            .iter()
            .map(|class| (*class, self.cold_path(*class, key)))
            .collect();
        // One trip to the blocking pool, whatever is found: every activation looks
        // for a sidecar, which is usually nowhere (issue 14).
        let found = blocking(move || {
            if let Some((file, size)) = reader::open_first_file(&readable)? {
                if size > limit as u64 {
                    return Ok(SmallRead::TooLarge);
                }
                // Bounded even if the file grew after the size check.
                let mut bytes = Vec::with_capacity(size as usize);
                (&file).take(limit as u64 + 1).read_to_end(&mut bytes)?;
                if bytes.len() > limit {
                    return Ok(SmallRead::TooLarge);
                }
                return Ok(SmallRead::Read(bytes));
            }
            for (class, path) in cold {
                if size_of(&path)?.is_some() {
                    return Ok(SmallRead::Archived(class));
                }
            }
            Ok(SmallRead::Missing)
        })
        .await?;
        match found {
            SmallRead::Read(bytes) => Ok(Some(Bytes::from(bytes))),
            SmallRead::Missing => Ok(None),
            SmallRead::Archived(class) => Err(archived_error(key, class)),
            SmallRead::TooLarge => Err(BlobError::TooLarge {
                key: key.to_owned(),
                limit,
            }),
        }
    }

    async fn delete(&self, blob: &BlobRef) -> Result<(), BlobError> {
        let key = self.checked(blob)?;
        let _guard = self.lifecycle.lock().await;
        self.verified_hashes.forget(key);
        let mut paths = vec![
            self.hot_path(key),
            self.restored_path(key),
            self.request_path(key),
        ];
        paths.extend(ARCHIVE_CLASSES.iter().map(|c| self.cold_path(*c, key)));
        blocking(move || {
            for path in paths {
                fsutil::remove_if_exists(&path)?;
            }
            Ok(())
        })
        .await
    }

    async fn delete_document(
        &self,
        id: &DocumentId,
        location: &BlobLocation,
    ) -> Result<(), BlobError> {
        if location.store != LOCAL_STORE {
            // Nothing of this store lives there.
            return Ok(());
        }
        let prefix = blob_key::document_prefix(id);
        let folder = prefix.trim_end_matches('/').to_owned();
        checked_key(&folder)?;
        let _guard = self.lifecycle.lock().await;
        self.verified_hashes.forget_prefix(&prefix);
        for (path, request) in self.all_requests().await? {
            if request.is_some_and(|r| r.key.starts_with(&prefix)) {
                blocking(move || fsutil::remove_if_exists(&path)).await?;
            }
        }
        let mut dirs = vec![
            self.blobs.join("hot").join(&folder),
            self.blobs.join("restored").join(&folder),
        ];
        dirs.extend(
            ARCHIVE_CLASSES
                .iter()
                .map(|c| self.blobs.join("cold").join(c.as_str()).join(&folder)),
        );
        blocking(move || {
            for dir in dirs {
                fsutil::remove_dir_if_exists(&dir)?;
            }
            Ok(())
        })
        .await
    }

    async fn copy(&self, from: &BlobRef, to: &BlobRef) -> Result<(), BlobError> {
        let source_key = self.checked(from)?.to_owned();
        let target_key = self.checked(to)?.to_owned();
        let Some(source) = self.readable(&source_key).await? else {
            return Err(self.unreadable_error(&source_key).await);
        };
        let target = self.hot_path(&target_key);
        let tmp = self.tmp_dir().join(format!("copy-{}", ulid::Ulid::new()));
        // Like an upload: the bytes are synced in tmp/ and then renamed into place, so
        // the key holds either nothing or the whole copy.
        blocking(move || fsutil::copy_durably(&source.path, &tmp, &target)).await?;
        self.events
            .publish(StorageEvent::ObjectCreated {
                location: self.location(),
                key: target_key,
            })
            .await;
        Ok(())
    }

    async fn archive(&self, blob: &BlobRef, class: StorageClass) -> Result<(), BlobError> {
        let key = self.checked(blob)?.to_owned();
        if class == StorageClass::Standard {
            return Err(BlobError::other(
                "archive needs GLACIER or DEEP_ARCHIVE, not STANDARD",
            ));
        }
        let _guard = self.lifecycle.lock().await;
        let source = match self.cold_class(&key).await? {
            Some((current, _)) if current == class => return Ok(()),
            Some((current, _)) => self.cold_path(current, &key),
            None => self.hot_path(&key),
        };
        let target = self.cold_path(class, &key);
        let moved = blocking(move || {
            if size_of(&source)?.is_none() {
                return Ok(false);
            }
            if let Some(parent) = target.parent() {
                fsutil::create_dir_all_durable(parent)?;
            }
            std::fs::rename(&source, &target)?;
            for dir in [target.parent(), source.parent()].into_iter().flatten() {
                fsutil::sync_dir(dir)?;
            }
            Ok(true)
        })
        .await?;
        if moved {
            Ok(())
        } else {
            Err(BlobError::NotFound(key))
        }
    }

    async fn restore(&self, blob: &BlobRef, days: u16, tier: RestoreTier) -> Result<(), BlobError> {
        let key = self.checked(blob)?.to_owned();
        let _guard = self.lifecycle.lock().await;
        if self.cold_class(&key).await?.is_none() {
            return Err(if self.is_hot(&key).await? {
                BlobError::other(format!("blob {key} is not archived; nothing to restore"))
            } else {
                BlobError::NotFound(key)
            });
        }
        let now = self.clock.now();
        let request = match self.load_request(&key).await? {
            // Already restored: like S3, a new request extends the copy's life.
            Some(mut existing) if existing.available_until.is_some() => {
                existing.days = days;
                existing.available_until =
                    Some(now + chrono_duration(self.config.restore_day_length * u32::from(days)));
                existing
            }
            // In progress: it completes as first asked.
            Some(_) => return Ok(()),
            None => RestoreRequest {
                key,
                days,
                tier,
                requested_at: now,
                ready_at: now + chrono_duration(self.config.restore_delay),
                available_until: None,
            },
        };
        self.save_request(&request).await
    }

    async fn start_multipart(&self, spec: &MultipartSpec) -> Result<String, BlobError> {
        self.start_parts(spec).await
    }

    async fn part_link(&self, spec: &PartSpec) -> Result<SignedLink, BlobError> {
        self.sign_part(spec).await
    }

    async fn list_parts(
        &self,
        blob: &BlobRef,
        upload_id: &str,
    ) -> Result<Vec<ReceivedPart>, BlobError> {
        self.parts_received(blob, upload_id).await
    }

    async fn complete_multipart(
        &self,
        spec: &MultipartSpec,
        upload_id: &str,
        parts: &[ReceivedPart],
    ) -> Result<(), BlobError> {
        self.join_parts(spec, upload_id, parts).await
    }

    async fn abort_multipart(&self, blob: &BlobRef, upload_id: &str) -> Result<(), BlobError> {
        self.drop_parts(blob, upload_id).await
    }

    async fn health(&self) -> Result<(), BlobError> {
        let dirs = [self.blobs.join("hot"), self.tmp_dir()];
        blocking(move || {
            for dir in dirs {
                if !std::fs::metadata(&dir)?.is_dir() {
                    return Err(std::io::Error::other(format!(
                        "{} is not a directory",
                        dir.display()
                    )));
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| BlobError::Unavailable(e.to_string()))
    }
}

/// What [`BlobStore::read_small`] found, in its one blocking step.
enum SmallRead {
    Read(Vec<u8>),
    TooLarge,
    Archived(StorageClass),
    Missing,
}

/// Content that is archived cannot be read until restored.
fn archived_error(key: &str, class: StorageClass) -> BlobError {
    BlobError::other(format!(
        "blob {key} is archived in {}; restore it before reading",
        class.as_str()
    ))
}

/// Whether any of `paths` (from [`FsBlobStore::content_paths`]) is a file, on the
/// calling thread.
pub(crate) fn has_content_at(paths: &[PathBuf]) -> std::io::Result<bool> {
    for path in paths {
        if size_of(path)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Links carry whole seconds; report the instant the link really stops working.
pub(crate) fn truncate_to_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}
