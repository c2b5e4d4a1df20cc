//! Group commit for the SQLite writer (issue 14).
//!
//! With `synchronous=FULL` every commit syncs the WAL, and a small upload is two
//! record writes (the creation, then the activation): one commit per write made
//! the WAL's fsync and the pages every write touches (the right-most leaves of the
//! id and time indexes, the full-text segments) most of the server's work per
//! file. Record writes that arrive while the writer is busy wait in a queue; the
//! next turn of the writer applies all of them in ONE transaction and answers each
//! caller only after that transaction's COMMIT returned, so a write that returned
//! is as durable as before.
//!
//! Each write still stands alone: it runs in its own SAVEPOINT, so a write whose
//! condition fails (or that fails in any way) is rolled back to its savepoint,
//! gets its own error, and leaves the others of the group alone. Writes run in the
//! order they arrived, each seeing the ones before it. If the COMMIT fails, no
//! write of the group is applied and every one that had succeeded gets the error.

use std::sync::Mutex;

use kumocms_core::ports::StoreError;
use rusqlite::Connection;
use tokio::sync::oneshot;

/// One record write: its statements, run inside the group's transaction.
pub(crate) type Work = Box<dyn FnOnce(&Connection) -> Result<(), StoreError> + Send>;

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// The record writes waiting for the writer's next turn.
#[derive(Default)]
pub(crate) struct WriteQueue {
    pending: Mutex<Vec<(Work, Reply)>>,
}

/// What [`WriteQueue::push`] tells its caller.
pub(crate) struct Queued {
    /// Answered once the write's group committed (or failed).
    pub(crate) reply: oneshot::Receiver<Result<(), StoreError>>,
    /// Whether the queue was empty: then nobody is due to apply it yet, and the
    /// caller must start a turn of the writer ([`WriteQueue::apply_all`]). Otherwise
    /// the turn started for the first write in the queue takes this one too.
    pub(crate) start_turn: bool,
}

impl WriteQueue {
    pub(crate) fn push(&self, work: Work) -> Queued {
        let (sender, reply) = oneshot::channel();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let start_turn = pending.is_empty();
        pending.push((work, sender));
        Queued { reply, start_turn }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Applies every queued write in one transaction on `connection` (the writer,
    /// locked by the caller) and answers each.
    pub(crate) fn apply_all(&self, connection: &mut Connection) {
        let writes = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if writes.is_empty() {
            return;
        }
        let count = writes.len();
        let (works, replies): (Vec<Work>, Vec<Reply>) = writes.into_iter().unzip();
        let results = match apply_group(connection, works) {
            Ok(results) => results,
            Err(error) => {
                let message = format!("a group of {count} record writes failed: {error}");
                (0..count)
                    .map(|_| Err(group_error(&error, &message)))
                    .collect()
            }
        };
        for (reply, result) in replies.into_iter().zip(results) {
            // The caller may have gone (a dropped request); its write stands.
            let _ = reply.send(result);
        }
    }
}

/// Runs `works` in one transaction, each in its own savepoint, and commits. `Err`
/// when the group as a whole failed (nothing of it applied); otherwise each write's
/// own result, after the COMMIT when any succeeded.
fn apply_group(
    connection: &mut Connection,
    works: Vec<Work>,
) -> Result<Vec<Result<(), StoreError>>, rusqlite::Error> {
    // Dropped without a commit (an error below, or a panic outside a write), it rolls
    // the whole group back.
    let transaction = connection.transaction()?;
    let mut results = Vec::with_capacity(works.len());
    for work in works {
        transaction.execute_batch("SAVEPOINT record_write")?;
        // A panic in one write is that write's error, not its group's.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&transaction)))
            .unwrap_or_else(|_| Err(StoreError::Unavailable("a record write panicked".into())));
        if result.is_ok() {
            transaction.execute_batch("RELEASE record_write")?;
        } else {
            transaction.execute_batch("ROLLBACK TO record_write; RELEASE record_write")?;
        }
        results.push(result);
    }
    if results.iter().any(Result::is_ok) {
        transaction.commit()?;
    }
    Ok(results)
}

/// The error each write of a failed group gets (the SQLite error is not `Clone`).
fn group_error(error: &rusqlite::Error, message: &str) -> StoreError {
    use rusqlite::ErrorCode;
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(message.to_owned())
        }
        _ => StoreError::other(message.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use kumocms_core::conformance::sample_document;
    use kumocms_core::ports::{MetadataStore, StoreError};
    use kumocms_core::{Document, DocumentStatus};

    use crate::sqlite::SqliteMetadataStore;

    type Pending = tokio::task::JoinHandle<Result<(), StoreError>>;

    /// Waits until `count` writes are queued behind the held writer, so that the
    /// next turn of the writer applies them as one group.
    async fn queued(store: &SqliteMetadataStore, count: usize) {
        for _ in 0..2_000 {
            if store.queued_writes() >= count {
                assert_eq!(store.queued_writes(), count);
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{} writes queued, expected {count}", store.queued_writes());
    }

    /// Holds the writer on a thread of its own (the writes queue behind it) until
    /// the returned sender is dropped.
    fn hold_writer(store: &Arc<SqliteMetadataStore>) -> std::sync::mpsc::Sender<()> {
        let (locked, is_locked) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let store = Arc::clone(store);
        std::thread::spawn(move || {
            let _writer = store.lock_writer();
            locked.send(()).unwrap();
            let _ = released.recv();
        });
        is_locked.recv().unwrap();
        release
    }

    fn insert(store: &Arc<SqliteMetadataStore>, document: &Document) -> Pending {
        let (store, document) = (Arc::clone(store), document.clone());
        tokio::spawn(async move { store.insert(&document).await })
    }

    fn update(store: &Arc<SqliteMetadataStore>, document: &Document, expected: u64) -> Pending {
        let (store, document) = (Arc::clone(store), document.clone());
        tokio::spawn(async move { store.update(&document, expected).await })
    }

    /// A write that deletes every record, then ends as `ending` says (an error or
    /// a panic): none of it may stay applied.
    fn wipe_then(
        store: &Arc<SqliteMetadataStore>,
        ending: fn() -> Result<(), StoreError>,
    ) -> Pending {
        let store = Arc::clone(store);
        tokio::spawn(async move {
            store
                .write(move |connection| {
                    connection
                        .execute("DELETE FROM documents", [])
                        .map_err(|e| StoreError::other(e.to_string()))?;
                    ending()
                })
                .await
        })
    }

    /// Writes queued together are applied in one transaction, each checked on its
    /// own: those whose condition fails get `Conflict` and change nothing (not even
    /// what they wrote before failing), the others are applied, in order.
    #[tokio::test]
    async fn a_group_applies_each_write_that_holds_and_only_fails_those_that_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteMetadataStore::open(dir.path()).unwrap());
        let existing = sample_document("group", DocumentStatus::Active);
        store.insert(&existing).await.unwrap();
        let fresh = sample_document("group", DocumentStatus::PendingUpload);
        let other = sample_document("group", DocumentStatus::Active);
        let mut renamed = existing.clone();
        renamed.version = 2;
        renamed.document_type = "renamed".into();
        let mut stale = existing.clone();
        stale.version = 6;
        stale.document_type = "stale".into();

        let writer = hold_writer(&store);
        let writes = vec![
            insert(&store, &fresh),
            insert(&store, &existing), // exists: Conflict
            update(&store, &stale, 5), // wrong version: Conflict
            update(&store, &renamed, 1),
            update(&store, &renamed, 1), // the one before changed the version
        ];
        queued(&store, writes.len()).await;
        // One that writes and then fails: rolled back to its own savepoint.
        let wiping = wipe_then(&store, || Err(StoreError::Conflict));
        queued(&store, writes.len() + 1).await;
        let last = insert(&store, &other);
        queued(&store, writes.len() + 2).await;
        drop(writer);

        let mut results = Vec::new();
        for write in writes.into_iter().chain([wiping, last]) {
            results.push(write.await.unwrap());
        }
        let outcome: Vec<&str> = results
            .iter()
            .map(|r| match r {
                Ok(()) => "ok",
                Err(StoreError::Conflict) => "conflict",
                Err(_) => "error",
            })
            .collect();
        assert_eq!(
            outcome,
            [
                "ok", "conflict", "conflict", "ok", "conflict", "conflict", "ok"
            ]
        );

        assert_eq!(store.get(&fresh.id).await.unwrap(), Some(fresh.clone()));
        assert_eq!(store.get(&other.id).await.unwrap(), Some(other.clone()));
        assert_eq!(store.get(&existing.id).await.unwrap(), Some(renamed));
        // The failed writes left the indexes as the successful ones made them.
        let page = store
            .list(&kumocms_core::ports::ListQuery {
                document_type: Some("renamed".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.documents.len(), 1);
        let page = store
            .list(&kumocms_core::ports::ListQuery {
                document_type: Some("stale".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.documents.is_empty());
    }

    /// A write that panics fails alone: rolled back to its savepoint, the others of
    /// its group applied, the writer still usable.
    #[tokio::test]
    async fn a_panicking_write_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteMetadataStore::open(dir.path()).unwrap());
        let before = sample_document("plain", DocumentStatus::Active);
        let after = sample_document("plain", DocumentStatus::Active);
        let writer = hold_writer(&store);
        let first = insert(&store, &before);
        queued(&store, 1).await;
        let panicking = wipe_then(&store, || panic!("a bug in a write"));
        queued(&store, 2).await;
        let last = insert(&store, &after);
        queued(&store, 3).await;
        drop(writer);
        first.await.unwrap().unwrap();
        let error = panicking.await.unwrap().unwrap_err();
        assert!(matches!(error, StoreError::Unavailable(_)), "{error}");
        last.await.unwrap().unwrap();
        assert_eq!(store.get(&before.id).await.unwrap(), Some(before));
        assert_eq!(store.get(&after.id).await.unwrap(), Some(after.clone()));
        let mut changed = after.clone();
        changed.version = 2;
        store.update(&changed, 1).await.unwrap();
    }

    /// A COMMIT that fails fails every write of its group, and applies none; the
    /// writer goes on with the next group.
    #[tokio::test]
    async fn a_failed_commit_fails_every_write_of_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteMetadataStore::open(dir.path()).unwrap());
        // A deferred foreign key that the `poison` document breaks: checked at the
        // COMMIT, not at its own savepoint's release.
        store
            .lock_writer()
            .execute_batch(
                "PRAGMA foreign_keys = ON;
                 CREATE TEMP TABLE parent (id TEXT PRIMARY KEY);
                 CREATE TEMP TABLE child (parent TEXT REFERENCES parent (id)
                     DEFERRABLE INITIALLY DEFERRED);
                 CREATE TEMP TRIGGER poison AFTER INSERT ON main.documents
                 WHEN NEW.document_type = 'poison'
                 BEGIN INSERT INTO child VALUES ('missing'); END;",
            )
            .unwrap();
        let writer = hold_writer(&store);
        let documents = [
            sample_document("plain", DocumentStatus::Active),
            sample_document("poison", DocumentStatus::Active),
            sample_document("plain", DocumentStatus::Active),
        ];
        let writes: Vec<Pending> = documents.iter().map(|d| insert(&store, d)).collect();
        queued(&store, documents.len()).await;
        drop(writer);
        for write in writes {
            let error = write.await.unwrap().unwrap_err();
            assert!(!matches!(error, StoreError::Conflict), "{error}");
            assert!(error.to_string().contains("FOREIGN KEY"), "{error}");
        }
        for document in &documents {
            assert_eq!(store.get(&document.id).await.unwrap(), None);
        }
        // Nothing left open: the next write commits on its own.
        let after = sample_document("plain", DocumentStatus::Active);
        store.insert(&after).await.unwrap();
        assert_eq!(store.get(&after.id).await.unwrap(), Some(after));
    }
}
