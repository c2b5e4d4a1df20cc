//! The SHA-256 this server computed for content it stored, kept for the event
//! processor ([`BlobStore::verified_content`](kumocms_core::ports::BlobStore::verified_content)),
//! so that activation does not read and hash a large file a second time.
//!
//! Only the upload paths write here, after hashing every byte they wrote: a single
//! PUT, and a multipart completion whose running hash covered the whole file or which
//! read it once to check a declared checksum. Nothing a client sends is taken on
//! trust. Kept in memory: after a restart, or for content stored another way (a copy,
//! recovery), the processor reads and hashes the file as before.

use std::collections::HashMap;
use std::sync::Mutex;

use kumocms_core::ports::VerifiedContent;

/// More entries than this are never waiting for the event processor at once; past
/// it the map is emptied (a lost entry only costs one more read of that file).
const MAX_ENTRIES: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct VerifiedHashes(Mutex<HashMap<String, VerifiedContent>>);

impl VerifiedHashes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VerifiedContent>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records what the server itself hashed for the content now stored at `key`.
    pub(crate) fn record(&self, key: &str, size: u64, sha256: &str) {
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            key.to_owned(),
            VerifiedContent {
                size,
                sha256: sha256.to_ascii_lowercase(),
            },
        );
    }

    /// What was recorded for `key`, if its file still has the recorded size.
    pub(crate) fn get(&self, key: &str, stored_size: Option<u64>) -> Option<VerifiedContent> {
        let mut map = self.lock();
        let entry = map.get(key)?.clone();
        if stored_size == Some(entry.size) {
            Some(entry)
        } else {
            map.remove(key);
            None
        }
    }

    /// Forgets `key` (its content was deleted).
    pub(crate) fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Forgets every key under `prefix`.
    pub(crate) fn forget_prefix(&self, prefix: &str) {
        self.lock().retain(|key, _| !key.starts_with(prefix));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_returned_only_while_the_file_has_its_size() {
        let hashes = VerifiedHashes::default();
        hashes.record("documents/a/1", 5, &"AB".repeat(32));
        assert_eq!(
            hashes.get("documents/a/1", Some(5)),
            Some(VerifiedContent {
                size: 5,
                sha256: "ab".repeat(32)
            })
        );
        assert_eq!(hashes.get("documents/a/1", Some(6)), None);
        assert_eq!(
            hashes.get("documents/a/1", Some(5)),
            None,
            "a mismatch forgets the entry"
        );
        hashes.record("documents/a/2", 1, "00");
        hashes.forget_prefix("documents/a/");
        assert_eq!(hashes.get("documents/a/2", Some(1)), None);
    }
}
