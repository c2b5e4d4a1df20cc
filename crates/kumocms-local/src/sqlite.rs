//! Document records in one SQLite file, `<data_dir>/kumocms.sqlite3`.
//!
//! The whole record is stored as JSON; the columns beside it exist for conditional
//! writes (`version`) and for the indexes that listing and expiry need. SQLite calls
//! block, so each one runs on the blocking pool, never on the async runtime.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kumocms_core::ports::{ListPage, ListQuery, MetadataStore, StoreError};
use kumocms_core::{Document, DocumentId};
use rusqlite::{Connection, ErrorCode, OptionalExtension, params, params_from_iter};

pub const DATABASE_FILE: &str = "kumocms.sqlite3";

/// The schema this code writes. `PRAGMA user_version` records it in the file.
const SCHEMA_VERSION: i64 = 1;

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
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteMetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteMetadataStore")
            .field("path", &self.path)
            .finish()
    }
}

fn sql_error(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(error.to_string())
        }
        _ => StoreError::Other(error.to_string()),
    }
}

fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Other(format!("{what} {value} is out of range")))
}

struct Row {
    id: String,
    version: i64,
    status: &'static str,
    document_type: String,
    pending_expires_at: Option<i64>,
    record: String,
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
            record: serde_json::to_string(document)
                .map_err(|e| StoreError::Other(format!("cannot serialise {}: {e}", document.id)))?,
        })
    }
}

fn decode(record: &str) -> Result<Document, StoreError> {
    serde_json::from_str(record).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl SqliteMetadataStore {
    /// Opens (creating if needed) `<data_dir>/kumocms.sqlite3`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_file(&data_dir.join(DATABASE_FILE))
    }

    pub fn open_file(path: &Path) -> Result<Self, StoreError> {
        let mut connection = Connection::open(path).map_err(sql_error)?;
        // WAL lets readers run beside the writer; FULL syncs the WAL on every commit,
        // so a transaction that returned survives a kill -9 or a power loss.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_error)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(sql_error)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql_error)?;
        migrate(&mut connection)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` with the connection on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = Arc::clone(&self.connection);
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

    /// Every record with a pending upload, in id order (for crash recovery).
    pub async fn with_pending_upload(&self) -> Result<Vec<Document>, StoreError> {
        self.with(|connection| {
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

fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql_error)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Other(format!(
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
    Ok(())
}

#[async_trait]
impl MetadataStore for SqliteMetadataStore {
    async fn insert(&self, document: &Document) -> Result<(), StoreError> {
        let row = Row::of(document)?;
        self.with(move |connection| {
            let result = connection
                .prepare_cached(
                    "INSERT INTO documents (id, version, status, document_type, pending_expires_at, record)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        row.id,
                        row.version,
                        row.status,
                        row.document_type,
                        row.pending_expires_at,
                        row.record
                    ])
                });
            match result {
                Ok(_) => Ok(()),
                Err(error) if error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                    Err(StoreError::Conflict)
                }
                Err(error) => Err(sql_error(error)),
            }
        })
        .await
    }

    async fn get(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        let id = id.to_string();
        self.with(move |connection| {
            let record: Option<String> = connection
                .prepare_cached("SELECT record FROM documents WHERE id = ?1")
                .and_then(|mut statement| statement.query_row([&id], |row| row.get(0)).optional())
                .map_err(sql_error)?;
            record.as_deref().map(decode).transpose()
        })
        .await
    }

    async fn update(&self, document: &Document, expected_version: u64) -> Result<(), StoreError> {
        if document.version != expected_version.saturating_add(1) {
            // Every writer bumps the version by one; anything else is a bug upstream.
            return Err(StoreError::Other(format!(
                "update of {} to version {} from {expected_version}: the new version must be one more",
                document.id, document.version
            )));
        }
        let row = Row::of(document)?;
        let expected = to_i64(expected_version, "version")?;
        self.with(move |connection| {
            let changed = connection
                .prepare_cached(
                    "UPDATE documents
                     SET version = ?2, status = ?3, document_type = ?4, pending_expires_at = ?5, record = ?6
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
                        expected
                    ])
                })
                .map_err(sql_error)?;
            if changed == 0 {
                Err(StoreError::Conflict)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn delete(&self, id: &DocumentId, expected_version: u64) -> Result<(), StoreError> {
        let id = id.to_string();
        let expected = to_i64(expected_version, "version")?;
        self.with(move |connection| {
            let changed = connection
                .prepare_cached("DELETE FROM documents WHERE id = ?1 AND version = ?2")
                .and_then(|mut statement| statement.execute(params![id, expected]))
                .map_err(sql_error)?;
            if changed == 0 {
                Err(StoreError::Conflict)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        let query = query.clone();
        self.with(move |connection| {
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
            let sql = format!(
                "SELECT record FROM documents {filter} ORDER BY id LIMIT {}",
                limit.saturating_add(1)
            );
            let mut statement = connection.prepare_cached(&sql).map_err(sql_error)?;
            let rows = statement
                .query_map(params_from_iter(values.iter()), |row| {
                    row.get::<_, String>(0)
                })
                .map_err(sql_error)?;
            let mut documents = Vec::with_capacity(limit.min(1024));
            for record in rows {
                documents.push(decode(&record.map_err(sql_error)?)?);
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

    async fn expired_pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Document>, StoreError> {
        let now = now.timestamp_millis();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(move |connection| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT record FROM documents
                     WHERE pending_expires_at IS NOT NULL AND pending_expires_at < ?1
                     ORDER BY pending_expires_at LIMIT ?2",
                )
                .map_err(sql_error)?;
            let rows = statement
                .query_map(params![now, limit], |row| row.get::<_, String>(0))
                .map_err(sql_error)?;
            let mut documents = Vec::new();
            for record in rows {
                documents.push(decode(&record.map_err(sql_error)?)?);
            }
            Ok(documents)
        })
        .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.with(|connection| {
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
}
