//! The queue between async callers and the threads that own SQLite connections.
//!
//! Callers push boxed jobs; the owning threads take them one at a time (readers) or
//! all that are waiting at once (the writer, which commits them together).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use kumocms_core::ports::StoreError;

/// Jobs of type `J` waiting for a thread, and whether the threads are stopping.
pub(crate) struct JobQueue<J> {
    pub(crate) jobs: Mutex<QueueState<J>>,
    ready: Condvar,
    /// What the queue serves, for error messages ("metadata reader", "metadata writer").
    role: &'static str,
}

pub(crate) struct QueueState<J> {
    jobs: VecDeque<J>,
    closed: bool,
}

impl<J> JobQueue<J> {
    pub(crate) fn new(role: &'static str) -> Self {
        Self {
            jobs: Mutex::new(QueueState {
                jobs: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
            role,
        }
    }

    /// The next job, or `None` once the queue is closing.
    pub(crate) fn next(&self) -> Option<J> {
        self.next_batch(1).and_then(|mut batch| batch.pop())
    }

    /// Every waiting job up to `max` (at least one; blocks until there is one), or
    /// `None` once the queue is closing.
    pub(crate) fn next_batch(&self, max: usize) -> Option<Vec<J>> {
        // A poisoned lock (nothing runs under it that can panic) stops the thread;
        // `submit` then reports the store unavailable instead of queueing.
        let mut state = self.jobs.lock().ok()?;
        loop {
            if state.closed {
                return None;
            }
            if !state.jobs.is_empty() {
                let take = state.jobs.len().min(max.max(1));
                return Some(state.jobs.drain(..take).collect());
            }
            state = self.ready.wait(state).ok()?;
        }
    }

    pub(crate) fn submit(&self, job: J) -> Result<(), StoreError> {
        let role = self.role;
        let mut state = self
            .jobs
            .lock()
            .map_err(|_| StoreError::Unavailable(format!("{role} queue is poisoned")))?;
        if state.closed {
            return Err(StoreError::Unavailable(format!("{role} is closed")));
        }
        state.jobs.push_back(job);
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// Stops the threads: each returns from `next` once it is idle. Jobs still
    /// queued are dropped, which tells their callers (their result senders go).
    pub(crate) fn close(&self) {
        let mut state = self
            .jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.closed = true;
        state.jobs.clear();
        drop(state);
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_takes_what_waits_up_to_the_maximum_in_order() {
        let queue = JobQueue::new("test");
        for n in 0..5 {
            queue.submit(n).unwrap();
        }
        assert_eq!(queue.next_batch(3), Some(vec![0, 1, 2]));
        assert_eq!(queue.next_batch(10), Some(vec![3, 4]));
        queue.submit(5).unwrap();
        assert_eq!(queue.next(), Some(5));
        queue.close();
        assert_eq!(queue.next_batch(10), None);
        let error = queue.submit(6).unwrap_err();
        assert!(error.to_string().contains("test is closed"), "{error}");
    }
}
