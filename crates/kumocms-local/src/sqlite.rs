//! Document records in one SQLite file, `<data_dir>/kumocms.sqlite3`.
//!
//! The whole record is stored as JSON; the columns beside it exist for conditional
//! writes (`version`) and for the indexes that listing and expiry need. The record's
//! retained revisions (its history) are a JSON array in the `history` column of the
//! same row, written in the record's statement: reads for display (`get_nearby`,
//! listings, searches) select `record` alone and never decode them. SQLite calls
//! block, so none runs on the async runtime: writes go one at a time to the one
//! read-write connection on the blocking pool; reads go to a few read-only
//! connections, each owned by a thread of its own (WAL lets them read beside the
//! writer).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kumocms_core::ports::{ListPage, ListQuery, MetadataStore, StoreError};
use kumocms_core::revision::History;
use kumocms_core::search::{SearchPage, SearchQuery};
use kumocms_core::{Document, DocumentId};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params, params_from_iter};

use crate::sqlite_group_commit::WriteQueue;

pub const DATABASE_FILE: &str = "kumocms.sqlite3";

/// The schema this code writes. `PRAGMA user_version` records it in the file.
const SCHEMA_VERSION: i64 = 7;

/// The version the metadata index step (issue 13) brings a database to.
const SCHEMA_VERSION_METADATA_INDEX: i64 = 4;

/// The version the per-word score step (issue 13: relevance read from a table
/// written at index time; covering indexes for the structured filters) brings a
/// database to.
const SCHEMA_VERSION_TERM_SCORES: i64 = 5;

/// The version the history step (issue 11: retained revisions apart from the
/// record) brings a database to.
const SCHEMA_VERSION_HISTORY_APART: i64 = 6;

/// The version the rowid step (issue 13: the records of a search page read by id
/// at the cost of an index seek) brings a database to.
const SCHEMA_VERSION_ROWID_DOCUMENTS: i64 = 7;

/// `documents` as a rowid table, filled from the `WITHOUT ROWID` one in id order.
///
/// A `WITHOUT ROWID` table keeps whole rows in its B-tree, and a row here is
/// mostly its record JSON (1 KiB and more: past the 1,002 bytes a cell of a 4 KiB
/// page holds, so it overflows). Its pages held three or four rows, and a lookup by
/// id went down a tree of that fan-out, comparing keys in cells that carry the
/// records. With a rowid table the id is a key of its own index
/// (`sqlite_autoindex_documents_1`, hundreds of ids a page) and one more seek on
/// the integer rowid finds the row. The small columns come first, so that reading
/// a version, a status or a search column stops before the record; the history is
/// last, so that reading the record never reads it.
const SCHEMA_ROWID_DOCUMENTS: &str = "
CREATE TABLE documents_rowid (
    id TEXT PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    document_type TEXT NOT NULL,
    -- Unix milliseconds of the pending upload's expiry; NULL without one.
    pending_expires_at INTEGER,
    created_at INTEGER,
    updated_at INTEGER,
    file_name TEXT,
    content_type TEXT,
    size INTEGER,
    record TEXT NOT NULL,
    history TEXT
);
INSERT INTO documents_rowid (id, version, status, document_type, pending_expires_at,
    created_at, updated_at, file_name, content_type, size, record, history)
SELECT id, version, status, document_type, pending_expires_at,
    created_at, updated_at, file_name, content_type, size, record, history
FROM documents ORDER BY id;
";

/// The history column. Appended last, so that reading `record` never reads it.
const SCHEMA_HISTORY_APART: &str = "ALTER TABLE documents ADD COLUMN history TEXT;";

/// Moves each record's `$.revisions` (records of schema version 1 and 2 carry their
/// history inside) into the `history` column, and marks the record as of version 3
/// (`kumocms_core::document::SCHEMA_VERSION`), whose history is never inside.
const MOVE_HISTORY_APART: &str = "
UPDATE documents
SET history = json_extract(record, '$.revisions'),
    record = json_set(json_remove(record, '$.revisions'), '$.schema_version', 3);
";
const SCHEMA_V1: &str = "
CREATE TABLE documents (
    id TEXT PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    document_type TEXT NOT NULL,
    -- Unix milliseconds of the pending upload's expiry; NULL without one.
    pending_expires_at INTEGER,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX documents_by_type ON documents (document_type, id);
CREATE INDEX documents_by_status ON documents (status, id);
CREATE INDEX documents_by_type_status ON documents (document_type, status, id);
CREATE INDEX documents_pending ON documents (pending_expires_at)
    WHERE pending_expires_at IS NOT NULL;
";

pub struct SqliteMetadataStore {
    // Declared before `writer` so the read-only connections close first: the last
    // connection to close checkpoints and removes the WAL, and only the writer can.
    readers: ReaderPool,
    /// The one read-write connection. Every write is serialised on it, so conditional
    /// writes are checked and applied in one place.
    writer: Arc<Mutex<Connection>>,
    /// Record writes waiting for the writer, applied a group per transaction
    /// (`sqlite_group_commit`).
    writes: Arc<WriteQueue>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteMetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteMetadataStore")
            .field("path", &self.path)
            .field("readers", &self.readers.threads.len())
            .finish()
    }
}

fn sql_error(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(error.to_string())
        }
        _ => StoreError::other_from(error.to_string(), error),
    }
}

fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|e| StoreError::other_from(format!("{what} {value} is out of range"), e))
}

struct Row {
    id: String,
    version: i64,
    status: &'static str,
    document_type: String,
    pending_expires_at: Option<i64>,
    record: String,
    /// The retained revisions as a JSON array; `None` when there are none.
    history: Option<String>,
}

impl Row {
    fn of(document: &Document) -> Result<Self, StoreError> {
        Ok(Self {
            id: document.id.to_string(),
            version: to_i64(document.version, "version")?,
            status: document.status.as_str(),
            document_type: document.document_type.clone(),
            pending_expires_at: document
                .pending_upload
                .as_ref()
                .map(|p| p.expires_at.timestamp_millis()),
            record: serde_json::to_string(document).map_err(|e| {
                StoreError::other_from(format!("cannot serialise {}: {e}", document.id), e)
            })?,
            // Refuses a record read for display: writing it would drop its history.
            history: match document.revisions.get()? {
                [] => None,
                _ => Some(document.revisions.to_json()?),
            },
        })
    }
}

fn decode(record: &str) -> Result<Document, StoreError> {
    // Any schema version this release reads, upgraded (see `kumocms_core::SCHEMA_VERSION`).
    Document::from_record(record).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A record for display: its history left in the store.
fn decode_for_display(record: &str) -> Result<Document, StoreError> {
    let mut document = decode(record)?;
    document.revisions = History::NotLoaded;
    Ok(document)
}

/// A record with its history, from the `record` and `history` columns of its row.
fn decode_whole(record: &str, history: Option<&str>) -> Result<Document, StoreError> {
    let mut document = decode(record)?;
    match history {
        Some(history) => {
            document.revisions = History::from_json(history).map_err(|e| {
                StoreError::Corrupt(format!("unreadable history of {}: {e}", document.id))
            })?;
        }
        // No column value: no history, unless the record (from before the history
        // step) still holds it inside.
        None if document.revisions.is_loaded() => {}
        None => document.revisions = History::empty(),
    }
    Ok(document)
}

/// Calls `each` with every record, in id order (the index rebuilds: the migration
/// steps and `kumocms reindex`). Returns how many records were read.
pub(crate) fn for_each_record(
    connection: &Connection,
    mut each: impl FnMut(&Document) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let mut statement = connection
        .prepare("SELECT record FROM documents ORDER BY id")
        .map_err(sql_error)?;
    let rows = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(sql_error)?;
    let mut count = 0;
    for record in rows {
        each(&decode(&record.map_err(sql_error)?)?)?;
        count += 1;
    }
    Ok(count)
}

/// A read, boxed to cross to a reader thread. It sends its own result back.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// Reads waiting for a reader thread.
struct ReadQueue {
    jobs: Mutex<QueueState>,
    ready: Condvar,
}

struct QueueState {
    jobs: VecDeque<ReadJob>,
    closed: bool,
}

/// A few threads, each owning one read-only connection, taking reads from one queue.
///
/// Why dedicated threads: a point read takes a few microseconds, so what it costs is
/// getting to and from the thread that runs it. Measured with `wrk -t2 -c32` on
/// `GET /documents/{id}` on 2 cores, with the same read-only connections behind each
/// way of calling them (two runs each on a shared, noisy machine; server CPU time per
/// request in brackets, the steadier number): `spawn_blocking`
/// 17.9–23.2k req/s (52–55 µs), `block_in_place` 16.4–17.9k (53–58 µs; it hands the
/// worker's core to a blocking-pool thread on every call, so it pays a pool spawn and
/// a wake-up, and panics on a current-thread runtime), these threads 29.4–33.1k
/// (29–30 µs). Running the query on the async worker itself did no better
/// (25.1–30.2k) and would stall every task on that worker whenever a page is not
/// cached. A thread that owns its connection needs no pool lock, no task spawn and
/// no runtime support, so it works the same on every runtime (and without one).
struct ReaderPool {
    queue: Arc<ReadQueue>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Reader threads (and connections): one per CPU, at least 2 and at most 8. A point
/// read is CPU work on pages SQLite already caches, so more readers than cores cannot
/// run at once; 2 keeps one long listing from holding up every `get` on a 1-CPU host;
/// 8 bounds the threads, the memory (each connection has its own page cache) and the
/// file descriptors on large hosts.
fn reader_count() -> usize {
    std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(2)
        .clamp(2, 8)
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    // Read-only: a bug that sent a write here fails instead of bypassing the writer.
    // NO_MUTEX: each connection is used by its one thread only.
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_error)?;
    // WAL readers do not wait for the writer, but they can briefly wait on a
    // checkpoint or on WAL recovery: the same patience as the writer's.
    connection.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
    // Searches read records at random places (a page of hits, the documents of a
    // rare metadata value): mapped, a page read is a memory access instead of a
    // system call. Address space only; the kernel's page cache backs it.
    connection
        .pragma_update(None, "mmap_size", READER_MMAP_BYTES)
        .map_err(sql_error)?;
    Ok(connection)
}

/// The writer's page cache, in KiB (SQLite's default is 2 MiB). A record's write
/// also writes its search index: about one row per distinct word in `search_terms`,
/// each at a random place of that B-tree (issue 13). With 2 MiB nearly every such
/// row missed the cache and a large transaction (`insert_many`, a migration, a
/// reindex) spilled the same dirty pages to the WAL again and again. Memory is taken
/// only as pages are used.
const WRITER_CACHE_KIB: i64 = 256 * 1024;

/// How much of the database file each reader maps (issue 13, search speed).
const READER_MMAP_BYTES: i64 = 1 << 30;

impl ReadQueue {
    /// The next read, or `None` once the pool is closing.
    fn next(&self) -> Option<ReadJob> {
        // A poisoned lock (nothing runs under it that can panic) stops the thread;
        // `submit` then reports the store unavailable instead of queueing.
        let mut state = self.jobs.lock().ok()?;
        loop {
            if state.closed {
                return None;
            }
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            state = self.ready.wait(state).ok()?;
        }
    }

    fn submit(&self, job: ReadJob) -> Result<(), StoreError> {
        let mut state = self
            .jobs
            .lock()
            .map_err(|_| StoreError::Unavailable("metadata reader queue is poisoned".into()))?;
        if state.closed {
            return Err(StoreError::Unavailable(
                "metadata readers are closed".into(),
            ));
        }
        state.jobs.push_back(job);
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    fn close(&self) {
        let mut state = self
            .jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.closed = true;
        drop(state);
        self.ready.notify_all();
    }
}

impl ReaderPool {
    fn open(path: &Path, size: usize) -> Result<Self, StoreError> {
        // All connections first, so a failure leaves no thread behind.
        let connections = (0..size)
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>, _>>()?;
        let mut pool = Self {
            queue: Arc::new(ReadQueue {
                jobs: Mutex::new(QueueState {
                    jobs: VecDeque::new(),
                    closed: false,
                }),
                ready: Condvar::new(),
            }),
            threads: Vec::with_capacity(size),
        };
        for connection in connections {
            let queue = Arc::clone(&pool.queue);
            let thread = std::thread::Builder::new()
                .name("kumocms-sqlite-reader".into())
                .spawn(move || {
                    while let Some(job) = queue.next() {
                        // A panicking read must not take its thread (and connection)
                        // with it: its result sender is dropped, so the caller gets an
                        // error, and the connection is clean because rusqlite resets a
                        // statement when its rows are dropped.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            job(&connection);
                        }));
                    }
                })
                // `pool` is dropped on this error, which stops the threads started.
                .map_err(|e| {
                    StoreError::other_from(format!("cannot start a metadata reader: {e}"), e)
                })?;
            pool.threads.push(thread);
        }
        Ok(pool)
    }
}

impl Drop for ReaderPool {
    /// Stops the threads and waits for them, so that their connections are closed
    /// before the writer's: the last connection to close checkpoints the WAL and
    /// removes it, and a read-only one cannot.
    fn drop(&mut self) {
        self.queue.close();
        let current = std::thread::current().id();
        for thread in self.threads.drain(..) {
            // Never join oneself (a read cannot own the store, but be safe).
            if thread.thread().id() != current {
                let _ = thread.join();
            }
        }
    }
}

const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl SqliteMetadataStore {
    /// Opens (creating if needed) `<data_dir>/kumocms.sqlite3`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_file(&data_dir.join(DATABASE_FILE))
    }

    pub fn open_file(path: &Path) -> Result<Self, StoreError> {
        // SQLite creates the file (and its -wal and -shm beside it, with the same
        // mode) with the umask's mode; created first, it is private.
        crate::fsutil::ensure_private_file(path).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", path.display()))
        })?;
        let mut connection = Connection::open(path).map_err(sql_error)?;
        // WAL lets readers run beside the writer; FULL syncs the WAL on every commit,
        // so a transaction that returned survives a kill -9 or a power loss.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_error)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(sql_error)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
        connection
            .pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(sql_error)?;
        migrate(&mut connection)?;
        // After the migration, so that readers find the schema (and WAL mode, which
        // is stored in the file) in place.
        let readers = ReaderPool::open(path, reader_count())?;
        Ok(Self {
            readers,
            writer: Arc::new(Mutex::new(connection)),
            writes: Arc::default(),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` with the writer connection on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave SQLite inconsistent (each
            // statement is atomic), so a poisoned lock is still usable.
            let mut guard = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("metadata worker failed: {e}")))?
    }

    /// Runs the record write `work` inside a transaction of the writer, together
    /// with the other record writes queued meanwhile (`sqlite_group_commit`), and
    /// returns once the transaction is committed. `work` runs in a savepoint of its
    /// own: on `Err` nothing it did is applied.
    pub(crate) async fn write(
        &self,
        work: impl FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), StoreError> {
        let queued = self.writes.push(Box::new(work));
        if queued.start_turn {
            let connection = Arc::clone(&self.writer);
            let writes = Arc::clone(&self.writes);
            // Not awaited: the reply says when this write is done, and the turn
            // goes on (answering the others of its group) if this caller goes away.
            drop(tokio::task::spawn_blocking(move || {
                let mut guard = connection
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                writes.apply_all(&mut guard);
            }));
        }
        queued
            .reply
            .await
            .map_err(|_| StoreError::Unavailable("metadata writer failed".into()))?
    }

    #[cfg(test)]
    pub(crate) fn lock_writer(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    pub(crate) fn queued_writes(&self) -> usize {
        self.writes.len()
    }

    /// Runs `work` on a read-only connection, on a reader thread.
    ///
    /// Each call is its own read transaction (rusqlite resets every statement when
    /// its rows are dropped, which ends SQLite's implicit transaction), and a WAL
    /// reader starting a transaction sees every transaction committed before it: a
    /// read that starts after a write returned sees that write.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.readers.queue.submit(Box::new(move |connection| {
            // The caller may have gone (a dropped request); nothing to tell it then.
            let _ = sender.send(work(connection));
        }))?;
        receiver
            .await
            .map_err(|_| StoreError::Unavailable("metadata reader failed".into()))?
    }

    /// Rebuilds the search index (columns and text) from the records, in one
    /// transaction (`kumocms reindex`). Returns how many records were indexed.
    pub async fn reindex(&self) -> Result<u64, StoreError> {
        self.with(|connection| {
            let transaction = connection.transaction().map_err(sql_error)?;
            let count = crate::sqlite_search::rebuild(&transaction)?;
            transaction.commit().map_err(sql_error)?;
            Ok(count)
        })
        .await
    }

    /// Inserts many new records in one transaction, each exactly as
    /// [`MetadataStore::insert`] does (record and search index): for bulk loads
    /// (the search benchmark), where a commit per record would be one disk sync
    /// per record. `Conflict` (and nothing written) if any id exists.
    pub async fn insert_many(&self, documents: Vec<Document>) -> Result<(), StoreError> {
        self.with(move |connection| {
            let transaction = connection.transaction().map_err(sql_error)?;
            for document in &documents {
                insert_in(&transaction, &Row::of(document)?, document)?;
            }
            transaction.commit().map_err(sql_error)
        })
        .await
    }

    /// Every record with a pending upload, in id order (for crash recovery).
    pub async fn with_pending_upload(&self) -> Result<Vec<Document>, StoreError> {
        self.read(|connection| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT record FROM documents WHERE pending_expires_at IS NOT NULL ORDER BY id",
                )
                .map_err(sql_error)?;
            let rows = statement
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(sql_error)?;
            let mut documents = Vec::new();
            for record in rows {
                documents.push(decode(&record.map_err(sql_error)?)?);
            }
            Ok(documents)
        })
        .await
    }
}

pub(crate) fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql_error)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::other(format!(
            "the database has schema version {version}, newer than this build's {SCHEMA_VERSION}; use a newer kumocms"
        )));
    }
    if version < 1 {
        let transaction = connection.transaction().map_err(sql_error)?;
        transaction.execute_batch(SCHEMA_V1).map_err(sql_error)?;
        transaction
            .pragma_update(None, "user_version", 1)
            .map_err(sql_error)?;
        transaction.commit().map_err(sql_error)?;
    }
    if version < 2 {
        // Search (issue 13): columns, indexes and the text index, filled from the
        // records already there, in one transaction.
        let transaction = connection.transaction().map_err(sql_error)?;
        transaction
            .execute_batch(crate::sqlite_search::SCHEMA_V2)
            .map_err(sql_error)?;
        transaction
            .execute_batch(crate::sqlite_search::SCHEMA_V3)
            .map_err(sql_error)?;
        crate::sqlite_search::rebuild(&transaction)?;
        transaction
            .pragma_update(None, "user_version", 3)
            .map_err(sql_error)?;
        transaction.commit().map_err(sql_error)?;
    } else if version < 3 {
        // Long text (issue 13: up to 1 MiB indexed): one column, empty for the
        // rows already there (their text is the record's, as before).
        let transaction = connection.transaction().map_err(sql_error)?;
        transaction
            .execute_batch(crate::sqlite_search::SCHEMA_V3)
            .map_err(sql_error)?;
        transaction
            .pragma_update(None, "user_version", 3)
            .map_err(sql_error)?;
        transaction.commit().map_err(sql_error)?;
    }
    if version < SCHEMA_VERSION_METADATA_INDEX {
        migrate_metadata_index(connection)?;
    }
    if version < SCHEMA_VERSION_TERM_SCORES {
        migrate_term_scores(connection)?;
    }
    if version < SCHEMA_VERSION_HISTORY_APART {
        migrate_history_apart(connection)?;
    }
    if version < SCHEMA_VERSION_ROWID_DOCUMENTS {
        migrate_rowid_documents(connection)?;
    }
    Ok(())
}

/// `documents` rebuilt as a rowid table (see [`SCHEMA_ROWID_DOCUMENTS`]) with the
/// same indexes, in one transaction: SQLite's way to change what `ALTER TABLE`
/// cannot (a new table, the rows copied, the old one dropped, the new one renamed,
/// its indexes made again from their own definitions).
fn migrate_rowid_documents(connection: &mut Connection) -> Result<(), StoreError> {
    let transaction = connection.transaction().map_err(sql_error)?;
    let indexes = {
        let mut statement = transaction
            .prepare(
                "SELECT sql FROM sqlite_schema
                 WHERE type = 'index' AND tbl_name = 'documents' AND sql IS NOT NULL
                 ORDER BY name",
            )
            .map_err(sql_error)?;
        let rows = statement
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(sql_error)?;
        rows.collect::<Result<Vec<String>, _>>()
            .map_err(sql_error)?
    };
    transaction
        .execute_batch(SCHEMA_ROWID_DOCUMENTS)
        .map_err(sql_error)?;
    transaction
        .execute_batch("DROP TABLE documents; ALTER TABLE documents_rowid RENAME TO documents;")
        .map_err(sql_error)?;
    for index in &indexes {
        transaction.execute_batch(index).map_err(sql_error)?;
    }
    transaction
        .pragma_update(None, "user_version", SCHEMA_VERSION_ROWID_DOCUMENTS)
        .map_err(sql_error)?;
    transaction.commit().map_err(sql_error)
}

/// The per-word scores and the search columns' covering indexes (issue 13): the
/// table, filled from the text index already there, and the indexes, in one
/// transaction.
fn migrate_term_scores(connection: &mut Connection) -> Result<(), StoreError> {
    let transaction = connection.transaction().map_err(sql_error)?;
    transaction
        .execute_batch(crate::sqlite_term_scores::SCHEMA_TERM_SCORES)
        .map_err(sql_error)?;
    crate::sqlite_term_scores::fill(&transaction)?;
    transaction
        .execute_batch(crate::sqlite_search::SCHEMA_COVERING_INDEXES)
        .map_err(sql_error)?;
    transaction
        .pragma_update(None, "user_version", SCHEMA_VERSION_TERM_SCORES)
        .map_err(sql_error)?;
    transaction.commit().map_err(sql_error)
}

/// Retained revisions apart from the record (issue 11): the `history` column, and
/// every record's history moved into it, in one transaction.
fn migrate_history_apart(connection: &mut Connection) -> Result<(), StoreError> {
    let transaction = connection.transaction().map_err(sql_error)?;
    transaction
        .execute_batch(SCHEMA_HISTORY_APART)
        .map_err(sql_error)?;
    transaction
        .execute_batch(MOVE_HISTORY_APART)
        .map_err(sql_error)?;
    transaction
        .pragma_update(None, "user_version", SCHEMA_VERSION_HISTORY_APART)
        .map_err(sql_error)?;
    transaction.commit().map_err(sql_error)
}

/// The metadata index (issue 13: `meta.<key>=<value>` on an index): the table,
/// filled from the records already there, in one transaction.
fn migrate_metadata_index(connection: &mut Connection) -> Result<(), StoreError> {
    let transaction = connection.transaction().map_err(sql_error)?;
    transaction
        .execute_batch(crate::sqlite_metadata::SCHEMA_METADATA_INDEX)
        .map_err(sql_error)?;
    crate::sqlite_metadata::fill(&transaction)?;
    transaction
        .pragma_update(None, "user_version", SCHEMA_VERSION_METADATA_INDEX)
        .map_err(sql_error)?;
    transaction.commit().map_err(sql_error)
}

/// Brings the search index of `document` up to date after its record replaced
/// `previous`. The full-text row is written again only when what it indexes
/// changed: an FTS5 delete and insert is most of an update's pages (and its
/// segment merges), and most updates (an upload checked with no text in it, a
/// status change, a sweep) leave the name, the metadata and the body as they were
/// (issue 14). The sort columns are always written; the metadata rows when the
/// metadata changed.
fn reindex_after_update(
    transaction: &Connection,
    previous: &Document,
    document: &Document,
) -> Result<(), StoreError> {
    if !indexed_text_unchanged(previous, document) {
        return crate::sqlite_search::index(transaction, document);
    }
    crate::sqlite_search::index_columns(transaction, document)?;
    if previous.metadata != document.metadata {
        crate::sqlite_metadata::index(transaction, document)?;
    }
    Ok(())
}

/// Whether indexing `document` would write the same full-text row as indexing
/// `previous` did: the same name (and title), the same metadata text, and the same
/// body. The body is the content's text, or the long text indexed for the content's
/// SHA-256; it is the same when the content and its text are, or when there was no
/// extraction before and the new one found no text (the body stays empty). A fresh
/// long text (`index_text`) is always written.
fn indexed_text_unchanged(previous: &Document, document: &Document) -> bool {
    use kumocms_core::search::{metadata_text, name_text};
    let body_unchanged = match (&previous.extracted, &document.extracted) {
        (_, Some(new)) if new.index_text.is_some() => false,
        (None, None) => true,
        (None, Some(new)) => new.text.is_none(),
        (Some(old), Some(new)) => old.sha256 == new.sha256 && old.text == new.text,
        (Some(_), None) => false,
    };
    body_unchanged
        && name_text(previous) == name_text(document)
        && metadata_text(previous) == metadata_text(document)
}

/// Inserts one record and its search index inside `transaction`.
fn insert_in(transaction: &Connection, row: &Row, document: &Document) -> Result<(), StoreError> {
    let result = transaction
        .prepare_cached(
            "INSERT INTO documents (id, version, status, document_type, pending_expires_at, record, history)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                row.id,
                row.version,
                row.status,
                row.document_type,
                row.pending_expires_at,
                row.record,
                row.history
            ])
        });
    match result {
        Ok(_) => {}
        Err(error) if error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
            return Err(StoreError::Conflict);
        }
        Err(error) => return Err(sql_error(error)),
    }
    crate::sqlite_search::index(transaction, document)
}

#[async_trait]
impl MetadataStore for SqliteMetadataStore {
    async fn insert(&self, document: &Document) -> Result<(), StoreError> {
        let row = Row::of(document)?;
        let document = document.clone();
        // The record and its search index in one transaction.
        self.write(move |transaction| insert_in(transaction, &row, &document))
            .await
    }

    async fn get(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        let id = id.to_string();
        self.read(move |connection| {
            let row: Option<(String, Option<String>)> = connection
                .prepare_cached("SELECT record, history FROM documents WHERE id = ?1")
                .and_then(|mut statement| {
                    statement
                        .query_row([&id], |row| Ok((row.get(0)?, row.get(1)?)))
                        .optional()
                })
                .map_err(sql_error)?;
            row.map(|(record, history)| decode_whole(&record, history.as_deref()))
                .transpose()
        })
        .await
    }

    async fn get_nearby(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        let id = id.to_string();
        self.read(move |connection| {
            let record: Option<String> = connection
                .prepare_cached("SELECT record FROM documents WHERE id = ?1")
                .and_then(|mut statement| statement.query_row([&id], |row| row.get(0)).optional())
                .map_err(sql_error)?;
            record.as_deref().map(decode_for_display).transpose()
        })
        .await
    }

    async fn update(&self, document: &Document, expected_version: u64) -> Result<(), StoreError> {
        if document.version != expected_version.saturating_add(1) {
            // Every writer bumps the version by one; anything else is a bug upstream.
            return Err(StoreError::other(format!(
                "update of {} to version {} from {expected_version}: the new version must be one more",
                document.id, document.version
            )));
        }
        let row = Row::of(document)?;
        let expected = to_i64(expected_version, "version")?;
        let document = document.clone();
        self.write(move |transaction| {
            // The record as it is, to leave its indexed text alone when the write
            // does not change it (see `reindex_after_update`).
            let previous = transaction
                .prepare_cached("SELECT record FROM documents WHERE id = ?1 AND version = ?2")
                .and_then(|mut s| {
                    s.query_row(params![row.id, expected], |r| r.get::<_, String>(0))
                        .optional()
                })
                .map_err(sql_error)?;
            let Some(previous) = previous else {
                return Err(StoreError::Conflict);
            };
            let changed = transaction
                .prepare_cached(
                    "UPDATE documents
                     SET version = ?2, status = ?3, document_type = ?4, pending_expires_at = ?5, record = ?6,
                         history = ?8
                     WHERE id = ?1 AND version = ?7",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        row.id,
                        row.version,
                        row.status,
                        row.document_type,
                        row.pending_expires_at,
                        row.record,
                        expected,
                        row.history
                    ])
                })
                .map_err(sql_error)?;
            if changed == 0 {
                return Err(StoreError::Conflict);
            }
            reindex_after_update(transaction, &decode(&previous)?, &document)
        })
        .await
    }

    async fn delete(&self, id: &DocumentId, expected_version: u64) -> Result<(), StoreError> {
        let id = id.to_string();
        let expected = to_i64(expected_version, "version")?;
        self.write(move |transaction| {
            let changed = transaction
                .prepare_cached("DELETE FROM documents WHERE id = ?1 AND version = ?2")
                .and_then(|mut statement| statement.execute(params![id, expected]))
                .map_err(sql_error)?;
            if changed == 0 {
                return Err(StoreError::Conflict);
            }
            crate::sqlite_search::unindex(transaction, &id)
        })
        .await
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchPage, StoreError> {
        let query = query.clone();
        self.read(move |connection| crate::sqlite_search::search(connection, &query))
            .await
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        self.page(query, false).await
    }

    async fn list_with_history(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        self.page(query, true).await
    }

    async fn expired_pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Document>, StoreError> {
        let now = now.timestamp_millis();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |connection| {
            // With their history: the sweeper changes what it reads.
            let mut statement = connection
                .prepare_cached(
                    "SELECT record, history FROM documents
                     WHERE pending_expires_at IS NOT NULL AND pending_expires_at < ?1
                     ORDER BY pending_expires_at LIMIT ?2",
                )
                .map_err(sql_error)?;
            let rows = statement
                .query_map(params![now, limit], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
                })
                .map_err(sql_error)?;
            let mut documents = Vec::new();
            for row in rows {
                let (record, history) = row.map_err(sql_error)?;
                documents.push(decode_whole(&record, history.as_deref())?);
            }
            Ok(documents)
        })
        .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.read(|connection| {
            connection
                .query_row(
                    "SELECT count(*) FROM (SELECT 1 FROM documents LIMIT 1)",
                    [],
                    |row| row.get::<_, i64>(0),
                )
                .map(|_| ())
                .map_err(sql_error)
        })
        .await
    }
}

impl SqliteMetadataStore {
    /// A listing's page, each record with its history when `with_history`, without
    /// it (the history column not even read) otherwise.
    async fn page(&self, query: &ListQuery, with_history: bool) -> Result<ListPage, StoreError> {
        let query = query.clone();
        self.read(move |connection| {
            let mut conditions: Vec<&str> = Vec::new();
            let mut values: Vec<String> = Vec::new();
            if let Some(document_type) = &query.document_type {
                conditions.push("document_type = ?");
                values.push(document_type.clone());
            }
            if let Some(status) = query.status {
                conditions.push("status = ?");
                values.push(status.as_str().to_owned());
            }
            if let Some(after) = &query.after {
                conditions.push("id > ?");
                values.push(after.clone());
            }
            let filter = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            };
            // One row more than asked tells whether another page exists.
            let limit = query.limit.max(1);
            let columns = if with_history {
                "record, history"
            } else {
                "record, NULL"
            };
            let sql = format!(
                "SELECT {columns} FROM documents {filter} ORDER BY id LIMIT {}",
                limit.saturating_add(1)
            );
            let mut statement = connection.prepare_cached(&sql).map_err(sql_error)?;
            let rows = statement
                .query_map(params_from_iter(values.iter()), |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
                })
                .map_err(sql_error)?;
            let mut documents = Vec::with_capacity(limit.min(1024));
            for row in rows {
                let (record, history) = row.map_err(sql_error)?;
                documents.push(if with_history {
                    decode_whole(&record, history.as_deref())?
                } else {
                    decode_for_display(&record)?
                });
            }
            let next = if documents.len() > limit {
                documents.truncate(limit);
                documents.last().map(|d| d.id.to_string())
            } else {
                None
            };
            Ok(ListPage { documents, next })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_schema_is_refused_and_reopening_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        SqliteMetadataStore::open_file(&path).unwrap();
        // Reopening an existing file must not try to create the tables again.
        SqliteMetadataStore::open_file(&path).unwrap();
        let connection = Connection::open(&path).unwrap();
        let mode: String = connection
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        connection.pragma_update(None, "user_version", 99).unwrap();
        drop(connection);
        let error = SqliteMetadataStore::open_file(&path).unwrap_err();
        assert!(error.to_string().contains("newer"), "{error}");
    }

    /// A database at schema version 2 (search without long text) opens under this
    /// code: migrated to 3, its records and index kept and searchable, and long
    /// text indexed from then on.
    #[tokio::test]
    async fn a_version_2_database_is_migrated_to_3_and_keeps_its_index() {
        use kumocms_core::search::{SearchQuery, TextQuery};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        let mut document = kumocms_core::conformance::sample_document(
            "migration",
            kumocms_core::DocumentStatus::Active,
        );
        if let Some(extracted) = document.extracted.as_mut() {
            extracted.text = Some("the walrus memo".into());
        }
        {
            let store = SqliteMetadataStore::open_file(&path).unwrap();
            store.insert(&document).await.unwrap();
        }
        // What release 2 left: the same tables without the column 3 adds.
        let connection = Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "ALTER TABLE search_rows DROP COLUMN long_text_sha256; DROP TABLE document_metadata;
                 ALTER TABLE documents DROP COLUMN history;
                 DROP TABLE documents_text_instances; DROP TABLE search_terms;
                 DROP INDEX documents_search_columns;
                 PRAGMA user_version = 2;",
            )
            .unwrap();
        drop(connection);
        let store = SqliteMetadataStore::open_file(&path).unwrap();
        let version: i64 = store
            .read(|c| {
                c.pragma_query_value(None, "user_version", |r| r.get(0))
                    .map_err(sql_error)
            })
            .await
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(
            store.get(&document.id).await.unwrap(),
            Some(document.clone())
        );
        let query = |q: &str| SearchQuery {
            text: Some(TextQuery::parse(q).unwrap()),
            sort: kumocms_core::search::Sort {
                field: kumocms_core::search::SortField::Relevance,
                descending: false,
            },
            ..SearchQuery::default()
        };
        let hits = store.search(&query("walrus")).await.unwrap().hits;
        assert_eq!(hits.len(), 1, "indexed by release 2, found by 3");
        // Long text from now on.
        let mut long = document.clone();
        let version = long.version;
        long.version += 1;
        if let Some(extracted) = long.extracted.as_mut() {
            let whole = format!("{} narwhal", "word ".repeat(40_000));
            extracted.text = Some(kumocms_core::text::truncate(
                whole.clone(),
                kumocms_core::search::MAX_RECORD_TEXT,
            ));
            extracted.index_text = Some(whole);
        }
        store.update(&long, version).await.unwrap();
        let hits = store.search(&query("narwhal")).await.unwrap().hits;
        assert_eq!(hits.len(), 1, "a word past 32 KiB");
    }

    #[tokio::test]
    async fn readers_are_read_only_wal_connections() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetadataStore::open(dir.path()).unwrap();
        assert!((2..=8).contains(&store.readers.threads.len()));
        let mode = store
            .read(|connection| {
                connection
                    .pragma_query_value(None, "journal_mode", |row| row.get::<_, String>(0))
                    .map_err(sql_error)
            })
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let refused = store
            .read(|connection| {
                connection
                    .execute("DELETE FROM documents", [])
                    .map_err(sql_error)
            })
            .await;
        assert!(
            matches!(&refused, Err(StoreError::Other { message, .. }) if message.contains("readonly")),
            "{refused:?}"
        );
        // The SQLite error itself is kept as the source, not only its text.
        let source = refused
            .as_ref()
            .err()
            .and_then(std::error::Error::source)
            .expect("the error keeps its source");
        assert!(
            source
                .downcast_ref::<kumocms_core::ports::ErrorSource>()
                .is_some_and(|s| s
                    .get()
                    .downcast_ref::<rusqlite::Error>()
                    .is_some_and(|e| e.sqlite_error_code() == Some(ErrorCode::ReadOnly))),
            "{source:?}"
        );
    }

    #[tokio::test]
    async fn a_panicking_read_is_an_error_and_the_readers_carry_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetadataStore::open(dir.path()).unwrap();
        // More panics than threads: had one killed its thread, no reader would be left.
        for _ in 0..store.readers.threads.len() + 1 {
            let error = store
                .read(|_| -> Result<(), StoreError> { panic!("a read that panics") })
                .await
                .unwrap_err();
            assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
        }
        assert!(store.get(&DocumentId::new()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_poisoned_reader_queue_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetadataStore::open(dir.path()).unwrap();
        let queue = Arc::clone(&store.readers.queue);
        let _ = std::thread::spawn(move || {
            let _guard = queue.jobs.lock().unwrap();
            panic!("poison the reader queue");
        })
        .join();
        let error = store.get(&DocumentId::new()).await.unwrap_err();
        assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
        // Dropping the store still stops and joins the reader threads.
        drop(store);
    }

    #[test]
    fn closing_the_store_closes_the_readers_before_the_writer() {
        // The writer, closing last, checkpoints the WAL and removes it.
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetadataStore::open(dir.path()).unwrap();
        assert!(dir.path().join(format!("{DATABASE_FILE}-wal")).exists());
        drop(store);
        assert!(!dir.path().join(format!("{DATABASE_FILE}-wal")).exists());
    }
}

#[cfg(test)]
mod update_index_tests;
