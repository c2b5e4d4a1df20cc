//! One server per data directory. Two servers on the same directory would delete
//! each other's uploads in flight (start-up recovery empties `tmp/`) and race on
//! restores, so the second one is refused.
//!
//! The lock is an exclusive SQLite lock on `<data_dir>/kumocms.lock`, held by a
//! connection in exclusive locking mode for as long as the [`DataDirLock`] lives.
//! The operating system drops it when the process dies, so a `kill -9` never
//! leaves a stale lock behind (which a PID file would).

use std::path::Path;

use rusqlite::{Connection, ErrorCode};

pub const LOCK_FILE: &str = "kumocms.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another kumocms server is using the data directory {0}; stop it or choose another --data-dir"
    )]
    InUse(String),
    #[error("cannot lock the data directory: {message}")]
    Other {
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl LockError {
    fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other {
            message: error.to_string(),
            source: Box::new(error),
        }
    }
}

pub struct DataDirLock {
    // Never used again, only kept open; the mutex makes the holder `Sync`.
    _connection: std::sync::Mutex<Connection>,
}

impl std::fmt::Debug for DataDirLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataDirLock")
    }
}

impl DataDirLock {
    /// Takes the lock, or fails at once with `InUse` if another holder has it.
    pub fn acquire(data_dir: &Path) -> Result<Self, LockError> {
        let other = |e: rusqlite::Error| LockError::other(e);
        crate::fsutil::ensure_private_file(&data_dir.join(LOCK_FILE)).map_err(LockError::other)?;
        let connection = Connection::open(data_dir.join(LOCK_FILE)).map_err(other)?;
        // Fail at once rather than wait for a holder that will not let go.
        connection
            .busy_timeout(std::time::Duration::ZERO)
            .map_err(other)?;
        connection
            .pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(other)?;
        // A write takes the exclusive lock; in exclusive locking mode it is kept
        // after the commit, until the connection closes.
        match connection.execute_batch(
            "BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held (at INTEGER); DELETE FROM held; INSERT INTO held VALUES (unixepoch()); COMMIT;",
        ) {
            Ok(()) => Ok(Self {
                _connection: std::sync::Mutex::new(connection),
            }),
            Err(error)
                if matches!(
                    error.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) =>
            {
                Err(LockError::InUse(data_dir.display().to_string()))
            }
            Err(error) => Err(other(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_lock_can_live_in_shared_state() {
        assert_send_sync::<DataDirLock>();
        assert_send_sync::<crate::LocalBackend>();
    }

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            DataDirLock::acquire(dir.path()),
            Err(LockError::InUse(_))
        ));
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
