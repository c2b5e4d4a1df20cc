//! Multipart uploads in the file store, the local stand-in for S3's:
//!
//! ```text
//! multipart/<upload_id>/upload.json    what the upload binds (key, size, plan, checksum)
//! multipart/<upload_id>/data           the whole file, sized up front; each part is
//!                                      written at its offset, in any order, in parallel
//! multipart/<upload_id>/parts/<n>.json part n received whole and synced: size, etag
//! ```
//!
//! No part is ever copied again: completion checks that every part is there (and,
//! when a checksum was declared, hashes the file once), then hard-links `data` into
//! `blobs/hot/<key>` under the lifecycle lock, exactly where a single PUT lands, and
//! announces it with `ObjectCreated`; the event processor promotes it like any upload.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use kumocms_core::BlobRef;
use kumocms_core::events::StorageEvent;
use kumocms_core::multipart::PartPlan;
use kumocms_core::ports::{
    BlobError, BlobStore, MultipartSpec, PartSpec, ReceivedPart, SignedLink,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::blobs::{FsBlobStore, blocking, chrono_duration, truncate_to_seconds};
use crate::fsutil;
use crate::multipart_hash::{PartLayout, UploadHash};

/// What a multipart upload binds, as persisted in `upload.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    pub key: String,
    pub size: u64,
    pub part_size: u64,
    pub part_count: u32,
    #[serde(default)]
    pub checksum_sha256: Option<String>,
    pub started_at: DateTime<Utc>,
}

impl UploadRecord {
    fn plan(&self) -> PartPlan {
        PartPlan {
            part_size: self.part_size,
            part_count: self.part_count,
        }
    }
}

/// A part received whole, as persisted in `parts/<n>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartRecord {
    size: u64,
    etag: String,
}

/// Where one part's bytes go.
#[derive(Debug, Clone)]
pub(crate) struct PartTarget {
    pub data: PathBuf,
    pub number: u32,
    pub offset: u64,
    pub length: u64,
    pub marker: PathBuf,
    pub part_size: u64,
    pub file_size: u64,
    /// The upload's running SHA-256, told when the part starts and when it is whole.
    pub hash: Arc<UploadHash>,
}

impl PartTarget {
    pub(crate) fn layout(&self) -> PartLayout<'_> {
        PartLayout {
            data: &self.data,
            part_size: self.part_size,
            file_size: self.file_size,
        }
    }
}

/// Why a part cannot be received (answered before its body is read).
#[derive(Debug, thiserror::Error)]
pub(crate) enum PartRefusal {
    #[error("no multipart upload has this id (completed, aborted or never started)")]
    UnknownUpload,
    #[error("part {number} is not part of this upload (1 to {count})")]
    NoSuchPart { number: u32, count: u32 },
    #[error("part {number} holds {expected} bytes, but the link says {signed}")]
    WrongLength {
        number: u32,
        expected: u64,
        signed: u64,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Upload ids are ULIDs made here; anything else names no upload (and never
/// becomes a path).
fn valid_upload_id(upload_id: &str) -> bool {
    upload_id.len() == 26 && upload_id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn read_record(dir: &std::path::Path) -> std::io::Result<Option<UploadRecord>> {
    match std::fs::read(dir.join("upload.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(std::io::Error::other),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

impl FsBlobStore {
    fn upload_dir(&self, upload_id: &str) -> Option<PathBuf> {
        valid_upload_id(upload_id).then(|| self.multipart_dir().join(upload_id))
    }

    /// The record of `upload_id` if it uploads to `key`.
    async fn load_upload(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<(PathBuf, UploadRecord), BlobError> {
        let not_found = || BlobError::UploadNotFound(upload_id.to_owned());
        let dir = self.upload_dir(upload_id).ok_or_else(not_found)?;
        let read = dir.clone();
        let record = blocking(move || read_record(&read)).await?;
        match record {
            Some(record) if record.key == key => Ok((dir, record)),
            _ => Err(not_found()),
        }
    }

    pub(crate) async fn start_parts(&self, spec: &MultipartSpec) -> Result<String, BlobError> {
        let key = self.checked(&spec.blob)?.to_owned();
        let upload_id = ulid::Ulid::new().to_string();
        let dir = self.multipart_dir().join(&upload_id);
        // Built in tmp/ and renamed into multipart/ whole, so the sweep never sees
        // (and removes) an upload half made.
        let staging = self.tmp_dir().join(format!("multipart-{upload_id}"));
        let record = UploadRecord {
            key,
            size: spec.size,
            part_size: spec.part_size,
            part_count: spec.part_count,
            checksum_sha256: spec.checksum_sha256.clone(),
            started_at: self.clock().now(),
        };
        let bytes =
            serde_json::to_vec(&record).map_err(|e| BlobError::other_from(e.to_string(), e))?;
        blocking(move || {
            let made = (|| {
                fsutil::create_dir_all_durable(&staging.join("parts"))?;
                let data = std::os::unix::fs::OpenOptionsExt::mode(
                    std::fs::OpenOptions::new().write(true).create_new(true),
                    fsutil::PRIVATE_FILE_MODE,
                )
                .open(staging.join("data"))?;
                // Sized up front: each part is written at its offset, in any order.
                data.set_len(record.size)?;
                data.sync_all()?;
                fsutil::write_replace(&staging.join("upload.json"), &bytes)?;
                std::fs::rename(&staging, &dir)?;
                if let Some(parent) = dir.parent() {
                    fsutil::sync_dir(parent)?;
                }
                Ok(())
            })();
            if made.is_err() {
                let _ = fsutil::remove_dir_if_exists(&staging);
            }
            made
        })
        .await?;
        Ok(upload_id)
    }

    pub(crate) async fn sign_part(&self, spec: &PartSpec) -> Result<SignedLink, BlobError> {
        let key = self.checked(&spec.blob)?;
        self.load_upload(key, &spec.upload_id).await?;
        let base = self.link_base()?;
        let expires_at = self.clock().now() + chrono_duration(spec.expires_in);
        let url = self.signer().sign_part(
            &base,
            key,
            &spec.upload_id,
            spec.part_number,
            expires_at,
            spec.size,
        );
        let mut headers = std::collections::BTreeMap::new();
        headers.insert("Content-Length".to_owned(), spec.size.to_string());
        Ok(SignedLink {
            method: "PUT".into(),
            url,
            headers,
            expires_at: truncate_to_seconds(expires_at),
        })
    }

    pub(crate) async fn parts_received(
        &self,
        blob: &BlobRef,
        upload_id: &str,
    ) -> Result<Vec<ReceivedPart>, BlobError> {
        let key = self.checked(blob)?;
        let (dir, record) = self.load_upload(key, upload_id).await?;
        blocking(move || read_parts(&dir, &record)).await
    }

    /// Where part `number` of `upload_id` goes, if the upload exists, uploads to
    /// `key`, has that part, and the part is `length` bytes.
    pub(crate) fn part_target(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        length: u64,
    ) -> Result<PartTarget, PartRefusal> {
        let dir = self
            .upload_dir(upload_id)
            .ok_or(PartRefusal::UnknownUpload)?;
        let record = read_record(&dir)?
            .filter(|r| r.key == key)
            .ok_or(PartRefusal::UnknownUpload)?;
        let plan = record.plan();
        let expected = plan
            .part_len(record.size, number)
            .ok_or(PartRefusal::NoSuchPart {
                number,
                count: plan.part_count,
            })?;
        if expected != length {
            return Err(PartRefusal::WrongLength {
                number,
                expected,
                signed: length,
            });
        }
        Ok(PartTarget {
            data: dir.join("data"),
            number,
            offset: plan.part_offset(number),
            length,
            marker: dir.join("parts").join(format!("{number}.json")),
            part_size: record.part_size,
            file_size: record.size,
            hash: self.running_hashes.of(upload_id),
        })
    }

    pub(crate) async fn join_parts(
        &self,
        spec: &MultipartSpec,
        upload_id: &str,
        parts: &[ReceivedPart],
    ) -> Result<(), BlobError> {
        let key = self.checked(&spec.blob)?.to_owned();
        {
            // The same lock (and the same "no content under this key yet" check) as a
            // single PUT takes before linking its bytes into place.
            let _lifecycle = self.lock_lifecycle().await;
            let (dir, record) = self.load_upload(&key, upload_id).await?;
            let received = {
                let (dir, record) = (dir.clone(), record.clone());
                blocking(move || read_parts(&dir, &record)).await?
            };
            let plan = record.plan();
            let complete = received.len() == plan.part_count as usize
                && received
                    .iter()
                    .all(|p| plan.part_len(record.size, p.part_number) == Some(p.size))
                && parts.len() == received.len();
            if !complete {
                return Err(BlobError::Rejected {
                    code: "missing_parts",
                    message: format!(
                        "{} of {} parts have arrived whole; upload the rest, then complete again",
                        received.len(),
                        plan.part_count
                    ),
                });
            }
            if self.has_content(&key).await? {
                return Err(BlobError::Rejected {
                    code: "already_uploaded",
                    message: "content was already stored for this upload".into(),
                });
            }
            let target = self.hot_path(&key);
            // Declared at completion (the core checked that it agrees with one
            // declared at the start), or at the start.
            let declared = spec
                .checksum_sha256
                .clone()
                .or_else(|| record.checksum_sha256.clone());
            let running = self.running_hashes.take(upload_id);
            let part_count = record.part_count;
            // The outer error is the file system's; the inner one a refusal.
            let sha256 = blocking(move || {
                // Waits for a thread still hashing the last parts; `None` when the
                // running hash does not cover the whole file (then it is read again).
                let hashed = running.and_then(|hash| hash.digest(part_count));
                join_in_place(&dir, &target, declared.as_deref(), hashed)
            })
            .await??;
            if let Some(sha256) = sha256 {
                // The server hashed the joined bytes itself: the event processor
                // takes this hash instead of reading the file again.
                self.verified_hashes.record(&key, record.size, &sha256);
            }
        }
        self.events()
            .publish(StorageEvent::ObjectCreated {
                location: self.location(),
                key: key.clone(),
            })
            .await;
        tracing::info!(%key, size = spec.size, parts = spec.part_count, "multipart upload stored");
        Ok(())
    }

    pub(crate) async fn drop_parts(
        &self,
        blob: &BlobRef,
        upload_id: &str,
    ) -> Result<(), BlobError> {
        let key = self.checked(blob)?;
        self.running_hashes.take(upload_id);
        let dir = match self.load_upload(key, upload_id).await {
            Ok((dir, _)) => dir,
            Err(BlobError::UploadNotFound(_)) => return Ok(()),
            Err(error) => return Err(error),
        };
        blocking(move || fsutil::remove_dir_if_exists(&dir)).await
    }

    /// Removes multipart uploads started before `before` (abandoned ones whose
    /// record is gone, e.g. a document deleted mid-upload); returns how many.
    pub async fn clean_multipart(&self, before: DateTime<Utc>) -> Result<usize, BlobError> {
        let root = self.multipart_dir();
        let removed: Vec<String> = blocking(move || {
            let mut removed = Vec::new();
            for entry in std::fs::read_dir(&root)? {
                let dir = entry?.path();
                let stale = match read_record(&dir) {
                    Ok(Some(record)) => record.started_at < before,
                    // Uploads are renamed into place with their record; one without
                    // is damaged (and cannot be completed).
                    Ok(None) | Err(_) => true,
                };
                if stale {
                    fsutil::remove_dir_if_exists(&dir)?;
                    removed.push(
                        dir.file_name()
                            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                    );
                }
            }
            Ok(removed)
        })
        .await?;
        for upload_id in &removed {
            self.running_hashes.take(upload_id);
        }
        Ok(removed.len())
    }
}

fn read_parts(dir: &std::path::Path, record: &UploadRecord) -> std::io::Result<Vec<ReceivedPart>> {
    let mut parts = Vec::new();
    for number in 1..=record.part_count {
        match std::fs::read(dir.join("parts").join(format!("{number}.json"))) {
            Ok(bytes) => {
                // A marker torn by a crash (it is not synced, see
                // `mark_part_received`): the part counts as not received.
                let Ok(part) = serde_json::from_slice::<PartRecord>(&bytes) else {
                    tracing::warn!(part = number, dir = %dir.display(), "a part's marker does not parse; the part counts as not received");
                    continue;
                };
                parts.push(ReceivedPart {
                    part_number: number,
                    size: part.size,
                    etag: part.etag,
                });
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(parts)
}

/// Checks the declared checksum against the running hash of the parts (`hashed`),
/// or when there is none, with one pass over the file; then links `data` into place
/// and drops the upload's directory. `Ok(Err(_))` is a refusal: nothing moved.
/// `Ok(Ok(Some(sha256)))` when the server knows the joined file's SHA-256 (it
/// hashed every byte: the running hash, or the pass that checked the declaration).
fn join_in_place(
    dir: &std::path::Path,
    target: &std::path::Path,
    declared: Option<&str>,
    hashed: Option<String>,
) -> std::io::Result<Result<Option<String>, BlobError>> {
    let data = dir.join("data");
    let file = std::fs::File::open(&data)?;
    let mut known = hashed.clone();
    if let Some(declared) = declared {
        let actual = match hashed {
            Some(hashed) => hashed,
            None => {
                let mut hasher = Sha256::new();
                std::io::copy(
                    &mut std::io::BufReader::with_capacity(1 << 20, &file),
                    &mut hasher,
                )?;
                hex::encode(hasher.finalize())
            }
        };
        if !declared.eq_ignore_ascii_case(&actual) {
            return Ok(Err(BlobError::Rejected {
                code: "checksum_mismatch",
                message: format!(
                    "the joined parts have SHA-256 {actual}, not the declared {declared}; nothing was made current. Upload the right parts again (or abort) and complete again"
                ),
            }));
        }
        known = Some(actual);
    }
    file.sync_all()?;
    drop(file);
    if let Some(parent) = target.parent() {
        fsutil::create_dir_all_durable(parent)?;
    }
    match std::fs::hard_link(&data, target) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Ok(Err(BlobError::Rejected {
                code: "already_uploaded",
                message: "content was already stored for this upload".into(),
            }));
        }
        Err(error) => return Err(error),
    }
    if let Some(parent) = target.parent() {
        fsutil::sync_dir(parent)?;
    }
    fsutil::remove_dir_if_exists(dir)?;
    Ok(Ok(known))
}

/// Records part `target` as received whole, after its bytes were synced.
///
/// The marker itself is not synced (that was two more journal commits per part: the
/// file and its directory). It is written only once the part's bytes are durable, so
/// a marker that survives a crash never names bytes that did not; one lost, or torn
/// (see [`read_parts`]), only makes the part missing from the listing, and the client
/// sends it again. Completion syncs the whole file before it links it into place.
pub(crate) fn mark_part_received(target: &PartTarget, etag: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let bytes = serde_json::to_vec(&PartRecord {
        size: target.length,
        etag: etag.to_owned(),
    })
    .map_err(std::io::Error::other)?;
    let name = target
        .marker
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = target
        .marker
        .with_file_name(format!(".{name}.tmp-{}", ulid::Ulid::new()));
    let written = (|| {
        let mut file = std::os::unix::fs::OpenOptionsExt::mode(
            std::fs::OpenOptions::new().write(true).create_new(true),
            fsutil::PRIVATE_FILE_MODE,
        )
        .open(&temp)?;
        file.write_all(&bytes)?;
        drop(file);
        std::fs::rename(&temp, &target.marker)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_torn_part_marker_counts_as_not_received() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("parts")).unwrap();
        let record = UploadRecord {
            key: "documents/x/1".into(),
            size: 10 << 20,
            part_size: 5 << 20,
            part_count: 2,
            checksum_sha256: None,
            started_at: Utc::now(),
        };
        std::fs::write(
            dir.path().join("parts").join("1.json"),
            br#"{"size":5242880,"etag":"crc32-00000001"}"#,
        )
        .unwrap();
        // What a crash can leave of a marker that was renamed but never synced.
        std::fs::write(dir.path().join("parts").join("2.json"), b"").unwrap();
        let parts = read_parts(dir.path(), &record).unwrap();
        assert_eq!(
            parts.iter().map(|p| p.part_number).collect::<Vec<_>>(),
            vec![1]
        );
    }
}
