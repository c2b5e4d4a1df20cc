//! The in-process event queue: the local stand-in for S3 notifications, EventBridge
//! and SQS. Events go to the same `EventProcessor` the `events` Lambda runs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kumocms_core::events::{EventProcessor, StorageEvent};
use kumocms_core::ports::EventSink;
use tokio::sync::{Mutex, mpsc, watch};

/// How often a transient failure is retried before the event is given up (and logged).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// Queues storage events for the worker started by [`InProcessEvents::run_worker`].
///
/// The queue is unbounded so that publishing (from an upload handler or the restore
/// ticker) never waits on processing; events are small and few per request.
pub struct InProcessEvents {
    sender: mpsc::UnboundedSender<StorageEvent>,
    /// Shared so that a worker restarted after an abort picks up where it stopped.
    receiver: Arc<Mutex<mpsc::UnboundedReceiver<StorageEvent>>>,
    /// Events published and not yet finished with.
    pending: watch::Sender<usize>,
}

impl std::fmt::Debug for InProcessEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessEvents")
            .field("pending", &*self.pending.borrow())
            .finish()
    }
}

impl Default for InProcessEvents {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts an event as finished when dropped, also if its handling was aborted.
struct Done<'a>(&'a watch::Sender<usize>);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl InProcessEvents {
    pub fn new() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            sender,
            receiver: Arc::new(Mutex::new(receiver)),
            pending: watch::Sender::new(0),
        }
    }

    /// Events published and not yet processed.
    pub fn pending(&self) -> usize {
        *self.pending.borrow()
    }

    /// Waits until every published event has been processed (or given up). Events
    /// published by that processing count too, so this returns only when the queue
    /// is quiet. Needs a running worker, or it waits forever.
    pub async fn wait_idle(&self) {
        let mut pending = self.pending.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = pending.wait_for(|n| *n == 0).await;
    }

    /// Processes events until the task is aborted. One event at a time: each is
    /// idempotent, so ordering is not needed for correctness, but serial processing
    /// keeps the local server's load predictable.
    pub async fn run_worker(self: Arc<Self>, processor: Arc<EventProcessor>) {
        let mut receiver = self.receiver.lock().await;
        while let Some(event) = receiver.recv().await {
            let _done = Done(&self.pending);
            handle_with_retries(&processor, &event).await;
        }
    }
}

async fn handle_with_retries(processor: &EventProcessor, event: &StorageEvent) {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        match processor.handle(event).await {
            Ok(outcome) => {
                tracing::debug!(key = event.key(), ?outcome, "storage event processed");
                return;
            }
            Err(error) if error.is_transient() && attempt < ATTEMPTS => {
                tracing::warn!(key = event.key(), %error, attempt, "storage event failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            Err(error) => {
                // Recovery at the next start re-publishes what a lost ObjectCreated
                // or restore event should have done.
                tracing::error!(key = event.key(), %error, attempt, "storage event given up");
                return;
            }
        }
    }
}

#[async_trait]
impl EventSink for InProcessEvents {
    async fn publish(&self, event: StorageEvent) {
        self.pending.send_modify(|n| *n += 1);
        if self.sender.send(event).is_err() {
            // Cannot happen while `self` holds the receiver; keep the count right anyway.
            self.pending.send_modify(|n| *n = n.saturating_sub(1));
        }
    }
}
