//! The one read-write connection, on a thread of its own, committing writes in groups.
//!
//! With `synchronous=FULL` every commit waits for the disk to sync the WAL (about
//! 0.3 ms here, far more on slow disks), and a small upload makes three commits
//! (create, upload checked, extraction). One at a time, those syncs bound the whole
//! server. So the writer takes every write waiting when it becomes free, runs each
//! in its own savepoint inside one transaction, and commits them together: one sync
//! for the group. Nothing is acknowledged before that commit returns, so a write
//! that returned is as durable as before, and a read that starts after it sees it.
//! A write that fails (a version conflict, say) rolls back to its savepoint and
//! leaves the others in the group untouched.

use std::sync::Arc;

use kumocms_core::ports::StoreError;
use rusqlite::Connection;

use crate::sqlite_jobs::JobQueue;

/// How many writes one commit covers at most: enough to absorb a burst of small
/// uploads, few enough that the first in the group does not wait long for the last.
const MAX_GROUP: usize = 64;

/// A write, boxed to cross to the writer thread. It runs inside its savepoint and
/// returns whether it succeeded and how to hand its result over once the group's
/// commit is known.
pub(crate) type WriteJob = Box<dyn FnOnce(&Connection) -> Finished + Send>;

pub(crate) struct Finished {
    succeeded: bool,
    deliver: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
}

/// Wraps `work` as a [`WriteJob`] whose result goes to `reply` after the commit.
pub(crate) fn job<T: Send + 'static>(
    work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    reply: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
) -> WriteJob {
    Box::new(move |connection| {
        let result = work(connection);
        Finished {
            succeeded: result.is_ok(),
            deliver: Box::new(move |committed| {
                // The caller may have gone (a dropped request); nothing to tell it then.
                let _ = reply.send(committed.and(result));
            }),
        }
    })
}

pub(crate) struct Writer {
    queue: Arc<JobQueue<WriteJob>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread that owns `connection` (already migrated, in WAL mode).
    pub(crate) fn start(connection: Connection) -> Result<Self, StoreError> {
        let queue = Arc::new(JobQueue::new("metadata writer"));
        let jobs = Arc::clone(&queue);
        let thread = std::thread::Builder::new()
            .name("kumocms-sqlite-writer".into())
            .spawn(move || {
                while let Some(group) = jobs.next_batch(MAX_GROUP) {
                    commit_group(&connection, group);
                }
                // `connection` closes here, after the readers (see `Drop`).
            })
            .map_err(|e| {
                StoreError::other_from(format!("cannot start the metadata writer: {e}"), e)
            })?;
        Ok(Self {
            queue,
            thread: Some(thread),
        })
    }

    pub(crate) fn submit(&self, job: WriteJob) -> Result<(), StoreError> {
        self.queue.submit(job)
    }
}

impl Drop for Writer {
    /// Stops the thread and waits for it, which closes the connection: the last one
    /// to close checkpoints the WAL and removes it.
    fn drop(&mut self) {
        self.queue.close();
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

fn unavailable(what: &str, error: &rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("metadata {what} failed: {error}"))
}

/// Runs `group` in one transaction, each job in its own savepoint, commits, and then
/// hands every job its result.
fn commit_group(connection: &Connection, group: Vec<WriteJob>) {
    if let Err(error) = connection.execute_batch("BEGIN IMMEDIATE") {
        // Another process holds the database (past the busy timeout): no job ran.
        // Dropping the jobs drops their reply senders: each caller gets an error.
        tracing::warn!(%error, writes = group.len(), "metadata writes could not begin");
        return;
    }
    let mut finished = Vec::with_capacity(group.len());
    for job in group {
        if let Some(done) = run_in_savepoint(connection, job) {
            finished.push(done);
        }
    }
    let committed = connection.execute_batch("COMMIT");
    if committed.is_err() {
        // Nothing of the group was written; end the transaction if it is still open.
        let _ = connection.execute_batch("ROLLBACK");
    }
    for done in finished {
        let outcome = match &committed {
            Ok(()) => Ok(()),
            Err(error) => Err(unavailable("commit", error)),
        };
        (done.deliver)(outcome);
    }
}

/// Runs one job inside a savepoint, kept when it succeeds and rolled back when it
/// fails or panics. `None` when it never produced a result (its caller is told by
/// its reply sender being dropped).
fn run_in_savepoint(connection: &Connection, job: WriteJob) -> Option<Finished> {
    if let Err(error) = connection.execute_batch("SAVEPOINT write") {
        tracing::warn!(%error, "a metadata write could not start its savepoint");
        return None;
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(connection)));
    let keep = matches!(&outcome, Ok(done) if done.succeeded);
    let end = if keep {
        connection.execute_batch("RELEASE write")
    } else {
        connection.execute_batch("ROLLBACK TO write; RELEASE write")
    };
    match (outcome, end) {
        (Ok(done), Ok(())) => Some(done),
        (Ok(done), Err(error)) => {
            // The savepoint could not be closed as asked: report this write failed;
            // the commit that follows tells the others.
            let failure = unavailable("savepoint", &error);
            (done.deliver)(Err(failure));
            None
        }
        (Err(_panic), _) => None,
    }
}
