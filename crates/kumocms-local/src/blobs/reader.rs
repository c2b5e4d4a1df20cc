//! Reading content out: each download or extraction opens the file on a reader
//! thread of its own and streams it in [`READ_CHUNK`] blocks.

use super::*;

/// Where a key's bytes can be read from.
pub(crate) struct Readable {
    pub path: PathBuf,
    pub size: u64,
}

/// Bytes read per step when content is streamed out (downloads, extraction). `dd`
/// reads 1 MiB per system call; so does the reader thread (BENCHMARKS.md, row 4).
pub(crate) const READ_CHUNK: usize = 1024 * 1024;

/// Chunks a reader thread may read ahead of the consumer: enough to keep the disk
/// and the socket busy at the same time, few enough to bound memory per download.
const READ_AHEAD: usize = 4;

/// Readable content, opened, with its bytes arriving from a dedicated reader thread.
pub(crate) struct OpenedBlob {
    pub size: u64,
    pub stream: BlobStream,
}

/// The first of `candidates` that is a regular file, opened, with its size. A
/// missing file is not an error (it may be in the next place, or nowhere).
pub(super) fn open_first_file(
    candidates: &[PathBuf],
) -> std::io::Result<Option<(std::fs::File, u64)>> {
    for path in candidates {
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        // The size of what was opened, not of whatever the name points at later.
        let meta = file.metadata()?;
        if meta.is_file() {
            return Ok(Some((file, meta.len())));
        }
    }
    Ok(None)
}

/// A block of read content that goes back to its reader's pool once the last
/// `Bytes` made of it is dropped (after hyper wrote it to the socket). Fresh 1 MiB
/// allocations are mapped and unmapped by the allocator each time; their page
/// faults and zeroing were a tenth of a download's CPU.
struct PooledBlock {
    data: Vec<u8>,
    pool: std::sync::mpsc::SyncSender<Vec<u8>>,
}

impl AsRef<[u8]> for PooledBlock {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for PooledBlock {
    fn drop(&mut self) {
        // Full or gone (the reader finished): the block is simply freed.
        let _ = self.pool.try_send(std::mem::take(&mut self.data));
    }
}

/// Reads `file` to its end (or `limit` bytes of it) in [`READ_CHUNK`] blocks into
/// `chunks`; a read error is passed on as the last item. Returns early when the
/// receiver is gone.
fn stream_file(
    file: &std::fs::File,
    chunks: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    mut limit: u64,
) {
    // Room for every block that can be in flight: queued, being written, returning.
    let (give_back, returned) = std::sync::mpsc::sync_channel(READ_AHEAD + 2);
    loop {
        let mut block = returned
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(READ_CHUNK));
        block.clear();
        // `read_to_end` reads into the spare capacity as it is, without zeroing it
        // first, and `take` stops it at one block; it retries interrupted reads.
        let step = limit.min(READ_CHUNK as u64);
        match file.take(step).read_to_end(&mut block) {
            Ok(0) => return,
            Ok(read) => {
                limit -= read as u64;
                let block = Bytes::from_owner(PooledBlock {
                    data: block,
                    pool: give_back.clone(),
                });
                if chunks.blocking_send(Ok(block)).is_err() {
                    return;
                }
                // A short block is the last one.
                if read < READ_CHUNK || limit == 0 {
                    return;
                }
            }
            Err(error) => {
                let _ = chunks.blocking_send(Err(error));
                return;
            }
        }
    }
}

impl FsBlobStore {
    /// Where `key` is readable now (hot, or a restored copy), if anywhere.
    pub(crate) async fn readable(&self, key: &str) -> Result<Option<Readable>, BlobError> {
        let key = checked_key(key)?.to_owned();
        let candidates = [self.hot_path(&key), self.restored_path(&key)];
        blocking(move || {
            for path in candidates {
                if let Some(size) = size_of(&path)? {
                    return Ok(Some(Readable { path, size }));
                }
            }
            Ok(None)
        })
        .await
    }

    /// Opens `key` where it is readable now (hot, or a restored copy) and streams it
    /// in [`READ_CHUNK`] blocks. `None` when it is readable nowhere.
    ///
    /// One blocking thread per stream opens the file, reads it with plain `std::fs`
    /// and hands the blocks over a bounded channel: a `tokio::fs::File` would cost a
    /// trip to the blocking pool per read, and those trips, not the disk, set the
    /// pace of a download (BENCHMARKS.md, row 4). The thread stops as soon as the
    /// consumer drops the stream (a client that goes away).
    pub(crate) async fn open_readable(&self, key: &str) -> Result<Option<OpenedBlob>, BlobError> {
        self.open_readable_range(key, None).await
    }

    /// [`open_readable`](Self::open_readable), streaming only the bytes `range`
    /// picks from what was opened (a ranged download); `size` stays the whole size.
    pub(crate) async fn open_readable_range(
        &self,
        key: &str,
        range: Option<crate::range::ByteRange>,
    ) -> Result<Option<OpenedBlob>, BlobError> {
        let key = checked_key(key)?.to_owned();
        let candidates = [self.hot_path(&key), self.restored_path(&key)];
        let (opened_tx, opened_rx) = tokio::sync::oneshot::channel();
        let (chunks_tx, chunks_rx) = tokio::sync::mpsc::channel(READ_AHEAD);
        // Not awaited: the task runs as long as the stream is read. Its outcome
        // reaches the consumer through the two channels.
        drop(tokio::task::spawn_blocking(move || {
            let (file, size) = match open_first_file(&candidates) {
                Ok(Some(opened)) => opened,
                other => {
                    let _ = opened_tx.send(other.map(|_| None));
                    return;
                }
            };
            if opened_tx.send(Ok(Some(size))).is_err() {
                return;
            }
            let (start, limit) = match range.map(|r| r.resolve(size)) {
                None => (0, u64::MAX),
                Some(Some((first, last))) => (first, last - first + 1),
                // Not satisfiable any more (checked by the caller on a HEAD first):
                // nothing is sent, and the short body fails the response.
                Some(None) => return,
            };
            if start > 0 {
                use std::io::Seek as _;
                if let Err(error) = (&file).seek(std::io::SeekFrom::Start(start)) {
                    let _ = chunks_tx.blocking_send(Err(error));
                    return;
                }
            }
            stream_file(&file, &chunks_tx, limit);
        }));
        let size = match opened_rx.await {
            Ok(Ok(Some(size))) => size,
            Ok(Ok(None)) => return Ok(None),
            Ok(Err(error)) => return Err(io_error(error)),
            Err(_) => return Err(BlobError::Unavailable("file reader thread failed".into())),
        };
        let stream = futures_util::stream::unfold(chunks_rx, |mut chunks| async move {
            let next = chunks.recv().await?;
            Some((next.map_err(io_error), chunks))
        });
        Ok(Some(OpenedBlob {
            size,
            stream: Box::pin(stream),
        }))
    }
}
