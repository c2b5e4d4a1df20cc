//! The running SHA-256 of a multipart upload's file, so that completion need not
//! read and hash the whole file again.
//!
//! Parts arrive in any order and in parallel; SHA-256 can only take the bytes in
//! order. So each upload keeps the hash of its longest prefix of whole parts: when a
//! part has been written and synced, the thread that wrote it feeds every part that
//! has become contiguous into the hash, reading it back from the upload's file (it
//! was just written, so it comes from the page cache). Every byte is hashed once.
//!
//! The hash is only an optimisation, never trusted blindly: it lives in memory (a
//! restarted server has none), and a part written again after it was hashed (a
//! retry, or a client replacing a bad part) poisons it. Whenever it does not cover
//! every part, completion hashes the whole file as before.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use sha2::{Digest, Sha256};

/// The running hashes of the multipart uploads this process has received parts of.
#[derive(Debug, Default)]
pub(crate) struct RunningHashes {
    uploads: Mutex<HashMap<String, Arc<UploadHash>>>,
}

impl RunningHashes {
    /// The running hash of `upload_id`, made on its first part.
    pub(crate) fn of(&self, upload_id: &str) -> Arc<UploadHash> {
        let mut uploads = self.uploads.lock().unwrap_or_else(PoisonError::into_inner);
        uploads
            .entry(upload_id.to_owned())
            .or_insert_with(|| Arc::new(UploadHash::default()))
            .clone()
    }

    /// Forgets `upload_id` (completed, aborted or swept); returns its hash if any.
    pub(crate) fn take(&self, upload_id: &str) -> Option<Arc<UploadHash>> {
        self.uploads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(upload_id)
    }
}

/// One upload's hash of its prefix of whole parts.
#[derive(Debug)]
pub(crate) struct UploadHash {
    state: Mutex<State>,
    /// Signalled when a thread stops hashing.
    idle: Condvar,
    /// Taken by a part's writer around each write into the upload's file (see
    /// [`write_turn`](Self::write_turn)).
    writing: Mutex<()>,
}

impl Default for UploadHash {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                hasher: Some(Sha256::new()),
                next: 1,
                done: BTreeSet::new(),
                hashing: None,
                poisoned: false,
            }),
            idle: Condvar::new(),
            writing: Mutex::new(()),
        }
    }
}

#[derive(Debug)]
struct State {
    /// `None` only while a thread feeds a part into it.
    hasher: Option<Sha256>,
    /// The first part not yet hashed.
    next: u32,
    /// Parts written whole and synced, beyond `next`.
    done: BTreeSet<u32>,
    /// The part a thread is hashing now.
    hashing: Option<u32>,
    /// A hashed part was written again: the hash no longer says anything.
    poisoned: bool,
}

/// Where the parts are: the upload's file and its plan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartLayout<'a> {
    pub data: &'a Path,
    pub part_size: u64,
    pub file_size: u64,
}

impl UploadHash {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One part's writer at a time writes into the upload's file. The file system
    /// serialises buffered writes to one file anyway (ext4 holds the inode's lock for
    /// each write), but a writer waiting there spins on its CPU while the owner
    /// copies; waiting here sleeps instead, leaving the CPU to hashing and to the
    /// sockets (on two cores the spinning took 13% of the server's time during a
    /// 4 GiB upload with 4 parts at once; BENCHMARKS.md).
    pub(crate) fn write_turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Part `number` is about to be written (again, perhaps).
    pub(crate) fn part_started(&self, number: u32) {
        let mut state = self.lock();
        if number < state.next || state.hashing == Some(number) {
            state.poisoned = true;
        }
        state.done.remove(&number);
    }

    /// Part `number` was written whole and synced: hashes every part that is now
    /// contiguous, unless another thread is already at it (it will take this one
    /// too). An error reading the file back poisons the hash (completion then hashes
    /// the whole file, and meets the error there if it persists).
    pub(crate) fn part_finished(&self, number: u32, layout: PartLayout<'_>) {
        let mut state = self.lock();
        state.done.insert(number);
        if state.hashing.is_some() {
            return;
        }
        self.hash_contiguous(state, layout);
    }

    /// When part `number` (just started, see [`part_started`](Self::part_started)) is
    /// the next one the hash needs and no thread is hashing, hands the hash to the
    /// part's writer, which feeds the bytes as it receives them instead of reading
    /// them back afterwards. Other parts finishing meanwhile wait in `done` and are
    /// taken when this one finishes ([`InlineHash::finish`]).
    pub(crate) fn take_inline(self: &Arc<Self>, number: u32) -> Option<InlineHash> {
        let mut state = self.lock();
        if state.poisoned || state.hashing.is_some() || state.next != number {
            return None;
        }
        let hasher = state.hasher.take()?;
        state.hashing = Some(number);
        Some(InlineHash {
            upload: self.clone(),
            number,
            before: hasher.clone(),
            hasher,
            finished: false,
        })
    }

    /// Feeds every part now contiguous into the hash (with no thread hashing).
    fn hash_contiguous<'a>(
        &'a self,
        mut state: std::sync::MutexGuard<'a, State>,
        layout: PartLayout<'_>,
    ) {
        loop {
            let part = state.next;
            if state.poisoned || !state.done.remove(&part) {
                break;
            }
            let Some(mut hasher) = state.hasher.take() else {
                state.poisoned = true;
                break;
            };
            state.hashing = Some(part);
            drop(state);
            let fed = feed(&mut hasher, layout, part);
            state = self.lock();
            state.hasher = Some(hasher);
            state.hashing = None;
            if let Err(error) = fed {
                tracing::warn!(%error, part, "could not hash a part back; completion will hash the whole file");
                state.poisoned = true;
                break;
            }
            state.next = part.saturating_add(1);
        }
        drop(state);
        self.idle.notify_all();
    }

    /// The SHA-256 (hex) of the whole file when every one of its `part_count` parts
    /// was hashed and none written again since; waits for a thread still hashing.
    pub(crate) fn digest(&self, part_count: u32) -> Option<String> {
        let mut state = self.lock();
        while state.hashing.is_some() {
            state = self
                .idle
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.poisoned || state.next != part_count.saturating_add(1) {
            return None;
        }
        let hasher = state.hasher.clone()?;
        Some(hex::encode(hasher.finalize()))
    }
}

/// The running hash lent to the writer of the next part (see
/// [`UploadHash::take_inline`]). Dropped unfinished (the part failed or was cut
/// short), the hash goes back as it was before the part, so nothing of it counts.
pub(crate) struct InlineHash {
    upload: Arc<UploadHash>,
    number: u32,
    before: Sha256,
    hasher: Sha256,
    finished: bool,
}

impl InlineHash {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    /// The part was written whole and synced: the hash moves past it, and takes
    /// every part that has become contiguous meanwhile.
    pub(crate) fn finish(mut self, layout: PartLayout<'_>) {
        self.finished = true;
        let mut state = self.upload.lock();
        state.hasher = Some(self.hasher.clone());
        state.hashing = None;
        state.next = self.number.saturating_add(1);
        state.done.remove(&self.number);
        self.upload.hash_contiguous(state, layout);
    }
}

impl Drop for InlineHash {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut state = self.upload.lock();
        state.hasher = Some(self.before.clone());
        state.hashing = None;
        drop(state);
        self.upload.idle.notify_all();
    }
}

/// Reads part `number` back from the file into `hasher`.
fn feed(hasher: &mut Sha256, layout: PartLayout<'_>, number: u32) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    let offset = u64::from(number.saturating_sub(1)).saturating_mul(layout.part_size);
    let end = offset
        .saturating_add(layout.part_size)
        .min(layout.file_size);
    let file = std::fs::File::open(layout.data)?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut at = offset;
    while at < end {
        let want = usize::try_from((end - at).min(buffer.len() as u64)).unwrap_or(buffer.len());
        let read = file.read_at(&mut buffer[..want], at)?;
        if read == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the upload's file is shorter than its plan",
            ));
        }
        hasher.update(&buffer[..read]);
        at += read as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn setup(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::write(&data, bytes).unwrap();
        (dir, data)
    }

    #[test]
    fn parts_in_any_order_hash_to_the_whole_file() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let (_dir, data) = setup(&bytes);
        let layout = PartLayout {
            data: &data,
            part_size: 3_000,
            file_size: bytes.len() as u64,
        };
        let hash = UploadHash::default();
        for n in [4, 2, 1, 3] {
            hash.part_started(n);
            assert_eq!(hash.digest(4), None, "not every part is hashed yet");
            hash.part_finished(n, layout);
        }
        assert_eq!(hash.digest(4), Some(hex::encode(Sha256::digest(&bytes))));
    }

    #[test]
    fn a_hashed_part_written_again_poisons_the_hash() {
        let bytes = vec![7u8; 6_000];
        let (_dir, data) = setup(&bytes);
        let layout = PartLayout {
            data: &data,
            part_size: 3_000,
            file_size: 6_000,
        };
        let hash = UploadHash::default();
        hash.part_finished(1, layout);
        hash.part_started(1);
        hash.part_finished(1, layout);
        hash.part_finished(2, layout);
        assert_eq!(hash.digest(2), None, "completion must hash the file itself");
    }

    #[test]
    fn a_part_not_yet_hashed_may_be_written_again() {
        let bytes = vec![9u8; 6_000];
        let (_dir, data) = setup(&bytes);
        let layout = PartLayout {
            data: &data,
            part_size: 3_000,
            file_size: 6_000,
        };
        let hash = UploadHash::default();
        hash.part_finished(2, layout);
        hash.part_started(2);
        hash.part_finished(1, layout);
        assert_eq!(hash.digest(2), None, "part 2 is being written again");
        hash.part_finished(2, layout);
        assert_eq!(hash.digest(2), Some(hex::encode(Sha256::digest(&bytes))));
    }

    #[test]
    fn the_next_part_is_hashed_as_it_arrives_and_the_waiting_parts_after_it() {
        let bytes: Vec<u8> = (0..9_000u32).map(|i| (i * 17 % 253) as u8).collect();
        let (_dir, data) = setup(&bytes);
        let layout = PartLayout {
            data: &data,
            part_size: 3_000,
            file_size: 9_000,
        };
        let hash = Arc::new(UploadHash::default());
        hash.part_started(1);
        let mut inline = hash.take_inline(1).expect("part 1 is the next to hash");
        hash.part_started(2);
        assert!(
            hash.take_inline(2).is_none(),
            "only the next part, and one at a time"
        );
        // Parts 2 and 3 finish while part 1 is still arriving: they wait.
        hash.part_finished(2, layout);
        hash.part_started(3);
        hash.part_finished(3, layout);
        for chunk in bytes[..3_000].chunks(700) {
            inline.update(chunk);
        }
        inline.finish(layout);
        assert_eq!(hash.digest(3), Some(hex::encode(Sha256::digest(&bytes))));
    }

    #[test]
    fn a_part_cut_short_while_hashed_inline_leaves_the_hash_as_it_was() {
        let bytes = vec![5u8; 6_000];
        let (_dir, data) = setup(&bytes);
        let layout = PartLayout {
            data: &data,
            part_size: 3_000,
            file_size: 6_000,
        };
        let hash = Arc::new(UploadHash::default());
        hash.part_started(1);
        let mut inline = hash.take_inline(1).expect("part 1 is the next to hash");
        inline.update(b"the first bytes of a part whose request then failed");
        drop(inline);
        hash.part_started(1);
        let mut inline = hash.take_inline(1).expect("sent again, it is hashed again");
        inline.update(&bytes[..3_000]);
        inline.finish(layout);
        hash.part_finished(2, layout);
        assert_eq!(hash.digest(2), Some(hex::encode(Sha256::digest(&bytes))));
    }
}
